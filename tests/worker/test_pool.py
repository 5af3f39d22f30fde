"""One job over several backends: its pictures shared out by seed; a backend that drops out loses nothing."""

from __future__ import annotations

import threading
import time

import pytest

from studio.core.image.specs import GenerateSpec
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, JobCancelled, StudioError
from studio.core.jobs.events import Note
from studio.worker.pool import Lane, one_picture, run_pool

SPEC = GenerateSpec(model="m", prompt="a {red|blue} cat", seed=100, batch_count=8, backend="all",
                    prompts=tuple(f"cat {i}" for i in range(8)))  # fmt: skip


def lane(name, made, fail_at=None, delay=0.01, local=False):
    count = [0]

    def run(one, index, cancel, emit):
        count[0] += 1
        time.sleep(delay)
        if fail_at is not None and count[0] == fail_at:
            raise StudioError(ErrorKind.IO, f"{name} stopped answering")
        cancel.raise_if_cancelled()
        made.append((name, index, one.seed, one.prompt, threading.current_thread().name))
        return (name, index)

    return Lane(name, run, local=local)


def test_one_picture_keeps_its_own_seed_and_prompt():
    one = one_picture(SPEC, 5)
    assert (one.seed, one.prompt, one.image_count, one.backend) == (105, "cat 5", 1, "")


def test_the_pictures_are_shared_out_and_each_made_once():
    made: list = []
    notes: list = []
    saved = run_pool(SPEC, [lane("here", made, local=True, delay=0.05), lane("a", made), lane("b", made)],
                     CancelToken(), lambda e: isinstance(e, Note) and notes.append(e.text))  # fmt: skip
    assert [index for _, index in saved] == list(range(8))
    assert sorted(i for _, i, *_ in made) == list(range(8))  # each once
    assert {(i, seed, prompt) for _, i, seed, prompt, _ in made} == {
        (i, 100 + i, f"cat {i}") for i in range(8)
    }
    assert {name for name, *_ in made} == {"here", "a", "b"}  # everyone worked
    assert all(
        t == threading.current_thread().name for name, *_, t in made if name == "here"
    )  # the caller's thread
    assert not notes


def test_a_backend_that_drops_out_has_its_picture_made_elsewhere():
    made: list = []
    notes: list = []
    saved = run_pool(SPEC, [lane("a", made, fail_at=2), lane("b", made, delay=0.03)], CancelToken(),
                     lambda e: isinstance(e, Note) and notes.append(e.text))  # fmt: skip
    assert [index for _, index in saved] == list(range(8)) and len(made) == 8
    assert sum(1 for name, *_ in made if name == "a") == 1  # one picture, then it dropped out
    assert notes == ["a dropped out (a stopped answering); its pictures go to the others."]


def test_the_last_picture_of_a_dropped_backend_waits_for_a_finished_one():
    """A fast backend that ran out of work must not leave: a slow one may still drop out and give its picture
    back."""
    made: list = []
    spec = SPEC.replace(batch_count=2, prompts=("cat 0", "cat 1"))
    # the slow one (a thread) holds a picture for 0.3 s and fails; the fast one (this thread) makes the other, runs
    # out of work, and must still be there when the held picture comes back
    saved = run_pool(spec, [lane("slow", made, fail_at=1, delay=0.3), lane("fast", made, local=True)],
                     CancelToken(), lambda e: None)  # fmt: skip
    assert [index for _, index in saved] == [0, 1] and sorted((n, i) for n, i, *_ in made) == [
        ("fast", 0),
        ("fast", 1),
    ]


def test_when_every_backend_drops_out_the_job_says_what_was_saved():
    made: list = []
    with pytest.raises(StudioError) as e:
        run_pool(SPEC, [lane("a", made, fail_at=3), lane("b", made, fail_at=2, delay=0.05)], CancelToken(),
                 lambda e: None)  # fmt: skip
    assert (
        "Every backend dropped out (" in e.value.user_message
        and "a: a stopped answering" in e.value.user_message
    )
    assert f"{len(made)} of 8 pictures were made and saved." in e.value.user_message


def test_cancel_stops_every_backend():
    made: list = []
    cancel = CancelToken()
    threading.Timer(0.1, cancel.cancel).start()
    started = time.monotonic()
    with pytest.raises(JobCancelled):
        run_pool(SPEC.replace(batch_count=100, prompts=()), [lane("a", made, delay=0.05), lane("b", made, delay=0.05)],
                 cancel, lambda e: None)  # fmt: skip
    assert time.monotonic() - started < 2 and len(made) < 20
