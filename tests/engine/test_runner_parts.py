"""The runner's collaborators on their own: plan, probe tracker, progress and pacer."""

from __future__ import annotations

import dataclasses
import math
import threading
from typing import Any

import numpy as np
import pytest

from rigctl import protocol as proto
from rigctl.engine.analysis import SPIKE_FLAG, AnalysisSettings
from rigctl.engine.lifecycle import Lifecycle, RunControl, RunState, Segment
from rigctl.engine.pacing import Pacer, StopRunError
from rigctl.engine.rinwatch import RinStopSettings
from rigctl.engine.run_progress import RunProgress
from rigctl.engine.schedule import Plan, Slot
from rigctl.engine.sweep_analysis import ProbeTracker, finite_mean, induction_outcome
from rigctl.hardware import SimRig, SweepResult, load_rig


@pytest.fixture(scope="module")
def compiled() -> proto.CompiledExperiment:
    return proto.compile_experiment(proto.load("protocols/theta-25-50.json"))


@pytest.fixture(scope="module")
def probes(compiled: proto.CompiledExperiment) -> list[SweepResult]:
    """Six probes of the simulated cell."""
    rig = SimRig(load_rig(), seed=3)
    prepared = rig.prepare(compiled.probe, "probe")
    return [rig.run(prepared, at_s=10.0 * i) for i in range(6)]


def test_finite_mean_skips_nan_and_is_nan_when_empty() -> None:
    assert finite_mean([1.0, math.nan, 3.0]) == 2.0
    assert math.isnan(finite_mean([math.nan]))
    assert math.isnan(finite_mean([]))


def test_plan_walks_the_compiled_times_and_continues_their_spacing(
    compiled: proto.CompiledExperiment,
) -> None:
    plan = Plan.of(compiled)
    base = [s.start_s for s in compiled.sweeps if s.segment == "baseline"]
    follow = [s.since_induction_s for s in compiled.sweeps if s.segment == "followup"]
    assert list(plan.baseline) == base and list(plan.followup) == follow
    assert plan.induction_s == next(s.start_s for s in compiled.sweeps if s.kind == "induction")
    assert [plan.baseline_at(i) for i in range(len(base))] == base
    assert plan.baseline_at(len(base) + 1) == base[-1] + 2 * plan.interval_s
    assert plan.followup_offset(len(follow)) == follow[-1] + plan.interval_s
    empty = dataclasses.replace(plan, baseline=(), followup=())
    assert empty.baseline_at(0) == 0.0 and empty.followup_offset(0) == plan.interval_s


def test_probe_tracker_normalizes_to_the_baseline_and_checks_health_after_four(
    compiled: proto.CompiledExperiment, probes: list[SweepResult]
) -> None:
    tracker = ProbeTracker(AnalysisSettings(), None)
    steps = [
        tracker.analyze(r, compiled.probe, Segment.BASELINE, 10.0 * i)
        for i, r in enumerate(probes[:5])
    ]
    assert not any(s.probe.spike_in_probe for s in steps)
    assert steps[0].normalized == pytest.approx(1.0)
    assert [s.flags for s in steps[:3]] == [[], [], []]  # too few to compare against
    assert all(s.analysis["flags"] is s.flags for s in steps)
    assert tracker.baseline_times_min == [0.0, 10 / 60, 20 / 60, 30 / 60, 40 / 60]
    after = tracker.analyze(probes[5], compiled.probe, Segment.FOLLOWUP, 100.0)
    mean = finite_mean(s.probe.epsp_mv for s in steps)
    assert after.normalized == pytest.approx(after.probe.epsp_mv / mean)
    assert after.analysis["normalized_epsp"] == after.normalized and after.auto_stop is None
    assert tracker.probe_at == [0.0, 10.0, 20.0, 30.0, 40.0, 100.0]
    assert tracker.check_baseline().n == 5
    summary = tracker.summary(45.0)
    assert summary["n_baseline"] == 5


def test_a_spiking_probe_is_flagged_and_kept_out_of_the_baseline(
    compiled: proto.CompiledExperiment, probes: list[SweepResult]
) -> None:
    vm = probes[0].vm_mv.copy()
    fs = probes[0].sample_rate_hz
    stim_ms = probes[0].extra["sim_pulse_times_ms"][0]
    at = int((stim_ms + 3.0) * fs / 1000.0)
    vm[at : at + int(fs / 1000.0)] = 30.0  # a 1 ms action potential 3 ms after the stimulus
    spiking = dataclasses.replace(probes[0], vm_mv=vm)
    tracker = ProbeTracker(AnalysisSettings(), None)
    step = tracker.analyze(spiking, compiled.probe, Segment.BASELINE, 0.0)
    assert step.probe.spike_in_probe and step.flags[0] == SPIKE_FLAG
    assert math.isnan(step.normalized) and tracker.baseline == []
    assert tracker.spiked == [True]


