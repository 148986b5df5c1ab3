"""Signs of the kinase rule, the Hebbian and rate-CHL comparators, the weight mapping."""

from __future__ import annotations

import numpy as np
import pytest

from rigctl.plasticity import (
    TrainTiming,
    kinase_dwt,
    rate_chl_target,
    sigmoid_weight,
    weight_from_dwt,
)
from tests.plasticity._helpers import CONDITIONS, END_MS, WINDOW_STARTS_MS, paper_train


def mean_total(minus_hz: float, plus_hz: float, timing: TrainTiming, seeds: int = 12) -> float:
    rng = np.random.default_rng(2026)
    totals = []
    for _ in range(seeds):
        pre = paper_train(minus_hz, plus_hz, timing=timing, rng=rng)
        post = paper_train(minus_hz, plus_hz, timing=timing, rng=rng)  # drawn independently
        totals.append(kinase_dwt(pre, post, WINDOW_STARTS_MS).total)
    return float(np.mean(totals))


@pytest.mark.parametrize("timing", ["regular", "jittered", "quasi_regular"])
def test_increasing_rate_potentiates_and_decreasing_depresses(timing: TrainTiming) -> None:
    seeds = 1 if timing == "regular" else 12
    assert mean_total(25.0, 50.0, timing, seeds) > 1.0
    assert mean_total(50.0, 25.0, timing, seeds) < -1.0


def test_hebbian_cannot_tell_the_order_and_ranks_fast_fast_highest() -> None:
    hebb = {}
    for condition in CONDITIONS:
        spikes = paper_train(*condition)
        hebb[condition] = kinase_dwt(spikes, spikes, WINDOW_STARTS_MS, end_ms=END_MS).hebbian
    assert hebb[25.0, 50.0] == pytest.approx(hebb[50.0, 25.0], rel=1e-12)
    assert max(hebb, key=hebb.__getitem__) == (50.0, 50.0)
    assert hebb[25.0, 25.0] < hebb[25.0, 50.0] < hebb[50.0, 50.0]


def test_rate_chl_target() -> None:
    assert rate_chl_target(10, 25.0, 50.0) == pytest.approx(10 * (0.05**2 - 0.025**2))
    assert rate_chl_target(10, 50.0, 25.0) == pytest.approx(-rate_chl_target(10, 25.0, 50.0))
    assert rate_chl_target(10, 25.0, 25.0) == 0.0
    assert rate_chl_target(10, 50.0, 50.0) == 0.0
    assert rate_chl_target(2, 10.0, 20.0, post_minus_hz=30.0, post_plus_hz=40.0) == pytest.approx(
        2 * (0.02 * 0.04 - 0.01 * 0.03)
    )
    with pytest.raises(ValueError, match="rates"):
        rate_chl_target(10, -25.0, 50.0)
    with pytest.raises(ValueError, match="n_windows"):
        rate_chl_target(-1, 25.0, 50.0)


def test_weight_mapping() -> None:
    assert weight_from_dwt([]) == 1.0
    assert sigmoid_weight(0.5) == 1.0
    assert sigmoid_weight(0.0) == 0.0
    assert sigmoid_weight(1.0) == 2.0
    assert weight_from_dwt([0.1] * 10) > 1.0 > weight_from_dwt([-0.1] * 10)
    # soft bounds and clipping keep the linear weight in [0, 1]
    assert 1.0 < weight_from_dwt([1e3]) <= 2.0
    assert 0.0 <= weight_from_dwt([-1e3]) < 1.0
    assert weight_from_dwt([0.2], lrate=0.08) > weight_from_dwt([0.2], lrate=0.04)
    # soft bound: one step of +d from 0.5 moves LWt by d * 0.5
    lwt = 0.5 + 0.04 * 1.0 * 0.5
    assert weight_from_dwt([1.0]) == pytest.approx(2 / (1 + ((1 - lwt) / lwt) ** 6))
    with pytest.raises(ValueError, match="lrate"):
        weight_from_dwt([0.1], lrate=0.0)
    with pytest.raises(ValueError, match="per_window"):
        weight_from_dwt([float("nan")])
    with pytest.raises(ValueError, match="lwt"):
        sigmoid_weight(1.5)
