"""The test pulse: Rin, Vm, tau_m and Rs from repeated short steps, each with its validity."""

from __future__ import annotations

import math
import threading
from dataclasses import replace

import numpy as np
import pytest

from rigctl.engine.testpulse import (
    MAX_TEST_PULSE_HZ,
    TestPulse,
    TestPulseResult,
    TestPulseSettings,
    analyze_test_pulse,
    average_pulses,
)
from rigctl.hardware import LimitError, RigError, SimRig, SweepResult, load_rig
from rigctl.protocol import paper_condition
from tests.engine.rigs import FailingRig, WrappedRig


def no_wait(_: float) -> None:
    """A sleeper that does not wait (the simulated rig runs unpaced)."""


@pytest.mark.parametrize("seed", [0, 3, 8])
def test_recovers_the_sim_cells_rin_tau_and_rs_within_10_percent(seed: int) -> None:
    rig = SimRig(load_rig(), seed=seed)
    p = rig.cell.params
    tp = TestPulse(
        rig, TestPulseSettings.from_probes(paper_condition(25, 50).probes), sleep=no_wait
    )
    results = tp.run(10)
    assert len(results) == 10 and tp.count == 10
    avg = average_pulses(results)
    assert avg.rin_mohm.valid and avg.tau_ms.valid and avg.series_resistance_mohm.valid
    assert avg.rin_mohm.value == pytest.approx(p.input_resistance_mohm, rel=0.10)
    assert avg.tau_ms.value == pytest.approx(p.tau_m_ms, rel=0.10)
    assert avg.series_resistance_mohm.value == pytest.approx(p.series_resistance_mohm, rel=0.10)
    assert avg.vm_mv.value == pytest.approx(p.resting_mv, abs=1.0)
    assert rig.outputs_at_rest


def synthetic(fs: float, s: TestPulseSettings, rs: float, noise: float = 0.05) -> np.ndarray:
    """The model trace of a cell (150 MΩ, 25 ms, -65 mV) with series resistance ``rs``."""
    n = round(s.sweep_ms * fs / 1000) + 1
    i0 = round(s.baseline_ms * fs / 1000)
    i1 = round((s.baseline_ms + s.step_ms) * fs / 1000)
    cmd = np.zeros(n)
    cmd[i0:i1] = s.amplitude_pa
    a = math.exp(-1000.0 / (25.0 * fs))
    v = np.empty(n)
    x = 0.0
    for k in range(n):
        x = a * x + (1 - a) * cmd[k] * 0.150
        v[k] = -65.0 + x + cmd[k] * rs * 1e-3
    return v + noise * np.random.default_rng(1).standard_normal(n)


def test_rs_is_invalid_when_the_jump_is_within_the_noise() -> None:
    s = TestPulseSettings(amplitude_pa=-10.0)
    r = analyze_test_pulse(synthetic(20_000.0, s, rs=0.0, noise=0.15), 20_000.0, s)
    assert not r.series_resistance_mohm.valid
    assert "within the noise" in r.series_resistance_mohm.note
    assert r.rin_mohm.valid and r.rin_mohm.value == pytest.approx(150, rel=0.1)
    assert math.isnan(r.values()["series_resistance_mohm"])


def test_rs_is_invalid_when_the_sample_rate_cannot_resolve_the_jump() -> None:
    s = TestPulseSettings(amplitude_pa=-50.0)
    r = analyze_test_pulse(synthetic(1000.0, s, rs=20.0), 1000.0, s)
    assert not r.series_resistance_mohm.valid
    assert "sample rate is too low" in r.series_resistance_mohm.note
    good = analyze_test_pulse(synthetic(20_000.0, s, rs=20.0), 20_000.0, s)
    assert good.series_resistance_mohm.valid
    assert good.series_resistance_mohm.value == pytest.approx(20.0, rel=0.05)


def test_a_step_shorter_than_tau_gives_no_valid_rin_or_tau() -> None:
    s = TestPulseSettings(amplitude_pa=-50.0, step_ms=10.0)
    r = analyze_test_pulse(synthetic(20_000.0, s, rs=15.0), 20_000.0, s)
    assert not r.rin_mohm.valid and "shorter than tau_m" in r.rin_mohm.note
    assert not r.tau_ms.valid


