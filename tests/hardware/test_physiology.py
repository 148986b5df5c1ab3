"""The simulated rig behaves like a CA1 neuron with a plastic synapse."""

from __future__ import annotations

import numpy as np
import pytest

from rigctl import protocol as proto
from rigctl.engine.current_calibration import (
    calibrate_experiment,
    currents_for_rates,
    detect_spikes,
    fi_curve,
    phase_rates,
)
from rigctl.hardware import SimRig, load_rig
from rigctl.hardware.sim import CellParams, simulate_cell

FS = 20_000.0


def probe_epsp(rig: SimRig, at_s: float | None = None) -> tuple[float, float, float]:
    """EPSP amplitude, resting Vm and input resistance from one probe sweep."""
    exp = proto.paper_condition(25, 50)
    res = rig.run(rig.prepare(proto.compile_probe(exp.probes), "probe"), at_s=at_s)
    v = res.vm_mv
    ms = int(FS / 1000)
    base = float(v[550 * ms : 600 * ms].mean())
    peak = float(v[602 * ms : 650 * ms].max())
    rest = float(v[20 * ms : 100 * ms].mean())
    step = float(v[250 * ms : 300 * ms].mean())
    return peak - base, rest, (step - rest) / -10.0 * 1000.0


@pytest.fixture
def rig() -> SimRig:
    return SimRig(load_rig(), seed=11)


def test_passive_properties_and_epsps(rig: SimRig) -> None:
    samples = [probe_epsp(rig) for _ in range(30)]
    amps = np.array([s[0] for s in samples])
    assert 4.0 < amps.mean() < 6.0  # ~5 mV EPSPs
    assert amps.std() > 0.3  # trial-to-trial variability
    rest = np.mean([s[1] for s in samples])
    assert -67.0 < rest < -63.0
    rin = np.mean([s[2] for s in samples])
    assert 100.0 < rin < 200.0


def test_membrane_time_constant_and_spike_shape() -> None:
    p = CellParams(noise_mv=0.0, drift_mv=0.0)
    n = int(0.5 * FS)
    cmd = np.zeros(n)
    cmd[int(0.1 * FS) : int(0.4 * FS)] = -20.0
    v = simulate_cell(cmd, np.zeros(n, np.uint8), FS, p).vm_mv
    start = int(0.1 * FS)
    final = v[int(0.39 * FS)]
    target = v[start - 1] + (final - v[start - 1]) * (1 - np.exp(-1))
    tau_ms = float(np.argmax(v[start:] <= target)) / FS * 1000
    assert 20.0 <= tau_ms <= 30.0
    cmd[:] = 0
    cmd[int(0.1 * FS) : int(0.2 * FS)] = 250.0
    out = simulate_cell(cmd, np.zeros(n, np.uint8), FS, p)
    s = int(out.spike_index[1])
    wave = out.vm_mv[s - 40 : s + 80]
    assert wave.max() > 20.0  # overshoot
    above = np.flatnonzero(wave > (wave.max() + p.threshold_mv) / 2)
    half_width_ms = (above[-1] - above[0] + 1) / FS * 1000
    assert 0.3 <= half_width_ms <= 2.0


def test_fi_curve_saturates_near_55_hz_with_dropout(rig: SimRig) -> None:
    fi = fi_curve(rig, [float(c) for c in range(100, 601, 50)], windows=2)
    rates = np.array(fi.rates_hz)
    assert rates[0] == 0.0  # below rheobase
    peak = int(np.argmax(rates))
    assert np.all(np.diff(rates[: peak + 1]) >= 0)  # rises with current...
    assert 50.0 <= rates.max() <= 62.0  # ...saturates near 55 Hz...
    assert rates[-1] < 0.7 * rates.max()  # ...and spikes drop out above


def test_calibration_finds_25_and_50_hz(rig: SimRig) -> None:
    _, found = currents_for_rates(rig, (25.0, 50.0))
    for r in found:
        assert r.current_pa is not None and 100.0 <= r.current_pa <= 350.0
        assert abs(r.achieved_hz - r.target_hz) <= 0.1 * r.target_hz


@pytest.mark.parametrize("key", sorted(proto.PAPER_CONDITIONS))
def test_calibrated_induction_fires_at_the_target_rates(key: str) -> None:
    rig = SimRig(load_rig(), seed=5)
    exp = proto.load(f"protocols/theta-{key}.json")
    cal = calibrate_experiment(rig, exp)
    # Calibration runs the protocol's current pattern with the stimulation off (it must
    # not induce plasticity): there every phase fires the count its target implies.
    assert cal.ok and [r.phase for r in cal.rates] == ["prediction", "outcome"]
    for r in cal.rates:
        assert r.window_counts == (r.expected_per_window,) * r.n_windows, r.line()
    # With the stimulation on, the EPSPs add depolarization. Calibration aims just inside
    # the right count (FILL_AIM), so the real induction still fires it in every window
    # (aimed mid-range, the 25 Hz outcome after 50 Hz fired 4 of 3 in every window).
    sweep = proto.compile_induction(cal.experiment.induction)
    res = rig.run(rig.prepare(sweep, "induction"))
    rates = phase_rates(res.vm_mv, res.sample_rate_hz, sweep)
    assert [r.phase for r in rates] == ["prediction", "outcome"]
    for r in rates:
        assert r.windows_missed == 0 and r.ok, r.line()


