"""The run panel: run a whole recording (baseline, induction, follow-up) and watch it.

The panel starts an experiment through a runner factory (the rig session's
:meth:`~rigctl.engine.RigSession.runner`) after the user confirmed the rig, its gains and
the set-up record; then it pauses, resumes, stops or aborts it, starts a manual induction,
extends the follow-up and adds notes through the runner's public API (never the rig).
It composes small views (:class:`RecordingView`, :class:`StatusView`,
:class:`ResultView`, :class:`WarningsView`, :class:`NotesView`, :class:`RunPlots`);
a :class:`~rigctl.gui.run.monitor.RunMonitor` follows the run from its worker thread
and redraws at most once per 60 Hz frame.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Final

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtGui import QCloseEvent, QShowEvent
from PyQt6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QMessageBox,
    QWidget,
)

from rigctl.engine import ExperimentRunner, RunOptions, RunResult, RunState, RunStatus
from rigctl.engine.setup import SetupRecord
from rigctl.gui.run.confirmation import RunConfirmation, ask_abort, confirmation_box
from rigctl.gui.run.lists import NotesView, WarningsView
from rigctl.gui.run.monitor import JOIN_TIMEOUT_S, RunMonitor
from rigctl.gui.run.plots import RunPlots
from rigctl.gui.run.recording import RecordingView, side_column
from rigctl.gui.run.result import ResultView, run_pauses
from rigctl.gui.run.status import StatusView, clock
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

_ACTIVE_STATES: Final = frozenset(
    {RunState.CALIBRATING, RunState.BASELINE, RunState.INDUCTION, RunState.FOLLOWUP}
)


class RunPanel(QWidget):
    """Run one recording on the rig and follow it live.

    Parameters
    ----------
    runner_factory
        Builds the runner for ``(experiment, folder, options)`` over the current rig
        (the composition root binds the rig session). It may raise; the panel then says
        why it could not start.
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
        subject and session metadata); the panel sets ``fast``, ``auto_induction`` and
        ``setup`` (see :meth:`setSetupRecord`).
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
    The questions go through overridable methods (:meth:`confirmStart`,
    :meth:`confirmAbort`, :meth:`askDataFolder`), so scripts answer them without a
    modal dialog. Call :meth:`shutdown` before the application quits: a run still in
    progress is aborted (outputs to rest) and its thread joined.
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
        self._setup: SetupRecord | None = None
        self._runner: ExperimentRunner | None = None
        self._state = RunState.IDLE
        self._entered = False
        self._result: RunResult | None = None
        self._pause_requested = self._stop_requested = False
        self._abort_requested = self._induce_requested = False
        self._closed = False

        self._build()
        self.monitor = RunMonitor(self, self.statusView, self.plots, self.warningsView)
        self.monitor.stateChanged.connect(self._on_state)
        self.monitor.finished.connect(self._on_finished)
        self.newDataFolder()
        self._refresh_rig()
        self.statusView.showState(RunState.IDLE)
        self.statusView.showIdle(starting=False)
        self._update_controls()

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        self.statusView = StatusView()
        self.statusView.inductionButton.clicked.connect(lambda _c=False: self.startInduction())
        self.statusView.extendButton.clicked.connect(lambda _c=False: self.extendFollowup(5.0))
        self.resultView = ResultView()
        self.resultView.copyFolderButton.clicked.connect(lambda _c=False: self.copyFolderPath())
        self.resultView.setVisible(False)
        self.warningsView = WarningsView()
        self.notesView = NotesView()
        self.notesView.noteEdit.returnPressed.connect(lambda: self.addNote())
        self.notesView.noteButton.clicked.connect(lambda _c=False: self.addNote())
        self.recordingView = RecordingView()
        rec = self.recordingView
        self.folderView = rec.folderView
        self.folderView.chooseRequested.connect(self.chooseDataFolder)
        self.folderView.newRequested.connect(self.newDataFolder)
        self.fastCheckBox, self.manualCheckBox = rec.fastCheckBox, rec.manualCheckBox
        self.manualCheckBox.toggled.connect(lambda _on: self._update_controls())
        self.startButton, self.pauseButton = rec.startButton, rec.pauseButton
        self.stopButton, self.abortButton = rec.stopButton, rec.abortButton
        for button, slot in (
            (self.startButton, self.start),
            (self.pauseButton, self.togglePause),
            (self.stopButton, self.stop),
            (self.abortButton, self.requestAbort),
        ):
            button.clicked.connect(lambda _c=False, slot=slot: slot())
        views = (rec, self.statusView, self.resultView, self.warningsView, self.notesView)
        self.plots = RunPlots()
        layout = QHBoxLayout(self)
        layout.addWidget(side_column(zip(views, (0, 0, 0, 3, 2), strict=True)), 0)
        layout.addWidget(self.plots, 1)

    # ------------------------------------------------------------------ questions

    def confirmationBox(self, confirmation: RunConfirmation) -> QMessageBox:
        """The dialog :meth:`confirmStart` shows (not yet shown)."""
        return confirmation_box(self, confirmation)

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
        return ask_abort(self)

    def askDataFolder(self, start: Path) -> Path | None:
        """Ask for the data folder (``None``: cancelled); override in tests and scripts."""
        path = QFileDialog.getExistingDirectory(
            self, "Choose an empty or new data folder", str(start)
        )
        return Path(path) if path else None

    # ------------------------------------------------------------------ inputs

    def setSetupRecord(self, record: SetupRecord | None) -> None:
        """Carry the cell's set-up record into the next recording (``None``: none).

        It is shown in the start confirmation and passed as ``RunOptions.setup``.
        """
        self._setup = record

    def setupRecord(self) -> SetupRecord | None:
        """The set-up record the next recording carries."""
        return self._setup

    def dataFolder(self) -> Path | None:
        """The folder the next run writes (``None``: the field is empty)."""
        return self.folderView.folder()

    def setDataFolder(self, path: str | Path) -> None:
        """Use ``path`` for the next run (it must be new or empty when the run starts)."""
        folder = Path(path)
        self._data_root = folder.parent
        self.folderView.setFolder(folder, auto=False)

    def newDataFolder(self) -> Path:
        """Propose a new timestamped folder (beside the last one) for the next run."""
        exp = self._experiment_source()
        folder = new_output_path(self._data_root, exp.metadata.name if exp else "recording")
        self.folderView.setFolder(folder, auto=True)
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

    # ------------------------------------------------------------------ run control

    def start(self) -> bool:
        """Confirm the rig and start a run of the current experiment.

        Returns
        -------
        bool
            Whether a run was started (``False``: cancelled, nothing to run, or the
            runner could not be built or started; the reason is shown). A run refused
            by the runner (e.g. the data folder is not empty) has started and ends at
            once with :attr:`runFinished` and the reason.
        """
        if self._closed or self.isRunning():
            return False
        planned = self._plan()
        if planned is None:
            return False
        experiment, folder, options = planned
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
            self.monitor.release()
            self._runner = None
            self._report_never_ran(runner, folder, exc)
            self._say(f"Cannot start: {exc}", error=True)
            self._update_controls()
            return False
        self.runStarted.emit(runner)
        return True

    def _plan(self) -> tuple[Experiment, Path, RunOptions] | None:
        """What to run, where and how, once confirmed (``None``: refused, reason shown)."""
        experiment = self._experiment_source()
        if experiment is None:
            self._say("There is no valid protocol to run: fix the protocol first.", error=True)
            return None
        definition = self._refresh_rig()
        if definition is None:
            self._say("No rig is open: open a rig file in the Rig tab first.", error=True)
            return None
        if self.folderView.isAuto():
            self.newDataFolder()  # the timestamp of the start, not of the last run
        folder = self.dataFolder()
        if folder is None:
            self._say("Choose a data folder for the recording.", error=True)
            return None
        options = replace(
            self._options,
            fast=self.fastCheckBox.isChecked() and definition.backend == "sim",
            auto_induction=not self.manualCheckBox.isChecked(),
            setup=self._setup if self._setup is not None else self._options.setup,
        )
        if not self.confirmStart(RunConfirmation.of(definition, experiment, folder, options)):
            self._say("Start cancelled: nothing was run.")
            return None
        return experiment, folder, options

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
        """Continue after :meth:`pause`; probes whose slot passed are skipped, not caught up."""
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
        self._stop_requested = self.monitor.ending = True
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
        self._abort_requested = self.monitor.ending = True
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
        status = self._runner.status()
        self.monitor.refresh(status)
        added = status.sweeps_planned - before
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
        field = self.notesView.noteEdit
        note = (field.text() if text is None else text).strip()
        runner = self._runner
        if not note or runner is None or not self._can_note() or runner.state.finished:
            return False
        runner.add_note(note)
        at = runner.status().experiment_time_s
        self.notesView.notesList.addItem(f"{clock(at)}  {note}")
        self.notesView.notesList.scrollToBottom()
        if text is None:
            field.clear()
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
        return self.monitor.status()

    def lastResult(self) -> RunResult | None:
        """How the last run ended."""
        return self._result

    # ------------------------------------------------------------------ shutdown

    def shutdown(self, timeout_s: float = JOIN_TIMEOUT_S) -> None:
        """Abort a run in progress (outputs to rest) and join its thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        runner = self._runner
        if runner is not None:
            runner.abort()
            if runner.wait(timeout_s) is None:
                _log.error("the runner did not stop within %g s", timeout_s)
        self.monitor.release()
        self._runner = None
        self._update_controls()

    def closeEvent(self, a0: QCloseEvent | None) -> None:
        """End a run in progress when the panel is closed as a window of its own."""
        self.shutdown()
        super().closeEvent(a0)

    def showEvent(self, a0: QShowEvent | None) -> None:
        """Show the current protocol and rig, and what arrived while the tab was hidden."""
        if not self.isRunning():
            self._refresh_rig()
        super().showEvent(a0)
        self.monitor.refresh()

    # ------------------------------------------------------------------ internals

    def _begin(self, runner: ExperimentRunner, experiment: Experiment, options: RunOptions) -> None:
        self._runner = runner
        self._result = None
        self._entered = False
        self._pause_requested = self._stop_requested = False
        self._abort_requested = self._induce_requested = False
        self.notesView.notesList.clear()
        self.resultView.setVisible(False)
        self.monitor.follow(runner, experiment, options)
        self.recordingView.showProtocol(experiment.metadata.name)
        self.statusView.showState(RunState.IDLE, "Starting…")
        self._say("Opening the data folder…")
        self._update_controls()

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

    def _on_state(self, state: RunState) -> None:
        if state in _ACTIVE_STATES:
            if not self._entered:
                self._say("")  # the folder is open: "Opening the data folder…" is over
            self._entered = True
        if state == RunState.PAUSED:
            self._say("Paused: no sweep runs until Resume; probes whose slot passes are skipped.")
        elif self._state == RunState.PAUSED and state in _ACTIVE_STATES:
            self._say("")
        self._state = state
        self.statusView.showState(state)
        self._update_controls()
        self.stateChanged.emit(state)

    def _on_finished(self, result: RunResult) -> None:
        self._runner = None
        self._result = result
        self._state = result.state
        if result.state == RunState.FAILED and not self._entered and result.sweeps == 0:
            self.statusView.showState(result.state, "Not started")
            self._say(f"Not started: {result.message}", error=True)
            self.folderView.markRefused()
        else:
            self.statusView.showState(result.state)
            self._say("")
            self.resultView.showResult(result, run_pauses(result, self.monitor.status()))
            self.newDataFolder()  # the next run gets its own
        self.plots.setLiveTitle(self.monitor.endTitle(result))
        self._update_controls()
        self.stateChanged.emit(result.state)
        self.runFinished.emit(result)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.statusView.say(text, error=error)

    def _refresh_rig(self) -> RigDefinition | None:
        definition = self._rig_source()
        if not self.isRunning():
            experiment = self._experiment_source()
            self.recordingView.showProtocol(experiment.metadata.name if experiment else None)
        self.recordingView.showRig(definition)
        return definition

    def _update_controls(self) -> None:
        running = self.isRunning() and not self._closed
        control = running and self._can_control()
        acquiring = running and (self._state in _ACTIVE_STATES or self._state == RunState.PAUSED)
        idle = not running and not self._closed
        self.startButton.setEnabled(idle)
        self.folderView.setControlsEnabled(idle)
        self.fastCheckBox.setEnabled(idle)
        self.manualCheckBox.setEnabled(idle)
        paused = self._pause_requested or self._state == RunState.PAUSED
        self.pauseButton.setText("Resume" if paused else "Pause")
        self.pauseButton.setEnabled(control and acquiring)
        self.stopButton.setEnabled(control)
        self.abortButton.setEnabled(running and not self._abort_requested)
        manual = self._runner is not None and not self._runner.options.auto_induction
        induction = self.statusView.inductionButton
        induction.setVisible(manual if running else self.manualCheckBox.isChecked())
        induction.setEnabled(
            control and manual and self._state == RunState.BASELINE and not self._induce_requested
        )
        self.statusView.extendButton.setEnabled(control and acquiring)
        self.notesView.setControlsEnabled(running and self._can_note())
