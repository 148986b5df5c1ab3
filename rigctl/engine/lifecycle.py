"""The run's state machine: segment, lifecycle and finish reason, changed in one place.

A run has three independent pieces of state:

* its **segment** -- what it is doing: ``calibrating``, ``baseline``, ``induction``,
  ``followup`` (``none`` before anything ran);
* its **lifecycle** -- ``idle``, ``running``, ``paused``, ``stopping``, ``finished``;
* its **finish reason** once finished -- ``done``, ``stopped``, ``aborted``, ``failed``.

Every change goes through :meth:`RunControl.transition`, which checks the move against
:data:`LIFECYCLE_MOVES` and :data:`SEGMENT_MOVES` under the lock and refuses anything else
with :class:`TransitionError`. Requests from other threads (pause, resume, stop, abort,
halt, start the induction) are *latched* flags under the same lock: an abort is never
cleared once requested, whatever the runner is doing when it arrives.

Listeners are never called while the lock is held: :meth:`RunControl.transition` returns
what changed, and the caller reports it after the lock is released.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass

__all__ = [
    "LIFECYCLE_MOVES",
    "SEGMENT_MOVES",
    "FinishReason",
    "Lifecycle",
    "RunControl",
    "RunState",
    "Segment",
    "TransitionError",
    "display_state",
]


class Segment(enum.StrEnum):
    """What the run is doing."""

    NONE = "none"
    CALIBRATING = "calibrating"
    BASELINE = "baseline"
    INDUCTION = "induction"
    FOLLOWUP = "followup"


class Lifecycle(enum.StrEnum):
    """Where the run is in its life."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    FINISHED = "finished"


class FinishReason(enum.StrEnum):
    """How a finished run ended."""

    DONE = "done"
    STOPPED = "stopped"
    ABORTED = "aborted"
    FAILED = "failed"


class RunState(enum.StrEnum):
    """What a user sees: the segment while running, else the lifecycle or finish reason.

    Derived from the three pieces of state by :func:`display_state`; never stored.
    """

    IDLE = "idle"
    CALIBRATING = "calibrating"
    BASELINE = "baseline"
    INDUCTION = "induction"
    FOLLOWUP = "followup"
    PAUSED = "paused"
    STOPPING = "stopping"
    DONE = "done"
    STOPPED = "stopped"
    ABORTED = "aborted"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        """Whether the run is over."""
        return self in (RunState.DONE, RunState.STOPPED, RunState.ABORTED, RunState.FAILED)


LIFECYCLE_MOVES: dict[Lifecycle, frozenset[Lifecycle]] = {
    Lifecycle.IDLE: frozenset({Lifecycle.RUNNING, Lifecycle.FINISHED}),
    Lifecycle.RUNNING: frozenset({Lifecycle.PAUSED, Lifecycle.STOPPING, Lifecycle.FINISHED}),
    Lifecycle.PAUSED: frozenset({Lifecycle.RUNNING, Lifecycle.STOPPING, Lifecycle.FINISHED}),
    Lifecycle.STOPPING: frozenset({Lifecycle.FINISHED}),
    Lifecycle.FINISHED: frozenset(),
}
"""The allowed lifecycle moves (a lifecycle may also stay where it is)."""

SEGMENT_MOVES: dict[Segment, frozenset[Segment]] = {
    Segment.NONE: frozenset({Segment.CALIBRATING, Segment.BASELINE}),
    Segment.CALIBRATING: frozenset({Segment.BASELINE}),
    Segment.BASELINE: frozenset({Segment.INDUCTION}),
    Segment.INDUCTION: frozenset({Segment.FOLLOWUP}),
    Segment.FOLLOWUP: frozenset(),
}
"""The allowed segment moves, only while the run is not finished."""


class TransitionError(RuntimeError):
    """A state change the tables do not allow (a bug in the runner, never user input)."""


def display_state(lifecycle: Lifecycle, segment: Segment, reason: FinishReason | None) -> RunState:
    """The one state shown to users for a combination of the three pieces of state."""
    if lifecycle == Lifecycle.FINISHED:
        return RunState(reason.value if reason is not None else FinishReason.FAILED.value)
    if lifecycle == Lifecycle.IDLE:
        return RunState.IDLE
    if lifecycle == Lifecycle.PAUSED:
        return RunState.PAUSED
    if lifecycle == Lifecycle.STOPPING:
        return RunState.STOPPING
    return RunState.IDLE if segment == Segment.NONE else RunState(segment.value)


