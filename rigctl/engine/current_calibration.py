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

A phase is judged by its spike *count* in every theta window against the count its target
train implies (3 spikes per 100 ms at 25 Hz), plus the first-spike latency: a phase is
flagged when its mean count is off by more than 10 % or the count misses in more than one
window. Calibration steers on the same count-implied rate, so everyone uses one rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from rigctl.hardware.base import Rig, RigError, SweepResult
from rigctl.protocol import CompiledSweep, Experiment, Waveforms, compile_induction

__all__ = [
    "MISS_TOLERANCE",
    "SPIKE_THRESHOLD_MV",
    "Cancel",
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
"""A phase whose mean spike count is off its target by more than this fraction is flagged."""

SPIKE_THRESHOLD_MV = -20.0
"""Vm crossing this upwards is a spike (one detector for the whole application)."""

Cancel = Callable[[], None]
"""Called before every calibration sweep: raises to stop it, may block while paused."""

FloatArray = npt.NDArray[np.float64]


def detect_spikes(
    vm_mv: npt.ArrayLike,
    sample_rate_hz: float,
    threshold_mv: float = SPIKE_THRESHOLD_MV,
    dead_ms: float = 1.0,
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
    """Mean firing rate over the spans (f-I ladder steps), and the number of spikes in them.

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
    """Achieved versus target firing of one phase, judged by the spike count per window.

    ``expected_per_window`` is the count the target implies (the protocol's target train:
    3 spikes in a 100 ms phase at 25 Hz); ``window_counts`` the spikes counted in each
    window. ``achieved_hz`` is the target rate scaled by the mean count over the expected
    one (the rate the count implies), so a 25 Hz phase firing 2 of 3 spikes reads 16.7 Hz.
    ``first_latency_ms`` is the mean latency of the first spike from the phase start;
    ``isi_hz`` the rate from the spikes' spacing; ``fill`` how many spikes at that
    spacing would fit in the phase after the first one's latency (mean over windows with
    two spikes or more): the count lies in the middle of its range when ``fill`` is the
    expected count plus one half, which is what calibration aims at.
    """

    @property
    def steer_hz(self) -> float:
        """The rate calibration steers on: the count's, refined by ``fill`` when it is right."""
        if self.windows_missed or self.expected_per_window == 0 or not math.isfinite(self.fill):
            return self.achieved_hz
        return self.target_hz * self.fill / (self.expected_per_window + 0.5)

    phase: str
    target_hz: float
    achieved_hz: float
    n_spikes: int
    n_windows: int
    expected_per_window: int = 0
    window_counts: tuple[int, ...] = ()
    first_latency_ms: float = math.nan
    isi_hz: float = math.nan
    fill: float = math.nan

    @property
    def windows_missed(self) -> int:
        """Windows whose spike count differs from the expected count."""
        return sum(1 for c in self.window_counts if c != self.expected_per_window)

    @property
    def miss(self) -> float:
        """Relative error of the mean count per window (0: no firing wanted, none came)."""
        if self.expected_per_window == 0:
            if self.target_hz == 0 or not self.window_counts:
                return 0.0 if self.n_spikes == 0 else math.inf
            return abs(self.achieved_hz - self.target_hz) / self.target_hz
        mean = self.n_spikes / self.n_windows if self.n_windows else 0.0
        return abs(mean - self.expected_per_window) / self.expected_per_window

    @property
    def ok(self) -> bool:
        """Within :data:`MISS_TOLERANCE` of the count, and no more than one window off."""
        return self.miss <= MISS_TOLERANCE and self.windows_missed <= 1

    def line(self) -> str:
        """One line for a report."""
        if self.ok:
            flag = "ok"
        elif self.windows_missed > 1 and self.miss <= MISS_TOLERANCE:
            flag = f"MISS (count off in {self.windows_missed} windows)"
        else:
            flag = f"MISS ({self.miss:.0%} off)"
        latency = (
            f", first spike {self.first_latency_ms:.1f} ms"
            if math.isfinite(self.first_latency_ms)
            else ""
        )
        return (
            f"{self.phase:<12} target {self.target_hz:5.1f} Hz  achieved {self.achieved_hz:5.1f} Hz"
            f"  ({self.n_spikes} spikes in {self.n_windows} windows, "
            f"{self.expected_per_window} expected per window{latency})  {flag}"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain data for files (journal, analysis, NWB)."""
        return {
            "phase": self.phase,
            "target_hz": self.target_hz,
            "achieved_hz": self.achieved_hz,
            "n_spikes": self.n_spikes,
            "n_windows": self.n_windows,
            "expected_per_window": self.expected_per_window,
            "window_counts": list(self.window_counts),
            "windows_missed": self.windows_missed,
            "first_latency_ms": self.first_latency_ms,
            "isi_hz": self.isi_hz,
            "ok": self.ok,
        }


def phase_rates(
    vm_mv: npt.ArrayLike,
    sample_rate_hz: float,
    sweep: CompiledSweep,
    *,
    threshold_mv: float = SPIKE_THRESHOLD_MV,
    windows: int | None = None,
) -> list[PhaseRate]:
    """Spike count, rate and first-spike latency of every phase of an induction sweep.

    Each phase is judged per theta window against the count its target train implies
    (the compiled sweep's ``post_targets`` inside the phase). ``windows`` limits the
    analysis to the first windows (those delivered before an abort).
    """
    spikes_ms = np.asarray(
        detect_spikes(vm_mv, sample_rate_hz, threshold_mv) * 1000.0 / sample_rate_hz,
        dtype=np.float64,
    )
    targets = np.asarray([float(t) for t in sweep.post_targets], dtype=np.float64)
    spans_all = [s for s in sweep.phases if windows is None or s.window < windows]
    names: list[str] = []
    for span in spans_all:
        if span.name not in names:
            names.append(span.name)
    out = []
    for name in names:
        spans = [s for s in spans_all if s.name == name]
        counts: list[int] = []
        latencies: list[float] = []
        fills: list[float] = []
        expected = 0
        for s in spans:
            lo, hi = float(s.start), float(s.stop)
            inside = spikes_ms[(spikes_ms >= lo) & (spikes_ms < hi)]
            counts.append(int(inside.size))
            if inside.size:
                latencies.append(float(inside[0]) - lo)
            if inside.size >= 2 and inside[-1] > inside[0]:
                isi = float(inside[-1] - inside[0]) / (inside.size - 1)
                fills.append(1.0 + (hi - float(inside[0])) / isi)
            if s is spans[0]:
                expected = int(np.count_nonzero((targets >= lo) & (targets < hi)))
        count = sum(counts)
        target = spans[0].post_rate_hz
        if expected > 0:
            achieved = target * (count / len(spans)) / expected
        else:
            total_ms = sum(float(s.stop - s.start) for s in spans)
            achieved = 1000.0 * count / total_ms if total_ms > 0 else 0.0
        out.append(
            PhaseRate(
                phase=name,
                target_hz=target,
                achieved_hz=achieved,
                n_spikes=count,
                n_windows=len(spans),
                expected_per_window=expected,
                window_counts=tuple(counts),
                first_latency_ms=float(np.mean(latencies)) if latencies else math.nan,
                isi_hz=_rate([(float(s.start), float(s.stop)) for s in spans], spikes_ms)[0],
                fill=float(np.mean(fills)) if fills else math.nan,
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


def _run_checked(rig: Rig, wave: Waveforms, label: str, cancel: Cancel | None) -> SweepResult:
    """One calibration sweep, after asking ``cancel``; a cut sweep ends the calibration."""
    if cancel is not None:
        cancel()
    result = rig.run(rig.prepare(wave, label=label))
    if not result.complete:
        if cancel is not None:
            cancel()  # an abort request ends the calibration the caller's way
        raise RigError("calibration was aborted")
    return result


def _measure(
    rig: Rig,
    current_pa: float,
    step_ms: float,
    windows: int,
    gap_ms: float,
    lead_ms: float,
    cancel: Cancel | None = None,
) -> float:
    fs = rig.definition.sample_rate_hz
    wave, spans = _ladder_waveforms(current_pa, fs, step_ms, windows, gap_ms, lead_ms)
    result = _run_checked(rig, wave, f"calibration {current_pa:g} pA", cancel)
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
    cancel: Cancel | None = None,
) -> FICurve:
    """Measure the f-I curve with repeated current steps shaped like theta phases.

    The default ladder goes from 0 to the rig's current limit in 25 pA steps (at most
    600 pA). ``cancel`` is called before every sweep (it raises to stop the ladder).
    """
    if currents_pa is None:
        top = min(600.0, rig.definition.limits.max_command_pa)
        currents_pa = [float(c) for c in np.arange(0.0, top + 1e-9, 25.0)]
    limit = rig.definition.limits.max_command_pa
    cur = [float(c) for c in currents_pa if abs(c) <= limit]
    rates = [_measure(rig, c, step_ms, windows, gap_ms, lead_ms, cancel) for c in cur]
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


def _context_run(
    rig: Rig, exp: Experiment, windows: int, cancel: Cancel | None = None
) -> tuple[list[PhaseRate], CompiledSweep]:
    """Run the protocol's current pattern (first windows, stimulation off) and measure."""
    ind = exp.induction.replace(repeats=min(windows, exp.induction.repeats))
    sweep = compile_induction(ind)
    wave = sweep.waveforms(rig.definition.sample_rate_hz)
    silent = Waveforms(
        sample_rate_hz=wave.sample_rate_hz,
        stim=np.zeros_like(wave.stim),
        command_pa=wave.command_pa,
    )
    result = _run_checked(rig, silent, "calibration (in context, no stimulation)", cancel)
    return phase_rates(result.vm_mv, result.sample_rate_hz, sweep), sweep


def calibrate_experiment(
    rig: Rig,
    experiment: Experiment,
    *,
    curve: FICurve | None = None,
    windows: int = 3,
    max_iterations: int = 8,
    tolerance: float = 0.05,
    cancel: Cancel | None = None,
    context_windows: int = 10,
) -> ExperimentCalibration:
    """Set every driven phase's current so that it fires at its target rate on this rig.

    Starts from the f-I ladder, then adjusts each phase in the context of the protocol's
    own current pattern (stimulation off) with secant steps until every phase is within
    ``tolerance`` or ``max_iterations`` is reached. Currents stay within the rig's limit.
    The context runs play up to ``context_windows`` windows (firing settles over the
    first few). ``cancel`` is called before every sweep: it raises to stop (a runner's stop or
    abort) and may block while the run is paused.
    """
    fi = curve if curve is not None else fi_curve(rig, windows=windows, cancel=cancel)
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
    best: tuple[tuple[int, float], list[float | None], list[PhaseRate]] | None = None
    while iterations < max_iterations:
        iterations += 1
        exp = with_currents()
        rates, _ = _context_run(rig, exp, max(windows, context_windows), cancel)
        by_name = {r.phase: r for r in rates}
        score = (
            sum(1 for r in rates if not r.ok),
            max(
                (abs(r.steer_hz - r.target_hz) / r.target_hz for r in rates if r.target_hz),
                default=0.0,
            ),
        )
        if best is None or score < best[0]:
            best = (score, list(currents), list(rates))
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
            # Steer on the count while it is off, then on the spacing of the spikes, so
            # the current lands in the middle of the right count, not at its edge.
            measured = r.steer_hz
            if r.ok and abs(measured - target) <= 2 * tolerance * target:
                continue
            done = False
            slope = slope_default
            if i in previous:
                c0, r0 = previous[i]
                if c != c0 and (measured - r0) / (c - c0) > 0.02:
                    slope = (measured - r0) / (c - c0)
            previous[i] = (c, measured)
            step = (target - measured) / max(slope, 0.02)
            step = max(-60.0, min(60.0, step))
            currents[i] = max(0.0, min(limit, c + step))
        if done:
            break
    if best is not None:  # the best currents measured, never an untried last step
        currents[:] = best[1]
        rates = best[2]
    return ExperimentCalibration(
        experiment=with_currents(),
        rates=tuple(rates),
        iterations=iterations,
        curve=fi,
        history=tuple(history),
    )
