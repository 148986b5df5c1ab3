"""Spike-train generators: counts, phase locking, bounds, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rigctl import protocol as proto
from rigctl.plasticity import (
    jittered_train,
    quasi_regular_train,
    regular_spike_count,
    regular_train,
    spike_train,
)


def test_regular_trains_of_the_spec() -> None:
    assert regular_train(0.0, 100.0, 25.0).tolist() == [0.0, 40.0, 80.0]
    assert regular_train(100.0, 100.0, 50.0).tolist() == [100.0, 120.0, 140.0, 160.0, 180.0]
    assert regular_train(0.0, 100.0, 0.0).size == 0
    assert regular_train(0.0, 100.0, 30.0) == pytest.approx([0.0, 100 / 3, 200 / 3])
    assert regular_train(10.0, 100.0, 25.0, lag_ms=5.0).tolist() == [15.0, 55.0, 95.0]
    assert regular_train(0.0, 10.0, 25.0, lag_ms=10.0).size == 0


@settings(max_examples=50, deadline=None)
@given(
    st.floats(1.0, 1000.0),
    st.floats(0.5, 200.0),
    st.floats(0.0, 0.9),
)
def test_regular_counts_match_the_protocol(duration: float, rate: float, lag_frac: float) -> None:
    lag = lag_frac * duration
    phase = proto.Phase(
        name="p",
        duration_ms=duration,
        pre=proto.StimTrain(rate_hz=rate, pulse_width_us=1.0),
        post=proto.PostDrive(target_rate_hz=rate, lag_ms=lag),
    )
    assert regular_train(0.0, duration, rate).size == phase.pulse_count()
    assert regular_train(0.0, duration, rate, lag_ms=lag).size == phase.post_spike_count()
    assert regular_spike_count(duration - lag, rate) == phase.post_spike_count()


@settings(max_examples=50, deadline=None)
@given(
    st.floats(0.0, 1000.0),
    st.floats(5.0, 300.0),
    st.floats(1.0, 100.0),
    st.floats(0.0, 15.0),
    st.floats(0.0, 0.5),
    st.integers(0, 2**32 - 1),
)
def test_jittered_trains_stay_inside_the_phase(
    onset: float, duration: float, rate: float, jitter: float, lag_frac: float, seed: int
) -> None:
    lag = lag_frac * duration
    base = regular_train(onset, duration, rate, lag_ms=lag)
    train = jittered_train(onset, duration, rate, jitter, seed, lag_ms=lag)
    assert train.size == base.size
    assert np.all(np.diff(train) >= 0)
    if train.size:
        assert train[0] >= onset + lag
        assert train[-1] < onset + duration
        assert np.floor(train[-1] + 1e-9) < onset + duration  # rasterised inside too
    if jitter < 500.0 / rate:  # shifts cannot reorder the spikes
        assert np.all(np.abs(train - base) <= jitter + 1e-9)
    np.testing.assert_array_equal(
        train, jittered_train(onset, duration, rate, jitter, seed, lag_ms=lag)
    )


def test_jittered_trains_depend_on_the_seed_only() -> None:
    a = jittered_train(0.0, 1000.0, 40.0, 5.0, 1)
    b = jittered_train(0.0, 1000.0, 40.0, 5.0, np.random.default_rng(1))
    c = jittered_train(0.0, 1000.0, 40.0, 5.0, 2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(jittered_train(0.0, 100.0, 25.0, 0.0, 3), [0.0, 40.0, 80.0])


@settings(max_examples=50, deadline=None)
@given(
    st.floats(0.0, 1000.0).map(round),
    st.floats(5.0, 500.0).map(round),
    st.floats(1.0, 200.0),
    st.integers(0, 2**32 - 1),
)
def test_quasi_regular_trains(onset: float, duration: float, rate: float, seed: int) -> None:
    train = quasi_regular_train(onset, duration, rate, seed)
    assert train[0] == onset
    assert train[-1] < onset + duration
    isi = np.diff(train)
    assert np.all(isi >= 1.0)
    np.testing.assert_array_equal(isi, np.round(isi))
    np.testing.assert_array_equal(train, quasi_regular_train(onset, duration, rate, seed))


def test_quasi_regular_mean_interval() -> None:
    train = quasi_regular_train(0.0, 100_000.0, 50.0, 11)
    assert np.mean(np.diff(train)) == pytest.approx(1.0 + 1000.0 / 50.0, rel=0.02)
    assert quasi_regular_train(0.0, 100.0, 0.0, 1).size == 0
    assert quasi_regular_train(5.0, 100.0, 1e-6, 1).tolist() == [5.0]
    assert quasi_regular_train(0.0, 100.0, 25.0, 1, lag_ms=30.0)[0] == 30.0


def test_spike_train_dispatch_and_errors() -> None:
    np.testing.assert_array_equal(
        spike_train("regular", 0.0, 100.0, 25.0), regular_train(0.0, 100.0, 25.0)
    )
    np.testing.assert_array_equal(
        spike_train("jittered", 0.0, 100.0, 25.0, rng=4, jitter_ms=3.0),
        jittered_train(0.0, 100.0, 25.0, 3.0, 4),
    )
    np.testing.assert_array_equal(
        spike_train("quasi_regular", 0.0, 100.0, 25.0, rng=4),
        quasi_regular_train(0.0, 100.0, 25.0, 4),
    )
    with pytest.raises(ValueError, match="seed"):
        spike_train("jittered", 0.0, 100.0, 25.0)
    with pytest.raises(ValueError, match="unknown"):
        spike_train("poisson", 0.0, 100.0, 25.0, rng=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rate_hz"):
        regular_train(0.0, 100.0, -1.0)
    with pytest.raises(ValueError, match="rate_hz"):
        quasi_regular_train(0.0, 100.0, float("nan"), 1)
    with pytest.raises(ValueError, match="duration_ms"):
        regular_train(0.0, -1.0, 25.0)
    with pytest.raises(ValueError, match="lag_ms"):
        regular_train(0.0, 100.0, 25.0, lag_ms=-1.0)
    with pytest.raises(ValueError, match="jitter_ms"):
        jittered_train(0.0, 100.0, 25.0, -1.0, 1)
    with pytest.raises(ValueError, match="onset_ms"):
        regular_train(float("inf"), 100.0, 25.0)


# --------------------------------------------------------------------------- many seeds


@settings(max_examples=80, deadline=None)
@given(
    timing=st.sampled_from(["jittered", "quasi_regular"]),
    n_onsets=st.integers(0, 12),
    duration=st.floats(0.0, 300.0),
    rate=st.floats(0.0, 120.0),
    jitter=st.floats(0.0, 40.0),
    lag=st.floats(0.0, 50.0),
    seeds=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=6),
)
def test_random_trains_are_the_trains_of_each_generator(
    timing: str,
    n_onsets: int,
    duration: float,
    rate: float,
    jitter: float,
    lag: float,
    seeds: list[int],
) -> None:
    # Drawn for all generators at once, or one call per generator: the same spikes, and
    # every generator left in the same state (two rounds in a row).
    from rigctl.plasticity import random_trains, spike_trains

    onsets = np.arange(n_onsets) * (duration + 100.0) + 7.5
    together = [np.random.default_rng(s) for s in seeds]
    apart = [np.random.default_rng(s) for s in seeds]
    for _ in range(2):
        many = random_trains(timing, onsets, duration, rate, together, jitter, lag)  # type: ignore[arg-type]
        one = [
            spike_trains(timing, onsets, duration, rate, rng=g, jitter_ms=jitter, lag_ms=lag)  # type: ignore[arg-type]
            for g in apart
        ]
        assert len(many) == len(one)
        for a, b in zip(many, one, strict=True):
            np.testing.assert_array_equal(a, b)


class _ShortFirst:
    """A generator whose first Poisson draw is all zeros: its phases fall short at once."""

    def __init__(self, seed: int) -> None:
        self._gen = np.random.default_rng(seed)
        self._first = True

    def poisson(self, lam: float, size: tuple[int, int]) -> np.ndarray:
        draw = self._gen.poisson(lam, size)
        if self._first:
            self._first = False
            return np.zeros_like(draw)
        return draw


def test_a_generator_that_draws_more_is_handled_apart() -> None:
    # When one generator has to draw more intervals than the others, the draws differ in
    # length and each generator's trains are computed on their own: still the same spikes
    # as drawing from that generator alone.
    from rigctl.plasticity.trains import _quasi_regular

    onsets = np.array([0.0, 900.0])
    args = (onsets, 800.0, 40.0)
    mixed = _quasi_regular(*args, [_ShortFirst(1), np.random.default_rng(2)], 0.0)  # type: ignore[list-item]
    alone = [
        _quasi_regular(*args, [_ShortFirst(1)], 0.0)[0],  # type: ignore[list-item]
        _quasi_regular(*args, [np.random.default_rng(2)], 0.0)[0],
    ]
    for a, b in zip(mixed, alone, strict=True):
        np.testing.assert_array_equal(a, b)
    assert mixed[0].size > 0 and mixed[0].max() < 800.0 + 900.0


def test_random_trains_of_many_long_phases_are_drawn_a_generator_at_a_time() -> None:
    # Beyond a million values the seeds are computed one after another (bounded memory):
    # the same spikes as one call per generator.
    from rigctl.plasticity import random_trains, spike_trains

    onsets = np.arange(300) * 10_000.0
    for timing in ("jittered", "quasi_regular"):
        gens = [np.random.default_rng(s) for s in range(3)]
        many = random_trains(timing, onsets, 9_000.0, 500.0, gens, 0.5)
        one = [spike_trains(timing, onsets, 9_000.0, 500.0, rng=s, jitter_ms=0.5) for s in range(3)]
        for a, b in zip(many, one, strict=True):
            np.testing.assert_array_equal(a, b)
    assert random_trains("jittered", onsets, 9_000.0, 500.0, []) == []


def test_random_trains_refuses_a_regular_kind() -> None:
    from rigctl.plasticity import random_trains

    with pytest.raises(ValueError, match="not a random train kind"):
        random_trains("regular", [0.0], 100.0, 25.0, [np.random.default_rng(0)])
