"""The Run tab's two lists: the warnings of the run and the notes kept in its journal."""

from __future__ import annotations

from typing import Final

from PyQt6.QtCore import QSize, QTimer
from PyQt6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from rigctl.gui.run.confirmation import RED

__all__ = ["MAX_LISTED_WARNINGS", "NotesView", "WarningsView"]

MAX_LISTED_WARNINGS: Final = 2000
"""Warnings kept in the list (the journal keeps them all)."""


class _CompactList(QListWidget):
    """A list that asks for only a few rows (it grows into the space it is given)."""

    def __init__(self, rows: int, name: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self._rows = rows
        self.setWordWrap(True)

    def sizeHint(self) -> QSize:
        """A few rows tall."""
        row = self.fontMetrics().lineSpacing() + 4
        return QSize(200, self._rows * row + 2 * self.frameWidth())

    def minimumSizeHint(self) -> QSize:
        """As tall as :meth:`sizeHint`."""
        return self.sizeHint()


class WarningsView(QGroupBox):
    """*Warnings (n)*: health flags, missed rates, skipped probes and failures, newest last."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Warnings", parent)
        self.warningsList = _CompactList(4, "runWarnings")
        self.warningsList.setToolTip("Health flags, missed rates and failures, newest last")
        self._count = 0
        QVBoxLayout(self).addWidget(self.warningsList)

    def clear(self) -> None:
        """A new run: no warning yet."""
        self.warningsList.clear()
        self._count = 0
        self.setTitle("Warnings")
        self.setStyleSheet("")

    def add(self, lines: list[str]) -> None:
        """Append warnings (the oldest rows go beyond :data:`MAX_LISTED_WARNINGS`)."""
        for line in lines:
            item = QListWidgetItem(line)
            item.setForeground(RED)
            item.setToolTip(line)
            self.warningsList.addItem(item)
        excess = self.warningsList.count() - MAX_LISTED_WARNINGS
        for _ in range(max(0, excess)):
            self.warningsList.takeItem(0)
        QTimer.singleShot(0, self.warningsList.scrollToBottom)  # once the rows are laid out
        self._count += len(lines)
        self.setTitle(f"Warnings ({self._count})")
        self.setStyleSheet(f"QGroupBox {{ color: {RED.name()}; }}" if self._count else "")


class NotesView(QGroupBox):
    """*Notes*: a field and *Add note*, and the notes of the run with their times."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Notes", parent)
        self.noteEdit = QLineEdit()
        self.noteEdit.setObjectName("runNote")
        self.noteEdit.setPlaceholderText("Note for the journal, e.g. “bath 32 °C”")
        self.noteButton = QPushButton("Add note")
        self.noteButton.setToolTip("Keep the note in the recording at the current experiment time")
        self.notesList = _CompactList(3, "runNotes")
        row = QHBoxLayout()
        row.addWidget(self.noteEdit, 1)
        row.addWidget(self.noteButton)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.notesList)

    def setControlsEnabled(self, enabled: bool) -> None:
        """Enable or disable the field and the button (the list stays readable)."""
        self.noteEdit.setEnabled(enabled)
        self.noteButton.setEnabled(enabled)
