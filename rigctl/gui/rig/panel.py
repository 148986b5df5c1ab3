"""The rig panel: which rig, how it is wired and limited, calibration and dry-run sweeps.

The panel shows the rig file (channels with their terminals and scaling, the amplifier
and stimulator settings to confirm by eye, the safety limits in physical units), runs
the calibration of the current protocol's currents and single dry-run sweeps on the
rig, and shows the membrane potential live while a sweep runs, then the achieved rate
of every phase.

The rig is opened by a factory passed in (``open_rig`` from the composition root) and
used only through the :class:`~rigctl.hardware.Rig` protocol. Calibrations and sweeps
run on a worker thread (:class:`~rigctl.gui.rig.jobs.RigJob`) that holds no widget; its
reports reach the panel through queued signals.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from html import escape, unescape
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QObject, Qt, QTimer, pyqtBoundSignal, pyqtSignal
from PyQt6.QtGui import QBrush, QCloseEvent, QColor, QFont
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from rigctl.gui.design.preview import PHASE_COLORS
from rigctl.gui.plot_style import style_plot
from rigctl.gui.rig.jobs import (
    CalibrationDone,
    JobAborted,
    JobFailed,
    JobOutcome,
    RigJob,
    SweepDone,
    SweepKind,
    SweepStarted,
    Work,
    calibration_work,
    sweep_work,
)
from rigctl.hardware import (
    DEFAULT_RIG_PATH,
    Chunk,
    Rig,
    RigDefinition,
    RigError,
    RigFileError,
    SimRig,
    SweepResult,
    load_rig,
)
from rigctl.hardware.calibration import MISS_TOLERANCE, ExperimentCalibration, PhaseRate
from rigctl.protocol import Experiment, Induction

__all__ = ["ExperimentSource", "RigFactory", "RigPanel", "RigState"]

_log = logging.getLogger(__name__)

RigFactory = Callable[[RigDefinition], Rig]
"""Opens the rig a rig file describes (the composition root passes ``open_rig``)."""

ExperimentSource = Callable[[], Experiment | None]
"""Gives the protocol to calibrate or run (``None``: there is none)."""

RigState = Literal["idle", "calibrating", "sweeping", "error"]
"""What the panel is doing."""

JOIN_TIMEOUT_S: Final = 10.0
"""Longest wait for a job's thread after it was aborted (a chunk is at most 1 s)."""

_REDRAW_MS: Final = 40
_MISS = QColor(198, 40, 40)
_OK = QColor(46, 125, 50)
_VM_PEN = QColor(33, 33, 33)
_FI_PEN = QColor(21, 101, 192)
_AXIS_WIDTH = 56
_FILTER = "rig files (*.toml);;All files (*)"
_DASH = "—"
_TOL = f"{MISS_TOLERANCE * 100:g} %"

_LIMIT_ROWS: Final = (
    ("max_command_pa", "Max |command|", "{:g} pA"),
    ("max_stim_rate_hz", "Max stimulation rate", "{:g} Hz"),
    ("min_interpulse_ms", "Min inter-pulse interval", "{:g} ms"),
    ("max_pulse_width_us", "Max pulse width", "{:g} µs"),
    ("max_sweep_s", "Max sweep length", "{:g} s"),
    ("max_duty_cycle", "Max stim duty cycle", "{:.3g} %"),
)


