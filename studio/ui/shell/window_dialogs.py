"""The window's dialogs that gather what applies everywhere: *Settings* (device, precision and memory, theme,
folders, servers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from studio.ui.shell.main_window import MainWindow
    from studio.ui.shell.settings_dialog import SettingsDialog


def open_settings(window: MainWindow) -> SettingsDialog:
    from studio.ui.common.servers_dialog import ServersDialog
    from studio.ui.shell.settings_dialog import SettingsDialog

    models = window.models_page
    panel = getattr(models, "servers_panel", None)
    book = panel.book if panel is not None else None
    dialog = SettingsDialog(
        models.model.settings,
        [("Data", window.home), ("Models", models.model.models_dir)],
        changed=models._setting_changed,
        theme=window.themeRequested.emit,
        servers=(lambda: ServersDialog(book, window).exec()) if book is not None else None,
        parent=window,
    )
    dialog.finished.connect(lambda _r: models.settings_box.refresh())
    dialog.open()
    return dialog
