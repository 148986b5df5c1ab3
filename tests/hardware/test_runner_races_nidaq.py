"""A latched abort on the NI rig (fake driver): the induction never plays once aborted."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from rigctl import protocol as proto
from rigctl.engine import ExperimentRunner, RunOptions, RunState, load_recording
from rigctl.hardware import RigDefinition
from rigctl.hardware.nidaq import NidaqRig
from tests.hardware.fake_nidaq import FakeNidaq

pytestmark = pytest.mark.nidaq


def short_experiment() -> proto.Experiment:
    exp = proto.load("protocols/theta-25-50.json")
    return exp.replace(probes=exp.probes.replace(baseline_min=1.0, followup_min=1.0))


@pytest.mark.parametrize("request_", ["abort", "halt"])
def test_abort_between_check_and_run_on_the_ni_rig(
    fake_nidaq: FakeNidaq, ni_definition: RigDefinition, tmp_path: Path, request_: str
) -> None:
    fake_nidaq.connect(ni_definition)
    rig = NidaqRig(ni_definition)
    runner = ExperimentRunner(
        rig, short_experiment(), tmp_path / "rec", RunOptions(fast=True, write_nwb=False)
    )
    parked, release = threading.Event(), threading.Event()

    def hook(kind: str) -> None:
        if kind == "induction":
            parked.set()
            assert release.wait(10)

    runner.before_sweep = hook
    runner.start()
    assert parked.wait(20)
    played_before = len(fake_nidaq.cell_inputs)
    getattr(runner, request_)()
    release.set()
    result = runner.wait(20)
    rig.close()
    assert result is not None and result.state == RunState.ABORTED
    # Nothing reached the cell after the request: no theta burst on the stimulation line.
    assert len(fake_nidaq.cell_inputs) == played_before
    assert all(int(np.count_nonzero(np.diff(stim) == 1)) <= 1 for _, stim in fake_nidaq.cell_inputs)
    assert fake_nidaq.outputs_at_rest() and not fake_nidaq.open_tasks()
    rec = load_recording(tmp_path / "rec")
    assert [s.meta["kind"] for s in rec.sweeps] == ["probe"] * 3


def test_an_abort_latched_while_idle_is_consumed_by_the_next_sweep_only(
    fake_nidaq: FakeNidaq, ni_definition: RigDefinition
) -> None:
    fake_nidaq.connect(ni_definition)
    rig = NidaqRig(ni_definition)
    prepared = rig.prepare(proto.compile_probe(proto.ProbeSchedule()), "probe")
    rig.abort()  # nothing running: latched
    first = rig.run(prepared)
    assert not first.complete and first.n_samples == 0
    assert not fake_nidaq.ops("create_task")  # no task was even created
    second = rig.run(prepared)
    assert second.complete
    rig.abort()
    rig.clear_abort()  # a new run starts afresh
    assert rig.run(prepared).complete
    rig.close()
