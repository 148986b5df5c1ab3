from __future__ import annotations

import math

import numpy as np
import pytest

from rigctl import protocol as proto
from rigctl.engine import (
    AnalysisSettings,
    ProbeAnalysis,
    analyze_probe,
    check_baseline,
    health_flags,
    summarize_recording,
)

FS = 20_000.0


def synthetic_probe(
    epsp_mv: float, rin_mohm: float, rest_mv: float = -65.0, noise: float = 0.0
) -> np.ndarray:
    sweep = proto.compile_probe(proto.ProbeSchedule())
    t = np.arange(sweep.n_samples(FS)) / FS * 1000.0  # ms
    v = np.full(t.size, rest_mv)
    step = (t >= 100) & (t < 300)
    tau = 25.0
    dv = -10.0 * rin_mohm / 1000.0
    v += np.where(step, dv * (1 - np.exp(-(t - 100) / tau)), 0.0)
    after = t >= 300
    v += np.where(after, dv * (1 - np.exp(-200 / tau)) * np.exp(-(t - 300) / tau), 0.0)
    s = t - 602.0
    alpha = np.where(s > 0, (s / 5.0) * np.exp(1 - s / 5.0), 0.0)
    v += epsp_mv * alpha
    return v + noise * np.random.default_rng(0).standard_normal(t.size)


def test_probe_measures_epsp_rin_and_rest() -> None:
    sweep = proto.compile_probe(proto.ProbeSchedule())
    a = analyze_probe(synthetic_probe(5.0, 150.0), FS, sweep)
    assert a.epsp_mv == pytest.approx(5.0, abs=0.05)
    assert a.rin_mohm == pytest.approx(150.0, rel=0.02)
    assert a.rest_mv == pytest.approx(-65.0, abs=0.01)
    noisy = analyze_probe(synthetic_probe(5.0, 150.0, noise=0.2), FS, sweep)
    assert noisy.epsp_mv == pytest.approx(5.0, abs=0.3)


def test_health_flags() -> None:
    ok = ProbeAnalysis(epsp_mv=5, baseline_mv=-65, rest_mv=-64, rin_mohm=160)
    assert health_flags(ok, 150.0, -65.0) == []
    leaky = ProbeAnalysis(epsp_mv=5, baseline_mv=-58, rest_mv=-57, rin_mohm=100)
    flags = health_flags(leaky, 150.0, -65.0)
    assert len(flags) == 2
    assert "input resistance 100 MΩ is -33%" in flags[0] and "±20%" in flags[0]
    assert "+8.0 mV" in flags[1]
    loose = AnalysisSettings(rin_change=0.5, vm_drift_mv=10)
    assert health_flags(leaky, 150.0, -65.0, loose) == []


def test_baseline_stability() -> None:
    t = np.arange(15) / 3.0
    rng = np.random.default_rng(1)
    steady = 5 + 0.3 * rng.standard_normal(15)
    assert check_baseline(t, steady).stable
    rising = 5 + 0.5 * t
    check = check_baseline(t, rising)
    assert not check.stable and "trend" in check.reasons[0]
    assert not check_baseline(t[:2], steady[:2]).stable


def test_summary_window_and_direction() -> None:
    k = np.concatenate([np.arange(-15, 0), np.arange(1, 136)])
    t = k / 3.0  # a probe every 20 s, induction at 0
    e = np.where(t < 0, 5.0, 7.0)
    s = summarize_recording(t, e)
    assert s.baseline_mean_mv == 5.0 and s.n_baseline == 15
    assert s.normalized_mean == pytest.approx(1.4)
    assert s.n_window == 16 and s.direction == "LTP"
    assert summarize_recording(t, np.where(t < 0, 5.0, 3.5)).direction == "LTD"
    assert summarize_recording(t, np.full(t.size, 5.0)).direction == "no change"
    empty = summarize_recording([-1.0], [5.0])
    assert math.isnan(empty.normalized_mean) and empty.direction == "unknown"
