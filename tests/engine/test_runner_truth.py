"""The runner records what truly happened: one schedule, true times, pauses, cut sweeps."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from pynwb import NWBHDF5IO  # type: ignore[import-untyped, unused-ignore]

from rigctl import protocol as proto
from rigctl.engine import ExperimentRunner, RunOptions, RunState, load_recording
from rigctl.engine.nwb import export_nwb
from rigctl.hardware import Chunk, SimRig, load_rig
from tests.engine.rigs import WrappedRig, short

FAST = RunOptions(fast=True, write_nwb=False, calibrate="never")


def ten_second_induction() -> proto.Experiment:
    """A 10 s induction with 10 s probe intervals (the reported two-schedules case)."""
    exp = proto.load("protocols/theta-25-50.json")
    return exp.replace(
        induction=exp.induction.replace(gap_ms=780.0),  # 200 + 10 x (200 + 780) = 10 s
        probes=exp.probes.replace(interval_s=10.0, baseline_min=0.5, followup_min=0.5),
    )


def test_the_runner_plays_the_compiled_schedule(tmp_path: Path) -> None:
    exp = ten_second_induction()
    comp = proto.compile_experiment(exp)
    assert comp.induction.duration_ms == 10000.0
    result = ExperimentRunner(SimRig(load_rig(), seed=3), exp, tmp_path / "rec", FAST).run()
    assert result.state == RunState.DONE
    rec = load_recording(tmp_path / "rec")
    planned = [s.meta["planned_s"] for s in rec.sweeps]
    assert planned == [s.start_s for s in comp.sweeps]
    assert [s.start_s for s in comp.sweeps if s.segment == "followup"] == [40.0, 50.0, 60.0]
    # In a fast run time is virtual: each sweep starts at its slot, or when the one before
    # ended (the 10 s induction has a closing rest sample: 50 us late).
    assert [s.meta["at_s"] for s in rec.sweeps] == pytest.approx(planned, abs=1e-4)
    assert all(s.meta["started_at"] for s in rec.sweeps)  # wall-clock UTC too


class FakeClock:
    """Monotonic time the test controls; ``sleep`` lets time pass at once."""

    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def test_pause_skips_the_probes_whose_slot_passed(tmp_path: Path) -> None:
    clock = FakeClock()
    exp = short(proto.load("protocols/theta-25-50.json"), followup_min=2.0)  # 20 s interval
    runner = ExperimentRunner(
        SimRig(load_rig(), seed=3),
        exp,
        tmp_path / "rec",
        RunOptions(write_nwb=False, calibrate="never"),
        clock=clock.now,
        sleep=clock.sleep,
    )
    seen: list[Any] = []

    def on_sweep(rec: Any) -> None:
        if rec.segment == "followup" and not seen:
            seen.append(rec)
            runner.pause()

    def on_state(state: RunState) -> None:
        if state == RunState.PAUSED:
            clock.t += 45.0  # paused 45 s: the next two 20 s slots pass
            seen.append(runner.status())
            runner.resume()

    runner.sweep_acquired.connect(on_sweep)
    runner.state_changed.connect(on_state)
    result = runner.run()
    assert result.state == RunState.DONE
    assert seen[1].state == RunState.PAUSED and seen[1].lifecycle == "paused"
    status = runner.status()
    assert status.skipped_probes == 2 and status.pauses == 1 and status.paused_s == 45.0
    assert result.summary["skipped_probes"] == 2
    rec = load_recording(tmp_path / "rec")
    follow = [s for s in rec.sweeps if s.meta["segment"] == "followup"]
    assert len(follow) == 6 - 2
    onset = rec.induction_at_s
    assert onset is not None
    # No catch-up: every probe starts at its own slot, none late, none early.
    for s in rec.sweeps:
        assert s.meta["at_s"] == s.meta["planned_s"]
    assert [s.meta["planned_s"] - onset for s in follow] == [20.0, 80.0, 100.0, 120.0]
    kinds = [e["event"] for e in rec.events]
    for kind in ("pause", "paused", "resume", "resumed"):
        assert kinds.count(kind) == 1, kind
    skipped = [e for e in rec.events if e["event"] == "skipped"]
    assert [e["planned_s"] - onset for e in skipped] == [40.0, 60.0]
    resumed = next(e for e in rec.events if e["event"] == "resumed")
    assert resumed["paused_for_s"] == 45.0
    header = json.loads((tmp_path / "rec" / "recording.json").read_text())
    assert header["summary"]["skipped_probes"] == 2


class ParkedRig(WrappedRig):
    """Counts what actually reached the cell."""


def park_before(runner: ExperimentRunner, kind: str) -> tuple[threading.Event, threading.Event]:
    """Park the runner between its last check and ``rig.run`` of the first ``kind`` sweep."""
    parked, release = threading.Event(), threading.Event()

    def hook(what: str) -> None:
        if what == kind and not parked.is_set():
            parked.set()
            assert release.wait(10)

    runner.before_sweep = hook
    return parked, release


@pytest.mark.parametrize("request_", ["abort", "halt"])
def test_an_abort_at_the_check_run_boundary_is_never_lost(tmp_path: Path, request_: str) -> None:
    rig = SimRig(load_rig(), seed=3)
    exp = short(proto.load("protocols/theta-25-50.json"))
    runner = ExperimentRunner(rig, exp, tmp_path / "rec", FAST)
    parked, release = park_before(runner, "induction")
    runner.start()
    assert parked.wait(10)
    getattr(runner, request_)()
    release.set()
    result = runner.wait(10)
    assert result is not None and result.state == RunState.ABORTED
    assert rig.cell.history == []  # the synapse saw no theta window
    assert rig.cell.state()["sweeps"] == 3  # only the three baseline probes reached the cell
    assert rig.outputs_at_rest
    rec = load_recording(tmp_path / "rec")
    assert [s.meta["kind"] for s in rec.sweeps] == ["probe"] * 3
    assert any(e["event"] == "not_started" for e in rec.events)
    word = "aborted" if request_ == "abort" else "halted"
    assert result.summary["induction"]["note"] == f"induction {word} after 0 of 10 windows"
    # The next run on the same rig is not aborted by what is left of this one.
    again = ExperimentRunner(rig, exp, tmp_path / "rec2", FAST).run()
    assert again.state == RunState.DONE


def test_an_abort_between_sweeps_is_honoured_by_the_next_check(tmp_path: Path) -> None:
    rig = SimRig(load_rig(), seed=3)
    runner = ExperimentRunner(
        rig, short(proto.load("protocols/theta-25-50.json")), tmp_path / "rec", FAST
    )
    runner.sweep_acquired.connect(lambda rec: runner.abort() if rec.index == 1 else None)
    result = runner.run()
    assert result.state == RunState.ABORTED and result.sweeps == 2


class CalibrationRig(WrappedRig):
    """Calls ``action`` when the runner asks for its ``at``-th sweep (a calibration sweep)."""

    def __init__(self, at: int) -> None:
        super().__init__(seed=3)
        self.at = at
        self.action: Any = None

    def run(self, prepared: Any, on_chunk: Any = None, *, at_s: float | None = None) -> Any:
        if self.runs + 1 == self.at and self.action is not None:
            self.action()
        return super().run(prepared, on_chunk, at_s=at_s)


@pytest.mark.parametrize(("request_", "state"), [("abort", "aborted"), ("stop", "stopped")])
def test_stop_and_abort_during_calibration(tmp_path: Path, request_: str, state: str) -> None:
    rig = CalibrationRig(at=3)
    exp = short(proto.load("protocols/theta-25-50.json"))
    runner = ExperimentRunner(
        rig, exp, tmp_path / "rec", RunOptions(fast=True, write_nwb=False, calibrate="always")
    )
    rig.action = getattr(runner, request_)
    result = runner.run()
    assert result.state.value == state, result.message
    assert rig.runs <= 3  # no calibration sweep after the request (an abort cuts the third)
    assert load_recording(tmp_path / "rec").status == state


def test_pause_during_calibration_holds_it(tmp_path: Path) -> None:
    rig = CalibrationRig(at=2)
    exp = short(proto.load("protocols/theta-25-50.json"))
    runner = ExperimentRunner(
        rig, exp, tmp_path / "rec", RunOptions(fast=True, write_nwb=False, calibrate="always")
    )
    rig.action = runner.pause
    during: list[int] = []

    def on_state(s: RunState) -> None:
        if s == RunState.PAUSED:
            during.append(rig.runs)
            runner.resume()

    runner.state_changed.connect(on_state)
    result = runner.run()
    assert result.state == RunState.DONE
    assert during == [2]  # paused right after the second calibration sweep


def test_an_induction_cut_after_four_windows_is_recorded(tmp_path: Path) -> None:
    rig = SimRig(load_rig(), seed=3)
    exp = short(proto.load("protocols/theta-25-50.json"))
    runner = ExperimentRunner(rig, exp, tmp_path / "rec", FAST)

    def on_chunk(chunk: Chunk) -> None:
        if runner.status().segment == "induction" and chunk.stop / chunk.sample_rate_hz >= 2.65:
            runner.abort()  # 200 ms lead-in + 4 x 600 ms windows, into the fifth

    runner.chunk.connect(on_chunk)
    result = runner.run()
    assert result.state == RunState.ABORTED
    rec = load_recording(tmp_path / "rec")
    ind = rec.sweeps[-1]
    assert ind.meta["kind"] == "induction" and ind.meta["complete"] is False
    assert ind.meta["cut"] == "abort"
    n = ind.meta["n_samples"]
    assert 2.65 * 20000 <= n < 6.2 * 20000
    assert ind.arrays()["stim"].shape[0] == n == ind.arrays()["command_pa"].shape[0]
    assert ind.meta["analysis"]["windows_delivered"] == 4
    assert result.summary["induction"]["note"] == "induction aborted after 4 of 10 windows"
    header = json.loads((tmp_path / "rec" / "recording.json").read_text())
    assert header["summary"]["induction"]["note"] == "induction aborted after 4 of 10 windows"
    csv = (tmp_path / "rec" / "analysis.csv").read_text()
    assert csv.splitlines()[0].endswith("windows_delivered")
    assert csv.splitlines()[-1].split(",")[-1] == "4"
    assert rig.cell.history and len(rig.cell.history) == 1  # the synapse saw those windows
    path = export_nwb(tmp_path / "rec")
    with NWBHDF5IO(path, "r") as io:
        f = io.read()
        sweep = f.intracellular_recordings.category_tables["sweep"]
        assert list(sweep["windows_delivered"].data[:])[-1] == 4
        assert not bool(sweep["complete"].data[-1])
        assert str(sweep["cut"].data[-1]) == "abort"
        vm = f.acquisition[f"vm_{ind.index:05d}"]
        assert "after 4 of 10 theta windows" in vm.description


def test_a_listener_that_raises_is_logged_and_the_run_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runner = ExperimentRunner(
        SimRig(load_rig(), seed=3),
        short(proto.load("protocols/theta-25-50.json"), followup_min=1.0),
        tmp_path / "rec",
        FAST,
    )

    def broken(_: object) -> None:
        raise ValueError("a listener bug")

    runner.sweep_acquired.connect(broken)
    runner.state_changed.connect(broken)
    with caplog.at_level(logging.ERROR, logger="rigctl.engine.signals"):
        result = runner.run()
    assert result.state == RunState.DONE
    assert "a listener bug" in caplog.text
    assert runner.sweep_acquired.errors and runner.state_changed.errors


def test_listeners_are_never_called_with_the_lock_held(tmp_path: Path) -> None:
    runner = ExperimentRunner(
        SimRig(load_rig(), seed=3),
        short(proto.load("protocols/theta-25-50.json"), followup_min=1.0),
        tmp_path / "rec",
        FAST,
    )
    held: list[bool] = []

    def probe_lock(_: object) -> None:
        # Another thread must be able to take the lock while a listener runs.
        got: list[bool] = []

        def take() -> None:
            ok = runner._lock.acquire(timeout=5)
            got.append(ok)
            if ok:
                runner._lock.release()

        t = threading.Thread(target=take)
        t.start()
        t.join()
        held.append(not got[0])

    runner.state_changed.connect(probe_lock)
    runner.progress.connect(probe_lock)
    runner.sweep_acquired.connect(probe_lock)
    runner.pause()
    runner.resume()
    assert runner.run().state == RunState.DONE
    assert held and not any(held)
