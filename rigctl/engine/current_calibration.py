"""Current calibration: the postsynaptic current steps that give each phase its target rate.

Works on any :class:`~rigctl.hardware.base.Rig`:

* :func:`fi_curve` runs a current ladder (repeated steps shaped like theta phases) and
  measures the firing rate at every step amplitude;
* :func:`currents_for_rates` finds the steps that give target rates (25 and 50 Hz by
  default) from the ladder, refined by bisection on the rising branch of the curve;
* :func:`calibrate_experiment` sets every phase's current for a protocol, refining each
  phase in the context of the protocol (the order of phases changes the rates through
  adaptation) with the presynaptic stimulation *off*, so calibration never pairs pre- and
  postsynaptic activity and cannot itself induce plasticity;
* it steers on the rule of :func:`rigctl.engine.spikes.phase_rates` (spike count per
  theta window against the count the target train implies), so everyone uses one rule.

The spike detector and the phase rates live in :mod:`rigctl.engine.spikes` (no rig
needed) and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rigctl.engine.spikes import (
    MISS_TOLERANCE,
    SPIKE_THRESHOLD_MV,
    FloatArray,
    PhaseRate,
    detect_spikes,
    phase_rates,
    rate_in,
)
from rigctl.hardware.base import Rig, RigError, SweepResult
from rigctl.protocol import CompiledSweep, Experiment, Phase, Waveforms, compile_induction

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

Cancel = Callable[[], None]
"""Called before every calibration sweep: raises to stop it, may block while paused."""


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
    rate, _ = rate_in(spans, spikes_ms)
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


def _with_currents(experiment: Experiment, currents: Sequence[float | None]) -> Experiment:
    """``experiment`` with each phase's current (rounded to 0.1 pA; None = uncalibrated)."""
    phases = experiment.induction.phases
    new = [
        ph.replace(post=ph.post.replace(current_pa=None if c is None else round(c, 1)))
        for ph, c in zip(phases, currents, strict=True)
    ]
    return experiment.replace(induction=experiment.induction.replace(phases=tuple(new)))


def _score(rates: Sequence[PhaseRate]) -> tuple[int, float]:
    """How far a calibration attempt is off: phases missed, then the worst relative error."""
    return (
        sum(1 for r in rates if not r.ok),
        max(
            (abs(r.steer_hz - r.target_hz) / r.target_hz for r in rates if r.target_hz),
            default=0.0,
        ),
    )


@dataclass
class _Steering:
    """The secant steering of every driven phase's current between calibration attempts."""

    limit: float
    slope_default: float
    tolerance: float
    previous: dict[int, tuple[float, float]] = field(default_factory=dict)

    def step(
        self,
        phases: Sequence[Phase],
        currents: list[float | None],
        by_name: dict[str, PhaseRate],
    ) -> bool:
        """Move every phase still off target; whether all were on target already."""
        done = True
        for i, ph in enumerate(phases):
            c = currents[i]
            if c is None:
                continue
            r = by_name[ph.name]
            target = ph.post.target_rate_hz
            # Steer on the count while it is off, then on the spikes' spacing, so the
            # current lands just inside the right count (spikes.FILL_AIM), not mid-range.
            measured = r.steer_hz
            if r.ok and abs(measured - target) <= 2 * self.tolerance * target:
                continue
            done = False
            slope = self.slope_default
            if i in self.previous:
                c0, r0 = self.previous[i]
                if c != c0 and (measured - r0) / (c - c0) > 0.02:
                    slope = (measured - r0) / (c - c0)
            self.previous[i] = (c, measured)
            step = (target - measured) / max(slope, 0.02)
            step = max(-60.0, min(60.0, step))
            currents[i] = max(0.0, min(self.limit, c + step))
        return done


def _start(fi: FICurve, experiment: Experiment, limit: float) -> tuple[list[float | None], float]:
    """The f-I ladder's first guess of every phase's current, and its default slope."""
    cur_r, rate_r = fi.rising()
    slope_default = (
        float((rate_r[-1] - rate_r[0]) / (cur_r[-1] - cur_r[0]))
        if cur_r.size > 1 and cur_r[-1] > cur_r[0]
        else 0.2
    )
    currents: list[float | None] = []
    for ph in experiment.induction.phases:
        if ph.post.target_rate_hz == 0:
            currents.append(None)
            continue
        guess = fi.current_for(ph.post.target_rate_hz)
        currents.append(min(limit, guess if guess is not None else limit))
    return currents, slope_default


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
    currents, slope_default = _start(fi, experiment, limit)
    steering = _Steering(limit, slope_default, tolerance)
    phases = experiment.induction.phases
    history: list[tuple[tuple[str, float, float], ...]] = []
    rates: list[PhaseRate] = []
    iterations = 0
    best: tuple[tuple[int, float], list[float | None], list[PhaseRate]] | None = None
    while iterations < max_iterations:
        iterations += 1
        exp = _with_currents(experiment, currents)
        rates, _ = _context_run(rig, exp, max(windows, context_windows), cancel)
        by_name = {r.phase: r for r in rates}
        score = _score(rates)
        if best is None or score < best[0]:
            best = (score, list(currents), list(rates))
        history.append(
            tuple(
                (ph.name, float(c or 0.0), by_name[ph.name].achieved_hz)
                for ph, c in zip(phases, currents, strict=True)
            )
        )
        if steering.step(phases, currents, by_name):
            break
    if best is not None:  # the best currents measured, never an untried last step
        currents[:] = best[1]
        rates = best[2]
    return ExperimentCalibration(
        experiment=_with_currents(experiment, currents),
        rates=tuple(rates),
        iterations=iterations,
        curve=fi,
        history=tuple(history),
    )
