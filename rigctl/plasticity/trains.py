"""Spike-train generators for the plasticity preview.

Every generator describes the spikes of one neuron in one phase that starts at
``onset_ms`` and lasts ``duration_ms``; spikes start ``lag_ms`` after the onset (the
postsynaptic drive's lag, 0 by default) and stay inside ``[onset + lag, onset + duration)``.
They return sorted ``float64`` arrays of spike times (ms). Random trains take either a seed
or a :class:`numpy.random.Generator`, so a preview is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "SeedLike",
    "TrainTiming",
    "jittered_train",
    "jittered_trains",
    "quasi_regular_train",
    "quasi_regular_trains",
    "random_trains",
    "regular_spike_count",
    "regular_train",
    "spike_train",
    "spike_trains",
]

SeedLike = int | np.random.Generator
"""A seed for :func:`numpy.random.default_rng`, or a generator to draw from."""

TrainTiming = Literal["regular", "jittered", "quasi_regular"]
"""Kinds of spike train :func:`spike_train` can make."""

_COUNT_TOLERANCE: Final = 1e-9
_EDGE_MS: Final = 1e-6  # jittered spikes stay this far before the phase end
_BATCH_VALUES: Final = 1_000_000  # larger draws are computed one generator at a time


def _span(onset_ms: float, duration_ms: float, lag_ms: float) -> tuple[float, float]:
    if not math.isfinite(onset_ms):
        raise ValueError(f"onset_ms: {onset_ms!r} is not a finite time in ms")
    if not (math.isfinite(duration_ms) and duration_ms >= 0):
        raise ValueError(f"duration_ms: {duration_ms!r}; a phase lasts a finite time >= 0 ms")
    if not (math.isfinite(lag_ms) and lag_ms >= 0):
        raise ValueError(f"lag_ms: {lag_ms!r}; the first spike cannot come before the onset")
    return onset_ms + lag_ms, duration_ms - lag_ms


def _onsets(onsets_ms: npt.ArrayLike) -> npt.NDArray[np.float64]:
    onsets = np.asarray(onsets_ms, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(onsets)):
        raise ValueError("onsets_ms: phase onsets must be finite times in ms")
    return onsets


def _check_rate(rate_hz: float) -> None:
    if not (math.isfinite(rate_hz) and rate_hz >= 0):
        raise ValueError(f"rate_hz: {rate_hz!r}; a firing rate is a finite number >= 0 Hz")


def _empty() -> npt.NDArray[np.float64]:
    return np.zeros(0, dtype=np.float64)


def regular_spike_count(span_ms: float, rate_hz: float) -> int:
    """Number of spikes of a regular train in ``span_ms``: ``ceil(span * rate / 1000 - 1e-9)``.

    Parameters
    ----------
    span_ms : float
        Time from the first spike to the end of the phase (ms).
    rate_hz : float
        Firing rate (Hz).

    Returns
    -------
    int
        The count, 0 for a zero rate or an empty span.
    """
    _check_rate(rate_hz)
    if rate_hz == 0 or span_ms <= 0:
        return 0
    return max(0, math.ceil(span_ms * rate_hz / 1000.0 - _COUNT_TOLERANCE))


def regular_train(
    onset_ms: float, duration_ms: float, rate_hz: float, *, lag_ms: float = 0.0
) -> npt.NDArray[np.float64]:
    """Phase-locked regular train: a spike at the (lagged) onset, then one every period.

    Spike ``k`` is at ``onset + lag + k * 1000 / rate`` for ``k`` below
    :func:`regular_spike_count` of the span ``duration - lag``. For example, a 100 ms phase
    at 25 Hz starting at 0 ms has spikes at 0, 40 and 80 ms; a spike at the end of the
    phase belongs to the next one.

    Parameters
    ----------
    onset_ms : float
        Phase onset (ms).
    duration_ms : float
        Phase length (ms).
    rate_hz : float
        Firing rate (Hz); 0 gives no spikes.
    lag_ms : float
        Delay of the first spike after the onset (ms).

    Returns
    -------
    numpy.ndarray
        Sorted spike times (ms).
    """
    start, span = _span(onset_ms, duration_ms, lag_ms)
    count = regular_spike_count(span, rate_hz)
    if count == 0:
        return _empty()
    return start + np.arange(count, dtype=np.float64) * (1000.0 / rate_hz)


def jittered_train(
    onset_ms: float,
    duration_ms: float,
    rate_hz: float,
    jitter_ms: float,
    rng: SeedLike,
    *,
    lag_ms: float = 0.0,
) -> npt.NDArray[np.float64]:
    """Regular train with every spike moved by a uniform random shift of at most ``jitter_ms``.

    A spike near an edge of the phase draws its shift uniformly from the part of
    ``[-jitter, +jitter]`` that keeps it inside ``[onset + lag, onset + duration)`` (and at
    least 1 ns before the end, so that it is rasterised inside the phase). Spikes may swap
    order when the jitter exceeds half the period; the result is sorted.

    Parameters
    ----------
    onset_ms, duration_ms, rate_hz : float
        As :func:`regular_train`.
    jitter_ms : float
        Largest shift (ms), >= 0.
    rng : int or numpy.random.Generator
        Seed or generator.
    lag_ms : float
        Delay of the train after the onset (ms).

    Returns
    -------
    numpy.ndarray
        Sorted spike times (ms).
    """
    return jittered_trains(
        np.array([onset_ms]), duration_ms, rate_hz, jitter_ms, rng, lag_ms=lag_ms
    )


def jittered_trains(
    onsets_ms: npt.ArrayLike,
    duration_ms: float,
    rate_hz: float,
    jitter_ms: float,
    rng: SeedLike,
    *,
    lag_ms: float = 0.0,
) -> npt.NDArray[np.float64]:
    """:func:`jittered_train` in many phases of the same length at once, one after another.

    The random draws are those of :func:`jittered_train` called for each onset in turn with
    the same generator, so one onset gives exactly :func:`jittered_train`'s spikes.

    Parameters
    ----------
    onsets_ms : array_like
        Increasing phase onsets (ms).
    duration_ms, rate_hz, jitter_ms, rng, lag_ms
        As :func:`jittered_train`.

    Returns
    -------
    numpy.ndarray
        The spikes of all phases, sorted within each phase, phases in the given order.
    """
    gen = np.random.default_rng(rng)
    return _jittered(onsets_ms, duration_ms, rate_hz, jitter_ms, [gen], lag_ms)[0]


def _jittered(
    onsets_ms: npt.ArrayLike,
    duration_ms: float,
    rate_hz: float,
    jitter_ms: float,
    gens: Sequence[np.random.Generator],
    lag_ms: float,
) -> list[npt.NDArray[np.float64]]:
    """:func:`jittered_trains` drawn from each generator in turn, computed in one pass."""
    if not (math.isfinite(jitter_ms) and jitter_ms >= 0):
        raise ValueError(f"jitter_ms: {jitter_ms!r}; the jitter is a finite shift >= 0 ms")
    onsets = _onsets(onsets_ms)
    _, span = _span(0.0, duration_ms, lag_ms)
    count = regular_spike_count(span, rate_hz)
    if len(gens) > 1 and len(gens) * onsets.size * count > _BATCH_VALUES:  # bound the memory
        return [_jittered(onsets, duration_ms, rate_hz, jitter_ms, [g], lag_ms)[0] for g in gens]
    draws = np.stack([gen.random((onsets.size, count)) for gen in gens])
    if count == 0 or onsets.size == 0:
        return [_empty() for _ in gens]
    start = (onsets + lag_ms)[:, None]
    end = (onsets + duration_ms - _EDGE_MS)[:, None]
    spikes = start + (np.arange(count, dtype=np.float64) * (1000.0 / rate_hz))[None, :]
    low = np.maximum(-jitter_ms, start - spikes)
    high = np.maximum(np.minimum(jitter_ms, end - spikes), low)
    times = np.clip(spikes + low + draws * (high - low), start, np.maximum(start, end))
    return [row.ravel() for row in np.sort(times, axis=-1)]


def quasi_regular_train(
    onset_ms: float,
    duration_ms: float,
    rate_hz: float,
    rng: SeedLike,
    *,
    lag_ms: float = 0.0,
) -> npt.NDArray[np.float64]:
    """Axon-style quasi-regular train: a spike at the (lagged) onset, then random intervals.

    Each inter-spike interval is ``1 ms + Poisson(1000 / rate)`` ms (a refractory
    millisecond plus a Poisson-distributed whole number of ms), so the mean rate is
    slightly below ``rate_hz`` (``1000 / (1 + 1000 / rate)`` Hz, e.g. 47.6 Hz for 50 Hz).

    Parameters
    ----------
    onset_ms, duration_ms, rate_hz : float
        As :func:`regular_train`.
    rng : int or numpy.random.Generator
        Seed or generator.
    lag_ms : float
        Delay of the first spike after the onset (ms).

    Returns
    -------
    numpy.ndarray
        Sorted spike times (ms), inside ``[onset + lag, onset + duration)``.
    """
    return quasi_regular_trains(np.array([onset_ms]), duration_ms, rate_hz, rng, lag_ms=lag_ms)


def quasi_regular_trains(
    onsets_ms: npt.ArrayLike,
    duration_ms: float,
    rate_hz: float,
    rng: SeedLike,
    *,
    lag_ms: float = 0.0,
) -> npt.NDArray[np.float64]:
    """:func:`quasi_regular_train` in many phases of the same length at once.

    The random draws are those of :func:`quasi_regular_train` called for each onset in
    turn with the same generator, so one onset gives exactly its spikes.

    Parameters
    ----------
    onsets_ms : array_like
        Increasing phase onsets (ms).
    duration_ms, rate_hz, rng, lag_ms
        As :func:`quasi_regular_train`.

    Returns
    -------
    numpy.ndarray
        The spikes of all phases, phases in the given order.
    """
    gen = np.random.default_rng(rng)
    return _quasi_regular(onsets_ms, duration_ms, rate_hz, [gen], lag_ms)[0]


def _quasi_regular(
    onsets_ms: npt.ArrayLike,
    duration_ms: float,
    rate_hz: float,
    gens: Sequence[np.random.Generator],
    lag_ms: float,
) -> list[npt.NDArray[np.float64]]:
    """:func:`quasi_regular_trains` drawn from each generator in turn, computed together."""
    onsets = _onsets(onsets_ms)
    _, span = _span(0.0, duration_ms, lag_ms)
    if regular_spike_count(span, rate_hz) == 0 or onsets.size == 0:
        return [_empty() for _ in gens]
    starts = onsets + lag_ms
    mean_ms = 1000.0 / rate_hz
    if mean_ms - 50.0 * math.sqrt(mean_ms) > span:  # a second spike has p < 1e-500
        return [starts.copy() for _ in gens]
    drawn = [_intervals(gen, onsets.size, mean_ms, span) for gen in gens]
    shapes = {d.shape for d in drawn}
    if len(shapes) == 1 and sum(d.size for d in drawn) <= _BATCH_VALUES:
        return _quasi_times(starts, np.stack(drawn), span)  # one pass for all generators
    # A generator had to draw more (or the draws are large): each on its own.
    return [_quasi_times(starts, d[None], span)[0] for d in drawn]


def _intervals(
    gen: np.random.Generator, n_onsets: int, mean_ms: float, span: float
) -> npt.NDArray[np.float64]:
    """Inter-spike intervals (ms) of each phase: ``1 + Poisson(mean)``, enough to fill it."""
    # Enough intervals for the phase in all but rare draws (twice the expected number, plus
    # 20); more are drawn for every phase while any falls short. Never more than ceil(span):
    # intervals are >= 1 ms, so that many always suffice.
    limit = math.ceil(span)
    n_intervals = min(limit, math.ceil(2.0 * span / (1.0 + mean_ms)) + 20)
    intervals = 1.0 + gen.poisson(mean_ms, size=(n_onsets, n_intervals)).astype(np.float64)
    while n_intervals < limit and float(intervals.sum(axis=1).min()) < span:
        more = min(limit - n_intervals, n_intervals)
        extra = 1.0 + gen.poisson(mean_ms, size=(n_onsets, more)).astype(np.float64)
        intervals = np.concatenate([intervals, extra], axis=1)
        n_intervals += more
    return intervals


def _quasi_times(
    starts: npt.NDArray[np.float64], intervals: npt.NDArray[np.float64], span: float
) -> list[npt.NDArray[np.float64]]:
    """The spikes of each generator's ``(onsets, intervals)`` draw inside the phases."""
    n_gens, n_onsets, n_intervals = intervals.shape
    offsets = np.zeros((n_gens, n_onsets, n_intervals + 1))
    np.cumsum(intervals, axis=-1, out=offsets[:, :, 1:])
    times = starts[None, :, None] + offsets
    inside = offsets < span - _COUNT_TOLERANCE
    return [np.asarray(t[m], dtype=np.float64) for t, m in zip(times, inside, strict=True)]


