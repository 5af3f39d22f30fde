import threading
import time

import pytest

from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import Cancelled, Failed, Finished, Progress, Queued, Started
from studio.worker.runner import JobRunner


class Recorder:
    def __init__(self):
        self.events = []
        self.lock = threading.Lock()

    def __call__(self, e):
        with self.lock:
            self.events.append(e)

    def of(self, job_id):
        return [type(e).__name__ for e in self.events if e.job_id == job_id]

    def wait_for(self, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.005)
        return False


class Spec:
    def __init__(self, name, steps=3, delay=0.0, fail=None, gate=None):
        self.name, self.steps, self.delay, self.fail, self.gate = name, steps, delay, fail, gate


def fake_handler(order):
    def handle(spec, cancel, emit):
        order.append(spec.name)
        deadline = time.monotonic() + 5
        while spec.gate and not spec.gate.wait(0.01) and time.monotonic() < deadline:
            cancel.raise_if_cancelled()  # a job held at its gate still stops when cancelled, like a real one
        for i in range(spec.steps):
            cancel.raise_if_cancelled()
            time.sleep(spec.delay)
            emit(Progress(step=i + 1, total=spec.steps))
        if spec.fail:
            raise spec.fail
        return [spec.name]

    return handle


@pytest.fixture()
def setup():
    rec, order = Recorder(), []
    runner = JobRunner(rec, {Spec: fake_handler(order)})
    yield runner, rec, order
    runner.shutdown(2)


def test_jobs_run_in_fifo_order_with_events(setup):
    runner, rec, order = setup
    ids = [runner.submit(Spec(n)) for n in "abc"]
    assert runner.wait_idle(5)
    assert order == ["a", "b", "c"]
    assert rec.of(ids[0]) == ["Queued", "Started", "Progress", "Progress", "Progress", "Finished"]
    finished = [e for e in rec.events if isinstance(e, Finished)]
    assert [e.items for e in finished] == [("a",), ("b",), ("c",)]


def test_cancel_queued_job_never_runs(setup):
    runner, rec, order = setup
    gate = threading.Event()
    first = runner.submit(Spec("first", gate=gate))
    second = runner.submit(Spec("second"))
    assert runner.cancel(second)
    gate.set()
    assert runner.wait_idle(5)
    assert order == ["first"]
    assert rec.of(second) == ["Queued", "Cancelled"]
    assert rec.of(first)[-1] == "Finished"


def test_cancel_running_job_stops_at_next_step(setup):
    runner, rec, order = setup
    job = runner.submit(Spec("long", steps=1000, delay=0.01))
    assert rec.wait_for(lambda: any(isinstance(e, Progress) for e in rec.events))
    runner.cancel(job)
    assert runner.wait_idle(2)
    steps = [e.step for e in rec.events if isinstance(e, Progress)]
    assert rec.of(job)[-1] == "Cancelled"
    assert max(steps) < 1000


def test_failing_handler_reports_failed_and_runner_keeps_serving(setup):
    runner, rec, order = setup
    bad = runner.submit(Spec("bad", fail=StudioError(ErrorKind.OUT_OF_MEMORY, "Out of memory.")))
    crash = runner.submit(Spec("crash", fail=ZeroDivisionError("boom")))
    good = runner.submit(Spec("good"))
    assert runner.wait_idle(5)
    failures = {e.job_id: e.error for e in rec.events if isinstance(e, Failed)}
    assert failures[bad].kind is ErrorKind.OUT_OF_MEMORY
    assert (
        failures[crash].kind is ErrorKind.INTERNAL
        and "ZeroDivisionError: boom" in failures[crash].user_message
    )
    assert "Traceback" in failures[crash].details
    assert rec.of(good)[-1] == "Finished"


def test_reorder_queued_jobs(setup):
    runner, rec, order = setup
    gate = threading.Event()
    runner.submit(Spec("blocker", gate=gate))
    rec.wait_for(lambda: order == ["blocker"])
    a, b, c = (runner.submit(Spec(n)) for n in "abc")
    assert runner.move(c, 0)
    assert runner.pending_ids() == [c, a, b]
    gate.set()
    runner.wait_idle(5)
    assert order == ["blocker", "c", "a", "b"]


