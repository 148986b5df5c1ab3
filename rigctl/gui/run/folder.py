"""The Run tab's data-folder row: the folder the next recording writes, chosen or made new.

A recording is never written over another: the runner refuses a folder that is not new
or empty. :class:`DataFolderView` proposes a new timestamped folder for every run
(beside the last one) until the user edits or chooses one.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QLineEdit, QPushButton, QWidget

from rigctl.gui.run.confirmation import RED

__all__ = ["DataFolderView"]


class DataFolderView(QWidget):
    """The path field with *Choose…* and *New*.

    Signals
    -------
    chooseRequested()
        *Choose…* was pressed (the panel asks for a folder).
    newRequested()
        *New* was pressed (the panel proposes a fresh timestamped folder).
    """

    chooseRequested = pyqtSignal()  # noqa: N815 (Qt signal naming)
    newRequested = pyqtSignal()  # noqa: N815 (Qt signal naming)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._auto = True
        self.folderEdit = QLineEdit()
        self.folderEdit.setObjectName("runFolder")
        self.folderEdit.textEdited.connect(self._edited)
        self.chooseFolderButton = QPushButton("Choose…")
        self.chooseFolderButton.setToolTip("Choose an empty or new folder for the recording")
        self.chooseFolderButton.clicked.connect(lambda _c=False: self.chooseRequested.emit())
        self.newFolderButton = QPushButton("New")
        self.newFolderButton.setToolTip("A new timestamped folder beside the last one")
        self.newFolderButton.clicked.connect(lambda _c=False: self.newRequested.emit())
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        row.addWidget(self.folderEdit, 1)
        row.addWidget(self.chooseFolderButton)
        row.addWidget(self.newFolderButton)

    def folder(self) -> Path | None:
        """The folder in the field (``None``: the field is empty)."""
        text = self.folderEdit.text().strip()
        return Path(text).expanduser() if text else None

    def isAuto(self) -> bool:
        """Whether the folder is a proposal (renewed at the next start), not the user's."""
        return self._auto

    def setFolder(self, folder: Path, *, auto: bool) -> None:
        """Show ``folder``; ``auto``: a proposal the next start may renew."""
        self._auto = auto
        self.folderEdit.setText(str(folder))
        self.folderEdit.setToolTip(f"{folder}\nThe next run writes here: a new or empty folder.")
        self.folderEdit.setStyleSheet("")

    def markRefused(self) -> None:
        """Frame the field in red: the runner refused this folder."""
        self.folderEdit.setStyleSheet(f"QLineEdit {{ border: 2px solid {RED.name()}; }}")

    def setControlsEnabled(self, enabled: bool) -> None:
        """Enable or disable the field and both buttons."""
        for w in (self.folderEdit, self.chooseFolderButton, self.newFolderButton):
            w.setEnabled(enabled)

    def _edited(self, _text: str) -> None:
        self._auto = False
        self.folderEdit.setStyleSheet("")