def spike_train(
    timing: TrainTiming,
    onset_ms: float,
    duration_ms: float,
    rate_hz: float,
    *,
    rng: SeedLike | None = None,
    jitter_ms: float = 0.0,
    lag_ms: float = 0.0,
) -> npt.NDArray[np.float64]:
    """Make a train of the given kind; see the individual generators.

    Parameters
    ----------
    timing : {"regular", "jittered", "quasi_regular"}
        Kind of train.
    onset_ms, duration_ms, rate_hz : float
        Phase onset and length (ms) and firing rate (Hz).
    rng : int or numpy.random.Generator, optional
        Seed or generator; required for the random kinds.
    jitter_ms : float
        Largest shift of a jittered spike (ms).
    lag_ms : float
        Delay of the train after the onset (ms).

    Returns
    -------
    numpy.ndarray
        Sorted spike times (ms).
    """
    if timing == "regular":
        return regular_train(onset_ms, duration_ms, rate_hz, lag_ms=lag_ms)
    return spike_trains(
        timing,
        np.array([onset_ms]),
        duration_ms,
        rate_hz,
        rng=rng,
        jitter_ms=jitter_ms,
        lag_ms=lag_ms,
    )


def spike_trains(
    timing: TrainTiming,
    onsets_ms: npt.ArrayLike,
    duration_ms: float,
    rate_hz: float,
    *,
    rng: SeedLike | None = None,
    jitter_ms: float = 0.0,
    lag_ms: float = 0.0,
) -> npt.NDArray[np.float64]:
    """:func:`spike_train` in many phases of the same length at once, in the onsets' order.

    Parameters
    ----------
    timing : {"regular", "jittered", "quasi_regular"}
        Kind of train.
    onsets_ms : array_like
        Increasing phase onsets (ms).
    duration_ms, rate_hz, rng, jitter_ms, lag_ms
        As :func:`spike_train`.

    Returns
    -------
    numpy.ndarray
        Spike times (ms), phase after phase.
    """
    if timing == "regular":
        onsets = _onsets(onsets_ms)
        offsets = regular_train(0.0, duration_ms, rate_hz, lag_ms=lag_ms) - lag_ms
        count = offsets.shape[0]
        steps = np.arange(count, dtype=np.float64) * (1000.0 / rate_hz) if count else offsets
        return np.asarray(((onsets + lag_ms)[:, None] + steps[None, :]).ravel(), dtype=np.float64)
    if timing not in ("jittered", "quasi_regular"):
        raise ValueError(f"timing: unknown train kind {timing!r}")
    if rng is None:
        raise ValueError(f"rng: a {timing} train is random and needs a seed or a generator")
    gen = np.random.default_rng(rng)
    return random_trains(timing, onsets_ms, duration_ms, rate_hz, [gen], jitter_ms, lag_ms)[0]


