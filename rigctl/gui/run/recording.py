"""The Run tab's *Recording* box: what will run, on which rig, where, how, and the buttons.

:class:`RecordingView` only lays the controls out and shows the protocol and the rig;
the panel wires the buttons to the runner.
"""

from __future__ import annotations

from collections.abc import Iterable

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QFont
from PyQt6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from rigctl.gui.run.confirmation import RED
from rigctl.gui.run.folder import DataFolderView
from rigctl.gui.run.status import GREEN, label
from rigctl.gui.widgets.scroll import scrolling
from rigctl.hardware import RigDefinition

__all__ = ["RecordingView", "side_column"]


def side_column(views: Iterable[tuple[QWidget, int]]) -> QScrollArea:
    """The panel's left column: ``(view, stretch)`` pairs, top to bottom, scrolling."""
    column = QWidget()
    layout = QVBoxLayout(column)
    layout.setContentsMargins(0, 0, 4, 0)
    for view, stretch in views:
        layout.addWidget(view, stretch)
    scroll = scrolling(column, width=(420, 470))
    scroll.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
    return scroll


def _button(text: str, tip: str) -> QPushButton:
    button = QPushButton(text)
    button.setToolTip(tip)
    button.setMinimumHeight(30)
    return button


class RecordingView(QGroupBox):
    """Protocol, rig, :class:`DataFolderView`, the two options and Start/Pause/Stop/Abort.

    Attributes
    ----------
    folderView
        The data folder of the next run.
    fastCheckBox, manualCheckBox
        *Fast dry run* (simulated rig only) and *Start the induction by hand*.
    startButton, pauseButton, stopButton, abortButton
        The run buttons (the panel connects them).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Recording", parent)
        self._protocol = label("runProtocol", selectable=True)
        self._rig = label("runRig", selectable=True)
        self.folderView = DataFolderView()
        self.fastCheckBox = QCheckBox("Fast dry run (no waits between sweeps)")
        self.fastCheckBox.setToolTip(
            "Simulated rig only: run the schedule as fast as possible; times are "
            "experiment time, not wall-clock time."
        )
        self.fastCheckBox.setChecked(True)
        self.manualCheckBox = QCheckBox("Start the induction by hand")
        self.manualCheckBox.setToolTip(
            "Keep probing after the baseline until “Start induction now” is pressed "
            "(e.g. when the baseline needs longer to settle)."
        )
        self.startButton = _button(
            "Start…", "Check the rig and its gains, then start the recording"
        )
        bold = QFont()
        bold.setBold(True)
        self.startButton.setFont(bold)
        self.startButton.setStyleSheet(f"QPushButton:enabled {{ color: {GREEN.name()}; }}")
        self.pauseButton = _button(
            "Pause", "No new sweep starts until Resume (the sweep in flight finishes)"
        )
        self.stopButton = _button(
            "Stop", "Finish the sweep in flight, then end the run; the record stays complete"
        )
        self.abortButton = _button(
            "Abort", "Cut the sweep in flight now and end the run (outputs to rest; marked aborted)"
        )
        self.abortButton.setStyleSheet(f"QPushButton:enabled {{ color: {RED.name()}; }}")
        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        for b in (self.startButton, self.pauseButton, self.stopButton, self.abortButton):
            buttons.addWidget(b)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        form.setVerticalSpacing(4)
        form.addRow("Protocol:", self._protocol)
        form.addRow("Rig:", self._rig)
        form.addRow("Data folder:", self.folderView)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.fastCheckBox)
        layout.addWidget(self.manualCheckBox)
        layout.addLayout(buttons)

    def showProtocol(self, name: str | None) -> None:
        """Show the protocol's name (``None``: there is no valid protocol)."""
        self._protocol.setText(name if name is not None else "— (no valid protocol)")

    def showRig(self, definition: RigDefinition | None) -> None:
        """Show the rig; the dry-run box is offered for a simulated rig only."""
        if definition is None:
            self._rig.setText("— (no rig open)")
            self.fastCheckBox.setVisible(False)
            return
        backend = "simulated" if definition.backend == "sim" else "NI-DAQmx"
        self._rig.setText(f"{definition.name} ({backend})")
        self.fastCheckBox.setVisible(definition.backend == "sim")
