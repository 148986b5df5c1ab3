"""The run's state machine: every move of the tables, and nothing else, is allowed."""

from __future__ import annotations

import itertools

import pytest

from rigctl.engine.lifecycle import (
    LIFECYCLE_MOVES,
    SEGMENT_MOVES,
    FinishReason,
    Lifecycle,
    RunControl,
    RunState,
    Segment,
    TransitionError,
    display_state,
)


def control_at(lifecycle: Lifecycle, segment: Segment = Segment.NONE) -> RunControl:
    """A control put in a state directly (the tables are what is under test)."""
    ctl = RunControl()
    ctl.lifecycle = lifecycle
    ctl.segment = segment
    if lifecycle == Lifecycle.FINISHED:
        ctl.reason = FinishReason.DONE
    return ctl


@pytest.mark.parametrize(("a", "b"), list(itertools.product(Lifecycle, Lifecycle)))
def test_every_lifecycle_pair(a: Lifecycle, b: Lifecycle) -> None:
    ctl = control_at(a)
    reason = FinishReason.STOPPED if b == Lifecycle.FINISHED and a != b else None
    allowed = a == b or b in LIFECYCLE_MOVES[a]
    if allowed:
        ctl.transition(b, reason=reason)
        assert ctl.lifecycle == b
    else:
        with pytest.raises(TransitionError):
            ctl.transition(b, reason=reason)
        assert ctl.lifecycle == a  # a refused move changes nothing


@pytest.mark.parametrize(("a", "b"), list(itertools.product(Segment, Segment)))
def test_every_segment_pair(a: Segment, b: Segment) -> None:
    ctl = control_at(Lifecycle.RUNNING, a)
    if a == b or b in SEGMENT_MOVES[a]:
        ctl.transition(segment=b)
        assert ctl.segment == b
    else:
        with pytest.raises(TransitionError):
            ctl.transition(segment=b)
        assert ctl.segment == a


def test_a_finished_run_changes_no_segment_and_needs_a_reason() -> None:
    ctl = control_at(Lifecycle.RUNNING, Segment.BASELINE)
    with pytest.raises(TransitionError):
        ctl.transition(Lifecycle.FINISHED)  # no reason
    with pytest.raises(TransitionError):
        ctl.transition(Lifecycle.PAUSED, reason=FinishReason.DONE)  # reason, not finished
    ctl.transition(Lifecycle.FINISHED, reason=FinishReason.ABORTED)
    assert ctl.state == RunState.ABORTED
    with pytest.raises(TransitionError):
        ctl.transition(segment=Segment.INDUCTION)


def test_the_displayed_state_of_every_combination() -> None:
    for life, seg, reason in itertools.product(Lifecycle, Segment, [None, *FinishReason]):
        shown = display_state(life, seg, reason)
        if life == Lifecycle.FINISHED:
            assert shown.finished and shown.value == (reason or FinishReason.FAILED).value
        elif life in (Lifecycle.PAUSED, Lifecycle.STOPPING):
            assert shown.value == life.value
        elif life == Lifecycle.RUNNING and seg != Segment.NONE:
            assert shown.value == seg.value
        else:
            assert shown == RunState.IDLE


def test_requests_are_latched_and_ignored_once_finished() -> None:
    ctl = control_at(Lifecycle.RUNNING, Segment.BASELINE)
    ctl.request("pause")
    assert ctl.pause_requested
    change = ctl.request("abort")
    assert change is not None and change.after == RunState.STOPPING
    assert ctl.aborting and ctl.should_end() and not ctl.pause_requested
    ctl.request("resume")
    ctl.request("pause")  # a pause after an abort never holds the run back
    assert ctl.should_end() and ctl.aborting and not ctl.pause_requested
    ctl.transition(Lifecycle.FINISHED, reason=FinishReason.ABORTED)
    assert ctl.request("stop") is None
    with pytest.raises(ValueError, match="unknown request"):
        control_at(Lifecycle.RUNNING).request("jump")


def test_the_state_types_are_public() -> None:
    import rigctl.engine as engine

    assert engine.Segment is Segment and engine.Lifecycle is Lifecycle
    assert engine.FinishReason is FinishReason and engine.RunState is RunState
