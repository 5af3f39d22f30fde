"""The Writer on a server the user added: the Servers dialog saves it (the key in the keyring), the settings
list its models, Continue streams from it into the story as a branch, and the Models room lists its models."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.ui.test_writer_page import type_story


def test_a_server_added_in_the_dialog_writes_the_story(qtbot, studio, served_lm):
    from studio.ui.common.servers_dialog import ServersDialog

    base, model = served_lm
    page = studio.window.writer_page
    book = page.servers
    dialog = ServersDialog(book, page)
    qtbot.addWidget(dialog)
    dialog.name.setText("desk")
    dialog.url.setText(base)
    qtbot.mouseClick(dialog.add_btn, Qt.MouseButton.LeftButton)
    assert "Saved desk" in dialog.status.text() and dialog.list.item(0).text() == f"desk — {base} (text)"
    qtbot.mouseClick(dialog.check_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "offers" in dialog.status.text(), timeout=30_000)
    assert model in dialog.status.text()
    assert studio.runtime.settings.servers[0]["url"] == base  # saved in the settings (no key: none was given)

    page.engine_box.setCurrentIndex(page.engine_box.findText("desk"))
    page.engine_box.activated.emit(page.engine_box.currentIndex())
    qtbot.waitUntil(lambda: page.model_box.findData(model) >= 0, timeout=30_000)
    assert page.session.value("engine") == base and page.session.value("model") == model
    assert not page.settings_panel.weights_box.isVisibleTo(page)  # quantization is for local models
    assert not page.settings_panel.cpu_engine_box.isVisibleTo(page)

    page.session.set("max_new_tokens", 6)
    page.session.set("temperature", 0.0)
    type_story(qtbot, page, "Once upon a time")
    ended = []
    page.session.generationEnded.connect(lambda how, r: ended.append((how, r)))
    page.continue_at_cursor()
    qtbot.waitUntil(lambda: bool(ended), timeout=60_000)
    how, result = ended[0]
    assert how == "finished" and result.text and result.engine == base
    assert page.editor.toPlainText() == "Once upon a time" + result.text
    assert page.doc.current.model == f"{model} on {base}"

    panel = studio.window.models_page.servers_panel
    panel.refresh()
    qtbot.waitUntil(lambda: panel.tree.topLevelItem(0).childCount() == 1 and
                    panel.tree.topLevelItem(0).child(0).text(0) == model, timeout=30_000)  # fmt: skip
    page.use_model(page.session.model_choices()[-1][1])  # back to this machine…
    assert page.session.value("engine") == ""
    panel.tree.setCurrentItem(panel.tree.topLevelItem(0).child(0))
    qtbot.mouseClick(
        panel.use_btn, Qt.MouseButton.LeftButton
    )  # …and to the server's model from the Models room
    assert page.session.value("engine") == base and page.session.value("model") == model
    assert studio.window.tabs.currentWidget() is page


def test_a_server_that_is_down_is_said_in_one_sentence_and_nothing_is_lost(qtbot, studio):
    from tests.servers import free_port

    page = studio.window.writer_page
    base = f"http://127.0.0.1:{free_port()}/v1"
    assert page.servers.add("gone", base) == ""
    page.use_server_model(base, "some-model")
    type_story(qtbot, page, "The story so far.")
    ended = []
    page.session.generationEnded.connect(lambda how, r: ended.append((how, r)))
    page.continue_at_cursor()
    qtbot.waitUntil(lambda: bool(ended), timeout=30_000)
    assert ended[0][0] == "failed" and "127.0.0.1" in ended[0][1] and ended[0][1].count(".") <= 6
    assert page.editor.toPlainText() == "The story so far."
    panel = studio.window.models_page.servers_panel
    panel.refresh()
    qtbot.waitUntil(lambda: "unreachable" in panel.tree.topLevelItem(0).child(0).text(0), timeout=30_000)
