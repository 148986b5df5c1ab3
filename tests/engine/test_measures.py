"""EPSP slope and paired-pulse measures, and the paired probe as compiled and delivered."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from rigctl import protocol as proto
from rigctl.cli import main
from rigctl.engine.journal import load_recording
from rigctl.engine.measures import (
    ProbeMeasures,
    initial_slope,
    normalized_series,
    probe_measures,
)
from tests.conftest import ROOT

FS = 20_000.0


def _probe(paired: float | None = None) -> proto.CompiledSweep:
    probes = proto.ProbeSchedule(probe=proto.ProbePulse(time_ms=600.0, paired_interval_ms=paired))
    return proto.compile_probe(probes)


def _trace(amps: list[tuple[float, float]], tau: float = 6.0) -> np.ndarray:
    t = np.arange(round(FS)) * 1000.0 / FS
    v = np.full(t.shape, -70.0)
    for onset, amp in amps:
        x = np.clip((t - onset) / tau, 0.0, None)
        v += amp * x * np.exp(1.0 - x)
    return v


def _slope(amp: float, tau: float = 6.0) -> float:
    t = np.linspace(0.0, tau, 200_001)
    x = t / tau
    v = amp * x * np.exp(1.0 - x)
    sel = (v >= 0.2 * amp) & (v <= 0.8 * amp)
    return float(np.polyfit(t[sel], v[sel], 1)[0])


def test_paired_probe_is_compiled_and_delivered() -> None:
    sweep = _probe(paired=50.0)
    pulses = sweep.of_kind("probe_pulse")
    assert [p.start_ms for p in pulses] == [600.0, 650.0]
    stim = sweep.waveforms(FS).stim
    rises = np.flatnonzero(np.diff(stim.astype(int)) > 0) + 1
    assert list(rises) == [round(600.0 * FS / 1000), round(650.0 * FS / 1000)]
    assert [p.start_ms for p in _probe().of_kind("probe_pulse")] == [600.0]


def test_paired_pulse_limits_are_refused() -> None:
    with pytest.raises(ValidationError) as info:
        proto.ProbeSchedule(probe=proto.ProbePulse(time_ms=600.0, paired_interval_ms=380.0))
    assert info.value.errors()[0]["ctx"]["field"] == "probe.paired_interval_ms"
    assert "980 ms leaves less than the 50 ms" in str(info.value)
    with pytest.raises(ValidationError, match="pulse at 110 ms falls inside the test step"):
        proto.ProbeSchedule(
            probe=proto.ProbePulse(time_ms=50.0, paired_interval_ms=60.0),
            test_step=proto.TestStep(start_ms=100.0, duration_ms=200.0),
        )
    with pytest.raises(ValidationError, match="paired_interval_ms"):
        proto.ProbePulse(paired_interval_ms=5.0)


def test_slope_and_amplitude_of_a_known_epsp() -> None:
    v = _trace([(601.0, 5.0)])
    m = probe_measures(v, FS, _probe())
    assert isinstance(m, ProbeMeasures)
    assert m.epsp_mv == pytest.approx(5.0, abs=0.05)
    assert m.slope_mv_per_ms == pytest.approx(_slope(5.0), rel=0.02)
    assert 601.0 < m.rise_start_ms < m.rise_stop_ms < m.peak_ms
    assert m.peak_ms == pytest.approx(607.0, abs=0.3)
    assert math.isnan(m.ppr) and math.isnan(m.epsp2_mv)
    assert set(m.as_dict()) >= {"slope_mv_per_ms", "ppr", "epsp2_mv"}


def test_paired_pulse_ratio_of_known_epsps() -> None:
    # The second EPSP is 1.6 times the first: facilitation, as at CA3-CA1 synapses.
    v = _trace([(601.0, 4.0), (701.0, 6.4)])
    m = probe_measures(v, FS, _probe(paired=100.0))
    assert m.epsp_mv == pytest.approx(4.0, abs=0.05)
    assert m.epsp2_mv == pytest.approx(6.4, abs=0.1)
    assert m.ppr == pytest.approx(1.6, abs=0.03)


def test_first_epsp_is_not_the_second_when_pulses_are_close() -> None:
    v = _trace([(601.0, 2.0), (621.0, 6.0)], tau=4.0)
    m = probe_measures(v, FS, _probe(paired=20.0))
    assert m.epsp_mv < 2.5  # the search for the first peak stops at the second pulse


def test_no_epsp_gives_nan_slope() -> None:
    flat = np.full(round(FS), -70.0)
    m = probe_measures(flat, FS, _probe())
    assert math.isnan(m.slope_mv_per_ms)
    assert all(math.isnan(x) for x in initial_slope(flat, FS, 600.0, math.nan, 100))
    assert all(math.isnan(x) for x in initial_slope(flat, FS, 600.0, -70.0, 12_100))
    none = proto.CompiledSweep(kind="probe", duration=proto.exact(1000), events=())
    assert math.isnan(probe_measures(flat, FS, none).epsp_mv)


def test_slope_ignores_the_stimulus_artifact() -> None:
    v = _trace([(602.0, 5.0)])
    i = round(600.0 * FS / 1000)
    v[i : i + 10] += 8.0  # a 0.5 ms artifact larger than the EPSP, before the rise
    m = probe_measures(v, FS, _probe())
    assert m.slope_mv_per_ms == pytest.approx(_slope(5.0), rel=0.03)


def test_normalized_series() -> None:
    out = normalized_series([-2, -1, 1, 2], [2.0, 2.0, 3.0, float("nan")])
    assert list(out[:3]) == [1.0, 1.0, 1.5] and math.isnan(out[3])
    assert np.isnan(normalized_series([1, 2], [1.0, 2.0])).all()


def test_a_paired_probe_run_delivers_both_pulses_and_records_the_ratio(tmp_path: Path) -> None:
    data = json.loads((ROOT / "protocols" / "theta-25-50.json").read_text(encoding="utf-8"))
    data["probes"].update(interval_s=90.0, baseline_min=3.0, followup_min=31.0)
    data["probes"]["probe"]["paired_interval_ms"] = 50.0
    path = tmp_path / "paired.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "rec"
    assert main(["run", str(path), "--fast", "--no-nwb", "--seed", "1", "--out", str(out)]) == 0
    rec = load_recording(out)
    probe = next(rec.probes())
    assert probe.meta["extra"]["sim_pulse_times_ms"] == [600.0, 650.0]
    stim = probe.arrays()["stim"]
    fs = probe.meta["sample_rate_hz"]
    assert list(np.flatnonzero(np.diff(stim.astype(int)) > 0) + 1) == [
        round(600.0 * fs / 1000),
        round(650.0 * fs / 1000),
    ]
    a = probe.meta["analysis"]
    assert 0.3 < a["ppr"] < 3.0 and a["slope_mv_per_ms"] > 0
    assert a["epsp2_mv"] == pytest.approx(a["ppr"] * a["epsp_mv"])
