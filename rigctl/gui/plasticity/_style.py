"""Colours and text helpers shared by the plasticity pane's views."""

from __future__ import annotations

from typing import Final

from PyQt6.QtGui import QColor

__all__ = ["DASH", "DIRECTION_COLORS", "GREY", "MINUS", "TIMES", "grey", "html", "signed"]

DIRECTION_COLORS: Final = {
    "LTP": "#c62828",
    "LTD": "#1565c0",
    "no change": "#616161",
    "no clear change": "#616161",
}
"""Colour of each direction; the rate map and the cascade use the same (red = LTP side)."""

GREY: Final = "#616161"
MINUS: Final = "\u2212"
TIMES: Final = "\u00d7"
DASH: Final = "\u2013"
AXIS_WIDTH: Final = 58


def signed(value: float, digits: int = 3) -> str:
    """``+2.144``, or a typographic minus for negative values."""
    return f"{value:+.{digits}f}".replace("-", MINUS)


def html(text: str) -> str:
    """``text`` escaped for Qt rich text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def swatch(color: QColor, text: str) -> str:
    """A short line in ``color`` followed by ``text`` (a legend entry)."""
    return f"<span style='color:{color.name()};'>&#9473;&#9473;</span>&nbsp;{text}"


def grey(text: str) -> str:
    """``text`` in the secondary grey."""
    return f"<span style='color:{GREY};'>{text}</span>"
