"""The one place that loads shipped files (style sheet, icons) for the GUI.

Files live in the top-level ``resources/`` folder, installed as the package ``backoffice.resources``.
Icons are single-colour SVGs drawn with ``currentColor``; :func:`icon` tints them, so one file serves the
normal, selected and disabled looks.
"""

from __future__ import annotations

import functools
import importlib.resources
from importlib.resources.abc import Traversable
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication, QStyleFactory

from backoffice.ui import theme

_ICON_SIZES = (16, 20, 24, 32, 48, 64)


def _root() -> Traversable:
    try:
        return importlib.resources.files("backoffice.resources")
    except ModuleNotFoundError:
        # Running from a source checkout that is not installed: resources/ sits beside backoffice/.
        return Path(__file__).resolve().parents[2] / "resources"


def read_text(name: str) -> str:
    return _root().joinpath(name).read_text(encoding="utf-8")


def style_sheet() -> str:
    """The application style sheet; ``@ICONS@`` in it names the icons folder (for arrow images)."""
    text = read_text("backoffice.qss")
    icons = _root().joinpath("icons")
    if isinstance(icons, Path) or hasattr(icons, "__fspath__"):
        return text.replace("@ICONS@", Path(icons).as_posix())
    # Resources inside a zip: keep Fusion's own arrows rather than point at files that do not exist.
    return "\n".join(line for line in text.splitlines() if "@ICONS@" not in line)


@functools.cache
def _svg(name: str) -> str:
    return read_text(f"icons/{name}.svg")


def svg_pixmap(name: str, size: int, color: str | QColor = theme.TEXT_MUTED, *, device_ratio: float = 1.0) -> QPixmap:
    """The icon ``name`` drawn at ``size`` logical pixels in ``color``."""
    color_name = color.name() if isinstance(color, QColor) else color
    data = _svg(name).replace("currentColor", color_name)
    renderer = QSvgRenderer(QByteArray(data.encode("utf-8")))
    physical = max(1, round(size * device_ratio))
    pixmap = QPixmap(physical, physical)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, physical, physical))
    painter.end()
    pixmap.setDevicePixelRatio(device_ratio)
    return pixmap


@functools.cache
def icon(name: str, color: str = theme.TEXT_MUTED, selected_color: str | None = None) -> QIcon:
    """A tinted icon; ``selected_color`` is used for the selected/active state (navigation lists)."""
    result = QIcon()
    for size in _ICON_SIZES:
        for ratio in (1.0, 2.0):
            result.addPixmap(svg_pixmap(name, size, color, device_ratio=ratio), QIcon.Mode.Normal)
            result.addPixmap(svg_pixmap(name, size, theme.TEXT_DISABLED, device_ratio=ratio), QIcon.Mode.Disabled)
            if selected_color:
                result.addPixmap(svg_pixmap(name, size, selected_color, device_ratio=ratio), QIcon.Mode.Selected)
                result.addPixmap(svg_pixmap(name, size, selected_color, device_ratio=ratio), QIcon.Mode.Active)
    return result


def app_icon() -> QIcon:
    result = QIcon()
    data = _svg("backoffice").encode("utf-8")
    for size in _ICON_SIZES + (128, 256):
        renderer = QSvgRenderer(QByteArray(data))
        pixmap = QPixmap(QSize(size, size))
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        result.addPixmap(pixmap)
    return result


def apply_theme(app: QApplication) -> None:
    """Fusion, the light palette, a slightly larger default font and the application style sheet."""
    app.setStyle(QStyleFactory.create("Fusion"))
    app.setPalette(theme.palette())
    font = QFont(app.font())
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
    app.setFont(font)
    app.setStyleSheet(style_sheet())
    app.setWindowIcon(app_icon())
