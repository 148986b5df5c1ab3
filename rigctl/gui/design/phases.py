"""The phases table: one row per phase of the theta window, one field widget per cell."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PyQt6.QtCore import QEvent, QObject, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from rigctl.gui.design._draft import field_description, get_in
from rigctl.gui.widgets.fields import (
    ChoiceField,
    Field,
    IntField,
    OptionalQuantityField,
    QuantityField,
    TextField,
)
from rigctl.protocol import Phase

__all__ = ["COLUMNS", "Column", "PhasesTable"]


@dataclass(frozen=True, slots=True)
class Column:
    """A column of the phases table: which field of a phase it edits and how."""

    key: str
    """Path of the field inside a phase, e.g. ``pre.rate_hz``."""
    title: str
    """Header text (may hold a line break before the unit)."""
    make: Callable[[], Field]
    """Builds the cell's field widget."""

    @property
    def label(self) -> str:
        """The title on one line, for messages."""
        return self.title.replace("\n", " ")


COLUMNS: tuple[Column, ...] = (
    Column("name", "Phase", lambda: TextField(placeholder="name")),
    Column("duration_ms", "Duration\n(ms)", lambda: QuantityField(step=10)),
    Column("pre.rate_hz", "Pre rate\n(Hz)", lambda: QuantityField(step=5)),
    Column("pre.pulse_width_us", "Pulse width\n(µs)", lambda: QuantityField(step=10)),
    Column("pre.onset_ms", "Pre onset\n(ms)", lambda: QuantityField(step=1)),
    Column(
        "pre.timing",
        "Timing",
        lambda: ChoiceField([("regular", "regular"), ("jittered", "jittered")]),
    ),
    Column("pre.jitter_ms", "Jitter\n(± ms)", lambda: QuantityField(step=0.5)),
    Column("pre.seed", "Seed", lambda: IntField()),
    Column("post.target_rate_hz", "Post rate\n(Hz)", lambda: QuantityField(step=5)),
    Column(
        "post.current_pa",
        "Post current\n(pA)",
        lambda: OptionalQuantityField(empty_text="uncalibrated", step=10),
    ),
    Column("post.lag_ms", "Post lag\n(ms)", lambda: QuantityField(step=1)),
)
"""The columns, in display order."""

_JITTER_KEYS = ("pre.jitter_ms", "pre.seed")
_ROW_HEIGHT = 30
#: Rows shown before the table scrolls.
_VISIBLE_ROWS = 5


