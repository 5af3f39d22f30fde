"""Real use, in the window: several rooms busy at once, a document switched while its text job waits or streams,
typing while the model writes, Esc pressed in rooms that have no job. Stand-in engines (tests/standin_engines.py)
and a slow stand-in server (tests/slow_server.py) take their time on purpose."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPlainTextEdit

from studio.core.image.specs import GenerateSpec
from studio.core.jobs.rooms import Room
from tests.slow_server import WORDS, SlowServer
from tests.standin_engines import HeldJob


@pytest.fixture()
def slow():
    """Slow stand-in servers, started as the test asks and stopped after it."""
    servers: list[SlowServer] = []

    def start(**timing) -> SlowServer:
        servers.append(SlowServer(**timing).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def cursor_at(page, pos: int) -> None:
    cursor = page.editor.textCursor()
    cursor.setPosition(pos)
    page.editor.setTextCursor(cursor)


def open_doc(qtbot, page, path) -> None:
    for i in range(page.docs.count()):
        if page.docs.item(i).data(Qt.ItemDataRole.UserRole) == str(path):
            page.docs.setCurrentRow(i)
    qtbot.waitUntil(lambda: page.path == path)


def continue_on(page, server: SlowServer, text: str) -> tuple[list[str], list[str]]:
    """The Writer on ``server``: ``text`` typed, Continue at its end; (pieces arrived, how it ended) as they come."""
    page.session.set("engine", server.url)
    page.session.set("model", "slow-7b")
    page.session.set("max_new_tokens", 8)
    page.window().tabs.setCurrentWidget(page)
    page.editor.setPlainText(text)
    cursor_at(page, len(text))
    got: list[str] = []
    ended: list[str] = []
    page.session.tokenArrived.connect(got.append)
    page.session.generationEnded.connect(lambda how, r: ended.append(how))
    page.continue_at_cursor()
    return got, ended


def hold_the_device(studio) -> HeldJob:
    """An image batch on the device that runs until released: the text job after it waits in the queue."""
    held = HeldJob(steps=3, step_s=0.01, store=studio.runtime.gallery)
    studio.runtime.runner.register(GenerateSpec, held)
    studio.queue.enqueue(GenerateSpec(model="stand-in", prompt="a long batch", width=32, height=32, steps=3))
    assert held.started.wait(10)
    return held


def test_a_waiting_continuation_lands_in_its_document_while_the_writer_types_in_another(
    qtbot, studio, tiny_lm
):
    page = studio.window.writer_page
    page.session.set("model", str(tiny_lm))
    page.session.set("max_new_tokens", 8)
    studio.window.tabs.setCurrentWidget(page)
    story = page.path
    page.editor.setPlainText("The woman stood at the door.")
    held = hold_the_device(studio)

    cursor_at(page, len("The woman stood at the door."))
    ended = []
    page.session.generationEnded.connect(lambda how, r: ended.append((how, r)))
    page.continue_at_cursor()
    assert page.session.busy and not page.editor.isReadOnly()
    qtbot.waitUntil(lambda: "Waiting" in page.status.text())  # where it stands, said in the Writer

    cursor_at(page, 0)  # typing before the place the model will write: kept, and the place moves with it
    qtbot.keyClicks(page.editor, "Chapter 1. ")
    assert page.editor.toPlainText() == "Chapter 1. The woman stood at the door."

    other = page.new_document("Another story")
    qtbot.waitUntil(lambda: page.path == other)
    qtbot.keyClicks(page.editor, "A sentence typed while the job waits.")

    held.release()  # the image batch ends; the continuation runs, into the first story
    qtbot.waitUntil(lambda: bool(ended), timeout=60_000)
    how, result = ended[0]
    assert how == "finished" and result.text
    assert page.editor.toPlainText() == "A sentence typed while the job waits."  # nothing arrived here
    page.save()
    assert other.read_text(encoding="utf-8") == "A sentence typed while the job waits."
    expected = "Chapter 1. The woman stood at the door." + result.text
    assert story.read_text(encoding="utf-8").replace("\r\n", "\n") == expected.replace("\r\n", "\n")

    open_doc(qtbot, page, story)  # back: the text is where it was asked for, as the last generation
    assert page.editor.toPlainText().replace("\r\n", "\n") == expected.replace("\r\n", "\n")
    assert page.doc.generated() == result.text and page.retry_btn.isEnabled()


def test_a_streaming_continuation_follows_its_document_out_and_back(qtbot, studio, slow):
    server = slow(prefill=0.3, gap=0.25, tokens=8)
    page = studio.window.writer_page
    story = page.path
    got, ended = continue_on(page, server, "Night fell.")
    qtbot.waitUntil(lambda: len(got) >= 2, timeout=20_000)
    other = page.new_document("Notes")
    qtbot.keyClicks(page.editor, "notes")
    qtbot.waitUntil(lambda: len(got) >= 4, timeout=20_000)
    assert page.editor.toPlainText() == "notes"
    open_doc(qtbot, page, story)  # back while it still streams: the rest arrives here
    assert len(got) < 8
    qtbot.waitUntil(lambda: bool(ended), timeout=20_000)
    assert page.editor.toPlainText() == "Night fell." + "".join(WORDS[:8])
    open_doc(qtbot, page, other)
    assert page.editor.toPlainText() == "notes"


def test_typing_goes_on_while_the_model_writes_except_into_its_span(qtbot, studio, slow):
    server = slow(prefill=0.2, gap=0.3, tokens=6)
    page = studio.window.writer_page
    got, ended = continue_on(page, server, "It rained.")
    qtbot.waitUntil(lambda: len(got) >= 1, timeout=20_000)
    cursor_at(page, page.doc.gen_end)  # into the text being written: refused, with a word why
    qtbot.keyClicks(page.editor, "x")
    assert "x" not in page.editor.toPlainText() and "writing here" in page.status.text()
    cursor_at(page, 0)  # before it: accepted
    qtbot.keyClicks(page.editor, "Monday. ")
    qtbot.waitUntil(lambda: bool(ended), timeout=20_000)
    assert page.editor.toPlainText() == "Monday. It rained." + "".join(WORDS[:6])


def test_esc_in_the_gallery_or_models_room_never_stops_a_job(qtbot, studio):
    held = HeldJob(steps=400, step_s=0.05, hold=False, store=studio.runtime.gallery)
    studio.runtime.runner.register(GenerateSpec, held)
    job = studio.queue.enqueue(GenerateSpec(model="stand-in", prompt="twenty steps", width=32, height=32))
    assert held.started.wait(10)
    window = studio.window
    window.activateWindow()

    def esc_in(widget) -> None:  # through the window, as a key press is: shortcuts see it
        widget.setFocus()
        qtbot.waitUntil(widget.hasFocus)
        qtbot.keyClick(window.windowHandle(), Qt.Key.Key_Escape)

    window.tabs.setCurrentWidget(window.gallery_page)
    esc_in(window.gallery_page.search)
    window.tabs.setCurrentWidget(window.models_page)
    esc_in(window.models_page)
    window.tabs.setCurrentWidget(window.writer_page)  # the Writer has no job: its Esc stops nothing either
    esc_in(window.writer_page.editor)
    qtbot.wait(200)
    assert held.cancelled == 0 and studio.queue.row_of(job).state.value == "Running"
    window.tabs.setCurrentWidget(window.image_page)  # Esc in the Image room stops the Image room's job
    esc_in(window.image_page.prompt_panel.prompt)
    qtbot.waitUntil(lambda: studio.queue.row_of(job).state.value == "Cancelled", timeout=10_000)
    assert not studio.queue.busy_in(Room.IMAGE)


def test_quitting_with_a_job_under_way_asks_and_each_answer_does_what_it_says(qtbot, studio, monkeypatch):
    held = HeldJob(steps=2, step_s=0.01, store=studio.runtime.gallery)
    studio.runtime.runner.register(GenerateSpec, held)
    job = studio.queue.enqueue(GenerateSpec(model="stand-in", prompt="a batch", width=32, height=32))
    assert held.started.wait(10)
    qtbot.waitUntil(lambda: studio.queue.row_of(job).state.value == "Running")
    window, asked = studio.window, []

    def answer(word):
        return lambda _w, running, waiting: asked.append((running[0].id, waiting)) or word

    window.quit_question = answer("cancel")
    assert not window.close() and window.isVisible() and asked == [(job, 0)]
    window.quit_question = answer("finish")  # the window stays until the job is done, then closes by itself
    assert not window.close() and window.isVisible()
    held.release()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert studio.queue.row_of(job).state.value == "Done" and len(asked) == 2


def test_the_wheel_scrolls_the_parameters_and_leaves_unfocused_fields_alone(qtbot, studio):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    window = studio.window
    window.resize(800, 560)
    panel = window.image_page.parameters
    qtbot.waitUntil(lambda: panel.verticalScrollBar().maximum() > 0)

    def wheel(widget, steps=-3):
        pos = QPointF(widget.width() / 2, widget.height() / 2)
        event = QWheelEvent(pos, QPointF(widget.mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, 120 * steps),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                            False)  # fmt: skip
        QApplication.sendEvent(widget, event)

    width, steps = studio.session.value("width"), studio.session.value("steps")
    window.image_page.prompt_panel.prompt.setFocus()
    panel.verticalScrollBar().setValue(0)
    wheel(panel.width_spin)
    wheel(panel.steps)
    assert studio.session.value("width") == width and studio.session.value("steps") == steps
    assert panel.verticalScrollBar().value() > 0  # the panel scrolled instead
    panel.width_spin.setFocus()  # a field with focus takes the wheel, as it always did
    qtbot.waitUntil(panel.width_spin.hasFocus)
    wheel(panel.width_spin, steps=1)
    assert studio.session.value("width") != width


def test_the_window_fits_a_small_screen_whatever_a_job_says(qtbot, studio):
    window = studio.window
    window.resize(800, 560)
    held = HeldJob(steps=2, step_s=0.01, hold=False, store=studio.runtime.gallery)
    studio.runtime.runner.register(GenerateSpec, held)
    job = studio.queue.enqueue(GenerateSpec(model="stand-in", prompt="a castle " * 20, width=96, height=64,
                                            batch_size=2))  # fmt: skip
    qtbot.waitUntil(lambda: studio.queue.row_of(job).state.value == "Done", timeout=10_000)
    long = "a very long sentence about what the job is doing right now, " * 4
    page = window.image_page
    page._on_progress(0.5, "Image 3–4 of 12 · Step 17/20 · about 12 min 30 s left · " + long)
    page._on_note(long)
    window.statusBar().showMessage(long)
    qtbot.wait(200)
    hint = window.minimumSizeHint()
    assert hint.width() <= 800 and hint.height() <= 560, hint
    assert window.width() <= 800 and window.height() <= 560  # it did not grow off the screen
    assert page.progress_label.toolTip().endswith(long)  # what the line cannot show reads in full


def test_one_settings_place_and_a_list_of_the_shortcuts(qtbot, studio):
    from PySide6.QtWidgets import QGroupBox

    window = studio.window
    dialog = window.open_settings()
    titles = [b.title() for b in dialog.findChildren(QGroupBox)]
    assert titles[:3] == ["Device and memory", "Look", "Folders"] and "Servers" in titles
    device = dialog.device.boxes["device"]
    device.setCurrentIndex(device.findData("cpu"))
    assert studio.runtime.settings.device == "cpu"
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    assert studio.runtime.settings.theme == "dark"
    dialog.reject()
    assert window.models_page.settings_box.boxes["device"].currentData() == "cpu"  # the Models room follows
    listed = window.show_shortcuts()
    rows = [
        (listed.table.item(r, 0).text(), listed.table.item(r, 2).text())
        for r in range(listed.table.rowCount())
    ]
    assert any("Esc" in keys and "Stop this room's running job" in what for keys, what in rows)
    assert any("Ctrl+Shift+Q" in keys for keys, _ in rows)
    listed.reject()


def test_an_edit_into_the_span_being_written_offers_the_rest_instead_of_inserting_it(qtbot, studio, slow):
    from PySide6.QtGui import QTextCursor

    server = slow(prefill=0.2, gap=0.3, tokens=6)
    page = studio.window.writer_page
    got, ended = continue_on(page, server, "It rained.")
    qtbot.waitUntil(lambda: len(got) >= 2, timeout=20_000)
    inside = QTextCursor(page.doc.document)  # a drop or a paste into the text being written
    inside.setPosition(page.doc.gen_start + 2)
    inside.insertText("[mine]")
    before = page.editor.toPlainText()
    qtbot.waitUntil(lambda: bool(ended), timeout=20_000)
    assert page.editor.toPlainText() == before  # nothing more was put in the text, anywhere
    box = page.offered_box
    offered = box.findChild(QPlainTextEdit).toPlainText()
    assert offered and "".join(got).endswith(offered) and offered not in before
    assert "offered" in page.status.text() or box.isVisible()
