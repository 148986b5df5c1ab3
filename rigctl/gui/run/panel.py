"""The run panel: run a whole recording (baseline, induction, follow-up) and watch it.

The panel starts an experiment on the rig through a runner factory passed in by the
composition root, after showing the rig and its gains for confirmation; then it pauses,
resumes, stops or aborts it, starts a manual induction, extends the follow-up and adds
notes, all through the runner's public API (it never touches the rig). It shows the
progress and time remaining, the live membrane potential of the sweep being acquired,
the normalized EPSP time course with the induction and the baseline band, input
resistance and resting Vm with the health flags, the warnings, the summary at the end
and the data folder.

Threading: the runner reports from its worker thread through a
:class:`~rigctl.gui.run.bridge.RunBridge` whose Qt signals reach the panel's slots by
queued connections; the slots only store what arrived, and a 30 Hz timer redraws what
changed. A dry run of hundreds of sweeps per second therefore never floods the event
loop, and the worker never holds a widget.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from html import escape, unescape
from pathlib import Path
from typing import Final

from PyQt6.QtCore import QSize, Qt, QTimer, QUrl, pyqtBoundSignal, pyqtSignal
from PyQt6.QtGui import QCloseEvent, QColor, QFont, QShowEvent
from PyQt6.QtWidgets import (
    QApplication,
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from rigctl.engine import ExperimentRunner, RunOptions, RunResult, RunState, RunStatus
from rigctl.gui.run.bridge import RunBridge
from rigctl.gui.run.data import PhaseRateInfo, RunHistory, SweepInfo
from rigctl.gui.run.plots import RunPlots
from rigctl.hardware import RigDefinition
from rigctl.paths import new_output_path, recordings_dir
from rigctl.protocol import Experiment

__all__ = [
    "ExperimentSource",
    "RigSource",
    "RunConfirmation",
    "RunPanel",
    "RunnerFactory",
]

_log = logging.getLogger(__name__)

RunnerFactory = Callable[[Experiment, Path, RunOptions], ExperimentRunner]
"""Builds a runner over the current rig for an experiment, a data folder and options."""

ExperimentSource = Callable[[], Experiment | None]
"""Gives the experiment to run (``None``: there is no valid one)."""

RigSource = Callable[[], RigDefinition | None]
"""Gives the definition of the rig the factory runs on (``None``: no rig is open)."""

JOIN_TIMEOUT_S: Final = 10.0
"""Longest wait for the runner's thread once it reported the end (normally milliseconds)."""

FRAME_MS: Final = 16
"""Redraw period while a run is in progress (one redraw per 60 Hz frame, at most)."""

STATUS_S: Final = 0.1
"""Shortest time between two updates of the progress text (text is read, not watched)."""

MAX_LISTED_WARNINGS: Final = 2000
"""Warnings kept in the list (the journal keeps them all)."""

_ACTIVE_STATES: Final = frozenset(
    {RunState.CALIBRATING, RunState.BASELINE, RunState.INDUCTION, RunState.FOLLOWUP}
)
_RED = QColor(198, 40, 40)
_GREEN = QColor(46, 125, 50)
_AMBER = QColor(230, 81, 0)
_BLUE = QColor(21, 101, 192)
_GREY = QColor(97, 97, 97)

_STATE_TEXT: Final = {
    RunState.IDLE: ("Ready", _GREY),
    RunState.CALIBRATING: ("Calibrating currents", _BLUE),
    RunState.BASELINE: ("Baseline", _BLUE),
    RunState.INDUCTION: ("Induction", _AMBER),
    RunState.FOLLOWUP: ("Follow-up", _BLUE),
    RunState.PAUSED: ("Paused", _AMBER),
    RunState.STOPPING: ("Stopping", _AMBER),
    RunState.DONE: ("Done", _GREEN),
    RunState.STOPPED: ("Stopped", _GREEN),
    RunState.ABORTED: ("Aborted", _RED),
    RunState.FAILED: ("Failed", _RED),
}

_SEGMENT_TEXT: Final = {
    "baseline": "baseline probe",
    "induction": "induction",
    "followup": "follow-up probe",
}


