"""Calibration of the postsynaptic drive, and spike detection against target rates.

Works on any :class:`~rigctl.hardware.base.Rig`:

* :func:`fi_curve` runs a current ladder (repeated steps shaped like theta phases) and
  measures the firing rate at every step amplitude;
* :func:`currents_for_rates` finds the steps that give target rates (25 and 50 Hz by
  default) from the ladder, refined by bisection on the rising branch of the curve;
* :func:`calibrate_experiment` sets every phase's current for a protocol, refining each
  phase in the context of the protocol (the order of phases changes the rates through
  adaptation) with the presynaptic stimulation *off*, so calibration never pairs pre- and
  postsynaptic activity and cannot itself induce plasticity;
* :func:`phase_rates` detects spikes in an acquired induction sweep and reports the
  achieved rate of every phase against its target, flagging a miss over 10 %.

The rate of a phase is measured from inter-spike intervals inside the phase, which is
what a "25 Hz" train means, averaged over windows; when the spikes cover less than a
third of the phase (a burst at onset, then dropout) it is the spike count over the phase
length instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from rigctl.hardware.base import Rig, RigError
from rigctl.protocol import CompiledSweep, Experiment, Waveforms, compile_induction

__all__ = [
    "MISS_TOLERANCE",
    "ExperimentCalibration",
    "FICurve",
    "PhaseRate",
    "RateCurrent",
    "calibrate_experiment",
    "currents_for_rates",
    "detect_spikes",
    "fi_curve",
    "phase_rates",
]

MISS_TOLERANCE = 0.10
"""A phase whose achieved rate is off its target by more than this fraction is flagged."""

FloatArray = npt.NDArray[np.float64]


def detect_spikes(
    vm_mv: npt.ArrayLike, sample_rate_hz: float, threshold_mv: float = -20.0, dead_ms: float = 1.0
) -> npt.NDArray[np.intp]:
    """Sample indices of upward threshold crossings, at least ``dead_ms`` apart."""
    v = np.asarray(vm_mv, dtype=np.float64)
    if v.size < 2:
        return np.zeros(0, dtype=np.intp)
    up = np.flatnonzero((v[1:] >= threshold_mv) & (v[:-1] < threshold_mv)) + 1
    if up.size < 2:
        return up.astype(np.intp)
    dead = dead_ms * sample_rate_hz / 1000.0
    keep = [int(up[0])]
    for i in up[1:].tolist():
        if i - keep[-1] >= dead:
            keep.append(int(i))
    return np.asarray(keep, dtype=np.intp)


def _rate(spans: Sequence[tuple[float, float]], spikes_ms: FloatArray) -> tuple[float, int]:
    """Mean firing rate over the spans, and the number of spikes in them.

    In each span the rate is ``(n - 1) / (last - first)`` when the spikes cover at least
    30 % of it (a regular train), else ``n / duration`` (onset spikes followed by
    dropout, or too few spikes to tell).
    """
    per_span: list[float] = []
    count = 0
    for start, stop in spans:
        t = spikes_ms[(spikes_ms >= start) & (spikes_ms < stop)]
        count += int(t.size)
        duration = stop - start
        if duration <= 0:
            continue
        if t.size >= 2 and t[-1] - t[0] >= 0.3 * duration:
            per_span.append(1000.0 * (t.size - 1) / float(t[-1] - t[0]))
        else:
            per_span.append(1000.0 * t.size / duration)
    return (float(np.mean(per_span)) if per_span else 0.0), count


@dataclass(frozen=True)
class PhaseRate:
    """Achieved versus target firing rate of one phase (over all windows of a sweep)."""

    phase: str
    target_hz: float
    achieved_hz: float
    n_spikes: int
    n_windows: int

    @property
    def miss(self) -> float:
        """Relative error of the achieved rate (0 when no firing was wanted and none came)."""
        if self.target_hz == 0:
            return 0.0 if self.n_spikes == 0 else math.inf
        return abs(self.achieved_hz - self.target_hz) / self.target_hz

    @property
    def ok(self) -> bool:
        """Whether the phase is within :data:`MISS_TOLERANCE` of its target."""
        return self.miss <= MISS_TOLERANCE

    def line(self) -> str:
        """One line for a report."""
        flag = "ok" if self.ok else f"MISS ({self.miss:.0%} off)"
        return (
            f"{self.phase:<12} target {self.target_hz:5.1f} Hz  achieved {self.achieved_hz:5.1f} Hz"
            f"  ({self.n_spikes} spikes in {self.n_windows} windows)  {flag}"
        )


def phase_rates(
    vm_mv: npt.ArrayLike,
    sample_rate_hz: float,
    sweep: CompiledSweep,
    *,
    threshold_mv: float = -20.0,
) -> list[PhaseRate]:
    """Achieved firing rate of every phase of an induction sweep, in phase order."""
    spikes_ms = np.asarray(
        detect_spikes(vm_mv, sample_rate_hz, threshold_mv) * 1000.0 / sample_rate_hz,
        dtype=np.float64,
    )
    names: list[str] = []
    for span in sweep.phases:
        if span.name not in names:
            names.append(span.name)
    out = []
    for name in names:
        spans = [s for s in sweep.phases if s.name == name]
        rate, count = _rate([(float(s.start), float(s.stop)) for s in spans], spikes_ms)
        out.append(
            PhaseRate(
                phase=name,
                target_hz=spans[0].post_rate_hz,
                achieved_hz=rate,
                n_spikes=count,
                n_windows=len(spans),
            )
        )
    return out


# --------------------------------------------------------------------------- f-I ladder


@dataclass(frozen=True)
class FICurve:
    """Firing rate (Hz) against step current (pA), measured on a rig."""

    currents_pa: tuple[float, ...]
    rates_hz: tuple[float, ...]
    step_ms: float

    @property
    def max_rate_hz(self) -> float:
        """Highest rate reached."""
        return max(self.rates_hz) if self.rates_hz else 0.0

    def rising(self) -> tuple[FloatArray, FloatArray]:
        """The curve up to its maximum (the branch a calibration may use)."""
        rates = np.asarray(self.rates_hz)
        k = int(np.argmax(rates)) + 1 if rates.size else 0
        return np.asarray(self.currents_pa[:k]), rates[:k]

    def current_for(self, rate_hz: float) -> float | None:
        """Interpolated current for ``rate_hz`` on the rising branch, or None if unreachable."""
        cur, rates = self.rising()
        if rates.size == 0 or rate_hz > rates.max():
            return None
        idx = int(np.flatnonzero(rates >= rate_hz)[0])
        if idx == 0:
            return float(cur[0])
        r0, r1 = rates[idx - 1], rates[idx]
        c0, c1 = cur[idx - 1], cur[idx]
        return float(c0 + (c1 - c0) * (rate_hz - r0) / (r1 - r0)) if r1 > r0 else float(c1)


def _ladder_waveforms(
    current_pa: float, fs: float, step_ms: float, windows: int, gap_ms: float, lead_ms: float
) -> tuple[Waveforms, list[tuple[float, float]]]:
    period = step_ms + gap_ms
    total_ms = lead_ms + windows * period
    n = round(total_ms * fs / 1000.0) + 1
    cmd = np.zeros(n)
    spans = []
    for w in range(windows):
        start = lead_ms + w * period
        i0, i1 = round(start * fs / 1000.0), round((start + step_ms) * fs / 1000.0)
        cmd[i0:i1] = current_pa
        spans.append((start, start + step_ms))
    return Waveforms(sample_rate_hz=fs, stim=np.zeros(n, dtype=np.uint8), command_pa=cmd), spans


def _measure(
    rig: Rig, current_pa: float, step_ms: float, windows: int, gap_ms: float, lead_ms: float
) -> float:
    fs = rig.definition.sample_rate_hz
    wave, spans = _ladder_waveforms(current_pa, fs, step_ms, windows, gap_ms, lead_ms)
    prepared = rig.prepare(wave, label=f"calibration {current_pa:g} pA")
    result = rig.run(prepared)
    if not result.complete:
        raise RigError("calibration was aborted")
    spikes_ms = np.asarray(detect_spikes(result.vm_mv, fs) * 1000.0 / fs, dtype=np.float64)
    rate, _ = _rate(spans, spikes_ms)
    return rate


def fi_curve(
    rig: Rig,
    currents_pa: Sequence[float] | None = None,
    *,
    step_ms: float = 100.0,
    windows: int = 3,
    gap_ms: float = 400.0,
    lead_ms: float = 200.0,
) -> FICurve:
    """Measure the f-I curve with repeated current steps shaped like theta phases.

    The default ladder goes from 0 to the rig's current limit in 25 pA steps (at most
    600 pA).
    """
    if currents_pa is None:
        top = min(600.0, rig.definition.limits.max_command_pa)
        currents_pa = [float(c) for c in np.arange(0.0, top + 1e-9, 25.0)]
    limit = rig.definition.limits.max_command_pa
    cur = [float(c) for c in currents_pa if abs(c) <= limit]
    rates = [_measure(rig, c, step_ms, windows, gap_ms, lead_ms) for c in cur]
    return FICurve(currents_pa=tuple(cur), rates_hz=tuple(rates), step_ms=step_ms)


@dataclass(frozen=True)
class RateCurrent:
    """The current found for a target rate and the rate it achieved."""

    target_hz: float
    current_pa: float | None
    achieved_hz: float

    @property
    def ok(self) -> bool:
        """Whether the achieved rate is within :data:`MISS_TOLERANCE` of the target."""
        return (
            self.current_pa is not None
            and abs(self.achieved_hz - self.target_hz) <= MISS_TOLERANCE * self.target_hz
        )


def currents_for_rates(
    rig: Rig,
    rates_hz: Sequence[float] = (25.0, 50.0),
    *,
    curve: FICurve | None = None,
    step_ms: float = 100.0,
    windows: int = 3,
    refine: int = 6,
) -> tuple[FICurve, list[RateCurrent]]:
    """Find the step currents giving ``rates_hz``: ladder, then bisection on the rising branch."""
    fi = curve if curve is not None else fi_curve(rig, step_ms=step_ms, windows=windows)
    out = []
    for target in rates_hz:
        guess = fi.current_for(target)
        if guess is None:
            out.append(RateCurrent(target, None, fi.max_rate_hz))
            continue
        cur, rates = fi.rising()
        hi_idx = int(np.flatnonzero(rates >= target)[0])
        lo = float(cur[hi_idx - 1]) if hi_idx > 0 else 0.0
        hi = float(cur[hi_idx])
        best = (abs(float(rates[hi_idx]) - target), hi, float(rates[hi_idx]))
        for _ in range(refine):
            mid = round((lo + hi) / 2.0, 1)
            rate = _measure(rig, mid, step_ms, windows, 400.0, 200.0)
            if abs(rate - target) < best[0]:
                best = (abs(rate - target), mid, rate)
            if rate < target:
                lo = mid
            else:
                hi = mid
            if abs(rate - target) <= 0.02 * target:
                break
        out.append(RateCurrent(target, best[1], best[2]))
    return fi, out


# --------------------------------------------------------------------------- protocol


@dataclass(frozen=True)
class ExperimentCalibration:
    """A protocol with its currents calibrated on a rig, and how well they hit."""

    experiment: Experiment
    rates: tuple[PhaseRate, ...]
    iterations: int
    curve: FICurve
    history: tuple[tuple[tuple[str, float, float], ...], ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Whether every driven phase is within tolerance."""
        return all(r.ok for r in self.rates if r.target_hz > 0)

    def currents(self) -> dict[str, float | None]:
        """Calibrated current of every phase (pA)."""
        return {p.name: p.post.current_pa for p in self.experiment.induction.phases}


