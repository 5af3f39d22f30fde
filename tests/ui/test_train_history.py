"""The Fine-tune room's past runs: after a restart it lists the runs kept on disk, shows a run's curve (with its
validation loss) and pictures, compares two, and resumes an interrupted one to the end."""

from __future__ import annotations

import contextlib

from PySide6.QtCore import Qt

from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import JobCancelled
from studio.core.train.train_specs import TrainStep
from tests.training.conftest import dataset, train_spec  # noqa: F401 - the training tests' fixtures


def _runs(train_spec, home):  # noqa: F811
    from studio.engine.lora_train import train

    runs = home / "training" / "runs"
    done = train_spec(steps=4, validation_split=0.25, validate_every=2, sample_every=2, grids="last",
                      run_dir=str(runs / "first"), out=str(home / "first.safetensors"))  # fmt: skip
    train(done, lambda e: None)
    cancel = CancelToken()

    def stop_at_three(e):
        if isinstance(e, TrainStep) and e.step == 3:
            cancel.cancel()

    cut = train_spec(steps=6, rank=8, checkpoint_every=2, run_dir=str(runs / "second"),
                     out=str(home / "second.safetensors"))  # fmt: skip
    with contextlib.suppress(JobCancelled):
        train(cut, stop_at_three, cancel)


def test_past_runs_are_listed_compared_and_an_interrupted_one_resumed(qtbot, studio, train_spec, home):  # noqa: F811
    page = studio.window.finetune_page
    _runs(train_spec, home)
    view = page.tabs.widget(1)
    with qtbot.waitSignal(page.runs.listed, timeout=10_000):
        page.runs.refresh()  # what a restart does when the room opens
    assert page.tabs.tabText(1) == "Past runs (2)" and view.list.count() == 2
    texts = {view.list.item(i).text().split("\n")[0]: view.list.item(i).text() for i in range(2)}
    assert "finished" in texts["first"] and "validation" in texts["first"] and "step 4/4" in texts["first"]
    assert "cancelled" in texts["second"] and "step 3/6" in texts["second"]
    first = next(i for i in range(2) if view.list.item(i).text().startswith("first"))
    view.list.item(first).setSelected(True)
    series = view._series()
    assert (
        len(series) == 1 and series[0].curve.validation_steps == [2, 4] and len(series[0].curve.losses) == 4
    )
    qtbot.waitUntil(lambda: view.pictures.count() >= 2, timeout=10_000)  # the last samples and the A/B grid
    assert not view.resume_btn.isEnabled() and "Result" in view.details.text()
    qtbot.mouseClick(
        view.use_btn, Qt.MouseButton.LeftButton
    )  # the finished run's LoRA, tried in the Image panel
    assert studio.window.tabs.currentWidget() is studio.window.image_page
    assert studio.session.value("prompt") == "a photo of sks disc"
    assert studio.session.value("loras") == [[str(home / "first.safetensors"), 0.8]]
    studio.window.tabs.setCurrentWidget(page)
    view.curves.grab()
    view.list.item(1 - first).setSelected(True)  # two runs: both curves, and what differs between them
    assert len(view._series()) == 2 and "Differs in" in view.details.text() and "Rank" in view.details.text()
    view.list.item(first).setSelected(False)
    assert view.resume_btn.isEnabled()
    with qtbot.waitSignal(page.session.stopped, timeout=120_000) as stopped:
        qtbot.mouseClick(view.resume_btn, Qt.MouseButton.LeftButton)
        assert page.tabs.currentIndex() == 0  # the resumed run is shown live
        assert page.session.curve.steps[:2] == [1, 2]  # its curve goes on from the checkpoint at step 2
    assert stopped.args == ["done"] and (home / "second.safetensors").is_file()
    qtbot.waitUntil(lambda: any("second" in view.list.item(i).text() and "finished" in view.list.item(i).text()
                                for i in range(view.list.count())), timeout=10_000)  # fmt: skip
    assert page.session.curve.steps == list(range(1, 7))
