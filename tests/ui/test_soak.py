"""Soak: mixed use of the real window for a while, with stand-in engines that are slow on purpose — a server that
thinks 20 s and then sends a token a second (tests/slow_server.py), pictures that take 30 s each, a training run
of minutes beside them (tests/standin_engines.py) — while the writer switches rooms and documents, types during
generation, cancels and presses Esc where it must do nothing, and quits and restarts Studio. Every accepted word
and every finished picture must be where it belongs.

The short version (time scaled down 50×, two rounds) runs by default; the hour-long one is marked slow:
``pytest -m slow tests/ui/test_soak.py``."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from studio.core.image.specs import GenerateSpec
from studio.core.jobs.events import ItemSaved
from studio.core.train.train_specs import TrainSpec
from tests.slow_server import WORDS, SlowServer
from tests.standin_engines import HeldJob


def soak(qtbot, studio, home, scale: float, rounds: int) -> None:
    server = SlowServer(prefill=20 * scale, gap=1 * scale, tokens=8).start()
    studio.runtime.settings.device = "cpu"  # this machine: a training run goes beside the other jobs
    pictures = HeldJob(steps=4, step_s=30 * scale / 4, hold=False, store=studio.runtime.gallery)
    training = HeldJob(steps=20, step_s=240 * scale / 20, hold=False)
    studio.runtime.runner.register(GenerateSpec, pictures)
    studio.runtime.runner.register(TrainSpec, training)
    saved: list[Path] = []
    studio.bridge.arrived.connect(
        lambda ui: isinstance(ui.event, ItemSaved) and saved.append(ui.event.item.path)
    )
    window, queue = studio.window, studio.queue
    page = window.writer_page
    page.session.set("engine", server.url)
    page.session.set("model", "slow-7b")
    page.session.set("max_new_tokens", 8)
    expected: dict[Path, str] = {}
    try:
        for r in range(rounds):
            window.tabs.setCurrentWidget(page)
            story = page.new_document(f"Story {r}")
            page.editor.setPlainText(f"Round {r} began.")
            cursor = page.editor.textCursor()
            cursor.setPosition(len(f"Round {r} began."))
            page.editor.setTextCursor(cursor)
            run = queue.enqueue(TrainSpec(dataset="d", base="b", out="o", run_dir=f"r{r}", steps=20))
            batch = queue.enqueue(GenerateSpec(model="stand-in", prompt=f"round {r}", width=32, height=32,
                                               batch_size=2, seed=r))  # fmt: skip
            ended: list[str] = []
            page.session.generationEnded.connect(lambda how, _r, e=ended: e.append(how))
            page.continue_at_cursor()

            notes = page.new_document(f"Notes {r}")  # away while the model still thinks
            qtbot.keyClicks(page.editor, f"typed while it writes {r}")
            for room in (window.image_page, window.gallery_page, window.models_page):
                window.tabs.setCurrentWidget(room)
                room.setFocus()
                qtbot.keyClick(window.windowHandle(), Qt.Key.Key_Escape)  # nothing of theirs runs: no effect
            never = queue.enqueue(GenerateSpec(model="stand-in", prompt="cancelled", width=32, height=32))
            queue.cancel(never)
            window.tabs.setCurrentWidget(page)
            if r % 2:  # back to the story while it streams (or waits): the rest arrives there
                for i in range(page.docs.count()):
                    if page.docs.item(i).data(Qt.ItemDataRole.UserRole) == str(story):
                        page.docs.setCurrentRow(i)
            qtbot.waitUntil(lambda e=ended: bool(e), timeout=int(60_000 + 40_000 * scale * 50))
            qtbot.waitUntil(lambda b=batch, t=run: queue.row_of(b).state.finished and queue.row_of(t).state.finished,
                            timeout=int(60_000 + 300_000 * scale * 50))  # fmt: skip
            assert ended == ["finished"] and queue.row_of(never).state.value == "Cancelled"
            assert queue.row_of(batch).state.value == queue.row_of(run).state.value == "Done"
            page.save()
            expected[story] = f"Round {r} began." + "".join(WORDS[:8])
            expected[notes] = f"typed while it writes {r}"
            for path, text in expected.items():
                assert path.read_text(encoding="utf-8") == text, path.name
        assert len(saved) == 2 * rounds and all(p.is_file() for p in saved)
        assert len(set(saved)) == len(saved)
        assert not [s for s in pictures.ran if s.prompt == "cancelled"]

        # quit (keeping nothing: nothing is under way) and start again on the same data folder
        assert window.close()
        from studio.app import create_window
        from studio.runtime import build_runtime

        again = create_window(build_runtime(home))
        qtbot.addWidget(again.window)
        again.window.quit_question = lambda *a: "keep"
        try:
            listed = {again.window.writer_page.docs.item(i).data(Qt.ItemDataRole.UserRole)
                      for i in range(again.window.writer_page.docs.count())}  # fmt: skip
            assert {str(p) for p in expected} <= listed
            for path, text in expected.items():
                again.window.writer_page.open(path)
                assert again.window.writer_page.editor.toPlainText() == text
            on_disk = {p for p in studio.runtime.paths.gallery_dir.rglob("*.png")}
            assert set(saved) <= on_disk
        finally:
            again.runtime.close(5)
            again.runtime.unsubscribe(again.bridge.post)
    finally:
        server.stop()


def test_soak_short(qtbot, studio, home):
    soak(qtbot, studio, home, scale=0.02, rounds=2)  # an odd round too: back to the story while it streams


@pytest.mark.slow
def test_soak_an_hour(qtbot, studio, home):
    soak(qtbot, studio, home, scale=1.0, rounds=15)
