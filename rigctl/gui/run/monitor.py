"""Following a run: the runner's reports in, the Run tab's views redrawn once per frame.

:class:`RunMonitor` owns the :class:`~rigctl.gui.run.bridge.RunBridge` of the run in
progress. The bridge's queued signals only store what arrived; a 60 Hz frame timer pulls
the latest state and redraws what changed (the live trace and the time courses take
turns when both have news; the progress text changes at most every :data:`STATUS_S`),
and nothing is drawn while the tab is hidden.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Final

from PyQt6.QtCore import QObject, Qt, QTimer, pyqtBoundSignal, pyqtSignal
from PyQt6.QtWidgets import QWidget

from rigctl.engine import ExperimentRunner, RunOptions, RunResult, RunState, RunStatus
from rigctl.gui.run.bridge import RunBridge
from rigctl.gui.run.data import RunHistory, SweepInfo
from rigctl.gui.run.lists import WarningsView
from rigctl.gui.run.plots import RunPlots
from rigctl.gui.run.status import StatusView, clock
from rigctl.protocol import Experiment

__all__ = ["FRAME_MS", "JOIN_TIMEOUT_S", "STATUS_S", "RunMonitor"]

_log = logging.getLogger(__name__)

JOIN_TIMEOUT_S: Final = 10.0
"""Longest wait for the runner's thread once it reported the end (normally milliseconds)."""

FRAME_MS: Final = 16
"""Frame period while a run is in progress (one redraw per 60 Hz frame, at most)."""

STATUS_S: Final = 0.1
"""Shortest time between two updates of the progress text (text is read, not watched)."""

_SEGMENT_TEXT: Final = {
    "baseline": "baseline probe",
    "induction": "induction",
    "followup": "follow-up probe",
}


def _queued(signal: pyqtBoundSignal, slot: Callable[..., None]) -> None:
    """Connect ``slot`` so that it always runs on the GUI thread, after the emit returns."""
    # PyQt6's stubs lack connect()'s connection-type argument.
    signal.connect(slot, Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]