def _table(headers: Sequence[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    table.setAlternatingRowColors(True)
    vertical = table.verticalHeader()
    assert vertical is not None
    vertical.setVisible(False)
    header = table.horizontalHeader()
    assert header is not None
    header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    _fit_rows(table)
    return table


def _fit_rows(table: QTableWidget, min_rows: int = 2) -> None:
    """Make ``table`` exactly as tall as its rows (at least ``min_rows``): no scrolling."""
    header = table.horizontalHeader()
    vertical = table.verticalHeader()
    assert header is not None and vertical is not None
    rows = max(table.rowCount(), min_rows)
    row_height = vertical.defaultSectionSize()
    height = header.sizeHint().height() + rows * row_height + 2 * table.frameWidth()
    table.setFixedHeight(height)


def _cell(text: str, *, color: QColor | None = None, bold: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
    if color is not None:
        item.setForeground(QBrush(color))
    if bold:
        font = QFont()
        font.setBold(True)
        item.setFont(font)
    return item


def _without_currents(induction: Induction) -> Induction:
    phases = tuple(ph.replace(post=ph.post.replace(current_pa=None)) for ph in induction.phases)
    return induction.replace(phases=phases)


def _wrapping_label(*, lines: int) -> QLabel:
    """A word-wrapping label that keeps room for ``lines`` lines (no layout jumps)."""
    label = QLabel()
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    label.setMinimumHeight(lines * label.fontMetrics().lineSpacing() + 2)
    return label


def _verdict(rate: PhaseRate) -> str:
    return "ok" if rate.ok else f"MISS ({rate.miss:.0%} off)"


def _current_text(value: float | None) -> str:
    return "not set" if value is None else f"{value:g}"


def _queued(signal: pyqtBoundSignal, slot: Callable[..., None]) -> None:
    """Connect ``slot`` so that it always runs on the GUI thread, after the emit returns."""
    # PyQt6's stubs lack connect()'s connection-type argument.
    signal.connect(slot, Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]


class _JobRelay(QObject):
    """Carries a job's reports from its thread to the GUI thread (queued signals)."""

    started = pyqtSignal(object, object)  # job, SweepStarted
    chunk = pyqtSignal(object, object)  # job, Chunk (numpy Vm)
    ended = pyqtSignal(object, object)  # job, JobOutcome


class RigPanel(QWidget):
    """Choose the rig, check its wiring and limits, calibrate, and dry-run sweeps.

    Parameters
    ----------
    rig_factory
        Opens the rig of a rig file (``rigctl.hardware.open_rig``). It may raise
        :class:`~rigctl.hardware.RigError` (e.g. NI-DAQmx driver missing) or
        ``ImportError`` (backend not installed): the panel then says so and has no rig.
    rig_path
        The rig file opened first (default: the simulated rig, ``hardware/sim.toml``).
    experiment
        Gives the protocol to calibrate and run (the designer's current one). Without
        it the panel cannot calibrate or run.
    parent
        Parent widget.

    Signals
    -------
    calibratedExperiment(Experiment)
        *Apply currents* was pressed: the current protocol with the calibrated currents.
    rigChanged(RigDefinition)
        A rig file was loaded.
    stateChanged(str)
        The :data:`RigState` changed.
    jobFinished(object)
        A calibration or sweep ended (a :data:`~rigctl.gui.rig.jobs.JobOutcome`).

    Notes
    -----
    The file chooser goes through :meth:`askRigPath`, which tests and scripts override.
    The panel puts the rig at rest and closes it when the rig file changes and in
    :meth:`shutdown` (called by the main window when it closes, and when the panel is
    closed as a window of its own).
    """

    calibratedExperiment = pyqtSignal(object)  # noqa: N815 (Qt signal naming)
    rigChanged = pyqtSignal(object)  # noqa: N815 (Qt signal naming)
    stateChanged = pyqtSignal(str)  # noqa: N815 (Qt signal naming)
    jobFinished = pyqtSignal(object)  # noqa: N815 (Qt signal naming)

    def __init__(
        self,
        rig_factory: RigFactory,
        rig_path: str | os.PathLike[str] | None = DEFAULT_RIG_PATH,
        *,
        experiment: ExperimentSource | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._factory = rig_factory
        self._experiment_source = experiment
        self._rig: Rig | None = None
        self._definition: RigDefinition | None = None
        self._path: Path | None = None
        self._job: RigJob | None = None
        self._job_kind: Literal["calibration", "induction", "probe"] | None = None
        self._state: RigState = "idle"
        self._status = ""
        self._closed = False
        self._calibration: CalibrationDone | None = None
        self._can_apply = False
        self._rates: tuple[PhaseRate, ...] = ()
        self._last_result: SweepResult | None = None
        self._chunks = 0
        self._live = np.zeros(0)
        self._filled = 0
        self._live_fs = 1.0
        self._live_label = ""
        self._regions: list[Any] = []
        self._fields: dict[str, QLabel] = {}
        self._field_names: dict[str, QLabel] = {}

        self._relay = _JobRelay()
        _queued(self._relay.started, self._on_sweep_started)
        _queued(self._relay.chunk, self._on_chunk)
        _queued(self._relay.ended, self._on_ended)
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(_REDRAW_MS)
        self._redraw.timeout.connect(self._draw_live)

        self._build()
        self._show_rates(None)
        self._show_calibration(None)
        if rig_path is not None:
            self.setRigFile(rig_path)
        else:
            self._update_controls()

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        # Left: the rig file and what it says.
        self.chooseButton = QPushButton("Choose…")
        self.chooseButton.setToolTip("Open another rig file (TOML)")
        self.chooseButton.clicked.connect(lambda _checked=False: self.chooseRigFile())
        self._file_label = QLabel(_DASH)
        self._file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._file_label.setWordWrap(True)
        file_widget = QWidget()
        file_row = QHBoxLayout(file_widget)
        file_row.setContentsMargins(0, 0, 0, 0)
        file_row.addWidget(self._file_label, 1)
        file_row.addWidget(self.chooseButton, 0, Qt.AlignmentFlag.AlignTop)

        rig_form = self._form(
            (
                ("name", "Name"),
                ("backend", "Backend"),
                ("device", "Device"),
                ("sample_rate", "Sample rate"),
                ("chunk", "Live chunk"),
            )
        )
        file_name = QLabel("File:")
        rig_form.insertRow(0, file_name, file_widget)
        rig_form.setAlignment(file_name, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        channels_form = self._form(
            (
                ("channels.command", "Command\n(AO → amplifier)"),
                ("channels.stim", "Stimulation\n(TTL → isolator)"),
                ("channels.vm", "Vm\n(amplifier → AI)"),
            )
        )
        amp_note = QLabel(
            "Not readable on Linux: check these against the amplifier (MultiClamp "
            "Commander) before running."
        )
        amp_note.setWordWrap(True)
        amp_note.setStyleSheet("color: #8d6e00;")
        amp_form = self._form(
            (
                ("amplifier.model", "Model"),
                ("amplifier.mode", "Mode"),
                ("amplifier.primary_gain", "Primary gain"),
                ("amplifier.feedback", "Feedback resistor"),
                ("amplifier.lowpass", "Bessel filter"),
            ),
            note=amp_note,
        )
        stim_form = self._form(
            (
                ("stimulator.model", "Model"),
                ("stimulator.amplitude", "Amplitude"),
                ("stimulator.duration", "Output duration"),
                ("stimulator.threshold", "TTL threshold"),
            )
        )
        limits_form = self._form(
            tuple((f"limits.{key}", label) for key, label, _ in _LIMIT_ROWS),
            tooltips={
                f"limits.{key}": f"limits.{key} in the rig file" for key, _, _ in _LIMIT_ROWS
            },
        )

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 4, 0)
        for title, form in (
            ("Rig", rig_form),
            ("Channels", channels_form),
            ("Amplifier (confirm)", amp_form),
            ("Stimulus isolator", stim_form),
            ("Safety limits", limits_form),
        ):
            box = QGroupBox(title)
            box.setLayout(form)
            left_layout.addWidget(box)
        left_layout.addStretch(1)
        left_scroll = QScrollArea()
        left_scroll.setWidget(left)
        left_scroll.setWidgetResizable(True)
        left_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        left_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left_scroll.setMinimumWidth(380)
        left_scroll.setMaximumWidth(460)

        # Right: controls, status, live Vm, rates and calibration.
        self.calibrateButton = QPushButton("Calibrate")
        self.calibrateButton.setToolTip(
            "Find the current of every driven phase of the protocol on this rig "
            "(f-I ladder, then in the protocol's own pattern with the stimulation off)"
        )
        self.probeButton = QPushButton("Run probe sweep")
        self.probeButton.setToolTip("Dry run of one probe sweep of the protocol")
        self.inductionButton = QPushButton("Run induction sweep")
        self.inductionButton.setToolTip(
            "Dry run of the protocol's whole induction sweep, then the achieved rate per phase"
        )
        self.abortButton = QPushButton("Abort")
        self.abortButton.setToolTip("Stop now; the outputs go to rest (0 pA, TTL low)")
        self.pacedCheckBox = QCheckBox("Real-time (paced) simulation")
        self.pacedCheckBox.setToolTip(
            "Play simulated sweeps in real time, as a rig would; otherwise as fast as possible"
        )
        self.calibrateButton.clicked.connect(lambda _checked=False: self.calibrate())
        self.probeButton.clicked.connect(lambda _checked=False: self.runSweep("probe"))
        self.inductionButton.clicked.connect(lambda _checked=False: self.runSweep("induction"))
        self.abortButton.clicked.connect(lambda _checked=False: self.abort())
        self.pacedCheckBox.toggled.connect(self._on_paced)
        buttons = QHBoxLayout()
        for button in (self.calibrateButton, self.probeButton, self.inductionButton):
            buttons.addWidget(button)
        buttons.addSpacing(12)
        buttons.addWidget(self.abortButton)
        buttons.addSpacing(12)
        buttons.addWidget(self.pacedCheckBox)
        buttons.addStretch(1)

        self._status_label = _wrapping_label(lines=2)
        self._status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._status_label.setSizePolicy(
            QSizePolicy.Policy.Expanding, QSizePolicy.Policy.MinimumExpanding
        )
        self._progress = QProgressBar()
        self._progress.setRange(0, 1000)
        self._progress.setTextVisible(False)
        self._progress.setFixedWidth(160)
        self._progress.setMaximumHeight(12)
        status_row = QHBoxLayout()
        status_row.addWidget(self._status_label, 1)
        status_row.addWidget(self._progress, 0, Qt.AlignmentFlag.AlignVCenter)

        self._vm_view = pg.PlotWidget()
        self._vm_view.setBackground("w")
        self._vm_plot = self._vm_view.getPlotItem()
        style_plot(self._vm_plot, left="Vm (mV)", bottom="time (s)", axis_width=_AXIS_WIDTH)
        self._title("")
        self._vm_curve = self._vm_plot.plot(pen=pg.mkPen(_VM_PEN, width=1))
        self._vm_curve.setDownsampling(auto=True, method="peak")
        self._vm_curve.setClipToView(True)
        self._vm_view.setMinimumHeight(220)
        self._vm_plot.setXRange(0.0, 1.0, padding=0.01)
        self._vm_plot.setYRange(-80.0, 40.0, padding=0.0)

        self.ratesTable = _table(("Phase", "Target (Hz)", "Achieved (Hz)", "Spikes", "Result"))
        self._sweep_summary = _wrapping_label(lines=2)
        self._rates_note = _wrapping_label(lines=2)
        rates_box = QGroupBox("Last sweep: achieved rate per phase")
        rates_layout = QVBoxLayout(rates_box)
        rates_layout.addWidget(self._sweep_summary)
        rates_layout.addWidget(self.ratesTable)
        rates_layout.addWidget(self._rates_note)

        self.currentsTable = _table(
            ("Phase", "Target (Hz)", "Before (pA)", "Calibrated (pA)", "Achieved (Hz)", "Result")
        )
        self.applyButton = QPushButton("Apply currents")
        self.applyButton.setToolTip(
            "Put the calibrated currents into the protocol (one undoable edit)"
        )
        self.applyButton.clicked.connect(lambda _checked=False: self.applyCurrents())
        self._cal_note = _wrapping_label(lines=2)
        apply_row = QHBoxLayout()
        apply_row.addWidget(self._cal_note, 1)
        apply_row.addWidget(self.applyButton, 0, Qt.AlignmentFlag.AlignTop)
        cal_box = QGroupBox("Calibrated currents")
        cal_layout = QVBoxLayout(cal_box)
        cal_layout.addWidget(self.currentsTable)
        cal_layout.addLayout(apply_row)

        self._fi_view = pg.PlotWidget()
        self._fi_view.setBackground("w")
        self._fi_plot = self._fi_view.getPlotItem()
        style_plot(
            self._fi_plot,
            left="firing rate (Hz)",
            bottom="step current (pA)",
            axis_width=_AXIS_WIDTH,
        )
        self._fi_plot.setTitle("f–I curve (100 ms steps)", color="#222", size="9pt")  # noqa: RUF001
        self._fi_curve = self._fi_plot.plot(
            pen=pg.mkPen(_FI_PEN, width=1.5), symbol="o", symbolSize=5, symbolBrush=_FI_PEN
        )
        self._fi_found = pg.ScatterPlotItem(
            size=13, symbol="star", pen=pg.mkPen("#222"), brush=pg.mkBrush(251, 140, 0)
        )
        self._fi_plot.addItem(self._fi_found)
        self._fi_empty = pg.TextItem("no calibration yet", color="#888", anchor=(0.5, 0.5))
        self._fi_plot.addItem(self._fi_empty)
        self._fi_targets: list[Any] = []
        self._fi_view.setMinimumSize(300, 220)
        fi_box = QGroupBox("Calibration")
        fi_layout = QVBoxLayout(fi_box)
        fi_layout.addWidget(self._fi_view)

        tables = QVBoxLayout()
        tables.setContentsMargins(0, 0, 0, 0)
        tables.addWidget(rates_box)
        tables.addWidget(cal_box)
        tables.addStretch(1)
        results = QWidget()
        results_layout = QHBoxLayout(results)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addLayout(tables, 3)
        results_layout.addWidget(fi_box, 2)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self._vm_view)
        splitter.addWidget(results)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([10_000, 1])  # the tables at their height, Vm gets the rest

        right = QVBoxLayout()
        right.addLayout(buttons)
        right.addLayout(status_row)
        right.addWidget(splitter, 1)

        layout = QHBoxLayout(self)
        layout.addWidget(left_scroll, 0)
        layout.addLayout(right, 1)

    def _form(
        self,
        rows: Sequence[tuple[str, str]],
        *,
        note: QLabel | None = None,
        tooltips: dict[str, str] | None = None,
    ) -> QFormLayout:
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(4)
        if note is not None:
            form.addRow(note)
        for key, label in rows:
            name = QLabel(f"{label}:")
            value = QLabel(_DASH)
            value.setTextFormat(Qt.TextFormat.RichText)
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            if tooltips and key in tooltips:
                name.setToolTip(tooltips[key])
                value.setToolTip(tooltips[key])
            self._fields[key] = value
            self._field_names[key] = name
            form.addRow(name, value)
        return form

    # ------------------------------------------------------------------ public API

    def rig(self) -> Rig | None:
        """The open rig (``None`` if none could be opened)."""
        return self._rig

    def definition(self) -> RigDefinition | None:
        """The rig file shown."""
        return self._definition

    def rigPath(self) -> Path | None:
        """The rig file shown (``None`` before one was loaded)."""
        return self._path

    def state(self) -> RigState:
        """What the panel is doing: idle, calibrating, sweeping, or in error."""
        return self._state

    def statusText(self) -> str:
        """The status line."""
        return self._status

    def isRunning(self) -> bool:
        """Whether a calibration or sweep is running."""
        return self._job is not None

    def fieldText(self, key: str) -> str:
        """The text shown for one rig setting (e.g. ``"limits.max_command_pa"``).

        Parameters
        ----------
        key
            ``name``, ``backend``, ``device``, ``sample_rate``, ``chunk``,
            ``channels.command|stim|vm``, ``amplifier.model|mode|primary_gain|feedback|
            lowpass``, ``stimulator.model|amplitude|duration|threshold`` or
            ``limits.<limit field>``.

        Returns
        -------
        str
            The plain text shown.
        """
        html = self._fields[key].text().replace("<br>", "\n")
        return unescape(re.sub(r"<[^>]*>", "", html))

    def fieldKeys(self) -> list[str]:
        """The keys :meth:`fieldText` accepts."""
        return list(self._fields)

    def isPaced(self) -> bool:
        """Whether simulated sweeps are played in real time."""
        return self.pacedCheckBox.isChecked()

    def setPaced(self, paced: bool) -> None:
        """Play simulated sweeps in real time (``True``) or as fast as possible."""
        self.pacedCheckBox.setChecked(paced)

    def setExperimentSource(self, source: ExperimentSource | None) -> None:
        """Set what gives the protocol to calibrate and run."""
        self._experiment_source = source
        self._update_controls()

    def chunkCount(self) -> int:
        """Chunks of Vm received since the last sweep started."""
        return self._chunks

    def liveTrace(self) -> tuple[np.ndarray, np.ndarray]:
        """The Vm trace plotted: time (s) and Vm (mV)."""
        x, y = self._vm_curve.getOriginalDataset()
        if x is None or y is None:
            return np.zeros(0), np.zeros(0)
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def lastResult(self) -> SweepResult | None:
        """The last sweep acquired (complete or aborted)."""
        return self._last_result

    def achievedRates(self) -> tuple[PhaseRate, ...]:
        """Achieved rate of every phase in the last induction sweep."""
        return self._rates

    def calibration(self) -> ExperimentCalibration | None:
        """The last calibration (cleared when the rig changes)."""
        return None if self._calibration is None else self._calibration.calibration

    def fiCurveData(self) -> tuple[np.ndarray, np.ndarray]:
        """The f-I curve plotted: step current (pA) and rate (Hz)."""
        x, y = self._fi_curve.getOriginalDataset()
        if x is None or y is None:
            return np.zeros(0), np.zeros(0)
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    # ------------------------------------------------------------------ rig file

    def askRigPath(self) -> str | None:
        """Ask which rig file to open (``None``: cancelled). Override in tests."""
        start = str(self._path.parent) if self._path is not None else str(DEFAULT_RIG_PATH.parent)
        path, _ = QFileDialog.getOpenFileName(self, "Open rig file", start, _FILTER)
        return path or None

    def chooseRigFile(self) -> bool:
        """Ask for a rig file and open it; ``True`` if the rig changed."""
        if self.isRunning():
            return False
        path = self.askRigPath()
        return path is not None and self.setRigFile(path)

    def setRigFile(self, path: str | os.PathLike[str]) -> bool:
        """Show the rig file ``path`` and open its rig.

        A file that cannot be used is reported in the status line and the previous rig
        stays. Otherwise the previous rig is put at rest and closed, and the new one is
        opened; if it cannot be opened (driver missing, device absent) the panel shows
        the file and says why it has no rig.

        Parameters
        ----------
        path
            The rig file (TOML).

        Returns
        -------
        bool
            Whether the file was loaded (even if its rig could not be opened).
        """
        if self._closed:
            return False
        if self.isRunning():
            self._set_state(self._state, "Abort the running work before changing the rig file.")
            return False
        try:
            definition = load_rig(path)
        except RigFileError as exc:
            kept = (
                f" (still using {self._path.name})" if self._rig is not None and self._path else ""
            )
            self._set_state("error", f"{exc}{kept}")
            return False
        problem = self._close_rig()
        self._definition = definition
        self._path = Path(path).resolve()
        self._calibration = None
        self._last_result = None
        self._show_definition(definition)
        self._show_calibration(None)
        self._show_rates(None)
        self._clear_trace("")
        try:
            rig = self._factory(definition)
        except RigError as exc:
            self._set_state("error", f"{self._path.name}: {exc}")
        except ImportError as exc:
            self._set_state(
                "error",
                f"{self._path.name}: the {definition.backend} backend cannot be loaded ({exc}); "
                "the simulated rig (hardware/sim.toml) is available",
            )
        except Exception as exc:  # a bug in a backend: never take the app down
            _log.exception("opening %s failed", path)
            self._set_state(
                "error",
                f"{self._path.name}: the rig could not be opened ({type(exc).__name__}: {exc})",
            )
        else:
            self._rig = rig
            if isinstance(rig, SimRig):
                rig.paced = self.pacedCheckBox.isChecked()
            if problem:
                self._set_state(
                    "error", f"{definition.name} is ready, but the previous rig: {problem}"
                )
            else:
                self._set_state("idle", f"Idle · {definition.name} ready")
        self._update_controls()
        self.rigChanged.emit(definition)
        return True

    # ------------------------------------------------------------------ running

    def calibrate(self) -> bool:
        """Calibrate the current protocol's currents on the rig (on a worker thread).

        Returns
        -------
        bool
            Whether the calibration started.
        """
        experiment = self._experiment_to_run()
        if experiment is None:
            return False
        self._show_calibration(None)
        return self._start(calibration_work(experiment), "calibration", "Running calibration")

    def runSweep(self, which: SweepKind) -> bool:
        """Dry-run one sweep of the current protocol on the rig (on a worker thread).

        Parameters
        ----------
        which
            ``"induction"`` (then the achieved rate per phase is shown) or ``"probe"``.

        Returns
        -------
        bool
            Whether the sweep started.
        """
        experiment = self._experiment_to_run()
        if experiment is None:
            return False
        self._show_rates(None)
        return self._start(sweep_work(which, experiment), which, f"Running {which} sweep")

    def abort(self) -> None:
        """Stop the running calibration or sweep now (outputs go to rest)."""
        if self._job is not None:
            self._job.cancel()
            self.abortButton.setEnabled(False)
            self._set_state(self._state, f"{self._status_head()} · aborting…")

    def applyCurrents(self) -> Experiment | None:
        """Emit :attr:`calibratedExperiment`: the current protocol with the calibrated currents.

        Refused (with a note) when the protocol's induction changed since the
        calibration, apart from its currents.

        Returns
        -------
        Experiment or None
            What was emitted.
        """
        done = self._calibration
        current = self._current_experiment()
        if done is None or current is None:
            return None
        if _without_currents(current.induction) != _without_currents(done.experiment.induction):
            self._cal_note.setText(
                "The protocol's induction was edited after this calibration: calibrate again."
            )
            self._cal_note.setStyleSheet(f"color: {_MISS.name()};")
            self._can_apply = False
            self._update_controls()
            return None
        found = done.calibration.experiment.induction.phases
        phases = tuple(
            ph.replace(post=ph.post.replace(current_pa=cal.post.current_pa))
            for ph, cal in zip(current.induction.phases, found, strict=True)
        )
        result = current.replace(induction=current.induction.replace(phases=phases))
        self.calibratedExperiment.emit(result)
        self._cal_note.setText("Calibrated currents applied to the protocol.")
        self._cal_note.setStyleSheet("")
        self._can_apply = False
        self._update_controls()
        return result

    def shutdown(self) -> None:
        """Abort any running work, put the rig at rest and close it (idempotent)."""
        if self._closed:
            return
        self._closed = True
        job, self._job = self._job, None
        if job is not None:
            job.cancel()
            if not job.join(JOIN_TIMEOUT_S):
                _log.error("the %s did not stop within %g s", job.name, JOIN_TIMEOUT_S)
        self._redraw.stop()
        problem = self._close_rig()
        if problem:
            _log.error("closing the rig: %s", problem)
        self._update_controls()

    def closeEvent(self, a0: QCloseEvent | None) -> None:
        """Close the rig when the panel is closed as a window of its own."""
        self.shutdown()
        super().closeEvent(a0)

    # ------------------------------------------------------------------ internals: jobs

    def _current_experiment(self) -> Experiment | None:
        return None if self._experiment_source is None else self._experiment_source()

    def _experiment_to_run(self) -> Experiment | None:
        if self._closed or self.isRunning() or self._rig is None:
            return None
        experiment = self._current_experiment()
        if experiment is None:
            self._set_state("error", "There is no valid protocol to run.")
        return experiment

    def _start(
        self, work: Work, kind: Literal["calibration", "induction", "probe"], head: str
    ) -> bool:
        rig = self._rig
        assert rig is not None
        for label in self._field_names.values():
            label.setStyleSheet("")
        relay = self._relay
        job: RigJob

        def started(info: SweepStarted) -> None:
            relay.started.emit(job, info)

        def chunk(piece: Chunk) -> None:
            relay.chunk.emit(job, piece)

        def ended(outcome: JobOutcome) -> None:
            relay.ended.emit(job, outcome)

        name = "calibration" if kind == "calibration" else f"{kind} sweep"
        job = RigJob(rig, work, on_started=started, on_chunk=chunk, on_ended=ended, name=name)
        self._job = job
        self._job_kind = kind
        self._progress.setValue(0)
        self._clear_trace(f"{name} (starting)")
        if kind != "calibration":
            self._sweep_summary.setText(f"{name[0].upper()}{name[1:]} running…")
        self._set_state("calibrating" if kind == "calibration" else "sweeping", f"{head}…")
        self._update_controls()
        job.start()
        return True

    def _status_head(self) -> str:
        if self._job_kind == "calibration":
            return "Running calibration"
        return f"Running {self._job_kind} sweep"

    def _on_sweep_started(self, job: RigJob, info: SweepStarted) -> None:
        if job is not self._job:
            return
        self._clear_regions()
        self._live = np.zeros(info.n_samples)
        self._filled = 0
        self._chunks = 0
        self._live_fs = info.sample_rate_hz
        self._live_label = info.label
        self._vm_curve.setData(np.zeros(0), np.zeros(0))
        self._vm_plot.setXRange(0.0, info.duration_s, padding=0.01)
        self._vm_plot.enableAutoRange(axis="y")
        self._title(f"{info.label} (live)")
        if self._job_kind == "calibration":
            self._set_state(self._state, f"Running calibration… sweep {info.index}: {info.label}")
        else:
            self._set_state(self._state, f"{self._status_head()}… 0.0 of {info.duration_s:.1f} s")

    def _on_chunk(self, job: RigJob, piece: Chunk) -> None:
        if job is not self._job or piece.n_total != self._live.size:
            return
        self._live[piece.start : piece.stop] = piece.vm_mv
        self._filled = max(self._filled, piece.stop)
        self._chunks += 1
        self._progress.setValue(round(1000 * piece.fraction_done))
        if self._job_kind != "calibration" and not job.cancelled:
            self._set_state(
                self._state,
                f"{self._status_head()}… {piece.stop / piece.sample_rate_hz:.1f} of "
                f"{piece.n_total / piece.sample_rate_hz:.1f} s",
            )
        if not self._redraw.isActive():
            self._redraw.start()

    def _draw_live(self) -> None:
        n = self._filled
        t = np.arange(n, dtype=np.float64) / self._live_fs
        self._vm_curve.setData(t, self._live[:n])

    def _on_ended(self, job: RigJob, outcome: JobOutcome) -> None:
        if job is not self._job:
            return
        job.join(JOIN_TIMEOUT_S)
        self._job = None
        self._redraw.stop()
        self._draw_live()
        self._progress.setValue(1000 if not isinstance(outcome, JobAborted | JobFailed) else 0)
        if isinstance(outcome, SweepDone):
            self._sweep_done(outcome)
        elif isinstance(outcome, CalibrationDone):
            self._calibration_done(outcome)
        elif isinstance(outcome, JobAborted):
            if outcome.result is not None:
                self._last_result = outcome.result
            self._title(f"{self._live_label or job.name} (aborted)")
            if self._job_kind != "calibration":
                self._sweep_summary.setText(f"{outcome.message[0].upper()}{outcome.message[1:]}.")
            self._set_state("idle", f"Idle · {outcome.message}; outputs at rest")
        else:
            if outcome.limit is not None and f"limits.{outcome.limit}" in self._field_names:
                style = f"color: {_MISS.name()}; font-weight: bold;"
                self._field_names[f"limits.{outcome.limit}"].setStyleSheet(style)
            verb = "refused" if outcome.limit is not None else "failed"
            what = f"{job.name} {verb}" + (": nothing was output" if not self._filled else "")
            self._title(what)
            if self._job_kind != "calibration":
                self._sweep_summary.setText(f"{what[0].upper()}{what[1:]}.")
            self._set_state("error", outcome.message)
        self._update_controls()
        self.jobFinished.emit(outcome)

    def _sweep_done(self, done: SweepDone) -> None:
        result = done.result
        self._last_result = result
        self._vm_curve.setData(result.t_s, result.vm_mv)
        what = f"{done.which} sweep of “{done.experiment.metadata.name}”"
        self._title(what)
        what = f"{what[0].upper()}{what[1:]} ({result.n_samples / result.sample_rate_hz:.2f} s)"
        if done.which == "induction":
            self._shade_phases(done)
            self._show_rates(done.rates)
            missed = [r for r in done.rates if not r.ok]
            verdict = (
                f"every phase within {_TOL} of its target rate"
                if not missed
                else f"{len(missed)} phase(s) missed the target rate by more than {_TOL}"
            )
            self._sweep_summary.setText(f"{what}: {verdict}.")
            self._set_state("idle", f"Idle · induction sweep done: {verdict}")
        else:
            self._show_rates(None)
            line = done.probe.line() if done.probe is not None else ""
            self._sweep_summary.setText(f"{what}: {line}.")
            self._rates_note.setText("A probe sweep has no theta phases: no rates to check.")
            self._set_state("idle", "Idle · probe sweep done")

    def _calibration_done(self, done: CalibrationDone) -> None:
        self._calibration = done
        self._title(f"last calibration sweep: {self._live_label}")
        self._show_calibration(done)
        cal = done.calibration
        verdict = (
            f"every phase within {_TOL} of its target rate"
            if cal.ok
            else f"some phases missed their target rate by more than {_TOL}"
        )
        self._set_state(
            "idle",
            f"Idle · calibration done in {done.sweeps} sweeps ({cal.iterations} "
            f"iteration(s) in context): {verdict}",
        )

    # ------------------------------------------------------------------ internals: display

    def _set_state(self, state: RigState, text: str) -> None:
        changed = state != self._state
        self._state = state
        self._status = text
        shown = f"Error: {text}" if state == "error" else text
        self._status_label.setText(shown)
        self._status_label.setToolTip(shown)
        color = _MISS.name() if state == "error" else "#222222"
        self._status_label.setStyleSheet(f"color: {color}; font-weight: bold;")
        if changed:
            self.stateChanged.emit(state)

    def _update_controls(self) -> None:
        running = self.isRunning()
        usable = not self._closed and self._rig is not None and not running
        can_run = usable and self._experiment_source is not None
        self.chooseButton.setEnabled(not self._closed and not running)
        self.calibrateButton.setEnabled(can_run)
        self.probeButton.setEnabled(can_run)
        self.inductionButton.setEnabled(can_run)
        self.abortButton.setEnabled(running and self._job is not None and not self._job.cancelled)
        self.pacedCheckBox.setVisible(isinstance(self._rig, SimRig))
        self.pacedCheckBox.setEnabled(usable)
        self.applyButton.setEnabled(usable and self._calibration is not None and self._can_apply)
        self._progress.setVisible(running)

    def _on_paced(self, paced: bool) -> None:
        if isinstance(self._rig, SimRig) and not self.isRunning():
            self._rig.paced = paced

    def _close_rig(self) -> str | None:
        """Rest and close the rig; say what failed (every step is tried)."""
        rig, self._rig = self._rig, None
        if rig is None:
            return None
        problems: list[str] = []
        for step in (rig.safe_state, rig.close):
            try:
                step()
            except RigError as exc:
                problems.append(str(exc))
            except Exception as exc:  # a bug in a backend: report it, go on closing
                _log.exception("closing the rig failed")
                problems.append(f"{type(exc).__name__}: {exc}")
        return "; ".join(problems) or None

    def _show_definition(self, d: RigDefinition) -> None:
        assert self._path is not None
        self._file_label.setText(
            f"<b>{escape(self._path.name)}</b><br>"
            f"<span style='color:#666'>{escape(str(self._path.parent))}</span>"
        )
        self._file_label.setToolTip(str(self._path))
        ch = d.channels
        f = self._fields
        f["name"].setText(escape(d.name))
        f["name"].setToolTip(d.description)
        f["backend"].setText(
            "simulated CA1 neuron" if d.backend == "sim" else "NI-DAQmx (National Instruments)"
        )
        f["device"].setText(escape(d.device))
        f["sample_rate"].setText(f"{d.sample_rate_hz / 1000:g} kHz")
        f["chunk"].setText(f"{d.chunk_ms:g} ms")
        command_max = ch.command.scale_pa_per_v * ch.command.range_v
        f["channels.command"].setText(
            f"<b>{escape(ch.command.terminal)}</b><br>{ch.command.scale_pa_per_v:g} pA/V, "
            f"±{ch.command.range_v:g} V (±{command_max:g} pA)"
        )
        if ch.stim.kind == "do":
            stim = "digital line (TTL)"
        else:
            stim = f"analog output, {ch.stim.high_v:g} V pulses"
        f["channels.stim"].setText(f"<b>{escape(ch.stim.terminal)}</b><br>{stim}")
        f["channels.vm"].setText(
            f"<b>{escape(ch.vm.terminal)}</b><br>{ch.vm.mv_per_mv:g} mV/mV × gain "  # noqa: RUF001
            f"{d.amplifier.primary_gain:g} = {d.vm_volts_per_mv * 1000:g} mV/mV<br>"
            f"±{ch.vm.range_v:g} V (±{d.vm_range_mv:.4g} mV), {ch.vm.terminal_config}"
        )
        amp = d.amplifier
        f["amplifier.model"].setText(escape(amp.model))
        f["amplifier.mode"].setText(amp.mode)
        f["amplifier.primary_gain"].setText(f"× {amp.primary_gain:g}")  # noqa: RUF001
        f["amplifier.feedback"].setText(f"{amp.feedback_resistor_mohm:g} MΩ")
        f["amplifier.lowpass"].setText(f"{amp.lowpass_khz:g} kHz")
        st = d.stimulator
        f["stimulator.model"].setText(escape(st.model))
        f["stimulator.amplitude"].setText(
            "set on the front panel; asked at run time"
            if st.amplitude_ua is None
            else f"{st.amplitude_ua:g} µA (front panel)"
        )
        f["stimulator.duration"].setText(
            "follows the TTL width" if st.follows_ttl_width else "set on the isolator"
        )
        f["stimulator.threshold"].setText(f"{st.ttl_threshold_v:g} V")
        limits = d.limits
        for key, _, fmt in _LIMIT_ROWS:
            value = float(getattr(limits, key))
            if key == "max_duty_cycle":
                value *= 100.0
            f[f"limits.{key}"].setText(fmt.format(value))
        for label in self._field_names.values():
            label.setStyleSheet("")

    def _clear_trace(self, title: str) -> None:
        self._redraw.stop()
        self._clear_regions()
        self._live = np.zeros(0)
        self._filled = 0
        self._chunks = 0
        self._live_label = ""
        self._vm_curve.setData(np.zeros(0), np.zeros(0))
        self._vm_plot.setXRange(0.0, 1.0, padding=0.01)
        self._vm_plot.setYRange(-80.0, 40.0, padding=0.0)
        self._title(title)

    def _title(self, what: str) -> None:
        text = f"Membrane potential · {what}" if what else "Membrane potential"
        self._vm_plot.setTitle(text, color="#222", size="10pt")

    def _clear_regions(self) -> None:
        for region in self._regions:
            self._vm_plot.removeItem(region)
        self._regions = []

    def _shade_phases(self, done: SweepDone) -> None:
        self._clear_regions()
        order: list[str] = []
        for span in done.sweep.phases:
            if span.name not in order:
                order.append(span.name)
        for span in done.sweep.phases:
            r, g, b = PHASE_COLORS[order.index(span.name) % len(PHASE_COLORS)]
            region = pg.LinearRegionItem(
                values=(float(span.start) / 1000.0, float(span.stop) / 1000.0),
                movable=False,
                brush=pg.mkBrush(r, g, b, 45),
                pen=pg.mkPen(None),
            )
            region.setZValue(-10)
            self._vm_plot.addItem(region)
            self._regions.append(region)

    def _phase_cell(self, name: str, index: int, color: QColor | None) -> QTableWidgetItem:
        item = _cell(name, color=color)
        item.setTextAlignment(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft)
        r, g, b = PHASE_COLORS[index % len(PHASE_COLORS)]
        item.setBackground(QBrush(QColor(r, g, b, 60)))  # the phase's shading in the plot
        return item

    def _show_rates(self, rates: Sequence[PhaseRate] | None) -> None:
        table = self.ratesTable
        self._rates = tuple(rates or ())
        table.setRowCount(len(self._rates))
        for row, rate in enumerate(self._rates):
            color = None if rate.ok else _MISS
            verdict = _verdict(rate)
            cells = (
                self._phase_cell(rate.phase, row, color),
                _cell(f"{rate.target_hz:g}", color=color),
                _cell(f"{rate.achieved_hz:.1f}", color=color, bold=not rate.ok),
                _cell(f"{rate.n_spikes} in {rate.n_windows} windows", color=color),
                _cell(verdict, color=_OK if rate.ok else _MISS, bold=not rate.ok),
            )
            for column, cell in enumerate(cells):
                table.setItem(row, column, cell)
        _fit_rows(table)
        if rates is None:
            self._sweep_summary.setText("No sweep yet.")
            self._rates_note.setText(
                "Run an induction sweep to see the achieved rate of each phase."
            )
        else:
            self._rates_note.setText(
                "Rates from inter-spike intervals (Vm crossing −20 mV); a phase more than "  # noqa: RUF001
                f"{_TOL} off its target is flagged in red."
            )

    def _show_calibration(self, done: CalibrationDone | None) -> None:
        for line in self._fi_targets:
            self._fi_plot.removeItem(line)
        self._fi_targets = []
        self._can_apply = done is not None and any(
            c is not None for c in done.calibration.currents().values()
        )
        table = self.currentsTable
        if done is None:
            self._fi_curve.setData(np.zeros(0), np.zeros(0))
            self._fi_found.setData([], [])
            top = 600.0 if self._definition is None else self._definition.limits.max_command_pa
            self._fi_plot.setXRange(0.0, top, padding=0.02)
            self._fi_plot.setYRange(0.0, 60.0, padding=0.02)
            self._fi_empty.setPos(top / 2.0, 30.0)
            self._fi_empty.setVisible(True)
            table.setRowCount(0)
            _fit_rows(table)
            self._cal_note.setText(
                "Calibrate to find the current that makes each phase fire at its target rate "
                "on this rig (stimulation stays off)."
            )
            self._cal_note.setStyleSheet("")
            self._update_controls()
            return
        cal = done.calibration
        self._fi_curve.setData(np.asarray(cal.curve.currents_pa), np.asarray(cal.curve.rates_hz))
        self._fi_empty.setVisible(False)
        self._fi_plot.enableAutoRange()
        before = {p.name: p.post.current_pa for p in done.experiment.induction.phases}
        after = cal.currents()
        rates = {r.phase: r for r in cal.rates}
        phases = list(cal.experiment.induction.phases)
        table.setRowCount(len(phases))
        xs: list[float] = []
        ys: list[float] = []
        for row, phase in enumerate(phases):
            rate = rates.get(phase.name)
            ok = rate is None or rate.ok
            color = None if ok else _MISS
            current = after.get(phase.name)
            verdict = "" if rate is None else _verdict(rate)
            cells = (
                self._phase_cell(phase.name, row, color),
                _cell(f"{phase.post.target_rate_hz:g}", color=color),
                _cell(_current_text(before.get(phase.name)), color=color),
                _cell(_current_text(current), color=color, bold=True),
                _cell(_DASH if rate is None else f"{rate.achieved_hz:.1f}", color=color),
                _cell(verdict, color=_OK if ok else _MISS, bold=not ok),
            )
            for column, cell in enumerate(cells):
                table.setItem(row, column, cell)
            if phase.post.target_rate_hz > 0:
                line = pg.InfiniteLine(
                    pos=phase.post.target_rate_hz,
                    angle=0,
                    pen=pg.mkPen("#9e9e9e", style=Qt.PenStyle.DashLine),
                    label=f"{phase.name} {phase.post.target_rate_hz:g} Hz",
                    labelOpts={"position": 0.98, "color": "#555", "anchors": [(1, 1), (1, 1)]},
                )
                self._fi_plot.addItem(line)
                self._fi_targets.append(line)
            if current is not None and rate is not None:
                xs.append(current)
                ys.append(rate.achieved_hz)
        _fit_rows(table)
        self._fi_found.setData(xs, ys)
        self._cal_note.setText(
            f"★ on the f–I curve: the calibrated currents with the rates they gave in the "  # noqa: RUF001
            f"protocol's own pattern ({cal.iterations} iteration(s), stimulation off)."
        )
        self._cal_note.setStyleSheet("")
        self._update_controls()
