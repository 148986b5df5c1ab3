"""The set-up: clock, EPSP search, session, record into the recording, Rin auto-stop."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rigctl import protocol as proto
from rigctl.engine import ExperimentRunner, RunOptions, RunState, load_recording
from rigctl.engine.rinwatch import RinStopSettings, RinWatch
from rigctl.engine.setup import (
    MIN_PROBE_INTERVAL_S,
    EpspSearch,
    ProbeOutcome,
    SearchSettings,
    SetupClock,
    SetupRecord,
    SetupSession,
)
from rigctl.engine.setup_run import VirtualClock, run_setup
from rigctl.hardware import (
    ChunkCallback,
    LimitError,
    PreparedSweep,
    RigError,
    SimRig,
    SweepResult,
    load_rig,
    loads_rig,
)
from tests.conftest import ROOT
from tests.engine.rigs import FailingRig, WrappedRig, short

EXP = proto.paper_condition(25, 50)
SIM_TEXT = (ROOT / "hardware" / "sim.toml").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- clock


def test_setup_clock_warns_once_over_the_limit_on_a_fake_clock() -> None:
    now = [1000.0]
    clock = SetupClock(300.0, now=lambda: now[0])
    fired: list[float] = []
    clock.over_limit_signal.connect(fired.append)
    assert clock.elapsed_s == 0.0 and not clock.started and not clock.check()
    clock.start()
    now[0] += 299.0
    assert not clock.check() and clock.remaining_s == pytest.approx(1.0)
    now[0] += 2.0
    assert clock.check() and clock.check() and fired == [301.0]
    now[0] += 10.0
    assert clock.stop() == 311.0
    now[0] += 100.0
    assert clock.elapsed_s == 311.0 and clock.over_limit
    with pytest.raises(ValueError, match="positive"):
        SetupClock(0.0)
    with pytest.raises(RuntimeError, match="whole-cell"):
        SetupClock().stop()


# --------------------------------------------------------------------------- search


def test_search_settings_refuse_fast_probes_without_a_reason() -> None:
    with pytest.raises(ValueError, match="under the 15 s minimum"):
        SearchSettings(interval_s=10.0)
    with pytest.raises(ValueError, match="under the 15 s minimum"):
        SearchSettings(interval_s=10.0, interval_reason="   ")
    assert SearchSettings(interval_s=10.0, interval_reason="pilot").interval_s == 10.0
    assert MIN_PROBE_INTERVAL_S == 15.0
    with pytest.raises(ValueError, match="tolerance_mv"):
        SearchSettings(target_mv=1.0, tolerance_mv=2.0)
    s = SearchSettings()
    assert (s.target_mv, s.tolerance_mv, s.interval_s) == (5.0, 1.0, 20.0)
    assert s.in_band(4.0) and s.in_band(6.0) and not s.in_band(6.1)


def test_automatic_search_reaches_the_band_probing_every_20_s() -> None:
    rig = SimRig(load_rig(), seed=5)
    vc = VirtualClock()
    search = EpspSearch(rig, EXP.probes, auto=True, clock=vc.now, sleep=vc.sleep)
    seen: list[ProbeOutcome] = []
    chunks: list[int] = []
    search.chunk.connect(lambda c: chunks.append(c.stop))
    hit = search.run(seen.append)
    assert chunks and chunks[-1] == search.prepared.n_samples
    assert hit is not None and hit is search.found
    assert 4.0 <= (search.found_epsp_mv or 0.0) <= 6.0
    assert [o.at_s for o in seen] == [20.0 * i for i in range(len(seen))]
    assert all(o.intensity_entry == "analog" for o in seen)
    assert seen[0].intensity_ua == 20.0 and rig.stim_intensity_ua == hit.intensity_ua
    assert all(o.intensity_ua <= rig.definition.stimulator.max_intensity_ua for o in seen)
    assert all(np.isfinite(o.rin_mohm) for o in seen) and rig.outputs_at_rest


def test_automatic_search_stops_at_the_isolators_limit() -> None:
    text = SIM_TEXT.replace("max_intensity_ua = 500.0", "max_intensity_ua = 40.0")
    rig = SimRig(loads_rig(text.replace("amplitude_ua = 100.0", "# amplitude_ua")))
    assert rig.cell.recruitment is not None and rig.cell.recruitment.relative(40.0) < 0.5
    vc = VirtualClock()
    search = EpspSearch(rig, EXP.probes, auto=True, clock=vc.now, sleep=vc.sleep)
    assert search.run() is None
    assert "at the isolator's limit of 40 µA" in search.message
    assert max(o.intensity_ua for o in search.outcomes) == 40.0


def test_manual_search_asks_logs_and_turns_the_simulated_knob() -> None:
    rig = SimRig(load_rig(), seed=2)
    asked: list[int] = []
    entries = [30.0, 60.0, 100.0, 100.0, 100.0, 100.0]

    def entry(index: int, last: ProbeOutcome | None) -> float | None:
        asked.append(index)
        return entries[index] if index < len(entries) else None

    vc = VirtualClock()
    search = EpspSearch(rig, EXP.probes, intensity_source=entry, clock=vc.now, sleep=vc.sleep)
    search.run()
    assert [o.intensity_ua for o in search.outcomes] == entries[: len(search.outcomes)]
    assert all(o.intensity_entry == "manual" for o in search.outcomes)
    assert search.outcomes[0].epsp_mv < search.outcomes[-1].epsp_mv
    assert rig.stim_intensity_ua == search.outcomes[-1].intensity_ua


def test_a_manual_entry_outside_the_range_is_one_sentence() -> None:
    rig = WrappedRig()
    rig.definition = loads_rig(SIM_TEXT.replace('intensity = "analog"', 'intensity = "manual"'))
    search = EpspSearch(rig, EXP.probes, intensity_source=lambda i, last: 5000.0)
    with pytest.raises(LimitError, match=r"outside the isolator's range 0-500 µA"):
        search.step()
    assert rig.runs == 0
    with pytest.raises(RigError, match="analog intensity input"):
        EpspSearch(rig, EXP.probes, auto=True)
    with pytest.raises(ValueError, match="intensity_source"):
        EpspSearch(rig, EXP.probes)


def test_a_probe_beyond_the_rigs_limits_is_refused_before_output() -> None:
    rig = SimRig(loads_rig(SIM_TEXT.replace("max_command_pa = 600.0", "max_command_pa = 8.0")))
    with pytest.raises(LimitError, match="max_command_pa = 8 pA"):
        EpspSearch(rig, EXP.probes, auto=True)
    assert rig.cell.state()["sweeps"] == 0 and rig.outputs_at_rest


# --------------------------------------------------------------------------- session


class MidSweepCrashRig(WrappedRig):
    """Raises from inside the sweep (after its first chunk) on sweep ``fail_at``."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at

    @property
    def stim_intensity_ua(self) -> float:
        return self.inner.stim_intensity_ua

    def set_stim_intensity_ua(self, ua: float) -> None:
        self.inner.set_stim_intensity_ua(ua)

    def run(
        self,
        prepared: PreparedSweep,
        on_chunk: ChunkCallback | None = None,
        *,
        at_s: float | None = None,
    ) -> SweepResult:
        self.runs += 1
        if self.runs != self.fail_at:
            return self.inner.run(prepared, on_chunk, at_s=at_s)

        def explode(chunk: Any) -> None:
            assert self.inner.running
            raise RigError("DAQ error -50103: the specified resource is reserved")

        return self.inner.run(prepared, explode, at_s=at_s)


