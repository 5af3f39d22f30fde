"""Every dialog opens within the screen it is on, however small (a laptop's, or the test's 800×800)."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication, QImage


def within_screen(dialog) -> bool:
    room = QGuiApplication.primaryScreen().availableGeometry()
    return dialog.width() <= room.width() and dialog.height() <= room.height()


def test_dialogs_that_like_to_be_large_still_fit_the_screen(qtbot, studio):
    from studio.core.image.recipe_readers import Recipe
    from studio.ui.gallery.gallery_widgets import CompareDialog
    from studio.ui.models.download_dialog import DownloadDialog
    from studio.ui.text.blind_dialog import BlindDialog

    room = QGuiApplication.primaryScreen().availableGeometry()
    assert room.width() < 1200  # the test's screen is smaller than what these dialogs would like
    window = studio.window
    picture = QImage(64, 64, QImage.Format.Format_RGB32)
    dialogs = [
        DownloadDialog(window.models_page.downloads, 8.0, window),
        CompareDialog([("a.png", picture, Recipe()), ("b.png", picture, Recipe())], window),
        BlindDialog(window.writer_page.blind, lambda: "Once", window),
    ]
    for dialog in dialogs:
        qtbot.addWidget(dialog)
        dialog.show()
        assert within_screen(dialog), type(dialog).__name__
        dialog.close()
