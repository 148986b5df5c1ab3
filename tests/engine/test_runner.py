"""The experiment runner: states, controls, data safety."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from rigctl import protocol as proto
from rigctl.engine import (
    ExperimentRunner,
    RunOptions,
    RunState,
    load_recording,
    recover,
)
from rigctl.engine.journal import RecordingWriter
from rigctl.hardware import SimRig, load_rig
from tests.engine.rigs import FailingRig, GatedRig, short

FAST = RunOptions(fast=True, write_nwb=False)


def run_fast(key: str, folder: Path, seed: int = 2) -> ExperimentRunner:
    runner = ExperimentRunner(
        SimRig(load_rig(), seed=seed), proto.load(f"protocols/theta-{key}.json"), folder, FAST
    )
    runner.run()
    return runner


@pytest.mark.parametrize(("key", "direction"), [("25-50", "LTP"), ("50-25", "LTD")])
def test_whole_experiment_fast(tmp_path: Path, key: str, direction: str) -> None:
    states: list[RunState] = []
    runner = ExperimentRunner(
        SimRig(load_rig(), seed=4),
        proto.load(f"protocols/theta-{key}.json"),
        tmp_path / "rec",
        FAST,
    )
    runner.state_changed.connect(states.append)
    result = runner.run()
    assert result.state == RunState.DONE
    assert result.sweeps == 151  # 15 baseline + induction + 135 follow-up
    assert result.summary["direction"] == direction
    assert [
        s
        for s in states
        if s in (RunState.BASELINE, RunState.INDUCTION, RunState.FOLLOWUP, RunState.DONE)
    ] == [
        RunState.BASELINE,
        RunState.INDUCTION,
        RunState.FOLLOWUP,
        RunState.DONE,
    ]
    rec = load_recording(tmp_path / "rec")
    assert rec.status == "done" and len(rec.sweeps) == 151 and not rec.damaged
    assert rec.induction_at_s == 300.0
    header = json.loads((tmp_path / "rec" / "recording.json").read_text())
    assert header["summary"]["direction"] == direction
    assert proto.loads((tmp_path / "rec" / "protocol.json").read_text()) == proto.load(
        f"protocols/theta-{key}.json"
    )
    ind = next(s for s in rec.sweeps if s.meta["kind"] == "induction")
    assert all(r["ok"] for r in ind.meta["analysis"]["phase_rates"])
    # Every sweep keeps what was applied and the rig's gains.
    arrays = ind.arrays()
    assert arrays["stim"].sum() == 80 * 2
    assert ind.meta["settings"]["amplifier"]["primary_gain"] == 2.0


def test_calibrates_missing_currents_before_the_baseline(tmp_path: Path) -> None:
    exp = short(proto.load("protocols/ramp-10-25-50-jittered.json"))
    runner = ExperimentRunner(SimRig(load_rig(), seed=1), exp, tmp_path / "rec", FAST)
    states: list[RunState] = []
    runner.state_changed.connect(states.append)
    result = runner.run()
    assert result.state == RunState.DONE
    assert states.index(RunState.CALIBRATING) < states.index(RunState.BASELINE)
    saved = proto.loads((tmp_path / "rec" / "protocol.json").read_text())
    assert saved.induction.phases[0].post.current_pa is None  # the file as given...
    events = load_recording(tmp_path / "rec").events
    cal = [e for e in events if e["event"] == "calibration"]
    assert cal and all(v is not None for v in cal[0]["currents_pa"].values())  # ...and what ran


def test_pause_resume_stop(tmp_path: Path) -> None:
    rig = GatedRig()
    runner = ExperimentRunner(rig, short(proto.paper_condition(25, 50)), tmp_path / "rec", FAST)
    runner.start()
    assert rig.started.acquire(timeout=5)  # sweep 1 in flight
    runner.pause()
    rig.release(1)  # the sweep in flight finishes...
    assert not rig.started.acquire(timeout=0.3)  # ...but no new sweep starts while paused
    assert runner.state == RunState.PAUSED
    runner.resume()
    assert rig.started.acquire(timeout=5)  # sweep 2 in flight
    runner.stop()
    rig.release(1)  # stop lets it finish
    result = runner.wait(10)
    assert result is not None and result.state == RunState.STOPPED
    assert result.sweeps == 2
    rec = load_recording(tmp_path / "rec")
    assert rec.status == "stopped" and len(rec.sweeps) == 2
    assert rig.inner.outputs_at_rest


def test_abort_cuts_the_sweep_in_flight(tmp_path: Path) -> None:
    rig = GatedRig()
    runner = ExperimentRunner(rig, short(proto.paper_condition(25, 50)), tmp_path / "rec", FAST)
    runner.start()
    rig.release(3)
    for _ in range(4):
        assert rig.started.acquire(timeout=5)
    runner.abort()
    result = runner.wait(10)
    assert result is not None and result.state == RunState.ABORTED
    rec = load_recording(tmp_path / "rec")
    assert rec.status == "aborted" and len(rec.sweeps) == 3  # the cut sweep is not kept
    assert not rig.outputs_active and rig.inner.outputs_at_rest


def test_halt_rests_the_outputs_from_the_calling_thread(tmp_path: Path) -> None:
    rig = GatedRig()
    runner = ExperimentRunner(rig, short(proto.paper_condition(25, 50)), tmp_path / "rec", FAST)
    runner.start()
    assert rig.started.acquire(timeout=5)
    assert rig.outputs_active
    caller = threading.get_ident()
    calls: list[int] = []
    original = rig.safe_state

    def spy() -> None:
        calls.append(threading.get_ident())
        original()

    rig.safe_state = spy  # type: ignore[method-assign]
    runner.halt()
    assert calls and calls[0] == caller and not rig.outputs_active
    result = runner.wait(10)
    assert result is not None and result.state == RunState.ABORTED


def test_manual_induction_notes_and_extension(tmp_path: Path) -> None:
    rig = GatedRig()
    exp = short(proto.paper_condition(25, 50), baseline_min=1, followup_min=1)  # 3 + 3 probes
    runner = ExperimentRunner(
        rig, exp, tmp_path / "rec", RunOptions(fast=True, write_nwb=False, auto_induction=False)
    )
    runner.start()
    rig.release(4)
    for _ in range(5):  # four done, the fifth in flight
        assert rig.started.acquire(timeout=5)
    assert runner.state == RunState.BASELINE  # past the 3 planned probes: waiting for the user
    runner.add_note("baseline stable, inducing")
    runner.start_induction()
    runner.extend_followup(1.0)  # three more follow-up probes
    rig.release(100)
    result = runner.wait(20)
    assert result is not None and result.state == RunState.DONE
    rec = load_recording(tmp_path / "rec")
    segments = [s.meta["segment"] for s in rec.sweeps]
    assert segments.count("baseline") == 5  # the one in flight at the call completes
    assert segments.count("induction") == 1
    assert segments.count("followup") == 6
    assert rec.induction_at_s == 5 * 20.0
    assert [n["text"] for n in rec.notes] == ["baseline stable, inducing"]
    base = [s for s in rec.sweeps if s.meta["segment"] == "baseline"]
    assert all(rec.since_induction_s(s) < 0 for s in base)


def test_rig_failure_leaves_outputs_at_rest_and_the_journal_valid(tmp_path: Path) -> None:
    rig = FailingRig(fail_at=6)
    warnings: list[str] = []
    runner = ExperimentRunner(rig, short(proto.paper_condition(25, 50)), tmp_path / "rec", FAST)
    runner.warning.connect(warnings.append)
    result = runner.run()
    assert result.state == RunState.FAILED
    assert "-200279" in result.message and any("-200279" in w for w in warnings)
    assert rig.inner.outputs_at_rest and rig.safe_calls >= 1
    rec = recover(tmp_path / "rec")
    assert len(rec.sweeps) == 5 and rec.status == "failed" and not rec.damaged
    for s in rec.sweeps:
        assert s.arrays()["vm_mv"].size == s.meta["n_samples"]


def test_unusable_folder_is_refused_before_anything_runs(tmp_path: Path) -> None:
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "old.txt").write_text("keep me")
    rig = FailingRig(fail_at=1000)
    result = ExperimentRunner(rig, proto.paper_condition(25, 50), folder, FAST).run()
    assert result.state == RunState.FAILED and "not empty" in result.message
    assert rig.runs == 0
    assert (folder / "old.txt").read_text() == "keep me"
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = ExperimentRunner(rig, proto.paper_condition(25, 50), blocker / "rec", FAST).run()
    assert result.state == RunState.FAILED and "cannot write" in result.message and rig.runs == 0


def test_disk_full_mid_run_stops_safely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = RecordingWriter.write_sweep
    written = [0]

    def write(self: RecordingWriter, record: object) -> Path:
        if written[0] == 4:
            raise OSError(28, "No space left on device")
        written[0] += 1
        return original(self, record)  # type: ignore[arg-type]

    monkeypatch.setattr(RecordingWriter, "write_sweep", write)
    rig = FailingRig(fail_at=10_000)
    result = ExperimentRunner(
        rig, short(proto.paper_condition(25, 50)), tmp_path / "rec", FAST
    ).run()
    assert result.state == RunState.FAILED and "No space left" in result.message
    assert rig.inner.outputs_at_rest
    rec = load_recording(tmp_path / "rec")
    assert len(rec.sweeps) == 4 and not rec.damaged
    assert rig.runs <= 7  # stopped within a couple of sweeps of the failure


def test_chunks_and_analysis_signals(tmp_path: Path) -> None:
    runner = ExperimentRunner(
        SimRig(load_rig(), seed=3), short(proto.paper_condition(50, 25)), tmp_path / "rec", FAST
    )
    chunks: list[int] = []
    analysis: list[dict[str, object]] = []
    runner.chunk.connect(lambda c: chunks.append(c.stop))
    runner.analysis_updated.connect(analysis.append)
    result = runner.run()
    assert result.state == RunState.DONE
    assert len(analysis) == result.sweeps
    probes = [a for a in analysis if a["segment"] != "induction"]
    assert all(3.0 < float(a["epsp_mv"]) < 9.0 for a in probes)  # type: ignore[arg-type]
    assert all(100 < float(a["rin_mohm"]) < 200 for a in probes)  # type: ignore[arg-type]
    assert len(chunks) > result.sweeps
    status = runner.status()
    assert status.state == RunState.DONE and status.sweeps_done == result.sweeps
    assert np.isfinite(status.last_epsp_mv or np.nan)


def test_notes_only_while_running_and_stopping_is_reported(tmp_path: Path) -> None:
    rig = GatedRig()
    runner = ExperimentRunner(rig, short(proto.paper_condition(25, 50)), tmp_path / "rec", FAST)
    with pytest.raises(RuntimeError, match="in progress"):
        runner.add_note("too early")
    states: list[RunState] = []
    runner.state_changed.connect(states.append)
    runner.start()
    assert rig.started.acquire(timeout=5)
    runner.stop()
    assert runner.state == RunState.STOPPING
    rig.release(1)
    result = runner.wait(10)
    assert result is not None and result.state == RunState.STOPPED
    assert RunState.STOPPING in states
    with pytest.raises(RuntimeError, match="in progress"):
        runner.add_note("too late")  # never blocks on a closed journal


def test_status_during_the_induction(tmp_path: Path) -> None:
    runner = ExperimentRunner(
        SimRig(load_rig(), seed=2), short(proto.paper_condition(25, 50)), tmp_path / "rec", FAST
    )
    seen: list[float | None] = []
    runner.state_changed.connect(
        lambda s: (
            seen.append(runner.status().since_induction_s) if s == RunState.INDUCTION else None
        )
    )
    runner.run()
    assert seen == [0.0]


def test_real_time_waits_are_cooperative(tmp_path: Path) -> None:
    # A frozen clock: the runner waits for the next probe slot forever unless told.
    runner = ExperimentRunner(
        SimRig(load_rig(), seed=2),
        short(proto.paper_condition(25, 50)),
        tmp_path / "rec",
        RunOptions(fast=False, write_nwb=False),
        clock=lambda: 0.0,
    )
    paused = threading.Event()

    def on_state(state: RunState) -> None:
        if state == RunState.PAUSED:
            paused.set()

    runner.state_changed.connect(on_state)
    runner.start()
    deadline = 50
    while runner.status().sweeps_done < 1 and deadline:
        threading.Event().wait(0.1)
        deadline -= 1
    assert runner.status().sweeps_done == 1  # the first probe, then waiting for the second
    runner.pause()
    assert paused.wait(5)  # paused during the wait, not at the next slot
    runner.resume()
    runner.abort()
    result = runner.wait(10)
    assert result is not None and result.state == RunState.ABORTED
    assert result.sweeps == 1
