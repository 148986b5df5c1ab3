from __future__ import annotations

import pytest
from pydantic import ValidationError

from rigctl import protocol as proto


def test_defaults_reproduce_the_paper() -> None:
    ind = proto.Induction()
    assert [p.name for p in ind.phases] == ["prediction", "outcome"]
    assert [p.duration_ms for p in ind.phases] == [100.0, 100.0]
    assert ind.effective_window_ms == 200.0
    assert ind.repeats == 10
    assert ind.gap_ms == 400.0
    pr = proto.ProbeSchedule()
    assert 15 <= pr.interval_s <= 30
    assert 5 <= pr.baseline_min <= 6
    assert 40 <= pr.followup_min <= 45
    assert -10 <= pr.test_step.amplitude_pa <= -5


@pytest.mark.parametrize(("minus", "plus"), list(proto.PAPER_CONDITIONS.values()))
def test_paper_conditions(minus: float, plus: float) -> None:
    exp = proto.paper_condition(minus, plus)
    pred, out = exp.induction.phases
    assert (pred.pre.rate_hz, pred.post.target_rate_hz) == (minus, minus)
    assert (out.pre.rate_hz, out.post.target_rate_hz) == (plus, plus)
    # 25 Hz in 100 ms: pulses at 0, 40, 80 ms; 50 Hz: 0, 20, ..., 80 ms.
    assert pred.pulse_count() == {25.0: 3, 50.0: 5}[minus]
    assert out.pulse_count() == {25.0: 3, 50.0: 5}[plus]


def test_models_are_frozen_and_strict() -> None:
    train = proto.StimTrain(rate_hz=25)
    with pytest.raises(ValidationError):
        train.rate_hz = 50  # type: ignore[misc]
    with pytest.raises(ValidationError, match="rat_hz"):
        proto.StimTrain.model_validate({"rate_hz": 25, "rat_hz": 3})


def test_generalisations_are_allowed() -> None:
    phases = tuple(
        proto.Phase(
            name=f"p{i}",
            duration_ms=d,
            pre=proto.StimTrain(rate_hz=r, timing="jittered", jitter_ms=2, seed=i),
            post=proto.PostDrive(target_rate_hz=q, current_pa=100 + 10 * i, lag_ms=3),
        )
        for i, (d, r, q) in enumerate([(70, 10, 20), (130, 33, 17), (55.5, 41, 0.5)])
    )
    ind = proto.Induction(phases=phases, window_ms=None, repeats=3, gap_ms=0, lead_in_ms=0)
    assert ind.effective_window_ms == pytest.approx(255.5)
    assert ind.duration_ms == pytest.approx(3 * 255.5)


def test_replace_validates() -> None:
    ind = proto.Induction()
    assert ind.replace(repeats=3).repeats == 3
    with pytest.raises(ValidationError):
        ind.replace(repeats=0)


def test_counts_for_rates_that_do_not_divide() -> None:
    # 30 Hz in 100 ms: 0, 33.3, 66.7 ms (the pulse at 100 ms belongs to the next phase).
    ph = proto.Phase(
        name="x",
        duration_ms=100,
        pre=proto.StimTrain(rate_hz=30),
        post=proto.PostDrive(target_rate_hz=0),
    )
    assert ph.pulse_count() == 3
    ph = ph.replace(pre=proto.StimTrain(rate_hz=7, onset_ms=1.5))
    assert ph.pulse_count() == 1


def test_probe_counts() -> None:
    pr = proto.ProbeSchedule(interval_s=20, baseline_min=5, followup_min=45)
    assert pr.baseline_count == 15
    assert pr.followup_count == 135