def random_trains(
    timing: TrainTiming,
    onsets_ms: npt.ArrayLike,
    duration_ms: float,
    rate_hz: float,
    gens: Sequence[np.random.Generator],
    jitter_ms: float = 0.0,
    lag_ms: float = 0.0,
) -> list[npt.NDArray[np.float64]]:
    """:func:`spike_trains` of a random kind, once from each generator, in one pass.

    Exactly ``[spike_trains(timing, ..., rng=gen) for gen in gens]`` (each generator
    draws what that call would), with the arithmetic done once for all generators: the
    plasticity preview draws every phase for ten seeds on each edit.

    Parameters
    ----------
    timing : {"jittered", "quasi_regular"}
        Kind of train.
    onsets_ms, duration_ms, rate_hz, jitter_ms, lag_ms
        As :func:`spike_trains`.
    gens : sequence of numpy.random.Generator
        The generators, each advanced by its draw.

    Returns
    -------
    list of numpy.ndarray
        The trains, one per generator.
    """
    if not gens:
        return []
    if timing == "jittered":
        return _jittered(onsets_ms, duration_ms, rate_hz, jitter_ms, gens, lag_ms)
    if timing == "quasi_regular":
        return _quasi_regular(onsets_ms, duration_ms, rate_hz, gens, lag_ms)
    raise ValueError(f"timing: {timing!r} is not a random train kind")
