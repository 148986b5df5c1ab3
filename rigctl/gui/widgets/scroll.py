"""Content in a scroll area: the one way the GUI lets a widget scroll instead of clip."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QScrollArea, QWidget

__all__ = ["scrolling"]


def scrolling(
    content: QWidget,
    area: QScrollArea | None = None,
    *,
    width: tuple[int, int] | None = None,
) -> QScrollArea:
    """``content`` in a frameless scroll area that resizes it to fit.

    Parameters
    ----------
    content
        The widget that scrolls when the area is smaller than its minimum size.
    area
        The scroll area to use (a subclass, say); default a new :class:`QScrollArea`.
    width
        ``(minimum, maximum)`` width of a column that scrolls only vertically; default
        any width, scrolling both ways.

    Returns
    -------
    QScrollArea
        ``area`` (or the new one), holding ``content``.
    """
    if area is None:
        area = QScrollArea()
    area.setWidget(content)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    if width is not None:
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        area.setMinimumWidth(width[0])
        area.setMaximumWidth(width[1])
    return area
