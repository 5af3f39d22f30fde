"""One image job over several backends at once: its pictures (each with its own A1111 seed) are handed out one at a
time to every backend that can run the recipe — this machine on the calling thread, each server on a thread of its
own — so a batch splits across them by seed. A backend that drops out (it stops answering, fails) puts back the
picture it held and leaves; another makes it. A picture is saved by the backend that made it, once: nothing is
lost, nothing is saved twice. Cancel stops every backend."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from studio.core.image.specs import GenerateSpec
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, JobCancelled, StudioError
from studio.core.jobs.events import Event, Note


@dataclass
class Lane:
    """A backend: ``run(one, index, cancel, emit)`` makes and saves one picture (``one`` is the recipe of that
    picture alone, with its seed) and returns the saved item; ``local`` lanes run on the calling thread."""

    name: str
    run: Callable[[GenerateSpec, int, CancelToken, Callable[[Event], None]], Any]
    local: bool = False


def one_picture(spec: GenerateSpec, index: int) -> GenerateSpec:
    """The recipe of the job's ``index``-th picture alone (its prompt, its seed, a batch of one)."""
    return spec.for_image(index).replace(backend="")


def run_pool(
    spec: GenerateSpec, lanes: list[Lane], cancel: CancelToken, emit: Callable[[Event], None]
) -> list[Any]:
    """Every picture of ``spec`` made on ``lanes``; the saved items in the order of the pictures."""
    if not lanes:
        raise StudioError(ErrorKind.INVALID_INPUT, "No backend can run this recipe.", field="backend")
    todo = list(range(spec.image_count))
    done: dict[int, Any] = {}
    failures: list[str] = []
    lock = threading.Condition()
    stop = CancelToken()  # a job-wide error (not a backend's): every lane stops
    errors: list[BaseException] = []
    busy = [0]  # lanes holding a picture: while any does, the others wait (it may come back)

    def take() -> int | None:
        with lock:
            while not todo and busy[0] and not (cancel.cancelled or stop.cancelled):
                lock.wait(0.2)
            if cancel.cancelled or stop.cancelled or not todo:
                return None
            busy[0] += 1
            return todo.pop(0)

    def give_back(index: int | None) -> None:
        with lock:
            busy[0] -= 1
            if index is not None:
                todo.insert(0, index)
            lock.notify_all()

    def work(lane: Lane) -> None:
        while (index := take()) is not None:
            try:
                item = lane.run(one_picture(spec, index), index, _either(cancel, stop), emit)
            except JobCancelled:
                give_back(index)
                return
            except StudioError as e:
                failures.append(f"{lane.name}: {e.user_message}")
                emit(Note(text=f"{lane.name} dropped out ({e.user_message}); its pictures go to the others."))
                give_back(index)  # back for another backend: not lost
                return
            except BaseException as e:  # noqa: BLE001 - a bug: the job fails, with it
                errors.append(e)
                stop.cancel()
                give_back(index)
                return
            done[index] = item
            give_back(None)

    threads = [threading.Thread(target=work, args=(lane,), name=f"studio-pool-{lane.name}", daemon=True)
               for lane in lanes if not lane.local]  # fmt: skip
    for t in threads:
        t.start()
    for lane in lanes:
        if lane.local:
            work(lane)
    for t in threads:
        while t.is_alive():
            t.join(0.2)
    if errors:
        raise errors[0]
    if cancel.cancelled:
        raise JobCancelled()
    if todo:
        made = f" {len(done)} of {spec.image_count} pictures were made and saved." if done else ""
        raise StudioError(ErrorKind.IO, f"Every backend dropped out ({'; '.join(failures)}).{made}",
                          field="backend")  # fmt: skip
    return [done[i] for i in sorted(done)]


class _either(CancelToken):  # noqa: N801 - a token that is cancelled when either of two is
    def __init__(self, a: CancelToken, b: CancelToken):
        super().__init__()
        self._a, self._b = a, b

    @property
    def cancelled(self) -> bool:
        return self._a.cancelled or self._b.cancelled

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise JobCancelled()
