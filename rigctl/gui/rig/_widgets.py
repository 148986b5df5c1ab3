"""Small widgets and colours shared by the views of the Rig tab."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QBrush, QColor, QFont
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
)

from rigctl.engine.current_calibration import MISS_TOLERANCE, PhaseRate
from rigctl.gui.plot_style import PHASE_COLORS

MISS: Final = QColor(198, 40, 40)
"""Colour of a missed rate, a refused limit, an error."""
OK: Final = QColor(46, 125, 50)
"""Colour of a rate within tolerance."""
AXIS_WIDTH: Final = 56
"""Left axis width of the Rig tab's plots (pixels)."""
DASH: Final = "—"
"""Shown for a value not known yet."""
TOLERANCE: Final = f"{MISS_TOLERANCE * 100:g} %"
"""How far a phase's rate may be off its target, as shown."""


def table(headers: Sequence[str], name: str) -> QTableWidget:
    """A read-only table exactly as tall as its rows, with object name ``name``."""
    t = QTableWidget(0, len(headers))
    t.setObjectName(name)
    t.setHorizontalHeaderLabels(list(headers))
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    t.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    t.setAlternatingRowColors(True)
    vertical = t.verticalHeader()
    assert vertical is not None
    vertical.setVisible(False)
    header = t.horizontalHeader()
    assert header is not None
    header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    t.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    t.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    t.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    fit_rows(t)
    return t


def fit_rows(t: QTableWidget, min_rows: int = 2) -> None:
    """Make ``t`` exactly as tall as its rows (at least ``min_rows``): no scrolling."""
    header = t.horizontalHeader()
    vertical = t.verticalHeader()
    assert header is not None and vertical is not None
    rows = max(t.rowCount(), min_rows)
    height = header.sizeHint().height() + rows * vertical.defaultSectionSize()
    t.setFixedHeight(height + 2 * t.frameWidth())


def cell(text: str, *, color: QColor | None = None, bold: bool = False) -> QTableWidgetItem:
    """A centred table cell, coloured and bold if asked."""
    item = QTableWidgetItem(text)
    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
    if color is not None:
        item.setForeground(QBrush(color))
    if bold:
        font = QFont()
        font.setBold(True)
        item.setFont(font)
    return item


def phase_cell(name: str, index: int, color: QColor | None) -> QTableWidgetItem:
    """The phase-name cell, shaded like the phase in the plots."""
    item = cell(name, color=color)
    item.setTextAlignment(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft)
    r, g, b = PHASE_COLORS[index % len(PHASE_COLORS)]
    item.setBackground(QBrush(QColor(r, g, b, 60)))
    return item


def verdict(rate: PhaseRate) -> str:
    """``ok`` or how far a phase missed its target rate."""
    return "ok" if rate.ok else f"MISS ({rate.miss:.0%} off)"


def wrapping_label(*, lines: int, name: str = "") -> QLabel:
    """A word-wrapping label that keeps room for ``lines`` lines (no layout jumps)."""
    label = QLabel()
    if name:
        label.setObjectName(name)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    label.setMinimumHeight(lines * label.fontMetrics().lineSpacing() + 2)
    return label
