"""Waiting for a sweep's slot, and holding the run while it is paused.

:class:`Pacer` is the runner's only place that lets time pass: it waits for a slot's
planned time (cooperatively: every control request wakes it), blocks while a pause is
requested (journaled, counted), and raises :class:`StopRunError` once a stop or abort was
requested. It changes the lifecycle only through :meth:`RunControl.transition`, under
the control lock, and calls the runner's journal and report callbacks without the lock.
"""

from __future__ import annotations

from collections.abc import Callable

from rigctl.engine.lifecycle import Change, Lifecycle, RunControl
from rigctl.engine.run_progress import RunProgress
from rigctl.engine.schedule import Slot

__all__ = ["Pacer", "StopRunError"]

_WAKE_S = 0.5
"""Longest single wait on the control condition (s)."""


class StopRunError(Exception):
    """Leave the acquisition loop: a stop or abort was requested."""


class Pacer:
    """Waits for slots and through pauses on behalf of the runner.

    Parameters
    ----------
    ctl
        The run's control (state, latched requests, lock and condition).
    progress
        The run's clock and counters (guarded by ``ctl.lock``).
    sleep
        How to let time pass (tests: advance a fake clock); None: wait on the control
        condition, which every request wakes.
    journal
        ``journal(event, **data)``: journal an event (called without the lock).
    report
        ``report(change)``: tell listeners about a state change (called without the lock).
    """

    def __init__(
        self,
        ctl: RunControl,
        progress: RunProgress,
        sleep: Callable[[float], None] | None,
        journal: Callable[..., None],
        report: Callable[[Change | None], None],
    ) -> None:
        self._ctl = ctl
        self._progress = progress
        self._sleep = sleep
        self._journal = journal
        self._report = report

    def pass_time(self, seconds: float) -> None:
        """Let up to ``seconds`` pass (virtually in a fast run; a request cuts it short)."""
        if self._progress.fast:
            self._progress.virtual += seconds
        elif self._sleep is not None:
            self._sleep(seconds)
        else:
            with self._ctl.lock:
                self._ctl.cond.wait(timeout=min(seconds, _WAKE_S))

    def checkpoint(self) -> None:
        """Block while paused (journaled); raise :class:`StopRunError` if the run must end."""
        ctl = self._ctl
        with ctl.lock:
            if ctl.should_end():
                raise StopRunError
            if not ctl.pause_requested:
                return
            change = ctl.transition(Lifecycle.PAUSED)
            began = self._progress.now()
        self._journal("paused")
        self._report(change)
        with ctl.lock:
            while ctl.pause_requested and not ctl.should_end():
                ctl.cond.wait(timeout=_WAKE_S)
            ending = ctl.should_end()
            resumed = None if ending else ctl.transition(Lifecycle.RUNNING)
            ended = self._progress.now()
            self._progress.paused(began, ended)
        self._journal("resumed", paused_at_s=began, paused_for_s=ended - began)
        if ending:
            raise StopRunError
        self._report(resumed)

    def wait_for(self, slot: Slot, *, may_induce: bool = False) -> str:
        """Wait for a slot: ``"go"``, ``"skip"`` (passed during a pause) or ``"induce"``."""
        ctl = self._ctl
        while True:
            self.checkpoint()
            with ctl.lock:
                if may_induce and ctl.induce_requested:
                    return "induce"
                resumed = self._progress.resumed_at
            if slot.kind == "probe" and resumed is not None and slot.planned_s < resumed:
                return "skip"
            remaining = slot.planned_s - self._progress.now()
            if remaining > 0:
                self.pass_time(remaining)
                continue
            with ctl.lock:  # the last check: from here the sweep is in flight
                if ctl.should_end():
                    raise StopRunError
                if not ctl.pause_requested:
                    return "go"
