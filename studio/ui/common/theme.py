"""Light and dark themes that follow the system, and bundled line icons tinted to match."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication, QToolButton, QWidget

from studio.core.io.paths import resource

ACCENT = "#7c5cff"

_QSS = """
QToolTip { padding: 4px 6px; }
QPlainTextEdit, QLineEdit, QSpinBox, QDoubleSpinBox, QComboBox { padding: 3px 5px; }
QLabel[role="error"] { color: #e5484d; font-size: 11px; }
QLabel[role="hint"] { color: palette(placeholder-text); font-size: 11px; }
QLabel[role="section"] { font-weight: 600; margin-top: 6px; }
QLabel#notice { background: palette(alternate-base); padding: 6px 10px; border-radius: 6px; }
QLabel#banner { background: #e5484d; color: white; padding: 6px 10px; border-radius: 6px; }
QPushButton#generate { background: %(accent)s; color: white; font-weight: 600; padding: 7px 18px;
                       border-radius: 6px; border: none; }
QPushButton#generate:hover { background: #8f74ff; }
QPushButton#generate:disabled { background: palette(mid); }
QProgressBar { border: none; border-radius: 3px; background: palette(alternate-base); max-height: 6px; }
QProgressBar::chunk { background: %(accent)s; border-radius: 3px; }
QTabWidget#pages::pane { border: none; }
QTabBar::tab { padding: 7px 16px; }
QDockWidget::title { padding: 5px 8px; font-weight: 600; }
"""


def is_dark(setting: str) -> bool:
    if setting in ("light", "dark"):
        return setting == "dark"
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def _dark_palette() -> QPalette:
    p = QPalette()
    base, window, text = QColor("#1e1f22"), QColor("#2b2d31"), QColor("#e6e6e6")
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: QColor("#34363c"),
        QPalette.ColorRole.ToolTipBase: QColor("#111214"),
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: QColor("#383a40"),
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor("#ff6b6b"),
        QPalette.ColorRole.Highlight: QColor(ACCENT),
        QPalette.ColorRole.HighlightedText: QColor("white"),
        QPalette.ColorRole.Link: QColor("#a896ff"),
        QPalette.ColorRole.PlaceholderText: QColor("#8a8d93"),
        QPalette.ColorRole.Mid: QColor("#4a4d55"),
        QPalette.ColorRole.Dark: QColor("#141517"),
        QPalette.ColorRole.Light: QColor("#50535b"),
        QPalette.ColorRole.Midlight: QColor("#3f4147"),
    }
    for role, color in roles.items():
        p.setColor(role, color)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6d7078"))
    return p


def _light_palette() -> QPalette:
    p = QApplication.style().standardPalette()
    p.setColor(QPalette.ColorRole.Highlight, QColor(ACCENT))
    p.setColor(QPalette.ColorRole.Window, QColor("#f3f3f5"))
    p.setColor(QPalette.ColorRole.AlternateBase, QColor("#e9e9ee"))
    return p


def apply_theme(app: QApplication, setting: str = "system") -> bool:
    """Fusion style with a light or dark palette; returns True when dark."""
    app.setStyle("Fusion")
    dark = is_dark(setting)
    app.setPalette(_dark_palette() if dark else _light_palette())
    app.setStyleSheet(_QSS % {"accent": ACCENT})
    icon.cache_clear()
    return dark


@lru_cache(maxsize=256)
def icon(name: str, color: str | None = None, size: int = 24) -> QIcon:
    """A bundled SVG icon drawn in ``color`` (default: the palette's text colour)."""
    path = resource("icons", f"{name}.svg")
    svg = path.read_text("utf-8")
    if color is None:
        app = QApplication.instance()
        color = app.palette().color(QPalette.ColorRole.WindowText).name() if app else "#333333"
    svg = svg.replace("#COLOR", color).replace("#BACKGROUND", "#ffffff")
    renderer = QSvgRenderer(QByteArray(svg.encode()))
    result = QIcon()
    for scale in (1, 2):
        pm = QPixmap(size * scale, size * scale)
        pm.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pm)
        renderer.render(painter, QRectF(0, 0, size * scale, size * scale))
        painter.end()
        pm.setDevicePixelRatio(scale)
        result.addPixmap(pm)
    return result


def picture_icon(picture: QPixmap) -> QIcon:
    """A thumbnail as an icon that a selection frames or backs but never tints: the picture keeps its colours."""
    shown = QIcon(picture)
    shown.addPixmap(picture, QIcon.Mode.Selected)
    return shown


def fit_size(widget: QWidget, width: int, height: int) -> None:
    """Give a window its preferred size, but never more than the screen it opens on can show (a laptop's
    800×560 included): 95 % of the available width and height at most."""
    screen = widget.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        room = screen.availableGeometry()
        width, height = min(width, int(room.width() * 0.95)), min(height, int(room.height() * 0.95))
    widget.resize(width, height)


def app_icon() -> QIcon:
    return icon("studio", ACCENT, 64)


def tool_button(name: str, tip: str) -> QToolButton:
    """A flat icon button with a tooltip (the panels' add/remove/choose buttons)."""
    b = QToolButton()
    b.setIcon(icon(name))
    b.setToolTip(tip)
    b.setAutoRaise(True)
    return b
