"""predict() and rate_map() on protocols, through the compiled events."""

from __future__ import annotations

import numpy as np
import pytest

from rigctl import protocol as proto
from rigctl.plasticity import KinaseParams, kinase_loop
from rigctl.plasticity.preview import TrainOptions, direction_of, predict, rate_map

CONDITIONS = [(25.0, 25.0), (25.0, 50.0), (50.0, 25.0), (50.0, 50.0)]


def test_prediction_carries_traces_and_comparators() -> None:
    pred = predict(proto.paper_condition(25, 50))
    tr = pred.traces
    assert tr.n_steps == 6200
    assert pred.readout_ms.tolist() == [200.0 + 600 * k + 200 for k in range(10)]
    assert f"{pred.first_window:+.4f}" == "+0.2144"
    assert f"{pred.weight_ratio:.4f}" == "1.4593"
    assert pred.direction == "LTP"
    assert pred.total_sd == 0.0 and pred.seed_totals.size == 1
    # Rate CHL with rates in kHz: 10 * (0.05 * 0.05 - 0.025 * 0.025).
    assert pred.chl == pytest.approx(10 * (0.05**2 - 0.025**2))
    # The traces are the model's state: CaP - CaD at the readouts is the per-window dWt.
    steps = pred.result.readout_steps
    np.testing.assert_allclose(tr.cap[steps] - tr.cad[steps], pred.per_window, rtol=1e-12)


def test_predict_matches_the_loop_on_a_generalised_protocol() -> None:
    exp = proto.load("protocols/ramp-10-25-50-jittered.json")
    pred = predict(exp)
    sweep = proto.compile_induction(exp.induction)
    ref = kinase_loop(
        sweep.pre_pulse_ms,
        sweep.post_target_ms,
        sweep.window_starts_ms,
        float(sweep.window_length or 0),
        end_ms=sweep.duration_ms,
    )
    assert pred.total == pytest.approx(ref.total, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("timing", ["regular", "jittered", "quasi_regular"])
def test_signs_for_every_train_option(timing: str) -> None:
    opts = TrainOptions(timing=timing, n_seeds=12, seed=3)  # type: ignore[arg-type]
    ltp = predict(proto.paper_condition(25, 50), trains=opts)
    ltd = predict(proto.paper_condition(50, 25), trains=opts)
    assert ltp.total > 0 > ltd.total
    assert ltp.direction == "LTP" and ltd.direction == "LTD"
    if timing != "regular":
        assert ltp.seed_totals.size == 12 and ltp.total_sd > 0
        assert ltp.total == pytest.approx(float(np.mean(ltp.seed_totals)))


def test_random_trains_are_seeded() -> None:
    opts = TrainOptions(timing="quasi_regular", n_seeds=4, seed=7)
    a = predict(proto.paper_condition(25, 50), trains=opts)
    b = predict(proto.paper_condition(25, 50), trains=opts)
    c = predict(
        proto.paper_condition(25, 50),
        trains=TrainOptions(timing="quasi_regular", n_seeds=4, seed=8),
    )
    assert a.seed_totals.tolist() == b.seed_totals.tolist() != c.seed_totals.tolist()


def test_hebbian_ranks_and_ties() -> None:
    heb = {c: predict(proto.paper_condition(*c)).hebbian for c in CONDITIONS}
    assert max(heb, key=lambda c: heb[c]) == (50.0, 50.0)
    assert heb[(25.0, 50.0)] == pytest.approx(heb[(50.0, 25.0)], rel=1e-12)


def test_onset_compensation_reduces_the_flat_bias() -> None:
    flat = proto.paper_condition(50, 50)
    assert predict(flat).total > 0.5  # the onset bias with 400 ms gaps
    compensated = predict(flat, KinaseParams(d_scale=1.05))
    assert f"{compensated.total:+.4f}" == "+0.1171"


def test_direction_threshold() -> None:
    assert direction_of(0.3) == "LTP"
    assert direction_of(-0.3) == "LTD"
    assert direction_of(0.1) == "no change"


def test_rate_map_cells_equal_single_predictions() -> None:
    exp = proto.load("protocols/ramp-10-25-50-jittered.json")
    minus = [5.0, 17.0, 33.3]
    plus = [8.0, 50.0]
    grid = rate_map(exp, minus, plus)
    assert grid.shape == (3, 2)
    for i, m in enumerate(minus):
        for j, p in enumerate(plus):
            phases = list(exp.induction.phases)
            for k, rate in ((0, m), (len(phases) - 1, p)):
                ph = phases[k]
                phases[k] = ph.replace(
                    pre=ph.pre.replace(rate_hz=rate, timing="regular", jitter_ms=0),
                    post=ph.post.replace(target_rate_hz=rate),
                )
            single = predict(exp.induction.replace(phases=tuple(phases)))
            assert grid[i, j] == pytest.approx(single.total, rel=1e-9, abs=1e-12)


def test_rate_map_of_the_paper_protocol() -> None:
    rates = np.arange(5.0, 51.0)
    grid = rate_map(proto.paper_condition(25, 50), rates, rates)
    assert grid.shape == (46, 46)
    i25, i50 = 20, 45
    assert grid[i25, i50] == pytest.approx(2.1444, abs=5e-5)
    assert grid[i50, i25] == pytest.approx(-1.2347, abs=5e-5)
    # Rising rates potentiate more than falling ones, across the map.
    upper = grid[np.triu_indices(46, k=5)].mean()
    lower = grid[np.tril_indices(46, k=-5)].mean()
    assert upper > 0 > lower


def test_rate_map_refuses_single_phase_and_bad_rates() -> None:
    one = proto.Induction(
        phases=(proto.paper_condition(25, 25).induction.phases[0],), window_ms=None
    )
    with pytest.raises(ValueError, match="two or more"):
        rate_map(one, [25.0], [50.0])
    with pytest.raises(ValueError, match="positive"):
        rate_map(proto.paper_condition(25, 50), [0.0], [50.0])


def test_train_options_validate() -> None:
    with pytest.raises(ValueError, match="n_seeds"):
        TrainOptions(n_seeds=0)
    with pytest.raises(ValueError, match="seed"):
        TrainOptions(seed=-1)
    with pytest.raises(ValueError, match="jitter_ms"):
        TrainOptions(jitter_ms=float("nan"))
