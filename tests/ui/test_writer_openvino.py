"""The Writer on OpenVINO: chosen in its settings, it writes there and says so."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.ui.test_writer_page import type_story, writer

pytest.importorskip("openvino")
pytest.importorskip("nncf")


def test_the_writer_runs_on_openvino_when_chosen_and_says_so(qtbot, studio, tiny_qwen, openvino_on):
    page = writer(studio, tiny_qwen, quantize="none")
    box = page.settings_panel.cpu_engine_box
    assert [box.itemText(i) for i in range(box.count())] == ["Auto", "torch", "OpenVINO"]
    box.setCurrentIndex(box.findData("openvino"))
    box.activated.emit(box.currentIndex())
    assert page.session.value("cpu_engine") == "openvino"
    type_story(qtbot, page, "Once upon a time")
    results = []
    page.session.generationEnded.connect(lambda how, r: results.append((how, r)))
    qtbot.keyClick(page.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bool(results), timeout=60_000)
    how, result = results[0]
    assert how == "finished" and result.runtime.startswith("OpenVINO")
    assert page.editor.toPlainText() == "Once upon a time" + result.text
    assert "tokens/s on OpenVINO 2" in page.status.text()