@pytest.mark.parametrize("fail_at", [3, 20, 42])  # test pulse, calibration, search
def test_a_crash_during_setup_leaves_the_outputs_at_rest(fail_at: int) -> None:
    rig = MidSweepCrashRig(fail_at)
    vc = VirtualClock()
    with pytest.raises(RigError, match="-50103"):
        run_setup(rig, EXP, auto=True, clock=vc.now, sleep=vc.sleep)
    assert rig.inner.outputs_at_rest and not rig.inner.running and rig.safe_calls >= 1


def test_session_records_everything_the_recording_needs() -> None:
    rig = SimRig(load_rig(), seed=4)
    vc = VirtualClock()
    session = SetupSession(rig, EXP, clock=vc.now, sleep=vc.sleep, slice_id="s1", cell_id="cell-3")
    warnings: list[str] = []
    session.warning.connect(warnings.append)
    session.whole_cell()
    session.test_pulse().run(12)
    currents = session.calibrate()
    assert all(c is not None and 100 <= c <= 350 for c in currents.values())
    s = SearchSettings(interval_s=10.0, interval_reason="slice is running down")
    assert session.epsp_search(s, auto=True).run() is not None
    rec = session.record()
    assert rec.setup_s == vc.now() and not rec.over_limit and not warnings
    assert rec.currents_pa == currents and rec.intensity_mode == "analog"
    assert rec.slice_id == "s1" and rec.cell_id == "cell-3"
    assert rec.notes == ("probe interval 10 s (under 15 s): slice is running down",)
    summary = rec.summary()
    assert summary["rin_mohm"] == pytest.approx(rig.cell.params.input_resistance_mohm, rel=0.1)
    assert summary["stim_intensity_ua"] == rec.probes[-1]["intensity_ua"]
    assert 4.0 <= summary["epsp_mv"] <= 6.0
    assert json.loads(json.dumps(rec.as_dict()))["describe"].startswith("set-up: rin_mohm")


