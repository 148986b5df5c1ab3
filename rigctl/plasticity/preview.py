"""Kinase-rule prediction of a protocol, from the same compiled events the rig runs.

:func:`predict` answers "what should this protocol do to the synapse?" for one protocol,
with the cascade traces for plotting and the comparators beside it; :func:`rate_map` scans
the prediction- and outcome-phase rates of a protocol in one batched call.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from rigctl import protocol as proto
from rigctl.plasticity import _events
from rigctl.plasticity.kinase import (
    SPIKE_TIME_TOLERANCE,
    IntArray,
    KinaseResult,
    KinaseTraces,
    _sorted_readouts,
    kinase_dwt,
    kinase_dwt_batch,
    rasterize,
    rate_chl_target,
    spike_steps,
    weight_from_dwt,
    window_readout_steps,
)
from rigctl.plasticity.params import AXON_DT_MS, KinaseParams
from rigctl.plasticity.trains import random_trains, regular_spike_count, regular_train

__all__ = [
    "DIRECTION_THRESHOLD_DWT",
    "Direction",
    "Prediction",
    "TrainOptions",
    "direction_of",
    "predict",
    "rate_map",
]

FloatArray = npt.NDArray[np.float64]
Source = proto.Experiment | proto.Induction | proto.CompiledSweep

DIRECTION_THRESHOLD_DWT = 0.25
"""|total dWt| below this counts as "no change" (about ±6 % of weight at lrate 0.04)."""

Direction = Literal["LTP", "LTD", "no change"]


def direction_of(total_dwt: float, threshold: float = DIRECTION_THRESHOLD_DWT) -> Direction:
    """Classify a total dWt as LTP, LTD or no change (``|dWt| < threshold``)."""
    if total_dwt >= threshold:
        return "LTP"
    if total_dwt <= -threshold:
        return "LTD"
    return "no change"


@dataclass(frozen=True)
class TrainOptions:
    """Which spike trains the preview feeds the model.

    ``regular`` (default) uses the compiled stimulation pulses as presynaptic spikes and
    the phase-locked target train as postsynaptic spikes: exactly what the rig is asked to
    produce. ``jittered`` (each spike shifted by up to ``jitter_ms``) and ``quasi_regular``
    (Axon-style, ISI = 1 ms + Poisson(1000 / rate) ms) draw both trains at random for
    ``n_seeds`` seeds from ``seed`` on, and the prediction is their mean.
    """

    timing: Literal["regular", "jittered", "quasi_regular"] = "regular"
    n_seeds: int = 20
    seed: int = 0
    jitter_ms: float = 5.0

    def __post_init__(self) -> None:
        if self.n_seeds < 1:
            raise ValueError(f"n_seeds: {self.n_seeds} — average over at least one seed")
        if self.seed < 0:
            raise ValueError(f"seed: {self.seed} — seeds are whole numbers >= 0")
        if not (math.isfinite(self.jitter_ms) and self.jitter_ms >= 0):
            raise ValueError(f"jitter_ms: {self.jitter_ms!r} must be a time >= 0 ms")


@dataclass(frozen=True, eq=False)
class Prediction:
    """The kinase rule's prediction for one induction protocol.

    Attributes
    ----------
    total, per_window
        dWt summed over theta windows and per window (mean over seeds for random trains).
    total_sd
        Standard deviation of ``total`` across seeds (0 for regular trains).
    seed_totals
        ``total`` of each seed (one value for regular trains).
    seed_per_window
        ``per_window`` of each seed, one row per seed.
    result
        The full :class:`KinaseResult` of the first (or only) train, with its traces.
    hebbian
        Hebbian comparator, ``∫ ca dt`` over the induction sweep.
    chl
        Rate-CHL target ``n_windows * (x+ y+ - x- y-)`` with rates in kHz, from the
        first (prediction) and last (outcome) phases.
    weight_ratio
        Illustrative weight after Axon's mapping at ``params.lrate`` (uncalibrated).
    window_starts_ms, window_ms
        Where the windows lie in the sweep; readouts are at their ends.
    pre_ms, post_ms
        Spike times fed to the model (the first seed's for random trains).
    """

    total: float
    per_window: FloatArray
    total_sd: float
    seed_totals: FloatArray
    result: KinaseResult
    hebbian: float
    chl: float
    weight_ratio: float
    window_starts_ms: FloatArray
    window_ms: float
    pre_ms: FloatArray
    post_ms: FloatArray
    params: KinaseParams
    options: TrainOptions = field(default_factory=TrainOptions)
    seed_per_window: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))

    @property
    def direction(self) -> Direction:
        """Sign of the raw total dWt: LTP / LTD / no change by :data:`DIRECTION_THRESHOLD_DWT`.

        This is the dWt comparator, not the headline: the headline's direction is called
        from the predicted EPSP ratio by :func:`rigctl.plasticity.outlook.call_direction`.
        """
        return direction_of(self.total)

    @property
    def chl_direction(self) -> Direction:
        """Sign of the rate-CHL comparator: LTP above 0, LTD below, no change at 0."""
        return "LTP" if self.chl > 0 else "LTD" if self.chl < 0 else "no change"

    @property
    def n_windows(self) -> int:
        """Number of theta windows read."""
        return int(self.per_window.shape[0])

    @property
    def first_window(self) -> float:
        """DWt of the first theta window."""
        return float(self.per_window[0])

    @property
    def traces(self) -> KinaseTraces:
        """CaSyn, ca, CaM, CaP and CaD over the whole sweep (1 ms steps)."""
        assert self.result.traces is not None
        return self.result.traces

    @property
    def readout_ms(self) -> FloatArray:
        """Times of the readouts (ms): the end of every window."""
        return self.window_starts_ms + self.window_ms


def _induction_sweep(source: Source) -> proto.CompiledSweep:
    if isinstance(source, proto.Experiment):
        sweep = proto.compile_induction(source.induction)
    elif isinstance(source, proto.Induction):
        sweep = proto.compile_induction(source)
    else:
        sweep = source
    if sweep.kind != "induction" or sweep.window_length is None:
        raise ValueError(
            f"predict: a {sweep.kind} sweep has no theta windows; pass the induction sweep"
        )
    return sweep


def _random_trains(
    sweep: proto.CompiledSweep, induction: proto.Induction | None, options: TrainOptions
) -> list[tuple[FloatArray, FloatArray]]:
    """Pre and post trains drawn phase by phase (all windows at once), one pair per seed."""
    lags = {p.name: (p.pre.onset_ms, p.post.lag_ms) for p in induction.phases} if induction else {}
    phases: dict[str, tuple[float, float]] = {}  # name: (pre rate, post rate), in order
    for span in sweep.phases:
        phases.setdefault(span.name, (span.pre_rate_hz, span.post_rate_hz))
    groups = {name: _span_groups(sweep, name) for name in phases}
    # One generator per seed, each drawing phase after phase (pre, then post) as if the
    # seeds were drawn one after another; the arithmetic is done for all seeds at once.
    gens = [
        np.random.Generator(np.random.PCG64(_seeds(options.seed, s)))
        for s in range(options.n_seeds)
    ]
    pre: list[list[FloatArray]] = [[] for _ in gens]
    post: list[list[FloatArray]] = [[] for _ in gens]
    for name, (pre_hz, post_hz) in phases.items():
        pre_lag, post_lag = lags.get(name, (0.0, 0.0))
        for duration, onsets in groups[name]:
            draws = [(pre, pre_hz, pre_lag)] + ([(post, post_hz, post_lag)] if post_hz > 0 else [])
            for parts, rate_hz, lag_ms in draws:
                trains = random_trains(
                    options.timing, onsets, duration, rate_hz, gens, options.jitter_ms, lag_ms
                )
                for part, train in zip(parts, trains, strict=True):
                    part.append(train)
    out = []
    for i in range(len(gens)):  # joined seed by seed, each seed's pieces freed once joined
        out.append((_cat(pre[i]), _cat(post[i])))
        pre[i], post[i] = [], []
    return out


@functools.lru_cache(maxsize=256)
def _seeds(seed: int, index: int) -> np.random.SeedSequence:
    """``SeedSequence([seed, index])``, made once (``default_rng([seed, index])`` builds it).

    The generator of seed ``index`` of a preview starts from it, exactly as
    ``default_rng([seed, index])`` would, without hashing the seed again on every edit.
    """
    return np.random.SeedSequence([seed, index])


def _cat(parts: Sequence[FloatArray]) -> FloatArray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float64)


def _rate_chl(sweep: proto.CompiledSweep) -> float:
    """The rate-CHL comparator of the sweep: first against last phase of a window (0 if none)."""
    spans = [s for s in sweep.phases if s.window == 0]
    if not spans:
        return 0.0
    first, last = spans[0], spans[-1]
    return rate_chl_target(
        len(sweep.window_starts),
        first.pre_rate_hz,
        last.pre_rate_hz,
        first.post_rate_hz,
        last.post_rate_hz,
    )


def predict(
    source: Source,
    params: KinaseParams | None = None,
    *,
    trains: TrainOptions | None = None,
    traces: bool = True,
    sweep: proto.CompiledSweep | None = None,
) -> Prediction:
    """Predict the kinase-rule weight change of an induction protocol.

    Presynaptic spikes are the onsets of the compiled stimulation pulses; postsynaptic
    spikes are the compiled target train of each phase (regular at its target rate, from
    its lag on). The whole induction sweep is simulated from its start (t = 0, state at
    rest) and every theta window is read at its end.

    Parameters
    ----------
    source : Experiment, Induction or CompiledSweep
        The protocol (as from :func:`rigctl.protocol.load`), or its compiled induction.
    params : KinaseParams, optional
        Cascade constants; Axon v2 defaults if omitted.
    trains : TrainOptions, optional
        Regular (default), jittered or quasi-regular trains averaged over seeds.
    traces : bool
        Also keep the cascade's traces of the first train (for plotting).
    sweep : CompiledSweep, optional
        The compiled induction of ``source``, if at hand (saves compiling it again).

    Returns
    -------
    Prediction
        dWt total and per window, traces, comparators and the mapped weight.

    Raises
    ------
    ValueError
        If a compiled probe sweep is passed instead of an induction sweep.
    """
    p = KinaseParams() if params is None else params
    options = TrainOptions() if trains is None else trains
    induction = (
        source.induction
        if isinstance(source, proto.Experiment)
        else source
        if isinstance(source, proto.Induction)
        else None
    )
    sweep = _induction_sweep(source if sweep is None else sweep)
    window_ms = float(sweep.window_length or 0)
    starts = sweep.window_starts_ms
    end = sweep.duration_ms
    if options.timing == "regular":
        pairs = [(sweep.pre_pulse_ms, sweep.post_target_ms)]
    else:
        pairs = _random_trains(sweep, induction, options)
    first = kinase_dwt(*pairs[0], starts, window_ms, p, end_ms=end, return_traces=traces)
    results = [first] + [
        kinase_dwt(pre, post, starts, window_ms, p, end_ms=end) for pre, post in pairs[1:]
    ]
    per_window = np.mean([r.per_window for r in results], axis=0)
    totals = np.array([r.total for r in results])
    return Prediction(
        total=float(np.mean(totals)),
        per_window=per_window,
        total_sd=float(np.std(totals, ddof=1)) if totals.size > 1 else 0.0,
        seed_totals=totals,
        result=first,
        hebbian=float(np.mean([r.hebbian for r in results])),
        chl=_rate_chl(sweep),
        weight_ratio=weight_from_dwt(per_window, p.lrate),
        window_starts_ms=starts,
        window_ms=window_ms,
        pre_ms=np.asarray(pairs[0][0], dtype=np.float64),
        post_ms=np.asarray(pairs[0][1], dtype=np.float64),
        params=p,
        options=options,
        seed_per_window=np.array([r.per_window for r in results]),
    )


# --------------------------------------------------------------------------- rate map


def _span_groups(sweep: proto.CompiledSweep, name: str) -> list[tuple[float, FloatArray]]:
    """Onsets (ms) of the spans of the phase ``name``, grouped by span duration (ms)."""
    return list(sweep.phase_onsets_ms.get(name, ()))


def _phase_steps(groups: list[tuple[float, FloatArray]], lag_ms: float, rate_hz: float) -> IntArray:
    """Steps of the regular train of one phase in all its spans, in time order.

    The times are those of :func:`regular_train` (``onset + lag + k * period``), computed
    for all spans of the same duration at once.
    """
    parts: list[FloatArray] = []
    for duration, onsets in groups:
        count = regular_spike_count(duration - lag_ms, rate_hz)
        offsets = np.arange(count, dtype=np.float64) * (1000.0 / rate_hz)
        parts.append(((onsets + lag_ms)[:, None] + offsets[None, :]).ravel())
    times = np.sort(_cat(parts)) if len(parts) > 1 else _cat(parts)
    return np.floor(times[times >= 0.0] / AXON_DT_MS + SPIKE_TIME_TOLERANCE).astype(np.int64)


def _rate_map_events(
    sweep: proto.CompiledSweep, phase: proto.Phase, rates: FloatArray, pieces: list[IntArray]
) -> npt.NDArray[np.int64]:
    """Append the pre and post streams of ``phase`` at each rate; return their ranges."""
    groups = _span_groups(sweep, phase.name)
    ranges = np.empty((rates.size, 4), dtype=np.int64)
    offset = sum(p.size for p in pieces)
    for i, rate in enumerate(rates.tolist()):
        for k, lag in enumerate((phase.pre.onset_ms, phase.post.lag_ms)):
            steps = _phase_steps(groups, lag, rate)
            pieces.append(steps)
            ranges[i, 2 * k], ranges[i, 2 * k + 1] = offset, offset + steps.size
            offset += steps.size
    return ranges


def _phase_trains(
    span: proto.PhaseSpan, phase: proto.Phase, rate_hz: float
) -> tuple[FloatArray, FloatArray]:
    """Regular pre and post trains of one phase with both rates set to ``rate_hz``."""
    start = float(span.start)
    dur = float(span.stop - span.start)
    pre = regular_train(start, dur, rate_hz, lag_ms=phase.pre.onset_ms)
    post = regular_train(start, dur, rate_hz, lag_ms=phase.post.lag_ms)
    return pre, post


def rate_map(
    protocol: proto.Experiment | proto.Induction,
    minus_rates_hz: Sequence[float] | npt.ArrayLike,
    plus_rates_hz: Sequence[float] | npt.ArrayLike,
    params: KinaseParams | None = None,
) -> FloatArray:
    """Total dWt with the prediction- and outcome-phase rates replaced by each pair.

    The prediction phase is the first phase of the window and the outcome phase the last;
    in both, the presynaptic rate and the postsynaptic target rate are set together to the
    pair's rate, as regular phase-locked trains. Every other phase, the window geometry,
    repeats and gaps stay as in the protocol. All pairs run in one batched call.

    Parameters
    ----------
    protocol : Experiment or Induction
        The protocol whose rates are varied (at least two phases).
    minus_rates_hz, plus_rates_hz : array_like
        Prediction-phase and outcome-phase rates (Hz), > 0.
    params : KinaseParams, optional
        Cascade constants; Axon v2 defaults if omitted.

    Returns
    -------
    numpy.ndarray
        ``out[i, j]`` = total dWt with prediction rate ``minus[i]`` and outcome rate
        ``plus[j]``.
    """
    induction = protocol.induction if isinstance(protocol, proto.Experiment) else protocol
    if len(induction.phases) < 2:
        raise ValueError(
            "rate_map: the protocol needs a prediction and an outcome phase (two or more)"
        )
    minus = np.asarray(minus_rates_hz, dtype=np.float64).ravel()
    plus = np.asarray(plus_rates_hz, dtype=np.float64).ravel()
    if minus.size == 0 or plus.size == 0:
        return np.zeros((minus.size, plus.size))
    if not (np.all(np.isfinite(minus)) and np.all(np.isfinite(plus))) or (
        minus.min() <= 0 or plus.min() <= 0
    ):
        raise ValueError("rate_map: every rate must be a positive number of Hz")
    p = KinaseParams() if params is None else params
    sweep = proto.compile_induction(induction)
    window_ms = float(sweep.window_length or 0)
    readouts = window_readout_steps(sweep.window_starts_ms, window_ms)
    n_steps = int(readouts.max()) + 1
    first, last = induction.phases[0], induction.phases[-1]
    varied = {first.name, last.name}

    # The phases that stay as they are: their compiled pulses and target spikes.
    fixed_pre = [e.start_ms for e in sweep.of_kind("pre_pulse") if e.phase not in varied]
    fixed_post: list[float] = []
    for span in sweep.phases:
        if span.name not in varied:
            t = sweep.post_target_ms
            fixed_post.extend(t[(t >= float(span.start)) & (t < float(span.stop))].tolist())

    kernels = _events.compiled()
    if kernels is not None:
        return _rate_map_compiled(kernels, sweep, induction, minus, plus, readouts, p)

    def varied_rasters(
        phase: proto.Phase, rates: FloatArray
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        spans = [s for s in sweep.phases if s.name == phase.name]
        pre_r = np.zeros((rates.size, n_steps), dtype=np.bool_)
        post_r = np.zeros((rates.size, n_steps), dtype=np.bool_)
        for i, rate in enumerate(rates.tolist()):
            trains = [_phase_trains(s, phase, rate) for s in spans]
            pre_r[i] = rasterize(_cat([a for a, _ in trains]), n_steps)
            post_r[i] = rasterize(_cat([b for _, b in trains]), n_steps)
        return pre_r, post_r

    minus_pre, minus_post = varied_rasters(first, minus)
    plus_pre, plus_post = varied_rasters(last, plus)
    base_pre = rasterize(np.asarray(fixed_pre, dtype=np.float64), n_steps)
    base_post = rasterize(np.asarray(fixed_post, dtype=np.float64), n_steps)
    pre = base_pre | minus_pre[:, None, :] | plus_pre[None, :, :]
    post = base_post | minus_post[:, None, :] | plus_post[None, :, :]
    shape = (minus.size * plus.size, n_steps)
    per_window = kinase_dwt_batch(pre.reshape(shape), post.reshape(shape), readouts, p)
    return np.asarray(per_window.sum(axis=-1), dtype=np.float64).reshape(minus.size, plus.size)


def _rate_map_compiled(
    kernels: _events.Compiled,
    sweep: proto.CompiledSweep,
    induction: proto.Induction,
    minus: FloatArray,
    plus: FloatArray,
    readouts: IntArray,
    params: KinaseParams,
) -> FloatArray:
    """The rate map through the compiled event kernel (same result as the raster path)."""
    n_steps = int(readouts.max()) + 1
    first, last = induction.phases[0], induction.phases[-1]
    varied = {first.name, last.name}
    fixed_pre = [e.start_ms for e in sweep.of_kind("pre_pulse") if e.phase not in varied]
    post = sweep.post_target_ms
    keep = np.zeros(post.shape, dtype=np.bool_)
    for span in sweep.phases:
        if span.name not in varied:
            keep |= (post >= float(span.start)) & (post < float(span.stop))
    pieces = [
        spike_steps(np.asarray(fixed_pre, dtype=np.float64), n_steps).astype(np.int64),
        spike_steps(post[keep], n_steps).astype(np.int64),
    ]
    a, b = pieces[0].size, pieces[0].size + pieces[1].size
    fixed = np.array([0, a, a, b], dtype=np.int64)
    minus_ranges = _rate_map_events(sweep, first, minus, pieces)
    plus_ranges = _rate_map_events(sweep, last, plus, pieces)
    steps = np.concatenate(pieces)
    flags = np.ones(steps.size, dtype=np.uint8)
    flags[a:b] = 2
    for ranges in (minus_ranges, plus_ranges):
        for lo, hi in ranges[:, 2:].tolist():
            flags[lo:hi] = 2
    reads, window_of = _sorted_readouts(readouts)
    t = _events.tables(params)
    out = kernels.rate_map(
        steps, flags, minus_ranges, plus_ranges, fixed, reads, n_steps, t.mats, t.rs, t.consts
    )
    per_window = out if window_of is None else out[:, :, window_of]
    return np.asarray(per_window.sum(axis=-1), dtype=np.float64)
