"""The house colours of rigctl's plots, in one place and free of Qt.

Used by the matplotlib figure of a group summary (:mod:`rigctl.engine.figure`) and by the
pyqtgraph plots of the GUI (:mod:`rigctl.gui.plot_style`), so a phase or a condition has
the same colour on screen and on paper.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "AXIS_COLOR",
    "CONDITION_COLORS",
    "OTHER_CONDITION_COLORS",
    "PHASE_COLORS",
    "TEXT_COLOR",
    "condition_color",
]

PHASE_COLORS: Final = (
    (30, 136, 229),
    (251, 140, 0),
    (67, 160, 71),
    (142, 36, 170),
    (0, 137, 123),
    (121, 85, 72),
    (216, 27, 96),
    (84, 110, 122),
)
"""Shading colour of the phases (RGB), by position in the window (cycled)."""

CONDITION_COLORS: Final = {
    "25-25": "#8c8c8c",
    "25-50": "#c0392b",
    "50-25": "#2471a3",
    "50-50": "#2b2b2b",
}
"""Colour of each of the paper's conditions (same rate grey/black, LTP red, LTD blue)."""

OTHER_CONDITION_COLORS: Final = ("#e67e22", "#27ae60", "#8e44ad", "#16a085", "#b7950b", "#6d4c41")
"""Colours of other conditions, by position (cycled)."""

AXIS_COLOR: Final = "#555555"
"""Axis lines and ticks."""

TEXT_COLOR: Final = "#222222"
"""Axis labels and tick labels."""


def condition_color(condition: str, position: int) -> str:
    """The colour of a condition: the paper's own, else by its ``position`` in the plot."""
    return CONDITION_COLORS.get(
        condition, OTHER_CONDITION_COLORS[position % len(OTHER_CONDITION_COLORS)]
    )
