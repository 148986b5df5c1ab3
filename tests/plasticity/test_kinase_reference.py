"""The reference values of the kinase-model spec, to the printed digits."""

from __future__ import annotations

import numpy as np
import pytest

from rigctl import protocol as proto
from rigctl.plasticity import KinaseParams, kinase_dwt, kinase_loop, predict
from tests.plasticity._helpers import END_MS, WINDOW_MS, WINDOW_STARTS_MS, paper_train

# condition -> (total dWt, first-window dWt, ∫ca dt, Wt after mapping, total dWt @ DScale 1.05)
REFERENCE = {
    (25.0, 25.0): ("+0.1726", "+0.0173", "877.07", "1.0413", "-0.0445"),
    (25.0, 50.0): ("+2.1444", "+0.2144", "1567.63", "1.4593", "+1.6865"),
    (50.0, 25.0): ("-1.2347", "-0.1235", "1567.63", "0.7178", "-1.5761"),
    (50.0, 50.0): ("+0.7132", "+0.0713", "2294.10", "1.1674", "+0.1171"),
}


@pytest.mark.parametrize("condition", list(REFERENCE))
def test_reference_table(condition: tuple[float, float]) -> None:
    spikes = paper_train(*condition)
    res = kinase_dwt(spikes, spikes, WINDOW_STARTS_MS, WINDOW_MS, end_ms=END_MS)
    compensated = kinase_dwt(
        spikes, spikes, WINDOW_STARTS_MS, WINDOW_MS, KinaseParams(d_scale=1.05), END_MS
    )
    got = (
        f"{res.total:+.4f}",
        f"{res.per_window[0]:+.4f}",
        f"{res.hebbian:.2f}",
        f"{res.weight(0.04):.4f}",
        f"{compensated.total:+.4f}",
    )
    assert got == REFERENCE[condition]


@pytest.mark.parametrize("condition", list(REFERENCE))
def test_reference_table_with_the_loop(condition: tuple[float, float]) -> None:
    spikes = paper_train(*condition)
    res = kinase_loop(spikes, spikes, WINDOW_STARTS_MS, WINDOW_MS, end_ms=END_MS)
    expected = REFERENCE[condition]
    assert (f"{res.total:+.4f}", f"{res.hebbian:.2f}", f"{res.weight():.4f}") == (
        expected[0],
        expected[2],
        expected[3],
    )


@pytest.mark.parametrize("condition", list(REFERENCE))
def test_predict_uses_the_compiled_protocol(condition: tuple[float, float]) -> None:
    # The paper's protocol files add a 200 ms lead-in; the state is at rest until then.
    experiment = proto.paper_condition(*condition)
    res = predict(experiment)
    assert f"{res.total:+.4f}" == REFERENCE[condition][0]
    assert f"{res.hebbian:.2f}" == REFERENCE[condition][2]
    assert res.n_windows == 10
    sweep = proto.compile_induction(experiment.induction)
    again = predict(sweep)
    np.testing.assert_array_equal(again.per_window, res.per_window)
    assert predict(experiment.induction).total == res.total


def test_predict_refuses_a_probe_sweep() -> None:
    probe = proto.compile_probe(proto.paper_condition(25, 50).probes)
    with pytest.raises(ValueError, match="induction"):
        predict(probe)


def test_readouts_do_not_depend_on_the_simulated_end() -> None:
    spikes = paper_train(25.0, 50.0)
    short = kinase_dwt(spikes, spikes, WINDOW_STARTS_MS)
    long = kinase_dwt(spikes, spikes, WINDOW_STARTS_MS, end_ms=END_MS)
    assert short.n_steps == 5600
    assert long.n_steps == 6000
    np.testing.assert_array_equal(short.per_window, long.per_window)
    assert short.hebbian < long.hebbian  # the tail of the last gap adds coincidence


def test_cap_minus_cad_integrates_to_zero() -> None:
    # Every stage preserves area, so the sign can only come from when dWt is read.
    spikes = paper_train(25.0, 50.0)
    res = kinase_dwt(spikes, spikes, WINDOW_STARTS_MS, end_ms=60_000, return_traces=True)
    assert res.traces is not None
    assert abs(float(np.sum(res.traces.dwt))) < 1e-6 * float(np.sum(res.traces.cap))


def test_flat_conditions_are_biased_with_gaps_and_settle_back_to_back() -> None:
    totals = {}
    for condition in [(25.0, 50.0), (50.0, 50.0)]:
        spikes = paper_train(*condition)
        totals[condition] = kinase_dwt(spikes, spikes, WINDOW_STARTS_MS).total
    # Each window starts from rest after a gap, so the flat 50->50 keeps ~1/3 of the LTP.
    assert 0.3 < totals[50.0, 50.0] / totals[25.0, 50.0] < 0.4

    starts = np.arange(10) * WINDOW_MS  # no gaps, Axon's own regime
    late = {}
    for condition in [(25.0, 25.0), (25.0, 50.0), (50.0, 25.0), (50.0, 50.0)]:
        spikes = paper_train(*condition, window_starts_ms=starts)
        late[condition] = kinase_dwt(spikes, spikes, starts).per_window[-1]
    contrast = min(late[25.0, 50.0], -late[50.0, 25.0])
    assert contrast > 0
    assert abs(late[25.0, 25.0]) < 0.25 * contrast
    assert abs(late[50.0, 50.0]) < 0.25 * contrast