@pytest.mark.parametrize(("minus", "plus", "direction"), [(25, 50, 1), (50, 25, -1)])
def test_induction_changes_later_probe_epsps(minus: float, plus: float, direction: int) -> None:
    rig = SimRig(load_rig(), seed=21)
    baseline = [probe_epsp(rig, at_s=20.0 * i)[0] for i in range(12)]
    exp = proto.paper_condition(minus, plus)
    res = rig.run(rig.prepare(proto.compile_induction(exp.induction), "induction"), at_s=240.0)
    assert res.extra["sim_dwt_total"] * direction > 0
    later = [probe_epsp(rig, at_s=240.0 + 300.0 + 20.0 * i)[0] for i in range(12)]
    ratio = np.mean(later) / np.mean(baseline)
    if direction > 0:
        assert ratio > 1.15
    else:
        assert ratio < 0.87


def test_expression_takes_time(rig: SimRig) -> None:
    exp = proto.paper_condition(25, 50)
    rig.run(rig.prepare(proto.compile_induction(exp.induction), "induction"), at_s=0.0)
    w_soon = rig.cell.weight_at(7.0)
    w_late = rig.cell.weight_at(600.0)
    assert 1.0 < w_soon < w_late
    assert w_late == pytest.approx(rig.cell.target_weight)


def test_seeded_and_deterministic() -> None:
    exp = proto.paper_condition(50, 25)
    sweep = proto.compile_induction(exp.induction)
    a = SimRig(load_rig(), seed=3)
    b = SimRig(load_rig(), seed=3)
    c = SimRig(load_rig(), seed=4)
    va, vb, vc = (r.run(r.prepare(sweep, "induction")).vm_mv for r in (a, b, c))
    np.testing.assert_array_equal(va, vb)
    assert not np.array_equal(va, vc)


def test_cell_state_carries_across_rigs() -> None:
    a = SimRig(load_rig(), seed=8)
    exp = proto.paper_condition(25, 50)
    a.run(a.prepare(proto.compile_induction(exp.induction), "induction"), at_s=0.0)
    b = SimRig(load_rig(), seed=8)
    b.cell.restore(a.cell.state())
    assert b.cell.weight_at(500.0) == a.cell.weight_at(500.0) > 1.1
    with pytest.raises(ValueError, match="seed"):
        SimRig(load_rig(), seed=9).cell.restore(a.cell.state())


def test_paced_delivery_follows_the_clock() -> None:
    now = [100.0]
    sleeps: list[float] = []

    def clock() -> float:
        return now[0]

    def sleep(s: float) -> None:
        sleeps.append(s)
        now[0] += s

    rig = SimRig(load_rig(), paced=True, clock=clock, sleep=sleep)
    arrivals: list[float] = []
    exp = proto.paper_condition(25, 25)
    res = rig.run(
        rig.prepare(proto.compile_probe(exp.probes), "probe"),
        on_chunk=lambda c: arrivals.append(now[0] - 100.0),
    )
    assert res.complete
    # One chunk every 50 ms of sweep time, delivered when its last sample is due.
    expected = [min(1.00005, 0.05 * (k + 1)) for k in range(len(arrivals))]
    assert arrivals == pytest.approx(expected, abs=1e-9)
    assert rig.outputs_at_rest


def test_detect_spikes_on_a_synthetic_trace() -> None:
    v = np.full(1000, -65.0)
    for i in (100, 112, 400, 700):  # 112 is 0.6 ms after 100: inside the 1 ms dead time
        v[i : i + 5] = 20.0
    assert detect_spikes(v, FS).tolist() == [100, 400, 700]


def test_an_aborted_induction_learns_only_from_the_windows_delivered() -> None:
    exp = proto.paper_condition(25, 50)
    sweep = proto.compile_induction(exp.induction)
    full = SimRig(load_rig(), seed=12)
    whole = full.run(full.prepare(sweep, "induction")).extra
    cut = SimRig(load_rig(), seed=12)
    prepared = cut.prepare(sweep, "induction")

    def abort_after_a_second(chunk: object) -> None:
        if getattr(chunk, "stop", 0) >= 20_000:  # 1 s: the first window (0.2-0.4 s) is done
            cut.abort()

    res = cut.run(prepared, abort_after_a_second)
    assert not res.complete
    part = res.extra
    assert len(part["sim_dwt_per_window"]) == 2  # windows ending before the cut
    assert 1.0 < part["sim_weight_ratio"] < whole["sim_weight_ratio"]
    assert cut.outputs_at_rest