def test_session_warns_when_setup_runs_over_the_limit() -> None:
    rig = SimRig(load_rig(), seed=4)
    vc = VirtualClock()
    session = SetupSession(rig, EXP, limit_s=60.0, clock=vc.now, sleep=vc.sleep)
    warnings: list[str] = []
    session.warning.connect(warnings.append)
    session.whole_cell()
    search = session.epsp_search(auto=True)
    search.run()
    rec = session.record()
    assert rec.over_limit and rec.setup_s > 60.0
    assert len(warnings) == 1 and "over the 1 min limit" in warnings[0]


def test_abort_puts_the_outputs_at_rest_from_another_thread() -> None:
    rig = WrappedRig()
    session = SetupSession(rig, EXP)
    rig.inner.output_pa = 120.0
    session.abort()
    assert rig.inner.outputs_at_rest


# --------------------------------------------------------------------------- into the run


def test_a_run_after_setup_carries_it_into_recording_json_journal_and_nwb(tmp_path: Path) -> None:
    rig = SimRig(load_rig(), seed=6)
    vc = VirtualClock()
    done = run_setup(rig, EXP, auto=True, clock=vc.now, sleep=vc.sleep, slice_id="s2", cell_id="c9")
    assert done.in_band
    exp = short(done.experiment, baseline_min=0.5, followup_min=0.5)
    opts = RunOptions(fast=True, setup=done.record)
    result = ExperimentRunner(rig, exp, tmp_path / "rec", opts).run()
    assert result.state == RunState.DONE
    header = json.loads((tmp_path / "rec" / "recording.json").read_text(encoding="utf-8"))
    assert header["setup"]["stim_intensity_ua"] == done.record.stim_intensity_ua
    assert header["setup"]["currents_pa"] == done.record.currents_pa
    assert header["setup"]["setup_s"] == done.record.setup_s
    rec = load_recording(tmp_path / "rec")
    start = next(e for e in rec.events if e.get("event", e.get("type")) == "start")
    assert start["header"]["setup"]["cell_id"] == "c9"
    from pynwb import NWBHDF5IO  # type: ignore[import-untyped, unused-ignore]

    assert result.nwb_path is not None
    with NWBHDF5IO(str(result.nwb_path), "r") as io:
        nwb = io.read()
        el = nwb.icephys_electrodes["electrode"]
        assert el.slice == "s2" and el.cell_id == "c9"
        assert "MOhm (bridge estimate)" in el.initial_access_resistance
        assert "set-up: rin_mohm" in el.description
        assert f"{done.record.stim_intensity_ua:g} uA" in nwb.devices["stimulator"].description


# --------------------------------------------------------------------------- Rin auto-stop


