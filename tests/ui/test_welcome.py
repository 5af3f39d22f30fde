"""The first-run welcome: shown once, beside the window (never blocking it), with the places, the device and
the models; Help → Welcome shows it again."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication


def open_window(qtbot, home):
    from studio.app import create_window
    from studio.runtime import build_runtime

    rt = build_runtime(home)
    st = create_window(rt, welcome=True)
    qtbot.addWidget(st.window)
    st.window.show()
    return st


def test_the_welcome_appears_once_and_never_blocks(qtbot, home):
    st = open_window(qtbot, home)
    try:
        qtbot.waitUntil(lambda: st.welcome is not None and st.welcome.isVisible(), timeout=5000)
        panel = st.welcome
        assert QApplication.activeModalWidget() is None  # the window stays usable
        text = panel.places.text()
        assert str(home / "gallery") in text and str(home / "writer") in text and str(home / "models") in text
        st.runtime.measure_device()
        qtbot.waitUntil(lambda: "CPU" in panel.device_line.text(), timeout=30_000)
        assert "no GPU was found" in panel.device_line.text()
        qtbot.waitUntil(lambda: "shapes-star" in panel.models_line.text(), timeout=10_000)  # after the scan
        line = panel.models_line.text()
        assert line.count("Shapes (built-in demo)") == 1 and line.count("Storyteller (built-in demo)") == 1
        st.window.image_page.prompt_panel.prompt.setPlainText("typed while the welcome is open")
        assert st.window.image_page.prompt_panel.prompt.toPlainText() == "typed while the welcome is open"
        panel.close()
    finally:
        st.shutdown(5)
    again = open_window(qtbot, home)
    try:
        qtbot.wait(600)
        assert again.welcome is None  # not on the second start
        again.window.welcomeRequested.emit()  # Help → Welcome…
        assert again.welcome is not None and again.welcome.isVisible()
        again.welcome.close()
    finally:
        again.shutdown(5)
