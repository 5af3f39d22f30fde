"""The Qt binding itself must not leak references to None: with PySide6 6.12.0 every void method call did,
and the interpreter aborted after some minutes of painting ("deallocating None")."""

import sys

from PySide6.QtGui import QImage, QPainter


def test_void_calls_keep_none_alive(qtbot):
    from PySide6.QtWidgets import QLabel

    label = QLabel()
    qtbot.addWidget(label)
    image = QImage(8, 8, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    before = sys.getrefcount(None)
    for _ in range(2000):
        painter.save()
        painter.restore()
        label.update()
    painter.end()
    assert sys.getrefcount(None) > before - 1000
