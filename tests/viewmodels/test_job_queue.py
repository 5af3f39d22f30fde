from studio.core.image.specs import GenerateSpec
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import Failed, Finished, Loading, Progress, Started
from studio.viewmodels.bridge import EventBridge
from studio.viewmodels.job_queue import JobQueue, JobState


class FakeRunner:
    def __init__(self):
        self.n = 0
        self.pending: list[str] = []
        self.cancelled: list[str] = []

    def submit(self, spec):
        self.n += 1
        self.pending.append(f"job-{self.n}")
        return f"job-{self.n}"

    def cancel(self, job_id):
        self.cancelled.append(job_id)
        return True

    def move(self, job_id, index):
        self.pending.remove(job_id)
        self.pending.insert(index, job_id)
        return True

    def pending_ids(self):
        return list(self.pending)


def make(qtbot):
    bridge = EventBridge()
    runner = FakeRunner()
    return JobQueue(runner, bridge), bridge, runner


def spec(**kw):
    return GenerateSpec(**{"model": "m", "prompt": "a cat", "steps": 10, **kw})


def test_progress_text_counts_images_and_estimates_time_left(qtbot, monkeypatch):
    queue, bridge, _ = make(qtbot)
    job = queue.enqueue(spec(batch_count=2))
    texts = []
    queue.progressChanged.connect(lambda f, t: texts.append((round(f, 2), t)))
    clock = iter([100.0, 100.0, 101.0, 102.0])
    monkeypatch.setattr("studio.viewmodels.job_queue.time.monotonic", lambda: next(clock))
    for e in (
        Started(job),
        Progress(job, step=1, total=10, item=0, items=2),
        Progress(job, step=2, total=10, item=0, items=2),
        Progress(job, step=3, total=10, item=0, items=2),
    ):
        bridge.post(e)
    qtbot.waitUntil(lambda: len(texts) == 4)
    assert texts[1] == (0.05, "Image 1 of 2 · Step 1/10")
    # one second per step, 17 steps to go over both images
    assert texts[3] == (0.15, "Image 1 of 2 · Step 3/10 · about 17 s left")


def test_states_follow_events_and_failures_are_announced(qtbot):
    queue, bridge, _ = make(qtbot)
    a, b = queue.enqueue(spec()), queue.enqueue(spec())
    failures = []
    queue.jobFailed.connect(lambda *args: failures.append(args))
    bridge.post(Started(a))
    bridge.post(Loading(a, what="Loading x…"))
    qtbot.waitUntil(lambda: queue.row_of(a).state is JobState.LOADING)
    assert queue.row_of(b).state is JobState.QUEUED
    bridge.post(Finished(a, items=(), seconds=1.0))
    bridge.post(Failed(b, error=StudioError(ErrorKind.INVALID_INPUT, "Bad mask.", "trace", field="mask")))
    qtbot.waitUntil(lambda: queue.row_of(b).state is JobState.FAILED)
    assert queue.row_of(a).state is JobState.DONE
    assert failures == [("Bad mask.", "trace", "mask")]
    assert not queue.busy


def test_move_reorders_rows_and_runner(qtbot):
    queue, bridge, runner = make(qtbot)
    ids = [queue.enqueue(spec(prompt=p)) for p in "abc"]
    assert queue.move(ids[2], -1)
    assert runner.pending == [ids[0], ids[2], ids[1]]
    assert [r.spec.prompt for r in queue.rows()] == ["a", "c", "b"]
    assert not queue.move(ids[0], -1)  # already first


def test_the_status_leaves_starting_and_a_queued_cancel_says_nothing_over_the_running_job(qtbot):
    from studio.core.jobs.events import Cancelled

    queue, bridge, _ = make(qtbot)
    running, waiting = queue.enqueue(spec()), queue.enqueue(spec(prompt="a dog"))
    statuses, progress = [], []
    queue.statusChanged.connect(lambda _room, text: statuses.append(text))
    queue.progressChanged.connect(lambda f, t: progress.append(t))
    for e in (Started(running), Progress(running, step=1, total=10), Cancelled(waiting),
              Progress(running, step=2, total=10)):  # fmt: skip
        bridge.post(e)
    qtbot.waitUntil(lambda: len(progress) == 3)
    assert statuses == ["Starting…", "Generating: a cat"]  # nothing about the queued job that was taken out
    assert "Cancelled" not in progress and queue.row_of(waiting).state is JobState.CANCELLED
