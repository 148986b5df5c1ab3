"""The slice log box of the Cell tab: the slice, its cells, failures and induction.

The log itself is :class:`rigctl.engine.slicelog.SliceLog`, one SQLite file in the data
root (:func:`rigctl.paths.data_root`), opened on first use. A log that cannot be used
(locked, from a newer rigctl, unreadable) is said in one sentence in the box; the set-up
goes on without it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PyQt6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from rigctl.engine.slicelog import SliceLog, SliceLogError, SliceStatus
from rigctl.paths import data_root as default_data_root

__all__ = ["SliceBox"]

_WARN_STYLE = "color: #c62828; font-weight: bold"


class SliceBox(QGroupBox):
    """The slice being recorded from and what the slice log knows about it.

    Parameters
    ----------
    root
        The data root holding the slice log (default :func:`rigctl.paths.data_root`).
    failure_limit
        Failed set-ups after which the box warns to change the slice.

    Notes
    -----
    Children: ``sliceEdit`` (the slice id), ``newSliceButton``, ``inducedButton`` (the
    slice has received an induction), ``sliceStatus`` (cells, failures, induced) and
    ``sliceWarning`` (what must be heard before recording another cell here).
    """

    def __init__(
        self, root: Path | None = None, *, failure_limit: int = 3, parent: QWidget | None = None
    ) -> None:
        super().__init__("Slice log", parent)
        self._root = root
        self._failure_limit = failure_limit
        self._log: SliceLog | None = None
        self.sliceEdit = QLineEdit()
        self.sliceEdit.setObjectName("sliceEdit")
        self.sliceEdit.setPlaceholderText("slice id, e.g. slice-1")
        self.sliceEdit.editingFinished.connect(self.refresh)
        self.newSliceButton = QPushButton("New slice")
        self.newSliceButton.setObjectName("newSliceButton")
        self.newSliceButton.clicked.connect(self.newSlice)
        self.inducedButton = QPushButton("Slice induced")
        self.inducedButton.setObjectName("inducedButton")
        self.inducedButton.setToolTip("This slice has received an induction: never reuse it")
        self.inducedButton.clicked.connect(self.markInduced)
        self.status = QLabel("")
        self.status.setObjectName("sliceStatus")
        self.warning = QLabel("")
        self.warning.setObjectName("sliceWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(_WARN_STYLE)
        grid = QGridLayout(self)
        grid.addWidget(QLabel("Slice"), 0, 0)
        grid.addWidget(self.sliceEdit, 0, 1)
        grid.addWidget(self.newSliceButton, 0, 2)
        grid.addWidget(self.inducedButton, 0, 3)
        grid.addWidget(self.status, 1, 0, 1, 4)
        grid.addWidget(self.warning, 2, 0, 1, 4)

    # ------------------------------------------------------------------ the log

    def log(self) -> SliceLog | None:
        """The slice log, opened on first use (``None``: it cannot be used; said why)."""
        if self._log is None:
            root = self._root if self._root is not None else default_data_root()
            try:
                self._log = SliceLog(root, failure_limit=self._failure_limit)
            except (SliceLogError, ValueError) as exc:
                self._say(str(exc))
                return None
        return self._log

    def close_log(self) -> None:
        """Close the database (the window is closing)."""
        if self._log is not None:
            self._log.close()
            self._log = None

    def sliceId(self) -> str | None:
        """The slice id entered (``None``: none)."""
        return self.sliceEdit.text().strip() or None

    def setSliceId(self, slice_id: str) -> None:
        """Enter ``slice_id`` and show what the log knows about it."""
        self.sliceEdit.setText(slice_id)
        self.refresh()

    def newSlice(self) -> str | None:
        """Register a new slice (next free ``slice-N``) and select it."""
        log = self.log()
        if log is None:
            return None
        try:
            slice_id = log.new_slice()
        except SliceLogError as exc:
            self._say(str(exc))
            return None
        self.setSliceId(slice_id)
        return slice_id

    def markInduced(self) -> None:
        """Record that the selected slice has received an induction."""
        self._write(lambda log, s: log.mark_induced(s))

    def newCell(self) -> str | None:
        """Register a cell on the selected slice; its id (``None``: no slice or no log)."""
        box: list[str] = []
        self._write(lambda log, s: box.append(log.new_cell(s)))
        return box[0] if box else None

    def cellFailed(self, cell_id: str, reason: str, setup_s: float | None) -> None:
        """Record a failed set-up of ``cell_id``."""
        self._write(lambda log, _s: log.setup_failed(cell_id, reason, setup_s))

    def cellRecorded(self, cell_id: str, folder: str, setup_s: float | None) -> None:
        """Record that ``cell_id`` went on to the recording in ``folder``."""
        self._write(lambda log, _s: log.recorded(cell_id, folder, setup_s))

    def warnings(self) -> list[str]:
        """The log's warnings for the selected slice (induced, too many failures)."""
        slice_id, log = self.sliceId(), self.log()
        if slice_id is None or log is None:
            return []
        try:
            return log.warnings(slice_id)
        except SliceLogError as exc:
            return [str(exc)]

    def refresh(self) -> SliceStatus | None:
        """Show the selected slice's cells, failures, induction and warnings."""
        slice_id = self.sliceId()
        log = self.log() if slice_id is not None else None
        if slice_id is None or log is None:
            self.status.setText("No slice selected: cells are not logged.")
            self.warning.setText(self.warning.text() if log is None and slice_id else "")
            return None
        try:
            st = log.status(slice_id)
            warnings = log.warnings(slice_id)
        except SliceLogError as exc:
            self._say(str(exc))
            return None
        induced = "yes" if st.induced else "no"
        self.status.setText(
            f"{st.slice_id}: {st.cells} cells, {st.failures} failed set-ups, induced: {induced}"
        )
        self.warning.setText("\n".join(warnings))
        return st

    # ------------------------------------------------------------------ internals

    def _write(self, action: Callable[[SliceLog, str], object]) -> None:
        slice_id = self.sliceId()
        if slice_id is None:
            return
        log = self.log()
        if log is None:
            return
        try:
            action(log, slice_id)
        except SliceLogError as exc:
            self._say(str(exc))
            return
        self.refresh()

    def _say(self, text: str) -> None:
        self.warning.setText(text)
