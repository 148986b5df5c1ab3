"""The "Import ABF…" options dialog: what :func:`rigctl.io.abf.import_abf` cannot read itself.

Every field is optional except the files and the output folder; an empty number field means
"take it from the file" (the epochs, the digital outputs). The dialog only gathers input:
:meth:`ImportAbfDialog.request` returns the files, the folder and the
:class:`~rigctl.io.abf.ImportOptions` for the panel to run in its worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from rigctl.io.abf import ImportOptions

__all__ = ["AbfRequest", "ImportAbfDialog"]


@dataclass(frozen=True)
class AbfRequest:
    """An import to run: ABF files, a new folder, and the options."""

    files: tuple[Path, ...]
    out: Path
    options: ImportOptions


def _number(text: str, field: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not a number") from None


class ImportAbfDialog(QDialog):
    """Files, output folder, probe/step/induction times and condition name."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import ABF")
        self.files = QLineEdit()
        self.files.setPlaceholderText("ABF files, separated by ';'")
        self.out = QLineEdit()
        self.out.setPlaceholderText("a new folder for the recording")
        self.probe_at = QLineEdit()
        self.step_at = QLineEdit()
        self.step_pa = QLineEdit()
        self.induction_at = QLineEdit()
        self.condition = QLineEdit()
        for w, hint in (
            (self.probe_at, "from the digital outputs"),
            (self.step_at, "from the epochs"),
            (self.step_pa, "from the epochs"),
            (self.induction_at, "none"),
            (self.condition, "from the file names"),
        ):
            w.setPlaceholderText(hint)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #c62828")
        form = QFormLayout(self)
        form.addRow("ABF files", self._with_browse(self.files, self._browse_files))
        form.addRow("Output folder", self._with_browse(self.out, self._browse_out))
        form.addRow("Probe at (ms)", self.probe_at)
        form.addRow("Test step at (ms)", self.step_at)
        form.addRow("Test step (pA)", self.step_pa)
        form.addRow("Induction at (s after first sweep)", self.induction_at)
        form.addRow("Condition name", self.condition)
        form.addRow(self.error)
        box = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        box.accepted.connect(self._accept)
        box.rejected.connect(self.reject)
        form.addRow(box)

    def _with_browse(self, edit: QLineEdit, slot: object) -> QWidget:
        w = QWidget()
        lay = QHBoxLayout(w)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(edit, 1)
        b = QPushButton("Browse…")
        b.clicked.connect(slot)  # type: ignore[arg-type]
        lay.addWidget(b)
        return w

    def _browse_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "ABF files", "", "ABF files (*.abf)")
        if names:
            self.files.setText(";".join(names))

    def _browse_out(self) -> None:
        name = QFileDialog.getExistingDirectory(self, "Output folder")
        if name:
            self.out.setText(name)

    def request(self) -> AbfRequest:
        """The import the fields describe.

        Raises
        ------
        ValueError
            A field is missing or not a number (one sentence naming it).
        """
        files = tuple(Path(f.strip()) for f in self.files.text().split(";") if f.strip())
        if not files:
            raise ValueError("ABF files: give at least one .abf file")
        if not self.out.text().strip():
            raise ValueError("Output folder: give a new folder for the recording")
        opts = ImportOptions(
            probe_at_ms=_number(self.probe_at.text(), "Probe at"),
            step_at_ms=_number(self.step_at.text(), "Test step at"),
            step_pa=_number(self.step_pa.text(), "Test step"),
            induction_at_s=_number(self.induction_at.text(), "Induction at"),
            condition=self.condition.text().strip() or None,
        )
        return AbfRequest(files, Path(self.out.text().strip()), opts)

    def _accept(self) -> None:
        try:
            self.request()
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        self.accept()