def test_probe_tracker_asks_for_the_rin_stop_only_in_the_follow_up(
    compiled: proto.CompiledExperiment, probes: list[SweepResult]
) -> None:
    tracker = ProbeTracker(AnalysisSettings(), RinStopSettings(tolerance=0.2, consecutive=2))
    for i, r in enumerate(probes[:4]):
        tracker.analyze(r, compiled.probe, Segment.BASELINE, 10.0 * i)
    flat = dataclasses.replace(probes[4], vm_mv=np.full_like(probes[4].vm_mv, -70.0))
    first = tracker.analyze(flat, compiled.probe, Segment.FOLLOWUP, 50.0)
    second = tracker.analyze(flat, compiled.probe, Segment.FOLLOWUP, 60.0)
    assert first.auto_stop is None
    assert second.auto_stop is not None and "input resistance" in second.auto_stop


def test_induction_outcome_names_the_cut_only_when_incomplete(
    compiled: proto.CompiledExperiment, probes: list[SweepResult]
) -> None:
    done = induction_outcome(probes[0], compiled.induction, "abort")
    assert done["complete"] and done["cut"] is None
    cut = dataclasses.replace(probes[0], complete=False)
    assert induction_outcome(cut, compiled.induction, "halt")["cut"] == "halt"


def test_run_progress_keeps_virtual_time_pauses_and_counts() -> None:
    now = [100.0]
    progress = RunProgress(lambda: now[0], fast=False)
    assert progress.now() == 0.0  # before the run began
    progress.t0 = 100.0
    now[0] = 112.5
    assert progress.now() == 12.5
    progress.paused(2.0, 5.0)
    progress.paused(6.0, 7.0)
    assert (progress.pauses, progress.paused_s, progress.resumed_at) == (2, 4.0, 7.0)
    progress.played(1.5)
    assert progress.resumed_at is None and progress.virtual == 0.0  # real time: no virtual
    fast = RunProgress(lambda: 0.0, fast=True, t0=0.0)
    fast.played(1.5)
    assert fast.now() == 1.5
    progress.done, progress.skipped, progress.planned = 5, 2, 10
    assert progress.recorded() == 3
    assert progress.pause_fields() == {"skipped_probes": 2, "pauses": 2, "paused_s": 4.0}
    status = progress.snapshot(RunControl(), 10.0)
    assert status.remaining_s == 50.0 and status.state == RunState.IDLE and status.pauses == 2


def _pacer(ctl: RunControl, progress: RunProgress) -> tuple[Pacer, list[tuple[str, Any]]]:
    journal: list[tuple[str, Any]] = []
    pacer = Pacer(ctl, progress, None, lambda e, **d: journal.append((e, d)), lambda c: None)
    return pacer, journal


def test_pacer_holds_a_paused_run_until_resume_and_counts_the_pause() -> None:
    ctl = RunControl()
    ctl.transition(Lifecycle.RUNNING)
    progress = RunProgress(lambda: 0.0, fast=True, t0=0.0)
    parked = threading.Event()
    journal: list[str] = []
    seen: list[Lifecycle] = []

    def note(event: str, **_: Any) -> None:
        journal.append(event)
        seen.append(ctl.lifecycle)
        if event == "paused":
            parked.set()

    pacer = Pacer(ctl, progress, None, note, lambda c: None)
    ctl.request("pause")
    worker = threading.Thread(target=pacer.checkpoint)
    worker.start()
    assert parked.wait(5)
    assert seen == [Lifecycle.PAUSED]
    ctl.request("resume")
    worker.join(5)
    assert not worker.is_alive()
    assert journal == ["paused", "resumed"] and progress.pauses == 1
    assert seen[-1] == Lifecycle.RUNNING and ctl.lifecycle == Lifecycle.RUNNING


def test_pacer_raises_once_the_run_must_end_even_while_paused() -> None:
    ctl = RunControl()
    ctl.transition(Lifecycle.RUNNING)
    progress = RunProgress(lambda: 0.0, fast=True, t0=0.0)
    pacer, journal = _pacer(ctl, progress)
    ctl.request("pause")
    ctl.request("stop")  # clears the pause: the run ends at the next check
    with pytest.raises(StopRunError):
        pacer.checkpoint()
    with pytest.raises(StopRunError):
        pacer.wait_for(Slot("probe", Segment.BASELINE, 0.0))
    assert journal == []


def test_pacer_waits_for_the_slot_skips_passed_probes_and_takes_the_induction() -> None:
    ctl = RunControl()
    ctl.transition(Lifecycle.RUNNING)
    progress = RunProgress(lambda: 0.0, fast=True, t0=0.0)
    pacer, _ = _pacer(ctl, progress)
    assert pacer.wait_for(Slot("probe", Segment.BASELINE, 30.0)) == "go"
    assert progress.now() == 30.0  # virtual time passed, nothing slept
    progress.resumed_at = 40.0
    assert pacer.wait_for(Slot("probe", Segment.BASELINE, 35.0)) == "skip"
    assert pacer.wait_for(Slot("induction", Segment.INDUCTION, 35.0)) == "go"
    ctl.request("induce")
    assert pacer.wait_for(Slot("probe", Segment.BASELINE, 50.0), may_induce=True) == "induce"
