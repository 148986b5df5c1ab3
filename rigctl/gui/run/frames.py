"""A plot view that repaints only when its scene changed.

Painting a pyqtgraph view runs Python for every item (axes, curves, points, regions);
during a fast dry run the runner's thread holds the interpreter much of the time, so
every Python paint call also waits for it. A view whose scene has not changed since
it was last painted shows the same pixels again: :class:`FramedPlotWidget` keeps them in
a pixmap and blits it (one call), and renders the scene again only after a change
(any item's update, a range change, a resize).
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PyQt6.QtCore import QRectF
from PyQt6.QtGui import QPainter, QPaintEvent, QPixmap, QResizeEvent

__all__ = ["FramedPlotWidget"]


class FramedPlotWidget(pg.PlotWidget):  # type: ignore[misc]
    """A :class:`pyqtgraph.PlotWidget` that keeps its last frame until the scene changes.

    Parameters
    ----------
    **kwargs
        Passed to :class:`pyqtgraph.PlotWidget`.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._frame: QPixmap | None = None
        self._rendered = 0
        # Connected, the scene reports every change (queued, before the views repaint).
        self.scene().changed.connect(self.invalidateFrame)

    def invalidateFrame(self, *_args: object) -> None:
        """Render the scene again at the next paint (the scene or the view changed)."""
        self._frame = None

    def framesRendered(self) -> int:
        """How many times the scene was rendered (the other paints reused the frame)."""
        return self._rendered

    def resizeEvent(self, ev: QResizeEvent | None) -> None:
        """A new size needs a new frame."""
        self._frame = None
        super().resizeEvent(ev)

    def paintEvent(self, ev: QPaintEvent | None) -> None:
        """Blit the kept frame, rendering the scene into it first if it changed."""
        viewport = self.viewport()
        if viewport is None:
            return
        size = viewport.size()
        ratio = viewport.devicePixelRatioF()
        frame = self._frame
        if frame is None or frame.deviceIndependentSize().toSize() != size:
            frame = QPixmap(round(size.width() * ratio), round(size.height() * ratio))
            frame.setDevicePixelRatio(ratio)
            frame.fill(self.backgroundBrush().color())
            painter = QPainter(frame)
            painter.setRenderHints(self.renderHints())
            target = QRectF(0, 0, size.width(), size.height())
            self.render(painter, target, viewport.rect())  # prepares the scene first
            painter.end()
            self._frame = frame
            self._rendered += 1
        painter = QPainter(viewport)
        painter.drawPixmap(0, 0, frame)
        painter.end()