def test_queued_event_reports_position(setup):
    runner, rec, _ = setup
    gate = threading.Event()
    runner.submit(Spec("a", gate=gate))
    rec.wait_for(lambda: any(isinstance(e, Started) for e in rec.events))
    runner.submit(Spec("b"))
    runner.submit(Spec("c"))
    positions = [e.position for e in rec.events if isinstance(e, Queued)]
    gate.set()
    assert positions[1:] == [1, 2]


def test_shutdown_cancels_running_job_quickly():
    rec = Recorder()
    runner = JobRunner(rec, {Spec: fake_handler([])})
    job = runner.submit(Spec("long", steps=10_000, delay=0.01))
    rec.wait_for(lambda: any(isinstance(e, Progress) for e in rec.events))
    t = time.monotonic()
    assert runner.shutdown(5)
    assert time.monotonic() - t < 1
    assert rec.of(job)[-1] == "Cancelled"
    assert isinstance(rec.events[-1], Cancelled)


def test_chores_run_on_the_runner_thread_before_the_next_job(setup):
    runner, rec, order = setup
    gate = threading.Event()
    runner.submit(Spec("first", gate=gate))
    rec.wait_for(lambda: order == ["first"])
    threads = []
    runner.call_soon(lambda: (order.append("chore"), threads.append(threading.current_thread().name)))
    runner.call_soon(lambda: 1 / 0)  # a failing chore does not stop the runner
    runner.submit(Spec("second"))
    gate.set()
    assert runner.wait_idle(5)
    assert order == ["first", "chore", "second"]
    assert threads == ["studio-runner-device"]


def test_a_job_on_a_server_lane_does_not_wait_for_the_device():
    """Lanes: the device runs its jobs one at a time; a job of another lane (a server) runs beside them."""
    rec = Recorder()
    order = []
    server_gate = threading.Event()
    runner = JobRunner(rec, {Spec: fake_handler(order)},
                       lane_of=lambda spec: "server" if spec.name.startswith("remote") else "device")  # fmt: skip
    try:
        remote = runner.submit(Spec("remote", gate=server_gate))  # holds its lane until the gate opens
        local_a = runner.submit(Spec("local-a"))
        local_b = runner.submit(Spec("local-b"))
        assert rec.wait_for(lambda: "Finished" in rec.of(local_b))  # the device went on meanwhile
        assert "Finished" not in rec.of(remote) and runner.running_id == remote
        assert [e.position for e in rec.events if isinstance(e, Queued)] == [0, 0, 1]
        server_gate.set()
        assert runner.wait_idle(5)
        assert "Finished" in rec.of(remote) and "Finished" in rec.of(local_a)
        remote_2 = runner.submit(Spec("remote-2", gate=threading.Event()))
        assert rec.wait_for(lambda: "Started" in rec.of(remote_2))
        assert runner.cancel(remote_2) and rec.wait_for(lambda: "Cancelled" in rec.of(remote_2) or
                                                          "Finished" in rec.of(remote_2))  # fmt: skip
    finally:
        assert runner.shutdown(5)


def test_a_text_job_goes_ahead_of_queued_image_batches_and_training_last():
    import threading

    from studio.core.text.text_specs import WriteSpec
    from studio.core.train.train_specs import TrainSpec
    from studio.runtime import priority_of

    order: list[str] = []
    gate = threading.Event()

    def run(spec, cancel, emit):
        gate.wait(10)
        order.append(type(spec).__name__ + ":" + str(getattr(spec, "prompt", getattr(spec, "name", ""))))
        return []

    runner = JobRunner(lambda e: None, {Spec: run, WriteSpec: run, TrainSpec: run}, priority_of=priority_of)
    try:
        runner.submit(Spec("first"))  # runs at once and holds the device
        time.sleep(0.2)
        runner.submit(TrainSpec(dataset="d", base="b", out="o", run_dir="r"))
        runner.submit(Spec("second"))
        runner.submit(WriteSpec(model="m", prompt="a story"))
        gate.set()
        assert runner.wait_idle(10)
    finally:
        runner.shutdown()
    assert order == ["Spec:first", "WriteSpec:a story", "Spec:second", "TrainSpec:"]
