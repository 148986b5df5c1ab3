"""The house style of rigctl's pyqtgraph plots, shared by every panel.

The colours are :mod:`rigctl.engine.style`'s, shared with the matplotlib figure.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg

from rigctl.engine.style import AXIS_COLOR, PHASE_COLORS, TEXT_COLOR

__all__ = ["PHASE_COLORS", "style_plot"]


def style_plot(item: Any, *, left: str, bottom: str | None, axis_width: int) -> None:
    """Style a plot item: no context menu or buttons, dark axes without SI prefixes.

    Parameters
    ----------
    item
        A ``pyqtgraph.PlotItem``.
    left, bottom
        Axis labels with units; ``bottom=None`` hides the bottom tick labels (for a plot
        that shares its x axis with the one below it).
    axis_width
        Width of the left axis in pixels, so stacked plots line up.
    """
    item.setMenuEnabled(False)
    item.hideButtons()
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(AXIS_COLOR))
        axis.setTextPen(pg.mkPen(TEXT_COLOR))
        axis.enableAutoSIPrefix(False)
    item.getAxis("left").setWidth(axis_width)
    item.setLabel("left", left, color=TEXT_COLOR)
    if bottom is None:
        item.getAxis("bottom").setStyle(showValues=False)
    else:
        item.setLabel("bottom", bottom, color=TEXT_COLOR)
