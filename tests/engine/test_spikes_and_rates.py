"""A probe with a spike is excluded visibly; phases are judged by their spike count."""

from __future__ import annotations

import math

import numpy as np

from rigctl import protocol as proto
from rigctl.engine.analysis import SPIKE_FLAG, analyze_probe, summarize_recording
from rigctl.engine.spikes import phase_rates

FS = 20000.0


def probe_trace(spike: bool) -> tuple[np.ndarray, proto.CompiledSweep]:
    sweep = proto.compile_probe(proto.ProbeSchedule())
    n = sweep.waveforms(FS).n_samples
    v = np.full(n, -70.0)
    t_pulse = sweep.of_kind("probe_pulse")[0].start_ms
    i0 = round((t_pulse + 5.0) * FS / 1000.0)
    v[i0 : i0 + 200] += 4.0  # a 4 mV EPSP
    if spike:
        v[i0 + 50 : i0 + 70] = 30.0  # an action potential on top of it
    return v, sweep


def test_a_probe_with_a_spike_is_flagged_and_left_out() -> None:
    clean, sweep = probe_trace(spike=False)
    spiky, _ = probe_trace(spike=True)
    a = analyze_probe(clean, FS, sweep)
    b = analyze_probe(spiky, FS, sweep)
    assert not a.spike_in_probe and math.isclose(a.epsp_mv, 4.0, abs_tol=0.1)
    assert b.spike_in_probe and b.epsp_mv > 50  # measured, but never used as an EPSP
    assert b.as_dict()["spike_in_probe"] is True
    assert SPIKE_FLAG == "spike in probe"
    times = [-2.0, -1.0, 31.0, 32.0, 33.0]
    epsps = [4.0, 4.0, 6.0, b.epsp_mv, 6.0]
    s = summarize_recording(times, epsps, excluded=[False, False, False, True, False])
    assert s.n_spike_excluded == 1 and s.n_window == 2
    assert math.isclose(s.normalized_mean, 1.5) and math.isnan(s.normalized[3])
    assert s.as_dict()["n_spike_excluded"] == 1


def induction_with(counts: list[int], phase: str = "prediction") -> list:  # type: ignore[type-arg]
    exp = proto.load("protocols/theta-25-50.json")
    sweep = proto.compile_induction(exp.induction)
    n = sweep.waveforms(FS).n_samples
    v = np.full(n, -65.0)
    spans = [s for s in sweep.phases if s.name == phase]
    for span, k in zip(spans, counts, strict=True):
        for j in range(k):  # spikes 30 ms apart from 10 ms into the phase
            i = round((float(span.start) + 10.0 + 30.0 * j) * FS / 1000.0)
            v[i : i + 20] = 20.0
    return phase_rates(v, FS, sweep)


def test_two_spikes_where_three_are_wanted_is_a_miss() -> None:
    rate = induction_with([2] * 10)[0]
    assert rate.phase == "prediction" and rate.expected_per_window == 3
    assert rate.window_counts == (2,) * 10 and rate.windows_missed == 10
    assert not rate.ok and math.isclose(rate.achieved_hz, 25.0 * 2 / 3)
    assert math.isclose(rate.first_latency_ms, 10.0, abs_tol=0.1)
    assert "MISS" in rate.line() and "first spike 10.0 ms" in rate.line()
    assert rate.as_dict()["window_counts"] == [2] * 10


def test_the_count_rule_per_window() -> None:
    assert induction_with([3] * 10)[0].ok
    one_off = induction_with([3] * 9 + [2])[0]
    assert one_off.ok and one_off.windows_missed == 1  # one window may miss
    two_off = induction_with([3] * 8 + [2, 2])[0]
    assert two_off.miss <= 0.1 and not two_off.ok  # the count misses in two windows
    assert "count off in 2 windows" in two_off.line()
    none = induction_with([0] * 10, phase="prediction")[1]  # the outcome phase never fired
    assert none.expected_per_window == 5 and not none.ok


def test_only_the_windows_delivered_are_judged() -> None:
    exp = proto.load("protocols/theta-25-50.json")
    sweep = proto.compile_induction(exp.induction)
    v = np.full(sweep.waveforms(FS).n_samples, -65.0)
    rates = phase_rates(v, FS, sweep, windows=4)
    assert all(r.n_windows == 4 for r in rates)
