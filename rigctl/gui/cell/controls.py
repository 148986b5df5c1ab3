"""The buttons and entries of the Cell tab, and which of them may be pressed when.

Object names (for tests and style sheets): ``wholeCellButton``, ``testPulseButton``,
``rateSpinBox`` (test pulses per second), ``calibrateButton``, ``failedButton``,
``intensityEdit`` (the isolator's front-panel intensity), ``autoCheckBox`` (an automatic
search on an analog isolator), ``searchButton``, ``intensityMessage`` (what is wrong with
the intensity typed), ``startRecordingButton``.
"""

from __future__ import annotations

from PyQt6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from rigctl.engine.testpulse import MAX_TEST_PULSE_HZ

__all__ = ["CellControls"]


def _button(text: str, name: str) -> QPushButton:
    b = QPushButton(text)
    b.setObjectName(name)
    return b


class CellControls(QGroupBox):
    """The set-up's controls; :meth:`show_activity` enables what may be pressed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Set-up", parent)
        self.wholeCellButton = _button("Whole-cell", "wholeCellButton")
        self.wholeCellButton.setToolTip("Break-in: a new cell; the set-up clock starts")
        self.testPulseButton = _button("Start test pulse", "testPulseButton")
        self.rateSpinBox = QDoubleSpinBox()
        self.rateSpinBox.setObjectName("rateSpinBox")
        self.rateSpinBox.setRange(1.0, MAX_TEST_PULSE_HZ)
        self.rateSpinBox.setValue(MAX_TEST_PULSE_HZ)
        self.rateSpinBox.setSuffix(" /s")
        self.rateSpinBox.setDecimals(1)
        self.calibrateButton = _button("Calibrate", "calibrateButton")
        self.failedButton = _button("Cell failed", "failedButton")
        self.intensityEdit = QLineEdit()
        self.intensityEdit.setObjectName("intensityEdit")
        self.intensityEdit.setPlaceholderText("front-panel intensity (µA)")
        self.autoCheckBox = QCheckBox("Auto (analog isolator)")
        self.autoCheckBox.setObjectName("autoCheckBox")
        self.searchButton = _button("Search EPSP", "searchButton")
        self.intensityMessage = QLabel("")
        self.intensityMessage.setObjectName("intensityMessage")
        self.intensityMessage.setWordWrap(True)
        self.intensityMessage.setStyleSheet("color: #c62828")
        self.startButton = _button("Start recording", "startRecordingButton")
        grid = QGridLayout(self)
        grid.addWidget(self.wholeCellButton, 0, 0)
        grid.addWidget(self.testPulseButton, 0, 1)
        grid.addWidget(self.rateSpinBox, 0, 2)
        grid.addWidget(self.calibrateButton, 0, 3)
        grid.addWidget(QLabel("Intensity (µA)"), 1, 0)
        grid.addWidget(self.intensityEdit, 1, 1)
        grid.addWidget(self.autoCheckBox, 1, 2)
        grid.addWidget(self.searchButton, 1, 3)
        grid.addWidget(self.intensityMessage, 2, 0, 1, 4)
        grid.addWidget(self.failedButton, 3, 0)
        grid.addWidget(self.startButton, 3, 1, 1, 3)

    def show_activity(self, activity: str, *, analog: bool, has_setup: bool) -> None:
        """Enable what may be pressed while ``activity`` ("" : none) has the rig.

        ``analog``: the rig's isolator takes its intensity from an AO line (Auto is
        offered); ``has_setup``: a cell is being set up (a recording can start).
        """
        pulsing, searching = activity == "test pulse", activity == "EPSP search"
        self.testPulseButton.setText("Stop test pulse" if pulsing else "Start test pulse")
        self.searchButton.setText("Stop search" if searching else "Search EPSP")
        self.testPulseButton.setEnabled(not activity or pulsing)
        self.rateSpinBox.setEnabled(not activity)
        self.searchButton.setEnabled(not activity or searching)
        self.calibrateButton.setEnabled(not activity)
        self.wholeCellButton.setEnabled(not activity)
        self.autoCheckBox.setEnabled(analog and not activity)
        if not analog:
            self.autoCheckBox.setChecked(False)
        self.startButton.setEnabled(has_setup and (not activity or pulsing))