@dataclass(frozen=True)
class Change:
    """What one transition changed (reported by the caller once the lock is released)."""

    before: RunState
    after: RunState

    @property
    def changed(self) -> bool:
        """Whether the displayed state differs."""
        return self.before != self.after


class RunControl:
    """The run's state and its latched requests, behind one lock.

    Requests (:meth:`request_stop`, :meth:`request_abort`, ...) may come from any thread.
    The runner reads them with :meth:`should_end` and blocks in :meth:`wait` while
    paused. ``cond`` wakes whoever waits whenever anything changes.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.lifecycle = Lifecycle.IDLE
        self.segment = Segment.NONE
        self.reason: FinishReason | None = None
        self.stop_requested = False
        self.abort_requested = False
        self.halt_requested = False
        self.pause_requested = False
        self.induce_requested = False

    @property
    def state(self) -> RunState:
        """The displayed state."""
        with self.lock:
            return display_state(self.lifecycle, self.segment, self.reason)

    def transition(
        self,
        lifecycle: Lifecycle | None = None,
        segment: Segment | None = None,
        reason: FinishReason | None = None,
    ) -> Change:
        """Move to a new lifecycle and/or segment; the only way state changes.

        Raises
        ------
        TransitionError
            If the move is not in :data:`LIFECYCLE_MOVES` / :data:`SEGMENT_MOVES`, a
            finished run gets no reason, or a reason is given to an unfinished one.
        """
        with self.lock:
            before = display_state(self.lifecycle, self.segment, self.reason)
            new_life = self.lifecycle if lifecycle is None else lifecycle
            new_seg = self.segment if segment is None else segment
            if new_life != self.lifecycle and new_life not in LIFECYCLE_MOVES[self.lifecycle]:
                raise TransitionError(f"lifecycle {self.lifecycle} -> {new_life} is not allowed")
            if new_seg != self.segment and (
                self.lifecycle == Lifecycle.FINISHED or new_seg not in SEGMENT_MOVES[self.segment]
            ):
                raise TransitionError(f"segment {self.segment} -> {new_seg} is not allowed")
            if (new_life == Lifecycle.FINISHED) != (reason is not None or self.reason is not None):
                raise TransitionError("a finish reason goes with the finished lifecycle, only")
            self.lifecycle = new_life
            self.segment = new_seg
            if reason is not None:
                self.reason = reason
            self.cond.notify_all()
            return Change(before, display_state(self.lifecycle, self.segment, self.reason))

    # ------------------------------------------------------------------ requests

    def request(self, what: str) -> Change | None:
        """Latch a request: ``pause``, ``resume``, ``stop``, ``abort``, ``halt``, ``induce``.

        Returns the lifecycle change it caused (stop moves a running run to stopping), or
        None. Requests to a finished run are ignored.
        """
        with self.lock:
            if self.lifecycle == Lifecycle.FINISHED:
                return None
            change: Change | None = None
            if what == "pause":
                self.pause_requested = not (self.stop_requested or self.abort_requested)
            elif what == "resume":
                self.pause_requested = False
            elif what in ("stop", "abort", "halt"):
                self.stop_requested = True
                self.abort_requested |= what in ("abort", "halt")
                self.halt_requested |= what == "halt"
                self.pause_requested = False
                if self.lifecycle in (Lifecycle.RUNNING, Lifecycle.PAUSED):
                    change = self.transition(Lifecycle.STOPPING)
            elif what == "induce":
                self.induce_requested = True
            else:
                raise ValueError(f"unknown request {what!r}")
            self.cond.notify_all()
            return change

    def should_end(self) -> bool:
        """Whether a stop, abort or halt has been requested (latched: stays true)."""
        with self.lock:
            return self.stop_requested or self.abort_requested

    @property
    def aborting(self) -> bool:
        """Whether an abort or halt has been requested."""
        with self.lock:
            return self.abort_requested