def test_rin_watch_stops_after_n_consecutive_probes_out_of_band() -> None:
    w = RinWatch(RinStopSettings(tolerance=0.2, consecutive=3))
    assert w.observe(150, 150) is None
    assert w.observe(200, 150) is None and w.observe(210, 150) is None
    assert w.observe(150, 150) is None  # back in band: the count restarts
    assert w.observe(100, 150) is None and w.observe(float("nan"), 150) is None
    reason = w.observe(90, 150)
    assert reason is not None and "3 consecutive probes" in reason
    assert RinWatch().observe(10, float("nan")) is None
    with pytest.raises(ValueError):
        RinStopSettings(tolerance=0)
    assert "3 consecutive" in RinStopSettings().describe()


class LeakyAfterInduction(WrappedRig):
    """The seal degrades after the induction: Rin halves."""

    def run(
        self,
        prepared: PreparedSweep,
        on_chunk: ChunkCallback | None = None,
        *,
        at_s: float | None = None,
    ) -> SweepResult:
        res = super().run(prepared, on_chunk, at_s=at_s)
        if prepared.label == "induction":
            p = self.inner.cell.params
            self.inner.cell.params = replace(p, input_resistance_mohm=p.input_resistance_mohm / 2)
        return res


def test_runner_auto_stops_when_rin_leaves_its_band(tmp_path: Path) -> None:
    exp = short(EXP.replace(induction=EXP.induction.replace(repeats=2)), 1.0, 3.0)
    rig = LeakyAfterInduction()
    opts = RunOptions(fast=True, write_nwb=False, calibrate="never", rin_stop=RinStopSettings())
    result = ExperimentRunner(rig, exp, tmp_path / "rec", opts).run()
    assert result.state == RunState.STOPPED and result.message.startswith("auto-stop")
    rec = load_recording(tmp_path / "rec")
    assert sum(s.meta["segment"] == "followup" for s in rec.sweeps) == 3
    header = json.loads((tmp_path / "rec" / "recording.json").read_text(encoding="utf-8"))
    assert "auto-stop" in header["options"]["rin_stop"]
    off = ExperimentRunner(
        LeakyAfterInduction(), exp, tmp_path / "off", replace(opts, rin_stop=None)
    ).run()
    assert off.state == RunState.DONE


def test_setup_record_summary_has_none_for_invalid_values() -> None:
    rec = SetupRecord(
        setup_s=12.0,
        limit_s=300.0,
        over_limit=False,
        test_pulse={"series_resistance_mohm": {"value": 3.0, "valid": False, "note": "noise"}},
    )
    assert rec.summary()["series_resistance_mohm"] is None
    assert rec.summary()["setup_s"] == 12.0


def test_failing_rig_mid_search_probe() -> None:
    rig = FailingRig(fail_at=1)
    with pytest.raises(RigError):
        EpspSearch(rig, EXP.probes, auto=True).step()
    assert rig.inner.outputs_at_rest


@pytest.mark.parametrize(
    ("text", "kwargs", "match"),
    [
        (SIM_TEXT, {"intensity_ua": 900.0}, "max_intensity_ua"),
        (
            SIM_TEXT.replace('intensity = "analog"', 'intensity = "manual"'),
            {"auto": True},
            "analog",
        ),
        (SIM_TEXT.replace("max_command_pa = 600.0", "max_command_pa = 5.0"), {}, "max_command_pa"),
    ],
)
def test_run_setup_refuses_before_any_output(text: str, kwargs: dict[str, Any], match: str) -> None:
    rig = SimRig(loads_rig(text))
    with pytest.raises(RigError, match=match):
        run_setup(rig, EXP, **kwargs)
    assert rig.cell.state()["sweeps"] == 0


def test_start_warnings_ask_about_the_limit_and_an_induced_slice(tmp_path: Path) -> None:
    from rigctl.engine.setup import start_warnings
    from rigctl.engine.slicelog import SliceLog

    ok = SetupRecord(setup_s=100.0, limit_s=300.0, over_limit=False, slice_id="s1")
    with SliceLog(tmp_path) as log:
        assert start_warnings(ok, log) == [] and start_warnings(ok) == []
        log.mark_induced("s1")
        (w,) = start_warnings(ok, log)
        assert "s1 has received an induction" in w
        late = replace(ok, setup_s=330.0, over_limit=True)
        assert "over the 5 min limit" in start_warnings(late, log)[0]