class RunMonitor(QObject):
    """Shows one run at a time in the status view, the plots and the warnings.

    Parameters
    ----------
    owner
        The widget whose visibility decides whether frames are drawn.
    status, plots, warnings
        The views it draws.

    Signals
    -------
    stateChanged(RunState)
        The runner's state changed (not its end: see ``finished``).
    finished(RunResult)
        The run ended and the views show its last data.
    """

    stateChanged = pyqtSignal(object)  # noqa: N815 (Qt signal naming)
    finished = pyqtSignal(object)

    def __init__(
        self, owner: QWidget, status: StatusView, plots: RunPlots, warnings: WarningsView
    ) -> None:
        super().__init__(owner)
        self._owner = owner
        self._status_view = status
        self._plots = plots
        self._warnings = warnings
        self._bridge: RunBridge | None = None
        self._runner: ExperimentRunner | None = None
        self._experiment: Experiment | None = None
        self._status: RunStatus | None = None
        self._state = RunState.IDLE
        self._history = RunHistory(interval_s=20.0)
        self._pending: list[str] = []
        self._live_dirty = self._history_dirty = self._status_dirty = False
        self._last_was_live = False
        self._shown_at = -math.inf
        self._live_sweep: tuple[str, str] | None = None
        self.ending = False
        """Stop or abort was asked: no "finishing the data folder" message."""
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self.frame)

    def status(self) -> RunStatus | None:
        """The last progress snapshot shown."""
        return self._status

    def history(self) -> RunHistory:
        """The sweeps of the current (or last) run, as plotted."""
        return self._history

    def follow(self, runner: ExperimentRunner, experiment: Experiment, options: RunOptions) -> None:
        """Show ``runner``'s run from now on (the views are cleared)."""
        self._runner, self._experiment = runner, experiment
        self._status, self._state = None, RunState.IDLE
        self._history = RunHistory(experiment.probes.interval_s, options.analysis)
        self._live_sweep, self._pending, self.ending = None, [], False
        self._warnings.clear()
        self._status_view.showRates((), None)
        self._plots.reset(
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
        self._status_view.showIdle(starting=True)
        self._timer.start()

    def release(self) -> None:
        """Stop following (reports still in flight are dropped)."""
        self._timer.stop()
        bridge, self._bridge = self._bridge, None
        self._runner = None
        if bridge is not None:
            bridge.detach()

    def following(self) -> bool:
        """Whether a run is being followed."""
        return self._bridge is not None

    def refresh(self, status: RunStatus | None = None) -> None:
        """Redraw everything at the next frame (e.g. the tab is shown again).

        ``status``: a snapshot just taken (e.g. after the follow-up was extended).
        """
        if status is not None:
            self._status = status
        if self._bridge is not None:
            self._history_dirty = self._status_dirty = True
            QTimer.singleShot(0, self.frame)

    def endTitle(self, result: RunResult) -> str:
        """The live plot's title once the run has ended."""
        if self._live_sweep is None:
            return "no sweep was acquired"
        which, what = self._live_sweep
        if result.state == RunState.ABORTED:
            return f"{which} ({what}): aborted"
        return f"last {which} ({what})"

    # ------------------------------------------------------------------ slots (GUI thread)

    def _on_state(self, bridge: RunBridge, state: RunState) -> None:
        if bridge is self._bridge:
            self._state = state
            self._status_dirty = True
            self.stateChanged.emit(state)

    def _on_sweep(self, bridge: RunBridge, info: SweepInfo) -> None:
        if bridge is not self._bridge:
            return
        self._history.add(info)
        self._history_dirty = True
        if info.kind == "induction":
            self._status_view.showRates(info.phase_rates, info)

    def _on_warning(self, bridge: RunBridge, text: str, at_s: float) -> None:
        if bridge is self._bridge:
            self._pending.append(f"{clock(at_s)}  {text}")

    def _on_chunks(self, bridge: RunBridge) -> None:
        if bridge is self._bridge:
            self._live_dirty = True  # taken at the next frame

    def _on_progress(self, bridge: RunBridge) -> None:
        if bridge is self._bridge:
            self._status_dirty = True  # taken at the next frame

    def _on_finished(self, bridge: RunBridge, result: RunResult) -> None:
        if bridge is not self._bridge:
            return
        runner = bridge.runner
        self._take_chunks(bridge)
        bridge.takeProgress()
        self._bridge = None
        bridge.detach()
        self._timer.stop()
        if runner.wait(JOIN_TIMEOUT_S) is None:  # it returns right after reporting
            _log.error("the runner's thread did not end within %g s", JOIN_TIMEOUT_S)
        self._status = runner.status()
        self._state = result.state
        self._plots.drawLive()
        self._plots.drawHistory(self._history)
        self._live_dirty = self._history_dirty = False
        self._status_dirty = True
        self._runner = None
        self.redraw(final=True)
        self.finished.emit(result)

    def _take_chunks(self, bridge: RunBridge) -> None:
        live = bridge.takeChunks()
        if live is None:
            return
        if live.new_sweep:
            planned = self._status.sweeps_planned if self._status is not None else 0
            of = f" of {planned}" if planned >= live.sweep_number else ""
            what = _SEGMENT_TEXT.get(live.segment, live.segment)
            self._live_sweep = (f"sweep {live.sweep_number}{of}", what)
            self._plots.startSweep(
                live.n_total, live.sample_rate_hz, f"sweep {live.sweep_number}{of} ({what}, live)"
            )
        for chunk in live.chunks:
            self._plots.addChunk(chunk)

    # ------------------------------------------------------------------ frames

    def frame(self) -> None:
        """The frame timer: redraw what changed, unless the tab is hidden."""
        if self._owner.isVisible():
            self.redraw()

    def redraw(self, *, final: bool = False) -> None:
        """Redraw what changed since the last frame (``final``: the progress text too)."""
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
            self._plots.drawLive()
        elif self._history_dirty:
            self._history_dirty = False
            self._plots.drawHistory(self._history)
        self._last_was_live = live_turn
        now = time.monotonic()
        if self._status_dirty and (final or now - self._shown_at >= STATUS_S):
            self._status_dirty = False
            self._shown_at = now
            self._show_status(self._status)
        if self._pending:
            lines, self._pending = self._pending, []
            self._warnings.add(lines)

    def _show_status(self, status: RunStatus | None) -> None:
        view = self._status_view
        if status is None:
            view.showIdle(starting=self._runner is not None)
            return
        remaining = None
        if self._runner is not None:
            fast = " (experiment time; dry run)" if self._runner.options.fast else ""
            remaining = f"About {clock(status.remaining_s)} left{fast}"
        view.showProgress(status, self._timing(status), remaining)
        finishing = (
            self._runner is not None
            and 0 < status.sweeps_planned <= status.sweeps_done
            and not self.ending
        )
        if finishing and not view.message():
            view.say("Every sweep is acquired: finishing the data folder (and the NWB file)…")

    def _timing(self, status: RunStatus) -> str:
        """Where the run is relative to the induction."""
        if self._state == RunState.INDUCTION:
            return "the induction is running"
        if status.since_induction_s is not None and status.since_induction_s >= 0:
            return f"{clock(status.since_induction_s)} after the induction"
        if self._experiment is not None and self._history.onset_known:
            return f"induction in {clock(self._history.onset_s - status.experiment_time_s)}"
        if self._runner is not None and self._state == RunState.BASELINE:
            return "induction when you press “Start induction now”"
        return ""
