"""The Cell tab: at the rig before the baseline (test pulse, EPSP search, set-up clock).

The tab drives a :class:`~rigctl.engine.setup.SetupSession` on the rig it borrows from the
:class:`~rigctl.engine.RigSession` (``session.lease("set-up")``) for each activity (test
pulse, calibration, EPSP search) and gives back when it ends, so the Rig and Run tabs can
use the rig in between; while they have it, the tab is refused with the session's
sentence. Rig work runs on worker threads; reports reach the GUI thread through queued
signals (:mod:`rigctl.gui.cell.bridge`). "Start recording" hands the
:class:`~rigctl.engine.setup.SetupRecord` over (:attr:`CellPanel.setupReady`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Final

from PyQt6.QtCore import QTimer, pyqtSignal
from PyQt6.QtGui import QShowEvent
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from rigctl.engine.session import RigLease, RigSession
from rigctl.engine.setup import (
    ProbeOutcome,
    SearchSettings,
    SetupRecord,
    SetupSession,
    start_warnings,
)
from rigctl.engine.testpulse import TestPulse, TestPulseResult, TestPulseSettings
from rigctl.gui.cell.bridge import CellBridge, queued
from rigctl.gui.cell.controls import CellControls
from rigctl.gui.cell.slice_view import SliceBox
from rigctl.gui.cell.views import ClockView, PulseView, SearchView, parse_intensity, probe_text
from rigctl.hardware import RigError, SweepResult
from rigctl.protocol import Experiment

__all__ = ["FRAME_MS", "HOLDER", "CellPanel"]

_log = logging.getLogger(__name__)

HOLDER: Final = "set-up"
"""Who has the rig while the Cell tab uses it (the session's busy sentence names it)."""
FRAME_MS: Final = 33
"""Display refresh (about 30 frames/s); also how often a stopped test pulse is noticed."""

ExperimentSource = Callable[[], Experiment | None]


class CellPanel(QWidget):
    """The Cell tab: test pulse, EPSP search, set-up clock and slice log, then the hand-off.

    Parameters
    ----------
    session
        The owner of the rig; the tab borrows it for each activity.
    experiment
        Gives the protocol to be recorded (its test step and probe sweep).
    data_root
        Where the slice log lives (default :func:`rigctl.paths.data_root`).
    limit_s
        The set-up limit (default 5 min).
    search
        The EPSP search's band, interval and steps.
    clock, sleep
        Time source and sleeper of the set-up (tests and the simulated rig pass a virtual
        clock; ``sleep=None`` waits for real, and a stop wakes the wait between probes).

    Signals
    -------
    setupReady(SetupRecord)
        "Start recording": the set-up is over; the record goes to the Run tab.
    calibratedExperiment(Experiment)
        A calibration set the protocol's currents.

    Notes
    -----
    Questions go through :meth:`confirmStart` (override or monkeypatch it in tests).
    """

    setupReady = pyqtSignal(object)  # noqa: N815 (Qt signal naming)
    calibratedExperiment = pyqtSignal(object)  # noqa: N815 (Qt signal naming)

    def __init__(
        self,
        session: RigSession,
        experiment: ExperimentSource,
        *,
        data_root: Path | None = None,
        limit_s: float = 300.0,
        search: SearchSettings | None = None,
        pulse: TestPulseSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._experiment_source = experiment
        self._limit_s = limit_s
        self._search_settings = SearchSettings() if search is None else search
        self._pulse_settings = pulse
        self._clock = clock
        self._sleep = sleep
        self._setup: SetupSession | None = None
        self._lease: RigLease | None = None
        self._activity = ""  # "test pulse", "calibration", "EPSP search" or ""
        self._tp: TestPulse | None = None
        self._thread: threading.Thread | None = None
        self._intensity_ua: float | None = None
        self._handed: SetupRecord | None = None
        self.cell_id: str | None = None
        self.bridge = CellBridge()
        queued(self.bridge.pulse, self._on_pulse)
        queued(self.bridge.probe, self._on_probe)
        queued(self.bridge.warning, self._say)
        queued(self.bridge.over_limit, self._on_over_limit)
        queued(self.bridge.done, self._on_done)
        self._build(data_root)
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self._update_controls()

    # ------------------------------------------------------------------ layout

    def _build(self, data_root: Path | None) -> None:
        self.pulseView = PulseView()
        self.searchView = SearchView()
        self.searchView.set_band(self._search_settings)
        self.clockView = ClockView()
        self.sliceBox = SliceBox(data_root)
        self.controls = c = CellControls()
        for button, slot in (
            (c.wholeCellButton, self.wholeCell),
            (c.testPulseButton, self.toggleTestPulse),
            (c.calibrateButton, self.calibrate),
            (c.searchButton, self.toggleSearch),
            (c.failedButton, self.cellFailed),
            (c.startButton, self.startRecording),
        ):
            button.clicked.connect(lambda _checked=False, slot=slot: slot())
        c.intensityEdit.textChanged.connect(self._on_intensity_text)
        self.message = QLabel("")
        self.message.setObjectName("cellMessage")
        self.message.setWordWrap(True)
        side = QVBoxLayout()
        side.addWidget(self.clockView)
        side.addWidget(c)
        side.addWidget(self.sliceBox)
        side.addWidget(self.message)
        side.addStretch(1)
        plots = QVBoxLayout()
        plots.addWidget(self.pulseView, 3)
        plots.addWidget(self.searchView, 2)
        layout = QHBoxLayout(self)
        layout.addLayout(plots, 3)
        layout.addLayout(side, 2)

    # ------------------------------------------------------------------ state

    @property
    def setup(self) -> SetupSession | None:
        """The set-up of the current cell (``None`` before whole-cell or a first pulse)."""
        return self._setup

    @property
    def activity(self) -> str:
        """What the tab is doing with the rig ("" when it does not have it)."""
        return self._activity

    def isBusy(self) -> bool:
        """Whether the tab has the rig."""
        return bool(self._activity)

    def messageText(self) -> str:
        """The last message shown (errors, refusals, results)."""
        return self.message.text()

    def _say(self, text: str) -> None:
        self.message.setText(text)

    def _new_setup(self) -> SetupSession | None:
        rig = self._session.rig
        experiment = self._experiment_source()
        if rig is None:
            self._say("No rig is open: choose a rig file in the Rig tab first.")
            return None
        if experiment is None:
            self._say("There is no valid protocol: fix the protocol first.")
            return None
        setup = SetupSession(
            rig,
            experiment,
            limit_s=self._limit_s,
            clock=self._clock,
            sleep=self._sleep,
            slice_id=self.sliceBox.sliceId(),
            cell_id=self.cell_id,
        )
        setup.warning.connect(self.bridge.warning.emit)
        setup.clock.over_limit_signal.connect(self.bridge.over_limit.emit)
        return setup

    def wholeCell(self) -> bool:
        """Break-in: a new cell (logged on the slice), its set-up clock starts now."""
        if self._activity:
            self._say(f"Stop the {self._activity} first.")
            return False
        setup = self._new_setup()
        if setup is None:
            return False
        self.cell_id = setup.cell_id = self.sliceBox.newCell()
        self._setup = setup
        self._handed = None
        setup.whole_cell()
        self.searchView.clear()
        self.clockView.show_warning("")
        self._say("Whole-cell: the set-up clock runs.")
        self.refresh()
        self._update_controls()
        return True

    def refresh(self) -> None:
        """Draw the newest test pulse, the clock; notice a test pulse that has stopped."""
        self.pulseView.paint()
        setup = self._setup
        if setup is not None and setup.clock.started:
            self.clockView.show_time(setup.clock.elapsed_s, setup.clock.limit_s)
            if self._handed is None:
                setup.clock.check()  # warns once, through the bridge
        else:
            self.clockView.show_time(None, self._limit_s)
        tp = self._tp
        if tp is not None and not tp.running and self._activity == "test pulse":
            self._end_test_pulse(tp.error)

    # ------------------------------------------------------------------ borrowing

    def _borrow(self, activity: str) -> SetupSession | None:
        """Lease the rig for ``activity`` and bind the set-up to it (None: refused, said)."""
        if self._activity:
            self._say(f"Stop the {self._activity} first.")
            return None
        try:
            lease = self._session.lease(HOLDER)
        except RigError as exc:
            self._say(f"Cannot start the {activity}: {exc}.")
            return None
        setup = self._setup if self._setup is not None else self._new_setup()
        if setup is None:
            lease.release()
            return None
        setup.rig = lease.rig  # the rig open now (the Rig tab may have opened another)
        self._setup = setup
        lease.on_abort(self._abort_from_session)
        self._lease, self._activity = lease, activity
        self._update_controls()
        return setup

    def _give_back(self, failed: bool, *, release: bool = True) -> None:
        lease, self._lease = self._lease, None
        self._activity = ""
        if lease is not None and release:
            lease.release(failed=failed)
        self._update_controls()

    def _abort_from_session(self) -> None:
        """The session takes the rig back (it closes): stop now (any thread)."""
        tp, setup = self._tp, self._setup
        if tp is not None:
            tp.rig.abort()  # end the pulse in flight now, then wait for its thread
            tp.stop()
            lease = self._lease
            if lease is not None:
                lease.release()
        if setup is not None and setup.search is not None:
            setup.search.stop()

    # ------------------------------------------------------------------ test pulse

    def toggleTestPulse(self) -> None:
        """Start the test pulse, or stop it if it runs."""
        if self._activity == "test pulse":
            self.stopTestPulse()
        else:
            self.startTestPulse()

    def startTestPulse(self) -> bool:
        """Pulse on a worker thread until stopped; refused (said) if the rig is busy."""
        setup = self._borrow("test pulse")
        if setup is None:
            return False
        try:
            base = self._pulse_settings or TestPulseSettings.from_probes(setup.experiment.probes)
            rate = self.controls.rateSpinBox.value()
            tp = setup.test_pulse(replace(base, rate_hz=min(base.rate_hz, rate)))
        except (RigError, ValueError) as exc:  # a limit of the rig: nothing was output
            self._give_back(failed=False)
            self._say(f"Test pulse refused: {exc}")
            return False
        self._tp = tp
        tp.start(on_pulse=self.bridge.pulse.emit)
        self._say("Test pulse running.")
        self._update_controls()
        return True

    def stopTestPulse(self) -> None:
        """Stop after the pulse in flight; outputs at rest; the rig is given back."""
        tp = self._tp
        if tp is None or self._activity != "test pulse":
            return
        tp.stop()
        self._end_test_pulse(tp.error)

    def _end_test_pulse(self, error: BaseException | None) -> None:
        tp, self._tp = self._tp, None
        if tp is not None and tp.running:
            tp.stop()
        if error is not None and tp is not None:
            try:
                tp.rig.safe_state()
            except Exception:  # said below; the lease rests the outputs again
                _log.exception("resting the outputs after a failed test pulse")
        self._give_back(failed=error is not None)
        if error is not None:
            self._say(f"The test pulse stopped: {error}. The outputs are at rest.")
        else:
            self._say("Test pulse stopped.")

    def _on_pulse(self, result: TestPulseResult, sweep: SweepResult) -> None:
        if self._tp is None:
            return  # a pulse that arrived after the stop
        self.pulseView.show_pulse(result, sweep.vm_mv, sweep.sample_rate_hz)

    def _on_over_limit(self, elapsed_s: float) -> None:
        setup = self._setup
        if setup is None:
            return
        over = SetupRecord(setup_s=elapsed_s, limit_s=setup.clock.limit_s, over_limit=True)
        self.clockView.show_warning(start_warnings(over)[0])  # the engine's sentence

    # ------------------------------------------------------------------ worker jobs

    def _run_job(self, activity: str, work: Callable[[], object]) -> bool:
        """Run ``work`` on a thread holding the rig; report the end through the bridge."""
        lease = self._lease
        assert lease is not None

        def run() -> None:
            error = ""
            try:
                work()
            except BaseException as exc:  # reported; the lease rests the outputs
                _log.exception("the %s failed", activity)
                error = str(exc) or type(exc).__name__
            finally:
                lease.release(failed=bool(error))  # here: a closing session waits for it
                self.bridge.done.emit(activity, error)

        self._thread = threading.Thread(target=run, name=f"rigctl-{activity}", daemon=True)
        self._thread.start()
        return True

    def _on_done(self, activity: str, error: str) -> None:
        if self._activity != activity:
            return
        self._thread = None
        self._give_back(failed=bool(error), release=False)  # the worker gave it back
        setup = self._setup
        if error:
            self._say(f"The {activity} failed: {error}. The outputs are at rest.")
        elif activity == "calibration" and setup is not None:
            found = ", ".join(
                f"{k} {v:.0f} pA" if v is not None else f"{k} —"
                for k, v in setup.currents_pa.items()
            )
            self._say(f"Calibrated: {found}.")
            self.calibratedExperiment.emit(setup.experiment)
        elif activity == "EPSP search" and setup is not None and setup.search is not None:
            self._say(self._search_result(setup))

    def calibrate(self) -> bool:
        """Find the currents for the protocol's phase rates (on a worker thread)."""
        setup = self._borrow("calibration")
        if setup is None:
            return False
        self._say("Calibrating…")
        return self._run_job("calibration", setup.calibrate)

    def join(self, timeout_s: float = 10.0) -> None:
        """Wait for the worker thread (calibration, search) to end (tests, shutdown)."""
        t = self._thread
        if t is not None:
            t.join(timeout_s)

    # ------------------------------------------------------------------ EPSP search

    def _on_intensity_text(self, text: str) -> None:
        self._intensity_ua, problem = parse_intensity(text, self._session.definition)
        self.controls.intensityMessage.setText(problem)

    def intensityUa(self) -> float | None:
        """The valid intensity entered (µA), or ``None``."""
        return self._intensity_ua

    def _entered(self, index: int, last: ProbeOutcome | None) -> float | None:
        """The manual search's source: the entry as it is before each probe (any thread)."""
        return self._intensity_ua

    def toggleSearch(self) -> None:
        """Start the EPSP search, or stop it after the probe in flight."""
        if self._activity == "EPSP search":
            self.stopSearch()
        else:
            self.startSearch()

    def startSearch(self) -> bool:
        """Probe every interval until the EPSP is in the band (manual entry or Auto)."""
        auto = self.controls.autoCheckBox.isChecked()
        if not auto and self._intensity_ua is None:
            self._say("Type the isolator's front-panel intensity (µA) first, or tick Auto.")
            return False
        setup = self._borrow("EPSP search")
        if setup is None:
            return False
        try:
            search = setup.epsp_search(
                self._search_settings, auto=auto, intensity_source=None if auto else self._entered
            )
        except (RigError, ValueError) as exc:
            self._give_back(failed=False)
            self._say(f"EPSP search refused: {exc}")
            return False
        search.probed.connect(self.bridge.probe.emit)
        self.searchView.clear()
        self._say("EPSP search running.")
        return self._run_job("EPSP search", search.run)

    def stopSearch(self) -> None:
        """Stop the search after the probe in flight."""
        setup = self._setup
        if self._activity == "EPSP search" and setup is not None and setup.search is not None:
            setup.search.stop()
            self._say("Stopping the EPSP search after the probe in flight…")

    def _on_probe(self, outcome: ProbeOutcome) -> None:
        self.searchView.add(outcome)
        self._say(probe_text(outcome, self._search_settings))

    def _search_result(self, setup: SetupSession) -> str:
        search = setup.search
        assert search is not None
        hit, epsp = search.found, search.found_epsp_mv
        if hit is not None and epsp is not None:
            return f"EPSP {epsp:.2f} mV at {hit.intensity_ua:g} µA: in the band."
        if search.message:
            return f"EPSP search ended: {search.message}."
        if not search.auto and self._intensity_ua is None:
            return "EPSP search ended: no valid intensity was entered."
        return "EPSP search stopped."

    # ------------------------------------------------------------------ the end of set-up

    def confirmStart(self, warnings: list[str]) -> bool:
        """Ask whether to record despite ``warnings`` (tests override this)."""
        answer = QMessageBox.question(
            self,
            "Start recording?",
            "\n\n".join(warnings) + "\n\nStart the recording anyway?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def startRecording(self) -> bool:
        """Stop the clock and hand the set-up record to the Run tab (after confirmation)."""
        if self._activity == "test pulse":
            self.stopTestPulse()
        if self._activity:
            self._say(f"Wait for the {self._activity} to end (or stop it) first.")
            return False
        setup = self._setup
        if setup is None or not setup.clock.started:
            self._say("Press Whole-cell at break-in first: the set-up time is recorded.")
            return False
        clock = setup.clock
        setup.slice_id, setup.cell_id = self.sliceBox.sliceId(), self.cell_id
        asked = SetupRecord(
            setup_s=clock.elapsed_s,
            limit_s=clock.limit_s,
            over_limit=clock.over_limit,
            slice_id=setup.slice_id,
        )
        warnings = start_warnings(asked, self.sliceBox.log() if asked.slice_id else None)
        if warnings and not self.confirmStart(warnings):
            self._say("Recording not started.")
            return False
        record = setup.record()
        self._handed = record
        self._say(f"Set-up handed to the Run tab ({record.setup_s:.0f} s).")
        self.setupReady.emit(record)
        self._update_controls()
        return True

    def handedRecord(self) -> SetupRecord | None:
        """The record handed to the Run tab last (``None``: none since whole-cell)."""
        return self._handed

    def recordingStarted(self, runner: object) -> None:
        """The Run tab started the recording of the handed set-up: log cell and slice.

        The slice is marked induced now: the recording's induction follows its baseline,
        and a slice whose recording started is never used again.
        """
        record, self._handed = self._handed, None
        if record is None or self.cell_id is None:
            return
        folder = getattr(runner, "folder", "")
        self.sliceBox.cellRecorded(self.cell_id, str(folder), record.setup_s)
        self.sliceBox.markInduced()
        self.cell_id = None
        self._setup = None
        self._update_controls()

    def cellFailed(self, reason: str = "set-up failed") -> None:
        """The cell is given up: log the failure; the next cell starts with Whole-cell."""
        if self._activity == "test pulse":
            self.stopTestPulse()
        setup = self._setup
        setup_s = setup.clock.elapsed_s if setup is not None and setup.clock.started else None
        if self.cell_id is not None:
            self.sliceBox.cellFailed(self.cell_id, reason, setup_s)
        if not self._activity:
            self._setup = None
        self.cell_id = None
        self._say("Cell given up: press Whole-cell on the next cell.")
        self._update_controls()

    def shutdown(self) -> None:
        """Stop whatever runs (outputs at rest), give the rig back, close the slice log."""
        self._timer.stop()
        if self._activity == "test pulse":
            self.stopTestPulse()
        setup = self._setup
        if setup is not None and setup.search is not None:
            setup.search.stop()
        self.join()
        self.sliceBox.close_log()

    def _update_controls(self) -> None:
        definition = self._session.definition
        analog = definition is not None and definition.stimulator.intensity == "analog"
        self.controls.show_activity(
            self._activity, analog=analog, has_setup=self._setup is not None
        )

    def showEvent(self, a0: QShowEvent | None) -> None:
        """Offer Auto only for the rig open now (the Rig tab may have changed it)."""
        super().showEvent(a0)
        self._update_controls()
