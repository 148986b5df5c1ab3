"""The house style of rigctl's pyqtgraph plots, shared by every panel.

The colours are :mod:`rigctl.engine.style`'s, shared with the matplotlib figure.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PyQt6.QtGui import QColor

from rigctl.engine.style import AXIS_COLOR, PHASE_COLORS, TEXT_COLOR

__all__ = ["PHASE_COLORS", "phase_color", "phase_tint", "plot_menu", "style_plot"]


def plot_menu(item: Any) -> None:
    """Give a plot item rigctl's context menu: pyqtgraph's *Export…* and *View All*.

    Every plot in rigctl goes through here. A right click on the plot area opens the
    view box menu (View All, axis ranges) with pyqtgraph's *Export…* (PNG, SVG, CSV,
    …) under it; the *Plot Options* menu (log axes, FFT, downsampling and other
    transforms that would change what the plot says) and the corner "A" button stay off.

    Parameters
    ----------
    item
        A ``pyqtgraph.PlotItem``.
    """
    item.setMenuEnabled(False, enableViewBoxMenu=True)
    item.hideButtons()


def phase_color(index: int, alpha: int = 255) -> QColor:
    """Colour of the phase at position ``index`` (cycled), with opacity ``alpha`` (0-255)."""
    r, g, b = PHASE_COLORS[index % len(PHASE_COLORS)]
    return QColor(r, g, b, alpha)


def phase_tint(index: int, alpha: int) -> QColor:
    """:func:`phase_color` at opacity ``alpha`` as it looks on the white plot background, opaque.

    Shading drawn beneath everything else on white looks the same either way, but an
    opaque fill is copied into the image instead of blended pixel by pixel, which is most
    of what large translucent areas cost to paint in software.
    """
    r, g, b = PHASE_COLORS[index % len(PHASE_COLORS)]
    return QColor(*(round(c * alpha / 255 + 255 * (1 - alpha / 255)) for c in (r, g, b)))


def style_plot(
    item: Any,
    *,
    left: str,
    bottom: str | None,
    axis_width: int,
    bottom_values: bool | None = None,
) -> None:
    """Style a plot item: the export menu (:func:`plot_menu`), dark axes, no SI prefixes.

    Parameters
    ----------
    item
        A ``pyqtgraph.PlotItem``.
    left, bottom
        Axis labels with units; ``bottom=None`` hides the bottom tick labels (for a plot
        that shares its x axis with the one below it).
    axis_width
        Width of the left axis in pixels, so stacked plots line up.
    bottom_values
        Whether the bottom axis shows its tick labels (default: when it has a label).
    """
    plot_menu(item)
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(AXIS_COLOR))
        axis.setTextPen(pg.mkPen(TEXT_COLOR))
        axis.enableAutoSIPrefix(False)
    item.getAxis("left").setWidth(axis_width)
    item.setLabel("left", left, color=TEXT_COLOR)
    if bottom is not None:
        item.setLabel("bottom", bottom, color=TEXT_COLOR)
    if not (bottom is not None if bottom_values is None else bottom_values):
        item.getAxis("bottom").setStyle(showValues=False)
