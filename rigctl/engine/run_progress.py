"""The run's clock and counters, from which every :class:`RunStatus` is made.

:class:`RunProgress` holds the experiment time (monotonic, or virtual in a fast run),
the sweeps done and planned, the last probe's values and the pause bookkeeping. It has
no lock of its own: the runner holds its control lock around every change and snapshot
(reading the clock with :meth:`RunProgress.now` needs none).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rigctl.engine.lifecycle import RunControl, Segment
from rigctl.engine.run_types import RunStatus

__all__ = ["RunProgress"]


@dataclass
class RunProgress:
    """The clock and counters of one run (guarded by the runner's lock).

    Attributes
    ----------
    clock, fast
        The monotonic time source (s), and whether experiment time is virtual instead.
    t0
        ``clock()`` when the run began (None before).
    virtual
        Experiment time of a fast run (s): sweep durations and skipped waits.
    resumed_at
        When the last pause ended (None once a sweep has played since).
    done, planned, skipped
        Sweeps done (recorded or skipped), planned, and skipped probes.
    t_exp, t_ind
        Experiment time of the last sweep's start, and of the induction's (s).
    last_epsp, last_norm
        The last probe's EPSP (mV) and normalized EPSP.
    message
        The last state message.
    pauses, paused_s
        How many pauses there were and how long they lasted in all (s).
    """

    clock: Callable[[], float]
    fast: bool
    t0: float | None = None
    virtual: float = 0.0
    resumed_at: float | None = None
    done: int = 0
    planned: int = 0
    skipped: int = 0
    t_exp: float = 0.0
    t_ind: float | None = None
    last_epsp: float | None = None
    last_norm: float | None = None
    message: str = ""
    pauses: int = 0
    paused_s: float = 0.0

    def now(self) -> float:
        """Seconds since the run began: monotonic, or virtual in a fast run."""
        if self.t0 is None:
            return 0.0
        if self.fast:
            return self.virtual
        return self.clock() - self.t0

    def paused(self, began: float, ended: float) -> None:
        """Count a pause from ``began`` to ``ended`` (s)."""
        self.pauses += 1
        self.paused_s += ended - began
        self.resumed_at = ended

    def played(self, seconds: float) -> None:
        """A sweep of ``seconds`` has played: virtual time moves on, any pause is behind."""
        if self.fast:
            self.virtual += seconds
        self.resumed_at = None

    def recorded(self) -> int:
        """Sweeps recorded (done and not skipped)."""
        return self.done - self.skipped

    def pause_fields(self) -> dict[str, Any]:
        """The summary's pause bookkeeping: skipped probes, pauses and time paused."""
        return {"skipped_probes": self.skipped, "pauses": self.pauses, "paused_s": self.paused_s}

    def snapshot(self, ctl: RunControl, interval_s: float) -> RunStatus:
        """The status of the run under control ``ctl`` (probes every ``interval_s``)."""
        remaining = max(0, self.planned - self.done) * interval_s
        return RunStatus(
            state=ctl.state,
            sweeps_done=self.done,
            sweeps_planned=self.planned,
            segment="" if ctl.segment == Segment.NONE else ctl.segment.value,
            experiment_time_s=self.t_exp,
            remaining_s=remaining,
            since_induction_s=None if self.t_ind is None else self.t_exp - self.t_ind,
            last_epsp_mv=self.last_epsp,
            last_normalized=self.last_norm,
            message=self.message,
            lifecycle=ctl.lifecycle.value,
            finish_reason=None if ctl.reason is None else ctl.reason.value,
            skipped_probes=self.skipped,
            pauses=self.pauses,
            paused_s=self.paused_s,
        )
