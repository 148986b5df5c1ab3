"""Help ▸ About: the version, what it runs on, where it keeps things, how to cite it.

The text is built by :func:`about_text` (plain text, also for bug reports: the dialog
has a *Copy* button); :class:`AboutDialog` only shows it, and is opened non-modally.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Final

from PyQt6.QtCore import PYQT_VERSION_STR, QT_VERSION_STR, Qt
from PyQt6.QtGui import QGuiApplication
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from rigctl import __version__
from rigctl.logs import log_dir
from rigctl.paths import data_root

__all__ = ["DEPENDENCIES", "AboutDialog", "about_text", "dependency_versions"]

DEPENDENCIES: Final = ("numpy", "scipy", "pyqtgraph", "pynwb", "nidaqmx", "numba")
"""Distributions whose versions About lists (besides PyQt6 and Qt)."""

CITATION: Final = (
    "If rigctl helps your work, please cite the experiment it was built for and the model "
    "it previews:\n"
    "  - Jang J., Flores J., O'Reilly R. C. & Zito K. (2026). Synaptic plasticity as a "
    "function of the temporal derivative. The theta-cycle protocols (25 and 50 Hz halves "
    "of a 200 ms window, ten windows) and the paper dataset come from this study.\n"
    "  - The Axon simulator (emergent project, https://github.com/emer/axon), whose kinase "
    "learning rule (the CaMKII/DAPK1 cascade) the plasticity preview implements."
)
"""How to cite rigctl's science (shown in About)."""


def dependency_versions() -> list[tuple[str, str]]:
    """``(name, version)`` of PyQt6, Qt and :data:`DEPENDENCIES` ("not installed" if so).

    The versions come from the installed distributions' metadata: nothing is imported.
    """
    versions = [("PyQt6", PYQT_VERSION_STR), ("Qt", QT_VERSION_STR)]
    for name in DEPENDENCIES:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "not installed"))
    return versions


def about_text(
    *,
    recordings: Path | None = None,
    settings_file: str | None = None,
) -> str:
    """The text of the About box.

    Parameters
    ----------
    recordings
        The folder new recordings go to in this window (shown when given).
    settings_file
        Where the window's settings are kept (shown when given).

    Returns
    -------
    str
        Version, dependency versions, data root, log folder, and how to cite.
    """
    lines = [
        f"rigctl {__version__}",
        "Design, preview and run theta-cycle plasticity protocols on a patch-clamp rig.",
        "",
        "Running on:",
        *(f"  {name} {version}" for name, version in dependency_versions()),
        "",
        "Folders:",
        f"  Data root: {data_root()}",
    ]
    if recordings is not None:
        lines.append(f"  New recordings: {recordings}")
    lines.append(f"  Log folder: {log_dir()}")
    if settings_file:
        lines.append(f"  Settings: {settings_file}")
    lines += ["", CITATION]
    return "\n".join(lines)


class AboutDialog(QDialog):
    """Shows :func:`about_text` (selectable, with a *Copy* button); open it with ``show()``.

    Parameters
    ----------
    text
        What to show (from :func:`about_text`).
    parent
        Parent widget (the main window).
    """

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About rigctl")
        self.textView = QPlainTextEdit(text)
        self.textView.setReadOnly(True)
        self.textView.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.textView.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy", QDialogButtonBox.ButtonRole.ActionRole)
        assert copy is not None
        copy.clicked.connect(self.copyText)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.textView)
        layout.addWidget(buttons)
        self.resize(640, 460)

    def text(self) -> str:
        """The text shown."""
        return self.textView.toPlainText()

    def copyText(self) -> None:
        """Put the text on the clipboard (for a bug report)."""
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(self.text())