class PhasesTable(QWidget):
    """Edit the ordered phases of a theta window.

    The table holds no data of its own: :meth:`setPhases` shows the phases of the
    editor's draft, and the signals report what the user asks for.

    Signals
    -------
    fieldEdited(int, str, object)
        Row, field key inside the phase (``pre.rate_hz``) and its new value.
    fieldCommitted(int, str)
        The user finished editing that cell (Enter, focus left it).
    addRequested(int)
        Add a phase after this row (-1: at the end).
    removeRequested(int)
        Remove the phase in this row.
    moveRequested(int, int)
        Move the phase in this row by this many rows (-1 up, +1 down).
    """

    fieldEdited = pyqtSignal(int, str, object)  # noqa: N815 (Qt signal naming)
    fieldCommitted = pyqtSignal(int, str)  # noqa: N815 (Qt signal naming)
    addRequested = pyqtSignal(int)  # noqa: N815 (Qt signal naming)
    removeRequested = pyqtSignal(int)  # noqa: N815 (Qt signal naming)
    moveRequested = pyqtSignal(int, int)  # noqa: N815 (Qt signal naming)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._cells: list[dict[str, Field]] = []
        self._table = QTableWidget(0, len(COLUMNS), self)
        self._table.setObjectName("phasesTable")
        self._table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self._table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self._table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self._table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self._table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        for col, column in enumerate(COLUMNS):
            item = QTableWidgetItem(column.title)
            item.setToolTip(field_description(Phase, column.key))
            self._table.setHorizontalHeaderItem(col, item)
        header = self._table.horizontalHeader()
        if header is not None:
            header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
            header.setMinimumSectionSize(72)
            header.setDefaultAlignment(Qt.AlignmentFlag.AlignCenter)
        vheader = self._table.verticalHeader()
        if vheader is not None:
            vheader.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            vheader.setDefaultSectionSize(_ROW_HEIGHT)
        self._table.currentCellChanged.connect(self._update_buttons)

        self._add = QPushButton("Add phase")
        self._add.setToolTip("Insert a copy of the selected phase after it")
        self._remove = QPushButton("Remove")
        self._remove.setToolTip("Remove the selected phase")
        self._up = QPushButton("Move up")
        self._up.setToolTip("Move the selected phase one place earlier in the window")
        self._down = QPushButton("Move down")
        self._down.setToolTip("Move the selected phase one place later in the window")
        self._add.clicked.connect(lambda: self.addRequested.emit(self.currentRow()))
        self._remove.clicked.connect(lambda: self.removeRequested.emit(self.currentRow()))
        self._up.clicked.connect(lambda: self.moveRequested.emit(self.currentRow(), -1))
        self._down.clicked.connect(lambda: self.moveRequested.emit(self.currentRow(), 1))

        buttons = QVBoxLayout()
        for button in (self._add, self._remove, self._up, self._down):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._table, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    # ------------------------------------------------------------------ public API

    @property
    def table(self) -> QTableWidget:
        """The table widget (flagged as a whole for problems of the phase list)."""
        return self._table

    @property
    def addButton(self) -> QPushButton:
        """The *Add phase* button."""
        return self._add

    @property
    def removeButton(self) -> QPushButton:
        """The *Remove* button."""
        return self._remove

    @property
    def upButton(self) -> QPushButton:
        """The *Move up* button."""
        return self._up

    @property
    def downButton(self) -> QPushButton:
        """The *Move down* button."""
        return self._down

    def rowCount(self) -> int:
        """Number of phases shown."""
        return len(self._cells)

    def currentRow(self) -> int:
        """The selected row (the last one if none is selected)."""
        row = self._table.currentRow()
        return row if 0 <= row < len(self._cells) else len(self._cells) - 1

    def setCurrentRow(self, row: int) -> None:
        """Select ``row``."""
        if 0 <= row < len(self._cells):
            self._table.setCurrentCell(row, max(0, self._table.currentColumn()))
        self._update_buttons()

    def cell(self, row: int, key: str) -> Field | None:
        """The field widget editing ``key`` of the phase in ``row`` (``None`` if absent)."""
        if 0 <= row < len(self._cells):
            return self._cells[row].get(key)
        return None

    def setPhases(self, phases: Sequence[dict[str, Any]]) -> None:
        """Show ``phases`` (dumped :class:`~rigctl.protocol.Phase` data), reusing cells."""
        while len(self._cells) < len(phases):
            self._append_row()
        while len(self._cells) > len(phases):
            self._table.removeRow(len(self._cells) - 1)
            self._cells.pop()
        for row, phase in enumerate(phases):
            cells = self._cells[row]
            for column in COLUMNS:
                cells[column.key].setFieldValue(get_in(phase, column.key))
            jittered = phase["pre"]["timing"] == "jittered"
            for key in _JITTER_KEYS:
                cells[key].setEnabled(jittered)
        self._fit_height()
        self._update_buttons()

    # ------------------------------------------------------------------ internals

    def _append_row(self) -> None:
        row = len(self._cells)
        self._table.insertRow(row)
        cells: dict[str, Field] = {}
        for col, column in enumerate(COLUMNS):
            widget = column.make()
            widget.setToolTip(field_description(Phase, column.key))
            widget.edited.connect(self._edited_handler(widget, column.key))
            widget.committed.connect(self._committed_handler(widget, column.key))
            widget.installEventFilter(self)
            self._table.setCellWidget(row, col, widget)
            cells[column.key] = widget
        self._cells.append(cells)

    def _row_of(self, widget: QWidget) -> int:
        for row, cells in enumerate(self._cells):
            if any(w is widget for w in cells.values()):
                return row
        return -1

    def _edited_handler(self, widget: Field, key: str) -> Callable[[], None]:
        def handler() -> None:
            row = self._row_of(widget)
            if row >= 0:
                if key == "pre.timing":
                    for k in _JITTER_KEYS:
                        self._cells[row][k].setEnabled(widget.fieldValue() == "jittered")
                self.fieldEdited.emit(row, key, widget.fieldValue())

        return handler

    def _committed_handler(self, widget: Field, key: str) -> Callable[[], None]:
        def handler() -> None:
            row = self._row_of(widget)
            if row >= 0:
                self.fieldCommitted.emit(row, key)

        return handler

    def eventFilter(self, a0: QObject | None, a1: QEvent | None) -> bool:
        """Select the row of a cell when the user enters it."""
        if a1 is not None and a1.type() == QEvent.Type.FocusIn and isinstance(a0, QWidget):
            row = self._row_of(a0)
            if row >= 0:
                col = next(i for i, c in enumerate(COLUMNS) if self._cells[row][c.key] is a0)
                self._table.setCurrentCell(row, col)
        return False

    def _fit_height(self) -> None:
        header = self._table.horizontalHeader()
        head = header.height() if header is not None else 0
        head = max(head, header.sizeHint().height() if header is not None else 0)
        rows = max(2, min(len(self._cells), _VISIBLE_ROWS))
        self._table.setFixedHeight(head + rows * _ROW_HEIGHT + 2 * self._table.frameWidth() + 2)

    def _update_buttons(self) -> None:
        n = len(self._cells)
        row = self.currentRow()
        self._remove.setEnabled(n > 1)
        self._up.setEnabled(n > 1 and row > 0)
        self._down.setEnabled(n > 1 and 0 <= row < n - 1)