def _clock(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) of a duration; negative values get a minus sign."""
    if not math.isfinite(seconds):
        return "—"
    sign = "−" if seconds < 0 else ""  # noqa: RUF001 (a real minus sign)
    s = round(abs(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{sign}{h}:{m:02d}:{sec:02d}" if h else f"{sign}{m}:{sec:02d}"


def _queued(signal: pyqtBoundSignal, slot: Callable[..., None]) -> None:
    """Connect ``slot`` so that it always runs on the GUI thread, after the emit returns."""
    # PyQt6's stubs lack connect()'s connection-type argument.
    signal.connect(slot, Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]


def _label(*, wrap: bool = True, selectable: bool = False) -> QLabel:
    label = QLabel()
    label.setWordWrap(wrap)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if selectable:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _plain(html: str) -> str:
    return unescape(re.sub(r"<[^>]*>", "", html.replace("<br>", "\n")))


class _CompactList(QListWidget):
    """A list that asks for only a few rows (it grows into the space it is given)."""

    def __init__(self, rows: int) -> None:
        super().__init__()
        self._rows = rows
        self.setWordWrap(True)

    def sizeHint(self) -> QSize:
        """A few rows tall."""
        row = self.fontMetrics().lineSpacing() + 4
        return QSize(200, self._rows * row + 2 * self.frameWidth())

    def minimumSizeHint(self) -> QSize:
        """As tall as :meth:`sizeHint`."""
        return self.sizeHint()


# --------------------------------------------------------------------------- confirmation


@dataclass(frozen=True)
class RunConfirmation:
    """What the user confirms before a run: the rig, its gains, the protocol, the folder.

    Attributes
    ----------
    rig_name, backend, device
        The rig file's name, backend (``"sim"`` or ``"nidaq"``) and device.
    amplifier_model, amplifier_mode
        The amplifier and its mode as entered in the rig file (``"I-Clamp"`` expected).
    primary_gain
        The amplifier's primary output gain.
    vm_mv_per_mv
        Primary output scaling before the gain (mV per mV of membrane potential).
    command_pa_per_v
        Command sensitivity (pA per V at the DAQ output).
    feedback_mohm, lowpass_khz
        Feedback resistor and Bessel filter.
    stimulator_model
        The stimulus isolator.
    stimulator_amplitude_ua
        Its front-panel amplitude as recorded in the rig file (``None``: not recorded).
    sample_rate_hz
        Acquisition rate.
    protocol_name
        The experiment's name.
    interval_s, baseline_min, followup_min
        The probe schedule.
    folder
        The data folder the run writes.
    fast
        Dry run without waits between sweeps (simulated rig only).
    auto_induction
        The induction starts when the baseline is over (else by hand).
    """

    rig_name: str
    backend: str
    device: str
    amplifier_model: str
    amplifier_mode: str
    primary_gain: float
    vm_mv_per_mv: float
    command_pa_per_v: float
    feedback_mohm: float
    lowpass_khz: float
    stimulator_model: str
    stimulator_amplitude_ua: float | None
    sample_rate_hz: float
    protocol_name: str
    interval_s: float
    baseline_min: float
    followup_min: float
    folder: Path
    fast: bool
    auto_induction: bool

    @classmethod
    def of(
        cls,
        definition: RigDefinition,
        experiment: Experiment,
        folder: Path,
        options: RunOptions,
    ) -> RunConfirmation:
        """Collect what to confirm from the rig definition, experiment, folder and options."""
        probes = experiment.probes
        return cls(
            rig_name=definition.name,
            backend=definition.backend,
            device=definition.device,
            amplifier_model=definition.amplifier.model,
            amplifier_mode=definition.amplifier.mode,
            primary_gain=definition.amplifier.primary_gain,
            vm_mv_per_mv=definition.channels.vm.mv_per_mv,
            command_pa_per_v=definition.channels.command.scale_pa_per_v,
            feedback_mohm=definition.amplifier.feedback_resistor_mohm,
            lowpass_khz=definition.amplifier.lowpass_khz,
            stimulator_model=definition.stimulator.model,
            stimulator_amplitude_ua=definition.stimulator.amplitude_ua,
            sample_rate_hz=definition.sample_rate_hz,
            protocol_name=experiment.metadata.name,
            interval_s=probes.interval_s,
            baseline_min=probes.baseline_min,
            followup_min=probes.followup_min,
            folder=folder,
            fast=options.fast,
            auto_induction=options.auto_induction,
        )

    def rows(self) -> list[tuple[str, str]]:
        """Label and value of every line shown, in order."""
        backend = (
            "simulated CA1 neuron" if self.backend == "sim" else "NI-DAQmx (National Instruments)"
        )
        amplitude = (
            "not recorded in the rig file: check the front panel"
            if self.stimulator_amplitude_ua is None
            else f"{self.stimulator_amplitude_ua:g} µA (front panel)"
        )
        total = self.vm_mv_per_mv * self.primary_gain
        return [
            ("Protocol", self.protocol_name),
            (
                "Schedule",
                f"baseline {self.baseline_min:g} min, induction, follow-up "
                f"{self.followup_min:g} min; a probe every {self.interval_s:g} s",
            ),
            (
                "Induction onset",
                "automatic, when the baseline is over"
                if self.auto_induction
                else "by hand (press “Start induction now”)",
            ),
            ("Rig", self.rig_name),
            ("Backend", f"{backend}, device {self.device}, {self.sample_rate_hz / 1000:g} kHz"),
            ("Amplifier", f"{self.amplifier_model}, mode {self.amplifier_mode}"),
            (
                "Primary gain",
                f"× {self.primary_gain:g}  (Vm output {self.vm_mv_per_mv:g} mV/mV × "  # noqa: RUF001
                f"{self.primary_gain:g} = {total:g} mV/mV)",
            ),
            ("Command scaling", f"{self.command_pa_per_v:g} pA/V"),
            (
                "Feedback, filter",
                f"{self.feedback_mohm:g} MΩ, low-pass {self.lowpass_khz:g} kHz",
            ),
            ("Stimulator", f"{self.stimulator_model}, amplitude {amplitude}"),
            (
                "Timing",
                "dry run: as fast as possible, no waits between sweeps"
                if self.fast
                else "real time",
            ),
            ("Data folder", str(self.folder)),
        ]

    def concerns(self) -> list[str]:
        """What deserves a second look before starting (one sentence each)."""
        out = []
        if self.amplifier_mode != "I-Clamp":
            out.append(
                f"The amplifier is entered as {self.amplifier_mode}; the experiment needs "
                "current clamp (I-Clamp)."
            )
        if self.stimulator_amplitude_ua is None:
            out.append(
                "The stimulator amplitude is not recorded in the rig file; note it "
                "(Notes) once the run has started."
            )
        return out

    def text(self) -> str:
        """Plain-text form: one ``label: value`` line each, then the concerns."""
        lines = [f"{label}: {value}" for label, value in self.rows()]
        lines += [f"Check: {c}" for c in self.concerns()]
        return "\n".join(lines)

    def html(self) -> str:
        """Rich-text form for the dialog (a table, the concerns in red)."""
        rows = "".join(
            f"<tr><td align='right' style='padding-right:8px;color:#555'>{escape(k)}:</td>"
            f"<td><b>{escape(v)}</b></td></tr>"
            for k, v in self.rows()
        )
        concerns = "".join(
            f"<p style='color:{_RED.name()}'>⚠ {escape(c)}</p>" for c in self.concerns()
        )
        return f"<table cellspacing='2'>{rows}</table>{concerns}"


# --------------------------------------------------------------------------- the panel


class RunPanel(QWidget):
    """Run one recording on the rig and follow it live.

    Parameters
    ----------
    runner_factory
        Builds the runner for ``(experiment, folder, options)`` over the current rig
        (the composition root binds the rig and its file text). It may raise; the panel
        then says why it could not start.
    experiment
        Gives the experiment to run (the designer's current protocol).
    rig_definition
        Gives the definition of the rig the factory runs on: shown for confirmation
        before every start, and the *Fast (dry run)* box is offered only for a
        simulated rig.
    data_root
        Where new timestamped data folders are proposed (default
        :func:`rigctl.paths.recordings_dir`, the same folder as ``rigctl run``'s).
    options
        Template of the run options (calibration, NWB export, analysis settings,
        subject and session metadata); the panel sets ``fast`` and
        ``auto_induction`` from its check boxes.
    parent
        Parent widget.

    Signals
    -------
    runStarted(ExperimentRunner)
        A run was started.
    stateChanged(RunState)
        The run's state changed (as shown by the panel).
    runFinished(RunResult)
        The run ended (also when it was refused before any sweep, e.g. because the
        data folder is not empty: then ``state`` is FAILED with the reason).

    Notes
    -----
    The questions the panel asks go through overridable methods, so tests and
    scripts answer them without a modal dialog: :meth:`confirmStart` (the rig and its
    gains, before every start), :meth:`confirmAbort` (the *Abort* button) and
    :meth:`askDataFolder` (the folder chooser).
    Call :meth:`shutdown` before the application quits: a run still in progress is
    aborted (outputs to rest) and its thread joined.
    """

    runStarted = pyqtSignal(object)  # noqa: N815 (Qt signal naming)
    stateChanged = pyqtSignal(object)  # noqa: N815 (Qt signal naming)
    runFinished = pyqtSignal(object)  # noqa: N815 (Qt signal naming)

    def __init__(
        self,
        runner_factory: RunnerFactory,
        experiment: ExperimentSource,
        rig_definition: RigSource,
        *,
        data_root: str | Path | None = None,
        options: RunOptions | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._factory = runner_factory
        self._experiment_source = experiment
        self._rig_source = rig_definition
        self._data_root = Path(data_root) if data_root is not None else recordings_dir()
        self._options = RunOptions() if options is None else options
        self._runner: ExperimentRunner | None = None
        self._bridge: RunBridge | None = None
        self._state = RunState.IDLE
        self._entered = False
        self._status: RunStatus | None = None
        self._result: RunResult | None = None
        self._experiment: Experiment | None = None
        self._history = RunHistory(interval_s=20.0)
        self._warnings: list[str] = []
        self._pending_warnings: list[str] = []
        self._notes: list[tuple[float, str]] = []
        self._pause_requested = False
        self._stop_requested = False
        self._abort_requested = False
        self._induce_requested = False
        self._live_dirty = False
        self._history_dirty = False
        self._status_dirty = False
        self._frames = 0
        self._status_shown_at = -math.inf
        self._last_was_live = False
        self._live_sweep: tuple[str, str] | None = None
        self._closed = False
        self._folder_auto = True
        self._message = ""
        self._summary = ""

        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._frame)

        self._build()
        self._set_folder(self._fresh_folder(), auto=True)
        self._refresh_rig()
        self._show_state(RunState.IDLE)
        self._show_status(None)
        self._show_rates(())
        self._say("")
        self._update_controls()

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        bold = QFont()
        bold.setBold(True)

        # ---- recording: protocol, rig, folder, options, run buttons
        self._protocol_label = _label(selectable=True)
        self._rig_label = _label(selectable=True)
        self.folderEdit = QLineEdit()
        self.folderEdit.setToolTip(
            "The data folder of the next run: new or empty (a recording is never written over "
            "another). Edit the path, choose a folder, or make a new timestamped one."
        )
        self.folderEdit.textEdited.connect(self._on_folder_edited)
        self.chooseFolderButton = QPushButton("Choose…")
        self.chooseFolderButton.setToolTip("Choose an empty or new folder for the recording")
        self.chooseFolderButton.clicked.connect(lambda _checked=False: self.chooseDataFolder())
        self.newFolderButton = QPushButton("New")
        self.newFolderButton.setToolTip("A new timestamped folder beside the last one")
        self.newFolderButton.clicked.connect(lambda _checked=False: self.newDataFolder())
        folder_row = QHBoxLayout()
        folder_row.setSpacing(4)
        folder_row.addWidget(self.folderEdit, 1)
        folder_row.addWidget(self.chooseFolderButton)
        folder_row.addWidget(self.newFolderButton)

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
        self.manualCheckBox.toggled.connect(lambda _on: self._update_controls())

        self.startButton = QPushButton("Start…")
        self.startButton.setToolTip("Check the rig and its gains, then start the recording")
        self.startButton.setFont(bold)
        self.startButton.setStyleSheet(f"QPushButton:enabled {{ color: {_GREEN.name()}; }}")
        self.startButton.clicked.connect(lambda _checked=False: self.start())
        self.pauseButton = QPushButton("Pause")
        self.pauseButton.setToolTip(
            "No new sweep starts until Resume (the sweep in flight finishes)"
        )
        self.pauseButton.clicked.connect(lambda _checked=False: self.togglePause())
        self.stopButton = QPushButton("Stop")
        self.stopButton.setToolTip(
            "Finish the sweep in flight, then end the run; the record stays complete"
        )
        self.stopButton.clicked.connect(lambda _checked=False: self.stop())
        self.abortButton = QPushButton("Abort")
        self.abortButton.setToolTip(
            "Cut the sweep in flight now and end the run (outputs to rest; marked aborted)"
        )
        self.abortButton.setStyleSheet(f"QPushButton:enabled {{ color: {_RED.name()}; }}")
        self.abortButton.clicked.connect(lambda _checked=False: self.requestAbort())
        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        for b in (self.startButton, self.pauseButton, self.stopButton, self.abortButton):
            b.setMinimumHeight(30)
            buttons.addWidget(b)

        rec_box = QGroupBox("Recording")
        rec_form = QFormLayout()
        rec_form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        rec_form.setVerticalSpacing(4)
        rec_form.addRow("Protocol:", self._protocol_label)
        rec_form.addRow("Rig:", self._rig_label)
        rec_form.addRow("Data folder:", folder_row)
        rec_layout = QVBoxLayout(rec_box)
        rec_layout.addLayout(rec_form)
        rec_layout.addWidget(self.fastCheckBox)
        rec_layout.addWidget(self.manualCheckBox)
        rec_layout.addLayout(buttons)

        # ---- progress
        self.stateLabel = QLabel()
        state_font = QFont()
        state_font.setBold(True)
        state_font.setPointSizeF(state_font.pointSizeF() * 1.5)
        self.stateLabel.setFont(state_font)
        self._message_label = _label(selectable=True)
        self._message_label.setObjectName("runMessage")
        self.progressBar = QProgressBar()
        self.progressBar.setTextVisible(True)
        self.progressBar.setFormat("%v / %m sweeps")
        self._time_label = _label()
        self._last_label = _label()
        self._rates_label = QLabel()
        self._rates_label.setWordWrap(True)
        self._rates_label.setTextFormat(Qt.TextFormat.RichText)
        self.inductionButton = QPushButton("Start induction now")
        self.inductionButton.setToolTip(
            "Manual onset: the induction runs at the next sweep slot (the baseline is stable)"
        )
        self.inductionButton.clicked.connect(lambda _checked=False: self.startInduction())
        self.extendButton = QPushButton("Extend follow-up +5 min")
        self.extendButton.setToolTip("Add follow-up probes for 5 more minutes")
        self.extendButton.clicked.connect(lambda _checked=False: self.extendFollowup(5.0))
        run_buttons = QHBoxLayout()
        run_buttons.setSpacing(4)
        run_buttons.addWidget(self.inductionButton)
        run_buttons.addWidget(self.extendButton)
        progress_box = QGroupBox("Progress")
        progress_layout = QVBoxLayout(progress_box)
        progress_layout.setSpacing(4)
        progress_layout.addWidget(self.stateLabel)
        progress_layout.addWidget(self._message_label)
        progress_layout.addWidget(self.progressBar)
        progress_layout.addWidget(self._time_label)
        progress_layout.addWidget(self._last_label)
        progress_layout.addWidget(self._rates_label)
        progress_layout.addLayout(run_buttons)

        # ---- result: summary and the data folder
        self._summary_label = QLabel()
        self._summary_label.setWordWrap(True)
        self._summary_label.setTextFormat(Qt.TextFormat.RichText)
        self._summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._folder_link = QLabel()
        self._folder_link.setWordWrap(True)
        self._folder_link.setTextFormat(Qt.TextFormat.RichText)
        self._folder_link.setOpenExternalLinks(True)
        self._folder_link.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextBrowserInteraction
            | Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.copyFolderButton = QPushButton("Copy path")
        self.copyFolderButton.setToolTip("Copy the data folder's path to the clipboard")
        self.copyFolderButton.clicked.connect(lambda _checked=False: self.copyFolderPath())
        link_row = QHBoxLayout()
        link_row.addWidget(self._folder_link, 1)
        link_row.addWidget(self.copyFolderButton, 0, Qt.AlignmentFlag.AlignTop)
        self.resultBox = QGroupBox("Result")
        result_layout = QVBoxLayout(self.resultBox)
        result_layout.addWidget(self._summary_label)
        result_layout.addLayout(link_row)
        self.resultBox.setVisible(False)

        # ---- warnings
        self.warningsList = _CompactList(4)
        self.warningsList.setToolTip("Health flags, missed rates and failures, newest last")
        self._warnings_box = QGroupBox("Warnings")
        warnings_layout = QVBoxLayout(self._warnings_box)
        warnings_layout.addWidget(self.warningsList)

        # ---- notes
        self.noteEdit = QLineEdit()
        self.noteEdit.setPlaceholderText("Note for the journal, e.g. “bath 32 °C”")
        self.noteEdit.returnPressed.connect(lambda: self.addNote())
        self.noteButton = QPushButton("Add note")
        self.noteButton.setToolTip("Keep the note in the recording at the current experiment time")
        self.noteButton.clicked.connect(lambda _checked=False: self.addNote())
        note_row = QHBoxLayout()
        note_row.addWidget(self.noteEdit, 1)
        note_row.addWidget(self.noteButton)
        self.notesList = _CompactList(3)
        notes_box = QGroupBox("Notes")
        notes_layout = QVBoxLayout(notes_box)
        notes_layout.addLayout(note_row)
        notes_layout.addWidget(self.notesList)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 4, 0)
        left_layout.addWidget(rec_box)
        left_layout.addWidget(progress_box)
        left_layout.addWidget(self.resultBox)
        left_layout.addWidget(self._warnings_box, 3)
        left_layout.addWidget(notes_box, 2)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(420)
        scroll.setMaximumWidth(470)
        scroll.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)

        self.plots = RunPlots()
        layout = QHBoxLayout(self)
        layout.addWidget(scroll, 0)
        layout.addWidget(self.plots, 1)

    # ------------------------------------------------------------------ questions

    def confirmationBox(self, confirmation: RunConfirmation) -> QMessageBox:
        """The dialog :meth:`confirmStart` shows (not yet shown)."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Start the recording?")
        box.setText("Check the rig and its gains before the first sweep:")
        box.setInformativeText(confirmation.html())
        box.setTextFormat(Qt.TextFormat.RichText)
        start = box.addButton("Start", QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(start)
        box.setEscapeButton(cancel)
        return box

    def confirmStart(self, confirmation: RunConfirmation) -> bool:
        """Ask the user to confirm the rig, its gains and the folder; override in tests.

        Parameters
        ----------
        confirmation
            What is about to run and on which rig.

        Returns
        -------
        bool
            Whether to start.
        """
        box = self.confirmationBox(confirmation)
        box.exec()
        clicked = box.clickedButton()
        return clicked is not None and box.buttonRole(clicked) == QMessageBox.ButtonRole.AcceptRole

    def confirmAbort(self) -> bool:
        """Ask whether to abort the run now (the *Abort* button); override in tests."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Abort the recording?")
        box.setText("Abort the recording now?")
        box.setInformativeText(
            "The sweep in flight is cut, the outputs go to rest and the recording is "
            "marked aborted. To end it cleanly after this sweep, use Stop instead."
        )
        abort = box.addButton("Abort now", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep recording", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)
        box.exec()
        return box.clickedButton() is abort

    def askDataFolder(self, start: Path) -> Path | None:
        """Ask for the data folder (``None``: cancelled); override in tests and scripts."""
        path = QFileDialog.getExistingDirectory(
            self, "Choose an empty or new data folder", str(start)
        )
        return Path(path) if path else None

    # ------------------------------------------------------------------ data folder

    def dataFolder(self) -> Path | None:
        """The folder the next run writes (``None``: the field is empty)."""
        text = self.folderEdit.text().strip()
        return Path(text).expanduser() if text else None

    def setDataFolder(self, path: str | Path) -> None:
        """Use ``path`` for the next run (it must be new or empty when the run starts)."""
        self._set_folder(Path(path), auto=False)

    def newDataFolder(self) -> Path:
        """Propose a new timestamped folder (beside the last one) for the next run."""
        folder = self._fresh_folder()
        self._set_folder(folder, auto=True)
        return folder

    def chooseDataFolder(self) -> bool:
        """Ask for the data folder; ``True`` if one was chosen."""
        if self.isRunning():
            return False
        current = self.dataFolder()
        start = current.parent if current is not None else self._data_root
        chosen = self.askDataFolder(start if start.is_dir() else Path.home())
        if chosen is None:
            return False
        self.setDataFolder(chosen)
        return True

    def copyFolderPath(self) -> str:
        """Copy the path of the last run's folder (or the next one's) to the clipboard."""
        folder = self._result.folder if self._result is not None else self.dataFolder()
        text = "" if folder is None else str(folder)
        clipboard = QApplication.clipboard()
        if clipboard is not None and text:
            clipboard.setText(text)
        return text

    def _fresh_folder(self) -> Path:
        exp = self._experiment_source()
        return new_output_path(self._data_root, exp.metadata.name if exp else "recording")

    def _set_folder(self, folder: Path, *, auto: bool) -> None:
        self._folder_auto = auto
        if not auto:
            self._data_root = folder.parent
        self.folderEdit.setText(str(folder))
        self.folderEdit.setToolTip(f"{folder}\nThe next run writes here: a new or empty folder.")
        self.folderEdit.setStyleSheet("")

    def _on_folder_edited(self, _text: str) -> None:
        self._folder_auto = False
        self.folderEdit.setStyleSheet("")

    # ------------------------------------------------------------------ run control

    def start(self) -> bool:
        """Confirm the rig and start a run of the current experiment.

        Returns
        -------
        bool
            Whether a run was started (``False``: cancelled, nothing to run, or the
            runner could not be built; the reason is shown). A run refused by the
            runner (e.g. the data folder is not empty) has started and ends at once
            with :attr:`runFinished` and the reason.
        """
        if self._closed or self.isRunning():
            return False
        experiment = self._experiment_source()
        if experiment is None:
            self._say("There is no valid protocol to run: fix the protocol first.", error=True)
            return False
        definition = self._refresh_rig()
        if definition is None:
            self._say("No rig is open: open a rig file in the Rig tab first.", error=True)
            return False
        if self._folder_auto:
            self.newDataFolder()  # the timestamp of the start, not of the last run
        folder = self.dataFolder()
        if folder is None:
            self._say("Choose a data folder for the recording.", error=True)
            return False
        options = replace(
            self._options,
            fast=self.fastCheckBox.isChecked() and definition.backend == "sim",
            auto_induction=not self.manualCheckBox.isChecked(),
        )
        if not self.confirmStart(RunConfirmation.of(definition, experiment, folder, options)):
            self._say("Start cancelled: nothing was run.")
            return False
        try:
            runner = self._factory(experiment, folder, options)
        except Exception as exc:  # a rig that cannot run: say why, keep the GUI up
            _log.exception("building the runner failed")
            self._say(f"Cannot start: {exc}", error=True)
            return False

        self._begin(runner, experiment, options)
        try:
            runner.start()
        except Exception as exc:
            _log.exception("starting the runner failed")
            self._end_bridge()
            self._runner = None
            self._timer.stop()
            self._report_never_ran(runner, folder, exc)
            self._say(f"Cannot start: {exc}", error=True)
            self._update_controls()
            return False
        self.runStarted.emit(runner)
        return True

    def togglePause(self) -> None:
        """Pause, or resume when paused (or pausing)."""
        if self._pause_requested or self._state == RunState.PAUSED:
            self.resume()
        else:
            self.pause()

    def pause(self) -> None:
        """No new sweep starts until :meth:`resume` (the sweep in flight finishes)."""
        if self._runner is None or not self._can_control():
            return
        self._runner.pause()
        self._pause_requested = True
        self._say("Pausing: the sweep in flight finishes, then no new sweep starts.")
        self._update_controls()

    def resume(self) -> None:
        """Continue after :meth:`pause`; the schedule resumes from now."""
        if self._runner is None or not self._can_control():
            return
        self._runner.resume()
        self._pause_requested = False
        self._say("Resumed.")
        self._update_controls()

    def stop(self) -> None:
        """Finish the sweep in flight, then end the run (the record stays complete)."""
        if self._runner is None or not self._can_control():
            return
        self._runner.stop()
        self._stop_requested = True
        self._pause_requested = False
        self._say("Stopping: the sweep in flight finishes, then the run ends.")
        self._update_controls()

    def requestAbort(self) -> bool:
        """Abort after :meth:`confirmAbort` says yes (what the *Abort* button does).

        Returns whether the abort was requested.
        """
        if self._runner is None or self._abort_requested or not self.confirmAbort():
            return False
        self.abort()  # the run may have ended while the question was open: then a no-op
        return self._abort_requested

    def abort(self) -> None:
        """Cut the sweep in flight now and end the run (outputs to rest, marked aborted).

        No question asked (scripts, shutdown); the button goes through :meth:`requestAbort`.
        """
        if self._runner is None or self._abort_requested:
            return
        self._runner.abort()
        self._abort_requested = True
        self._pause_requested = False
        self._say("Aborting: the sweep in flight is cut and the outputs go to rest.")
        self._update_controls()

    def startInduction(self) -> None:
        """Start the induction at the next sweep slot (manual onset)."""
        if self._runner is None or not self._can_control():
            return
        self._runner.start_induction()
        self._induce_requested = True
        self._say("The induction starts at the next sweep slot.")
        self._update_controls()

    def extendFollowup(self, minutes: float = 5.0) -> None:
        """Add follow-up probes for ``minutes`` more."""
        if self._runner is None or not self._can_control():
            return
        before = self._runner.status().sweeps_planned
        self._runner.extend_followup(minutes)
        self._status = self._runner.status()
        self._status_dirty = True
        added = self._status.sweeps_planned - before
        self._say(f"Follow-up extended by {minutes:g} min ({added} more probes).")

    def addNote(self, text: str | None = None) -> bool:
        """Keep a note in the recording at the current experiment time.

        Parameters
        ----------
        text
            The note (default: the text of the note field, which is then cleared).

        Returns
        -------
        bool
            Whether the note was added (only while a run is acquiring).
        """
        from_field = text is None
        note = (self.noteEdit.text() if text is None else text).strip()
        runner = self._runner
        if not note or runner is None or not self._can_note() or runner.state.finished:
            return False
        runner.add_note(note)
        at = runner.status().experiment_time_s
        self._notes.append((at, note))
        self.notesList.addItem(f"{_clock(at)}  {note}")
        self.notesList.scrollToBottom()
        if from_field:
            self.noteEdit.clear()
        return True

    # ------------------------------------------------------------------ reading

    def isRunning(self) -> bool:
        """Whether a run has started and not yet ended."""
        return self._runner is not None

    def runner(self) -> ExperimentRunner | None:
        """The runner of the run in progress."""
        return self._runner

    def state(self) -> RunState:
        """The run's state as shown."""
        return self._state

    def status(self) -> RunStatus | None:
        """The last progress snapshot shown."""
        return self._status

    def lastResult(self) -> RunResult | None:
        """How the last run ended."""
        return self._result

    def messageText(self) -> str:
        """The message under the state (what was asked, why something was refused)."""
        return self._message

    def summaryText(self) -> str:
        """The result shown after a run (plain text)."""
        return _plain(self._summary)

    def inductionRatesText(self) -> str:
        """The achieved rate of every induction phase, as shown (plain text)."""
        return _plain(self._rates_label.text())

    def warnings(self) -> list[str]:
        """Every warning of the current (or last) run, as listed."""
        return list(self._warnings)

    def notes(self) -> list[tuple[float, str]]:
        """Notes added during the current (or last) run: experiment time (s) and text."""
        return list(self._notes)

    def history(self) -> RunHistory:
        """What the plots show of the current (or last) run."""
        return self._history

    def redrawCount(self) -> int:
        """Redraws done so far (at most one per :data:`FRAME_MS`)."""
        return self._frames

    # ------------------------------------------------------------------ shutdown

    def shutdown(self, timeout_s: float = JOIN_TIMEOUT_S) -> None:
        """Abort a run in progress (outputs to rest) and join its thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._timer.stop()
        runner, bridge = self._runner, self._bridge
        if runner is not None:
            runner.abort()
            if runner.wait(timeout_s) is None:
                _log.error("the runner did not stop within %g s", timeout_s)
        if bridge is not None:
            bridge.detach()
        self._bridge = None
        self._runner = None
        self._update_controls()

    def closeEvent(self, a0: QCloseEvent | None) -> None:
        """End a run in progress when the panel is closed as a window of its own."""
        self.shutdown()
        super().closeEvent(a0)

    def showEvent(self, a0: QShowEvent | None) -> None:
        """Show the current protocol and rig whenever the panel comes into view."""
        if not self.isRunning():
            self._refresh_rig()
        super().showEvent(a0)
        if self._bridge is not None:
            self._history_dirty = self._status_dirty = True
            QTimer.singleShot(0, self._frame)  # what arrived while hidden

    # ------------------------------------------------------------------ internals: run

    def _begin(self, runner: ExperimentRunner, experiment: Experiment, options: RunOptions) -> None:
        self._experiment = experiment
        self._runner = runner
        self._result = None
        self._status = None
        self._entered = False
        self._pause_requested = self._stop_requested = False
        self._abort_requested = self._induce_requested = False
        self._history = RunHistory(experiment.probes.interval_s, options.analysis)
        self._live_sweep = None
        self._warnings = []
        self._pending_warnings = []
        self._notes = []
        self.warningsList.clear()
        self.notesList.clear()
        self._warnings_box.setTitle("Warnings")
        self._show_rates(())
        self.resultBox.setVisible(False)
        self._summary = ""
        self.plots.reset(
            baseline_min=experiment.probes.baseline_min,
            followup_min=experiment.probes.followup_min,
            settings=options.analysis,
            manual_induction=not options.auto_induction,
        )
        bridge = RunBridge(runner)
        _queued(bridge.stateChanged, self._on_state)
        _queued(bridge.sweepAcquired, self._on_sweep)
        _queued(bridge.warning, self._on_warning)
        _queued(bridge.chunksReady, self._on_chunks)
        _queued(bridge.progressReady, self._on_progress)
        _queued(bridge.finished, self._on_finished)
        bridge.attach()
        self._bridge = bridge
        self._protocol_label.setText(experiment.metadata.name)
        self._show_state(RunState.IDLE, "Starting…")
        self._say("Opening the data folder…")
        self._show_status(None)
        self._timer.start()
        self._update_controls()

    @staticmethod
    def _report_never_ran(runner: ExperimentRunner, folder: Path, exc: Exception) -> None:
        """Report a runner that could not start as finished (failed).

        Whoever lent it the rig (the session's recording lease) gives the rig back when
        the runner reports ``finished``; a runner whose thread never started would
        otherwise keep the rig lent for good.
        """
        result = RunResult(RunState.FAILED, folder, 0, {}, f"the run could not start: {exc}")
        try:
            runner.finished.emit(result)
        except Exception:
            _log.exception("reporting the run that never started failed")

    def _end_bridge(self) -> None:
        bridge, self._bridge = self._bridge, None
        if bridge is not None:
            bridge.detach()

    def _can_control(self) -> bool:
        return (
            self._runner is not None
            and not self._stop_requested
            and not self._abort_requested
            and not self._state.finished
        )

    def _can_note(self) -> bool:
        return (
            self._runner is not None
            and self._entered
            and (self._state in _ACTIVE_STATES or self._state == RunState.PAUSED)
        )

    # ------------------------------------------------------------------ slots (GUI thread)

    def _on_state(self, bridge: RunBridge, state: RunState) -> None:
        if bridge is not self._bridge:
            return
        if state in _ACTIVE_STATES:
            if not self._entered:
                self._say("")  # the folder is open: "Opening the data folder…" is over
            self._entered = True
        if state == RunState.PAUSED:
            self._say("Paused: no sweep runs until Resume.")
        elif self._state == RunState.PAUSED and state in _ACTIVE_STATES:
            self._say("")
        self._state = state
        self._show_state(state)
        self._status_dirty = True
        self._update_controls()
        self.stateChanged.emit(state)

    def _on_sweep(self, bridge: RunBridge, info: SweepInfo) -> None:
        if bridge is not self._bridge:
            return
        self._history.add(info)
        self._history_dirty = True
        if info.kind == "induction":
            self._show_rates(info.phase_rates)

    def _on_warning(self, bridge: RunBridge, text: str, at_s: float) -> None:
        if bridge is not self._bridge:
            return
        line = f"{_clock(at_s)}  {text}"
        self._warnings.append(line)
        self._pending_warnings.append(line)

    def _on_chunks(self, bridge: RunBridge) -> None:
        if bridge is not self._bridge:
            return
        self._live_dirty = True  # taken at the next redraw: at most 30 times a second

    def _take_chunks(self, bridge: RunBridge) -> None:
        live = bridge.takeChunks()
        if live is None:
            return
        if live.new_sweep:
            planned = self._status.sweeps_planned if self._status is not None else 0
            of = f" of {planned}" if planned >= live.sweep_number else ""
            what = _SEGMENT_TEXT.get(live.segment, live.segment)
            self._live_sweep = (f"sweep {live.sweep_number}{of}", what)
            self.plots.startSweep(
                live.n_total, live.sample_rate_hz, f"sweep {live.sweep_number}{of} ({what}, live)"
            )
        for chunk in live.chunks:
            self.plots.addChunk(chunk)

    def _on_progress(self, bridge: RunBridge) -> None:
        if bridge is not self._bridge:
            return
        self._status_dirty = True  # taken at the next redraw

    def _on_finished(self, bridge: RunBridge, result: RunResult) -> None:
        if bridge is not self._bridge:
            return
        runner = bridge.runner
        self._take_chunks(bridge)
        bridge.takeProgress()
        self._end_bridge()
        if runner.wait(JOIN_TIMEOUT_S) is None:  # it returns right after reporting
            _log.error("the runner's thread did not end within %g s", JOIN_TIMEOUT_S)
        self._runner = None
        self._timer.stop()
        self._status = runner.status()
        self._result = result
        self._state = result.state
        self.plots.drawLive()
        self.plots.drawHistory(self._history)
        self._live_dirty = self._history_dirty = False
        self._status_dirty = True
        self._redraw(final=True)
        refused = result.state == RunState.FAILED and not self._entered and result.sweeps == 0
        if refused:
            self._show_state(result.state, "Not started")
            self._say(f"Not started: {result.message}", error=True)
            self.folderEdit.setStyleSheet(f"QLineEdit {{ border: 2px solid {_RED.name()}; }}")
        else:
            self._show_state(result.state)
            self._say("")
            self._show_result(result)
            self._set_folder(self._fresh_folder(), auto=True)  # the next run gets its own
        self.plots.setLiveTitle(self._live_end_title(result))
        self._update_controls()
        self.stateChanged.emit(result.state)
        self.runFinished.emit(result)

    def _frame(self) -> None:
        """The frame timer: redraw what changed, unless another tab is shown."""
        if self.isVisible():
            self._redraw()

    def _redraw(self, *, final: bool = False) -> None:
        """Redraw what changed since the last frame (the 30 Hz timer calls it).

        When both the live trace and the time courses have news (a dry run), the frames
        alternate between them, so no single frame keeps the event loop long.
        """
        drew = False
        bridge = self._bridge
        if bridge is not None:
            status = bridge.takeProgress()
            if status is not None:
                self._status = status
        live_turn = self._live_dirty and not (self._history_dirty and self._last_was_live)
        if live_turn:
            self._live_dirty = False
            if bridge is not None:
                self._take_chunks(bridge)
            self.plots.drawLive()
            drew = True
        elif self._history_dirty:
            self._history_dirty = False
            self.plots.drawHistory(self._history)
            drew = True
        self._last_was_live = live_turn
        now = time.monotonic()
        if self._status_dirty and (final or now - self._status_shown_at >= STATUS_S):
            self._status_dirty = False
            self._status_shown_at = now
            self._show_status(self._status)
            drew = True
        if self._pending_warnings:
            self._flush_warnings()
            drew = True
        if drew:
            self._frames += 1

    # ------------------------------------------------------------------ display

    def _say(self, text: str, *, error: bool = False) -> None:
        self._message = text
        self._message_label.setText(text)
        self._message_label.setVisible(bool(text))
        color = _RED.name() if error else "#333333"
        weight = "bold" if error else "normal"
        self._message_label.setStyleSheet(f"color: {color}; font-weight: {weight};")

    def _show_state(self, state: RunState, text: str | None = None) -> None:
        word, color = _STATE_TEXT[state]
        self.stateLabel.setText(text if text is not None else word)
        self.stateLabel.setStyleSheet(f"color: {color.name()};")

    def _show_status(self, status: RunStatus | None) -> None:
        if status is None:
            self.progressBar.setRange(0, 1)
            self.progressBar.setValue(0)
            self.progressBar.setFormat("no run yet" if self._runner is None else "starting…")
            self._time_label.setText("")
            self._last_label.setText("")
            self._time_label.setVisible(False)
            self._last_label.setVisible(False)
            return
        self.progressBar.setFormat("%v / %m sweeps")
        self.progressBar.setRange(0, max(1, status.sweeps_planned))
        self.progressBar.setValue(min(status.sweeps_done, max(1, status.sweeps_planned)))
        parts = [f"Experiment time {_clock(status.experiment_time_s)}"]
        if self._state == RunState.INDUCTION:
            parts.append("the induction is running")
        elif status.since_induction_s is not None and status.since_induction_s >= 0:
            parts.append(f"{_clock(status.since_induction_s)} after the induction")
        elif self._experiment is not None and self._history.onset_known:
            to_go = self._history.onset_s - status.experiment_time_s
            parts.append(f"induction in {_clock(to_go)}")
        elif self._runner is not None and self._state == RunState.BASELINE:
            parts.append("induction when you press “Start induction now”")
        lines = [" · ".join(parts)]
        if status.pauses or status.skipped_probes:
            lines.append(
                f"Paused {status.pauses}× ({_clock(status.paused_s)}); "  # noqa: RUF001
                f"{status.skipped_probes} probes skipped (their slot passed while paused)"
            )
        if self._runner is not None:
            left = f"About {_clock(status.remaining_s)} left"
            fast = self._runner.options.fast
            lines.append(left + (" (experiment time; dry run)" if fast else ""))
        self._time_label.setText("\n".join(lines))
        self._time_label.setVisible(True)
        finishing = (
            self._runner is not None
            and 0 < status.sweeps_planned <= status.sweeps_done
            and not self._stop_requested
            and not self._abort_requested
        )
        if finishing and not self._message:
            self._say("Every sweep is acquired: finishing the data folder (and the NWB file)…")
        if status.last_epsp_mv is not None and math.isfinite(status.last_epsp_mv):
            norm = status.last_normalized
            ratio = (
                f" = {norm:.2f} × baseline"  # noqa: RUF001
                if norm is not None and math.isfinite(norm)
                else ""
            )
            self._last_label.setText(f"Last probe: EPSP {status.last_epsp_mv:.2f} mV{ratio}")
            self._last_label.setVisible(True)
        else:
            self._last_label.setVisible(False)

    def _show_rates(self, rates: tuple[PhaseRateInfo, ...]) -> None:
        self._rates_label.setVisible(bool(rates))
        if not rates:
            self._rates_label.setText("")
            return
        parts = []
        for r in rates:
            color = _GREEN.name() if r.ok else _RED.name()
            mark = "✓" if r.ok else "✗ missed"
            parts.append(
                f"{escape(r.phase)} {r.target_hz:g} Hz → {r.achieved_hz:.1f} Hz "
                f"<span style='color:{color}'><b>{mark}</b></span>"
            )
        self._rates_label.setText("Induction rates: " + " · ".join(parts))

    def _flush_warnings(self) -> None:
        lines, self._pending_warnings = self._pending_warnings, []
        brush = _RED
        for line in lines:
            item = QListWidgetItem(line)
            item.setForeground(brush)
            item.setToolTip(line)
            self.warningsList.addItem(item)
        excess = self.warningsList.count() - MAX_LISTED_WARNINGS
        for _ in range(max(0, excess)):
            self.warningsList.takeItem(0)
        QTimer.singleShot(0, self.warningsList.scrollToBottom)  # once the rows are laid out
        n = len(self._warnings)
        self._warnings_box.setTitle(f"Warnings ({n})")
        self._warnings_box.setStyleSheet(f"QGroupBox {{ color: {_RED.name()}; }}" if n else "")

    def _show_result(self, result: RunResult) -> None:
        s = result.summary
        lines: list[str] = []
        headline = {
            RunState.DONE: "The recording is complete.",
            RunState.STOPPED: "Stopped by the user; the record is complete up to the stop.",
            RunState.ABORTED: "Aborted: the sweep in flight was cut; the record is marked aborted.",
            RunState.FAILED: "The run failed; what was acquired is kept.",
        }.get(result.state, "")
        if result.message and result.state == RunState.FAILED:
            headline += f" {result.message[0].upper()}{result.message[1:]}"
        lines.append(escape(headline))
        window = s.get("window_min", [30.0, 35.0])
        lo, hi = (float(window[0]), float(window[1])) if len(window) == 2 else (30.0, 35.0)
        mean = float(s.get("normalized_mean", math.nan))
        if math.isfinite(mean):
            sem = float(s.get("normalized_sem", math.nan))
            pm = f" ± {sem:.2f} (SEM)" if math.isfinite(sem) else ""
            direction = str(s.get("direction", ""))
            color = {"LTP": _GREEN, "LTD": _BLUE}.get(direction, _GREY).name()
            lines.append(
                f"Mean normalized EPSP {lo:g}–{hi:g} min after induction: "  # noqa: RUF001
                f"<b>{mean:.2f}</b>{pm}, n = {int(s.get('n_window', 0))} probes → "
                f"<b style='color:{color}'>{escape(direction)}</b>"
            )
        else:
            lines.append(
                f"No probe {lo:g}–{hi:g} min after the induction: no summary "  # noqa: RUF001
                "(the follow-up ended earlier)."
            )
        b_mean = float(s.get("baseline_mean_mv", math.nan))
        if math.isfinite(b_mean):
            b_sd = float(s.get("baseline_sd_mv", math.nan))
            sd = f" ± {b_sd:.2f}" if math.isfinite(b_sd) else ""
            lines.append(
                f"Baseline EPSP {b_mean:.2f}{sd} mV (mean ± SD, n = {int(s.get('n_baseline', 0))})"
            )
        saved = f"{result.sweeps} sweeps saved"
        if result.nwb_path is not None:
            saved += f"; NWB: {escape(result.nwb_path.name)}"
        lines.append(saved)
        self._summary = "<br>".join(lines)
        self._summary_label.setText(self._summary)
        url = QUrl.fromLocalFile(str(result.folder)).toString()
        self._folder_link.setText(
            f"Data folder: <a href='{escape(url)}'>{escape(str(result.folder))}</a>"
        )
        self._folder_link.setToolTip("Open the data folder")
        self.resultBox.setVisible(True)

    def _live_end_title(self, result: RunResult) -> str:
        if self._live_sweep is None:
            return "no sweep was acquired"
        which, what = self._live_sweep
        if result.state == RunState.ABORTED:
            return f"{which} ({what}): aborted"
        return f"last {which} ({what})"

    def _refresh_rig(self) -> RigDefinition | None:
        definition = self._rig_source()
        experiment = self._experiment_source()
        if not self.isRunning():
            self._protocol_label.setText(
                experiment.metadata.name if experiment is not None else "— (no valid protocol)"
            )
        if definition is None:
            self._rig_label.setText("— (no rig open)")
            self.fastCheckBox.setVisible(False)
            return None
        backend = "simulated" if definition.backend == "sim" else "NI-DAQmx"
        self._rig_label.setText(f"{definition.name} ({backend})")
        self.fastCheckBox.setVisible(definition.backend == "sim")
        return definition

    def _update_controls(self) -> None:
        running = self.isRunning() and not self._closed
        control = running and self._can_control()
        acquiring = running and (self._state in _ACTIVE_STATES or self._state == RunState.PAUSED)
        self.startButton.setEnabled(not running and not self._closed)
        for w in (
            self.folderEdit,
            self.chooseFolderButton,
            self.newFolderButton,
            self.fastCheckBox,
            self.manualCheckBox,
        ):
            w.setEnabled(not running and not self._closed)
        paused = self._pause_requested or self._state == RunState.PAUSED
        self.pauseButton.setText("Resume" if paused else "Pause")
        self.pauseButton.setEnabled(control and acquiring)
        self.stopButton.setEnabled(control)
        self.abortButton.setEnabled(running and not self._abort_requested)
        manual = self._runner is not None and not self._runner.options.auto_induction
        self.inductionButton.setVisible(manual if running else self.manualCheckBox.isChecked())
        self.inductionButton.setEnabled(
            control and manual and self._state == RunState.BASELINE and not self._induce_requested
        )
        self.extendButton.setEnabled(control and acquiring)
        can_note = running and self._can_note()
        self.noteEdit.setEnabled(can_note)
        self.noteButton.setEnabled(can_note)