def _context_run(rig: Rig, exp: Experiment, windows: int) -> tuple[list[PhaseRate], CompiledSweep]:
    """Run the protocol's current pattern (first windows, stimulation off) and measure."""
    ind = exp.induction.replace(repeats=min(windows, exp.induction.repeats))
    sweep = compile_induction(ind)
    wave = sweep.waveforms(rig.definition.sample_rate_hz)
    silent = Waveforms(
        sample_rate_hz=wave.sample_rate_hz,
        stim=np.zeros_like(wave.stim),
        command_pa=wave.command_pa,
    )
    result = rig.run(rig.prepare(silent, label="calibration (in context, no stimulation)"))
    if not result.complete:
        raise RigError("calibration was aborted")
    return phase_rates(result.vm_mv, result.sample_rate_hz, sweep), sweep


def calibrate_experiment(
    rig: Rig,
    experiment: Experiment,
    *,
    curve: FICurve | None = None,
    windows: int = 3,
    max_iterations: int = 8,
    tolerance: float = 0.05,
) -> ExperimentCalibration:
    """Set every driven phase's current so that it fires at its target rate on this rig.

    Starts from the f-I ladder, then adjusts each phase in the context of the protocol's
    own current pattern (stimulation off) with secant steps until every phase is within
    ``tolerance`` or ``max_iterations`` is reached. Currents stay within the rig's limit.
    """
    fi = curve if curve is not None else fi_curve(rig, windows=windows)
    limit = rig.definition.limits.max_command_pa
    cur_r, rate_r = fi.rising()
    slope_default = (
        float((rate_r[-1] - rate_r[0]) / (cur_r[-1] - cur_r[0]))
        if cur_r.size > 1 and cur_r[-1] > cur_r[0]
        else 0.2
    )
    phases = list(experiment.induction.phases)
    currents: list[float | None] = []
    for ph in phases:
        if ph.post.target_rate_hz == 0:
            currents.append(None)
            continue
        guess = fi.current_for(ph.post.target_rate_hz)
        currents.append(min(limit, guess if guess is not None else limit))
    previous: dict[int, tuple[float, float]] = {}
    history: list[tuple[tuple[str, float, float], ...]] = []

    def with_currents() -> Experiment:
        new = [
            ph.replace(post=ph.post.replace(current_pa=None if c is None else round(c, 1)))
            for ph, c in zip(phases, currents, strict=True)
        ]
        return experiment.replace(induction=experiment.induction.replace(phases=tuple(new)))

    rates: list[PhaseRate] = []
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        exp = with_currents()
        rates, _ = _context_run(rig, exp, windows)
        by_name = {r.phase: r for r in rates}
        history.append(
            tuple(
                (ph.name, float(c or 0.0), by_name[ph.name].achieved_hz)
                for ph, c in zip(phases, currents, strict=True)
            )
        )
        done = True
        for i, ph in enumerate(phases):
            c = currents[i]
            if c is None:
                continue
            r = by_name[ph.name]
            target = ph.post.target_rate_hz
            if abs(r.achieved_hz - target) <= tolerance * target:
                continue
            done = False
            slope = slope_default
            if i in previous:
                c0, r0 = previous[i]
                if c != c0 and (r.achieved_hz - r0) / (c - c0) > 0.02:
                    slope = (r.achieved_hz - r0) / (c - c0)
            previous[i] = (c, r.achieved_hz)
            step = (target - r.achieved_hz) / max(slope, 0.02)
            step = max(-60.0, min(60.0, step))
            currents[i] = max(0.0, min(limit, c + step))
        if done:
            break
    return ExperimentCalibration(
        experiment=with_currents(),
        rates=tuple(rates),
        iterations=iterations,
        curve=fi,
        history=tuple(history),
    )
