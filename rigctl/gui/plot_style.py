"""The house style of rigctl's pyqtgraph plots, shared by every panel.

The colours are :mod:`rigctl.engine.style`'s, shared with the matplotlib figure.
"""

from __future__ import annotations

import math
from typing import Any

import pyqtgraph as pg
from PyQt6.QtGui import QColor

from rigctl.engine.style import AXIS_COLOR, PHASE_COLORS, TEXT_COLOR

__all__ = [
    "PHASE_COLORS",
    "envelope",
    "nice_ceiling",
    "phase_color",
    "phase_tint",
    "plot_menu",
    "set_range",
    "set_title",
    "steady_limit",
    "style_plot",
]


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


def envelope(curve: Any) -> None:
    """Draw a long, evenly sampled trace as its envelope, one pixel column at a time.

    Each column shows the lowest and highest sample that falls in it (pyqtgraph's "peak"
    downsampling with one bin per pixel), and only what is in view is drawn: it looks the
    same as every sample drawn, at a fraction of the cost.

    Parameters
    ----------
    curve
        A ``pyqtgraph.PlotDataItem`` with evenly spaced x values.
    """
    curve.opts["autoDownsampleFactor"] = 1.0  # pyqtgraph keeps 5 samples a pixel by default
    curve.setDownsampling(auto=True, method="peak")
    curve.setClipToView(True)


def set_title(item: Any, text: str, *, size: str = "9pt") -> None:
    """Set a plot's title, only when it changed (a new title relays the plot out).

    Parameters
    ----------
    item
        A ``pyqtgraph.PlotItem``.
    text
        The title (rich text).
    size
        Font size of the title.
    """
    if getattr(item, "_rigctl_title", None) != (text, size):
        item.setTitle(text, size=size, color=TEXT_COLOR)
        item._rigctl_title = (text, size)


Range = tuple[float, float]


def set_range(
    item: Any, x: Range | None = None, y: Range | None = None, *, padding: float = 0.0
) -> None:
    """Show ``x`` and ``y`` (``None``: leave that axis), once: not again while they are so.

    A preview sets its ranges with the data on every edit; when they are the ones it set
    last time, nothing is done (a range change updates every item of the plot), and a
    zoom the user made in the meantime is kept.

    Parameters
    ----------
    item
        A ``pyqtgraph.PlotItem``.
    x, y
        The ranges (data units).
    padding
        Fraction of each range added on both sides.
    """
    wanted = (x, y, padding)
    if getattr(item, "_rigctl_range", None) != wanted:
        item.setRange(xRange=x, yRange=y, padding=padding)
        item._rigctl_range = wanted


_NICE_STEPS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k that is >= ``value`` (> 0)."""
    if not (value > 0.0 and math.isfinite(value)):
        return 1.0
    scale = 10.0 ** math.floor(math.log10(value))
    for step in _NICE_STEPS:
        if step * scale >= value * (1.0 - 1e-12):
            return step * scale
    return 10.0 * scale  # pragma: no cover (10 is always >= value / scale)


def steady_limit(shown: float | None, needed: float, *, fill: float = 0.5) -> float:
    """An axis limit for data reaching ``needed`` (> 0) that changes only when it must.

    The limit shown is kept while the data fits under it and fills at least ``fill`` of
    it; otherwise it becomes :func:`nice_ceiling` of ``needed``. A preview whose data
    moves a little with each edit then keeps its axis (and pyqtgraph keeps the axis'
    drawn ticks) instead of rescaling, and redrawing the ticks, on every edit.

    Parameters
    ----------
    shown
        The limit shown now (``None`` before the first).
    needed
        The largest value the axis must show.
    fill
        How much of the axis the data must fill before it is rescaled (0-1).
    """
    if shown is not None and fill * shown <= needed <= shown:
        return shown
    return nice_ceiling(needed)