def test_a_flat_trace_does_not_crash_the_fit() -> None:
    s = TestPulseSettings()
    flat = np.full(round(s.sweep_ms * 20) + 1, -65.0)
    r = analyze_test_pulse(flat, 20_000.0, s)
    assert not r.rin_mohm.valid and not r.series_resistance_mohm.valid
    assert r.vm_mv.value == pytest.approx(-65.0)
    with pytest.raises(ValueError, match="too short"):
        analyze_test_pulse(flat[:100], 20_000.0, s)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"rate_hz": 20.0}, "10 pulses/s limit"),
        ({"rate_hz": 10.0, "step_ms": 80.0}, "does not fit in one period"),
        ({"amplitude_pa": 0.0}, "must be non-zero"),
        ({"step_ms": float("nan")}, "step_ms"),
    ],
)
def test_bad_settings_are_one_sentence(changes: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TestPulseSettings(**changes)
    assert MAX_TEST_PULSE_HZ == 10.0


def test_a_pulse_beyond_the_rigs_limit_is_refused_before_any_output() -> None:
    rig = WrappedRig()
    with pytest.raises(LimitError, match="max_command_pa = 600 pA") as info:
        TestPulse(rig, TestPulseSettings(amplitude_pa=-700.0))
    assert info.value.limit == "max_command_pa"
    assert rig.runs == 0


def test_paces_at_the_set_rate_on_an_injected_clock() -> None:
    now = [0.0]
    starts: list[float] = []

    def sleep(s: float) -> None:
        now[0] += s

    rig = SimRig(load_rig())
    tp = TestPulse(rig, TestPulseSettings(rate_hz=5.0), clock=lambda: now[0], sleep=sleep)
    tp.run(4, on_pulse=lambda r, _: starts.append(r.at_s))
    assert starts == pytest.approx([0.0, 0.2, 0.4, 0.6])


def test_start_streams_chunks_and_results_until_stopped() -> None:
    rig = SimRig(load_rig())
    tp = TestPulse(rig, sleep=no_wait)
    got: list[tuple[TestPulseResult, SweepResult]] = []
    chunks: list[int] = []
    three = threading.Event()

    def on_pulse(r: TestPulseResult, sweep: SweepResult) -> None:
        got.append((r, sweep))
        if len(got) == 3:
            three.set()

    tp.start(on_pulse, on_chunk=lambda c: chunks.append(c.stop))
    assert three.wait(10)
    with pytest.raises(RuntimeError, match="already running"):
        tp.start()
    tp.stop()
    assert not tp.running and tp.error is None
    assert len(got) >= 3 and [r.index for r, _ in got] == list(range(len(got)))
    assert got[0][1].vm_mv.size == round(TestPulseSettings().sweep_ms * 20) + 1
    assert chunks and rig.outputs_at_rest


def test_a_rig_failing_mid_sweep_leaves_outputs_at_rest() -> None:
    rig = FailingRig(fail_at=2)
    tp = TestPulse(rig, sleep=no_wait)
    tp.start()
    assert tp._thread is not None
    tp._thread.join(10)
    assert isinstance(tp.error, RigError) and "-200279" in str(tp.error)
    assert rig.inner.outputs_at_rest and rig.safe_calls >= 1
    assert tp.count == 1


def test_average_keeps_validity() -> None:
    s = TestPulseSettings(amplitude_pa=-10.0)
    bad = analyze_test_pulse(synthetic(20_000.0, s, rs=0.0, noise=0.15), 20_000.0, s)
    good = analyze_test_pulse(synthetic(20_000.0, s, rs=20.0, noise=0.02), 20_000.0, s)
    avg = average_pulses([bad, bad, good])
    assert not avg.series_resistance_mohm.valid and avg.rin_mohm.valid
    assert average_pulses([bad, good, good]).series_resistance_mohm.valid
    assert replace(avg, index=4).index == 4
    with pytest.raises(ValueError):
        average_pulses([])
