"""The rig panel: which rig, how it is wired and limited, calibration and dry-run sweeps.

The panel composes four views: the rig file (:class:`~rigctl.gui.rig.rig_file_view.
RigFileView`), the live membrane potential and the rates of the last sweep
(:mod:`rigctl.gui.rig.sweep_view`), and the calibration (:mod:`rigctl.gui.rig.
calibration_view`). It holds no rig: the :class:`~rigctl.engine.session.RigSession`
passed in opens it and lends it to the panel's dry runs, which run on a worker thread
(:class:`~rigctl.engine.dry_run.RigJob`) that holds no widget; their reports reach the
panel through queued signals.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Final, Literal

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QCloseEvent
from PyQt6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from rigctl.engine.dry_run import (
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
from rigctl.engine.session import RigBusyError, RigOpenError, RigSession
from rigctl.gui.rig._widgets import MISS, TOLERANCE, wrapping_label
from rigctl.gui.rig.bridge import JobBridge
from rigctl.gui.rig.calibration_view import CurrentsView, FICurveView
from rigctl.gui.rig.rig_file_view import RigFileView
from rigctl.gui.rig.sweep_view import LiveVmView, RatesView
from rigctl.hardware import DEFAULT_RIG_PATH, Chunk, RigError, RigFileError
from rigctl.protocol import Experiment, Induction

__all__ = ["ExperimentSource", "RigPanel", "RigState"]

_log = logging.getLogger(__name__)

ExperimentSource = Callable[[], Experiment | None]
"""Gives the protocol to calibrate or run (``None``: there is none)."""

RigState = Literal["idle", "calibrating", "sweeping", "error"]
"""What the panel is doing."""

JobKind = Literal["calibration", "induction", "probe"]

JOIN_TIMEOUT_S: Final = 10.0
"""Longest wait for a job's thread after it was aborted (a chunk is at most 1 s)."""

_FILTER = "rig files (*.toml);;All files (*)"


def _without_currents(induction: Induction) -> Induction:
    phases = tuple(ph.replace(post=ph.post.replace(current_pa=None)) for ph in induction.phases)
    return induction.replace(phases=phases)


def _capital(text: str) -> str:
    return f"{text[0].upper()}{text[1:]}" if text else text


class RigPanel(QWidget):
    """Choose the rig, check its wiring and limits, calibrate, and dry-run sweeps.

    Parameters
    ----------
    session
        The owner of the rig (the composition root builds it). The panel opens rig files
        through it and borrows the rig for its dry runs; :meth:`shutdown` closes it.
    rig_path
        The rig file opened first (default: the simulated rig, ``hardware/sim.toml``;
        ``None``: open none until :meth:`setRigFile`).
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
    chunkReceived(Chunk)
        A chunk of Vm of the running dry run reached the panel (on the GUI thread).
    jobFinished(object)
        A calibration or sweep ended (a :data:`~rigctl.engine.dry_run.JobOutcome`).

    Notes
    -----
    The file chooser goes through :meth:`askRigPath`, which tests and scripts override.
    """

    calibratedExperiment = pyqtSignal(object)  # noqa: N815 (Qt signal naming)
    rigChanged = pyqtSignal(object)  # noqa: N815 (Qt signal naming)
    stateChanged = pyqtSignal(str)  # noqa: N815 (Qt signal naming)
    chunkReceived = pyqtSignal(object)  # noqa: N815 (Qt signal naming)
    jobFinished = pyqtSignal(object)  # noqa: N815 (Qt signal naming)

    def __init__(
        self,
        session: RigSession,
        rig_path: str | os.PathLike[str] | None = DEFAULT_RIG_PATH,
        *,
        experiment: ExperimentSource | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._experiment_source = experiment
        self._job: RigJob | None = None
        self._job_kind: JobKind | None = None
        self._state: RigState = "idle"
        self._status = ""
        self._closed = False
        self._calibration: CalibrationDone | None = None
        self._can_apply = False

        self._bridge = JobBridge(self._on_sweep_started, self._on_chunk, self._on_ended)
        self._build()
        if rig_path is not None:
            self.setRigFile(rig_path)
        else:
            self._update_controls()

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        self.rigFileView = RigFileView()
        self.chooseButton = self.rigFileView.chooseButton
        self.chooseButton.clicked.connect(lambda _checked=False: self.chooseRigFile())
        self.vmView = LiveVmView()
        self.ratesView = RatesView()
        self.currentsView = CurrentsView()
        self.applyButton = self.currentsView.applyButton
        self.applyButton.clicked.connect(lambda _checked=False: self.applyCurrents())
        self.fiCurveView = FICurveView()

        tables = QVBoxLayout()
        tables.setContentsMargins(0, 0, 0, 0)
        tables.addWidget(self.ratesView)
        tables.addWidget(self.currentsView)
        tables.addStretch(1)
        results = QWidget()
        results_layout = QHBoxLayout(results)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addLayout(tables, 3)
        results_layout.addWidget(self.fiCurveView, 2)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.vmView)
        splitter.addWidget(results)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([10_000, 1])  # the tables at their height, Vm gets the rest

        right = QVBoxLayout()
        right.addLayout(self._build_buttons())
        right.addLayout(self._build_status())
        right.addWidget(splitter, 1)
        layout = QHBoxLayout(self)
        layout.addWidget(self.rigFileView, 0)
        layout.addLayout(right, 1)

    def _button(self, text: str, name: str, tip: str, slot: Callable[[], object]) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setToolTip(tip)
        button.clicked.connect(lambda _checked=False: slot())
        return button

    def _build_buttons(self) -> QHBoxLayout:
        self.calibrateButton = self._button(
            "Calibrate",
            "calibrate",
            "Find the current of every driven phase of the protocol on this rig "
            "(f-I ladder, then in the protocol's own pattern with the stimulation off)",
            self.calibrate,
        )
        self.probeButton = self._button(
            "Run probe sweep",
            "runProbeSweep",
            "Dry run of one probe sweep of the protocol",
            lambda: self.runSweep("probe"),
        )
        self.inductionButton = self._button(
            "Run induction sweep",
            "runInductionSweep",
            "Dry run of the protocol's whole induction sweep, then the achieved rate per phase",
            lambda: self.runSweep("induction"),
        )
        self.abortButton = self._button(
            "Abort", "abort", "Stop now; the outputs go to rest (0 pA, TTL low)", self.abort
        )
        self.pacedCheckBox = QCheckBox("Real-time (paced) simulation")
        self.pacedCheckBox.setObjectName("paced")
        self.pacedCheckBox.setToolTip(
            "Play simulated sweeps in real time, as a rig would; otherwise as fast as possible"
        )
        self.pacedCheckBox.setChecked(self._session.options.paced)
        self.pacedCheckBox.toggled.connect(self._on_paced)
        buttons = QHBoxLayout()
        for button in (self.calibrateButton, self.probeButton, self.inductionButton):
            buttons.addWidget(button)
        buttons.addSpacing(12)
        buttons.addWidget(self.abortButton)
        buttons.addSpacing(12)
        buttons.addWidget(self.pacedCheckBox)
        buttons.addStretch(1)
        return buttons

    def _build_status(self) -> QHBoxLayout:
        self._status_label = wrapping_label(lines=2, name="rigStatus")
        self._status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._status_label.setSizePolicy(
            QSizePolicy.Policy.Expanding, QSizePolicy.Policy.MinimumExpanding
        )
        self._progress = QProgressBar()
        self._progress.setObjectName("rigProgress")
        self._progress.setRange(0, 1000)
        self._progress.setTextVisible(False)
        self._progress.setFixedWidth(160)
        self._progress.setMaximumHeight(12)
        row = QHBoxLayout()
        row.addWidget(self._status_label, 1)
        row.addWidget(self._progress, 0, Qt.AlignmentFlag.AlignVCenter)
        return row

    # ------------------------------------------------------------------ public API

    def state(self) -> RigState:
        """What the panel is doing: idle, calibrating, sweeping, or in error."""
        return self._state

    def statusText(self) -> str:
        """The status line (without the ``Error:`` prefix shown in the error state)."""
        return self._status

    def isRunning(self) -> bool:
        """Whether a calibration or sweep is running."""
        return self._job is not None

    def setExperimentSource(self, source: ExperimentSource | None) -> None:
        """Set what gives the protocol to calibrate and run."""
        self._experiment_source = source
        self._update_controls()

    # ------------------------------------------------------------------ rig file

    def askRigPath(self) -> str | None:
        """Ask which rig file to open (``None``: cancelled). Override in tests."""
        path = self._session.path
        start = str(path.parent) if path is not None else str(DEFAULT_RIG_PATH.parent)
        chosen, _ = QFileDialog.getOpenFileName(self, "Open rig file", start, _FILTER)
        return chosen or None

    def chooseRigFile(self) -> bool:
        """Ask for a rig file and open it; ``True`` if the rig changed."""
        if self.isRunning():
            return False
        path = self.askRigPath()
        return path is not None and self.setRigFile(path)

    def setRigFile(self, path: str | os.PathLike[str]) -> bool:
        """Show the rig file ``path`` and have the session open its rig.

        A file that cannot be used is reported in the status line and the previous rig
        stays. Otherwise the previous rig is put at rest and closed, and the new one is
        opened; if it cannot be opened (driver missing, device absent) the panel shows
        the file and says why it has no rig.

        Returns whether the file was loaded (even if its rig could not be opened).
        """
        if self._closed:
            return False
        if self.isRunning():
            self._set_state(self._state, "Abort the running work before changing the rig file.")
            return False
        session = self._session
        old = session.path if session.rig is not None else None
        failed: str | None = None
        try:
            problem = session.open_file(path)
        except RigFileError as exc:
            self._set_state("error", f"{exc}" + (f" (still using {old.name})" if old else ""))
            return False
        except RigOpenError as exc:
            problem, failed = None, str(exc)
        except RigError as exc:  # busy (a recording has it) or the file went away
            self._set_state("error", str(exc))
            return False
        definition = session.definition
        assert definition is not None and session.path is not None
        self._calibration = None
        self.rigFileView.showDefinition(session.path, definition)
        self._show_calibration(None)
        self.ratesView.showRates(None)
        self.vmView.clear("")
        if failed is not None:
            self._set_state("error", failed)
        elif problem:
            self._set_state("error", f"{definition.name} is ready, but the previous rig: {problem}")
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
        return self._start(calibration_work(experiment), "calibration")

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
        self.ratesView.showRates(None)
        return self._start(sweep_work(which, experiment), which)

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
        self._can_apply = False
        if _without_currents(current.induction) != _without_currents(done.experiment.induction):
            self.currentsView.setNote(
                "The protocol's induction was edited after this calibration: calibrate again.",
                error=True,
            )
            self._update_controls()
            return None
        found = done.calibration.experiment.induction.phases
        phases = tuple(
            ph.replace(post=ph.post.replace(current_pa=cal.post.current_pa))
            for ph, cal in zip(current.induction.phases, found, strict=True)
        )
        result = current.replace(induction=current.induction.replace(phases=phases))
        self.calibratedExperiment.emit(result)
        self.currentsView.setNote("Calibrated currents applied to the protocol.")
        self._update_controls()
        return result

    def shutdown(self) -> None:
        """Abort any running work, then close the session: rig at rest and closed.

        Idempotent; called by the main window when it closes, and when the panel is
        closed as a window of its own.
        """
        if self._closed:
            return
        self._closed = True
        job, self._job = self._job, None
        if job is not None:
            job.cancel()
            if not job.join(JOIN_TIMEOUT_S):
                _log.error("the %s did not stop within %g s", job.name, JOIN_TIMEOUT_S)
        self.vmView.stop()
        problem = self._session.close()
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
        if self._closed or self.isRunning() or self._session.rig is None:
            return None
        experiment = self._current_experiment()
        if experiment is None:
            self._set_state("error", "There is no valid protocol to run.")
        return experiment

    def _start(self, work: Work, kind: JobKind) -> bool:
        name = "calibration" if kind == "calibration" else f"{kind} sweep"
        try:
            job = self._bridge.build(
                lambda started, chunk, ended: self._session.dry_run_job(
                    work, name=name, on_started=started, on_chunk=chunk, on_ended=ended
                )
            )
        except RigError as exc:  # the rig is lent elsewhere, or gone
            self._set_state("error", str(exc))
            return False
        self.rigFileView.markLimit(None)
        self._job = job
        self._job_kind = kind
        self._progress.setValue(0)
        self.vmView.clear(f"{name} (starting)")
        if kind != "calibration":
            self.ratesView.summary.setText(f"{_capital(name)} running…")
        self._set_state(
            "calibrating" if kind == "calibration" else "sweeping", f"{self._status_head()}…"
        )
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
        self.vmView.start(info)
        if self._job_kind == "calibration":
            self._set_state(self._state, f"Running calibration… sweep {info.index}: {info.label}")
        else:
            self._set_state(self._state, f"{self._status_head()}… 0.0 of {info.duration_s:.1f} s")

    def _on_chunk(self, job: RigJob, piece: Chunk) -> None:
        if job is not self._job or not self.vmView.add(piece):
            return
        self._progress.setValue(round(1000 * piece.fraction_done))
        if self._job_kind != "calibration" and not job.cancelled:
            self._set_state(
                self._state,
                f"{self._status_head()}… {piece.stop / piece.sample_rate_hz:.1f} of "
                f"{piece.n_total / piece.sample_rate_hz:.1f} s",
            )
        self.chunkReceived.emit(piece)

    def _on_ended(self, job: RigJob, outcome: JobOutcome) -> None:
        if job is not self._job:
            return
        job.join(JOIN_TIMEOUT_S)
        self._job = None
        self.vmView.finish()
        failed = isinstance(outcome, JobAborted | JobFailed)
        self._progress.setValue(0 if failed else 1000)
        if isinstance(outcome, SweepDone):
            self.vmView.showResult(outcome.result)
            self.vmView.setTitle(f"{outcome.which} sweep of “{outcome.experiment.metadata.name}”")
            if outcome.which == "induction":
                self.vmView.shadePhases(outcome)
            self._set_state("idle", f"Idle · {self.ratesView.showDone(outcome)}")
        elif isinstance(outcome, CalibrationDone):
            self._calibration_done(outcome)
        elif isinstance(outcome, JobAborted):
            self.vmView.setTitle(f"{self.vmView.label or job.name} (aborted)")
            if self._job_kind != "calibration":
                self.ratesView.summary.setText(f"{_capital(outcome.message)}.")
            self._set_state("idle", f"Idle · {outcome.message}; outputs at rest")
        else:
            self._failed(job, outcome)
        self._update_controls()
        self.jobFinished.emit(outcome)

    def _failed(self, job: RigJob, outcome: JobFailed) -> None:
        self.rigFileView.markLimit(outcome.limit)
        verb = "refused" if outcome.limit is not None else "failed"
        what = f"{job.name} {verb}" + (": nothing was output" if not self.vmView.acquired else "")
        self.vmView.setTitle(what)
        if self._job_kind != "calibration":
            self.ratesView.summary.setText(f"{_capital(what)}.")
        self._set_state("error", outcome.message)

    def _calibration_done(self, done: CalibrationDone) -> None:
        self._calibration = done
        self.vmView.setTitle(f"last calibration sweep: {self.vmView.label}")
        self._show_calibration(done)
        cal = done.calibration
        verdict = (
            f"every phase within {TOLERANCE} of its target rate"
            if cal.ok
            else f"some phases missed their target rate by more than {TOLERANCE}"
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
        color = MISS.name() if state == "error" else "#222222"
        self._status_label.setStyleSheet(f"color: {color}; font-weight: bold;")
        if changed:
            self.stateChanged.emit(state)

    def _show_calibration(self, done: CalibrationDone | None) -> None:
        definition = self._session.definition
        top = 600.0 if definition is None else definition.limits.max_command_pa
        self.currentsView.showCalibration(done)
        self.fiCurveView.showCalibration(done, top)
        self._can_apply = done is not None and any(
            c is not None for c in done.calibration.currents().values()
        )
        self._update_controls()

    def _update_controls(self) -> None:
        running = self.isRunning()
        usable = not self._closed and self._session.rig is not None and not running
        can_run = usable and self._experiment_source is not None
        self.chooseButton.setEnabled(not self._closed and not running)
        self.calibrateButton.setEnabled(can_run)
        self.probeButton.setEnabled(can_run)
        self.inductionButton.setEnabled(can_run)
        self.abortButton.setEnabled(running and self._job is not None and not self._job.cancelled)
        self.pacedCheckBox.setVisible(self._session.can_pace)
        self.pacedCheckBox.setEnabled(usable)
        self.applyButton.setEnabled(usable and self._calibration is not None and self._can_apply)
        self._progress.setVisible(running)

    def _on_paced(self, paced: bool) -> None:
        try:
            self._session.set_paced(paced)
        except RigBusyError as exc:  # the box is disabled while lent; say it if it happens
            self._set_state(self._state, str(exc))
