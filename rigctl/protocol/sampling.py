"""Does a protocol survive sampling? Pulses and steps that would vanish or merge, found fast.

``check_experiment_sampling(experiment, fs)`` answers, without building the per-pulse
events of a long induction, what :func:`~rigctl.protocol.compile.check_sampling` would
say about the compiled sweeps: every pulse and current step must last at least one
sample, and two pulses must have a low sample between them. It is what
``rigctl validate --rate`` and the rig's preflight run.

The induction is decided in one of two ways:

* from the phases alone, with exact bounds (continuous-time gaps and widths of at least
  one sample can neither merge nor vanish; jittered pulses at their worst-case shifts);
* otherwise pulse by pulse, vectorized: sample indices are computed in floating point and
  every index whose rounding is within 1e-6 of a tie is recomputed in exact arithmetic,
  so the answer is the one of the exact compiler, for a 60-minute 500 Hz induction in
  about a second.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from rigctl.protocol.compile import (
    CompiledSweep,
    Event,
    PhaseSpan,
    _phase_rng,
    _window_length,
    check_sampling,
    compile_probe,
    exact,
    sample_index,
)
from rigctl.protocol.models import Experiment, Induction, Phase

__all__ = ["check_experiment_sampling"]

IntArray = npt.NDArray[np.int64]

_TIE = 1e-6


def _surely_sampled(induction: Induction, sample_rate_hz: float) -> bool:
    """Whether every pulse and step is at least one sample long and apart (exact bounds).

    A sufficient condition computed from the phases alone (no events): continuous-time
    gaps of at least one sample cannot merge, and widths of one sample cannot vanish.
    Jittered pulses are taken at their worst-case shifts; a train whose jitter could be
    clamped at a phase edge is not decided here.
    """
    t = 1000 / exact(sample_rate_hz)
    edges: list[tuple[Fraction, Fraction]] = []  # (first start, last end) in the window
    start = Fraction(0)
    for phase in induction.phases:
        train = phase.pre
        dur, onset = exact(phase.duration_ms), exact(train.onset_ms)
        width = exact(train.pulse_width_us) / 1000
        period = 1000 / exact(train.rate_hz)
        jit = exact(train.jitter_ms) if train.timing == "jittered" else Fraction(0)
        count = phase.pulse_count()
        last = onset + (count - 1) * period
        if width < t or onset - jit < 0 or last + jit > dur - width:
            return False
        if count > 1 and period - width - 2 * jit < t:
            return False
        if phase.post.target_rate_hz > 0 and dur - exact(phase.post.lag_ms) < t:
            return False
        edges.append((start + onset - jit, start + last + jit + width))
        start += dur
    for (_, end), (nxt, _) in itertools.pairwise(edges):
        if nxt - end < t:
            return False
    stride = _window_length(induction) + exact(induction.gap_ms)
    return induction.repeats == 1 or stride + edges[0][0] - edges[-1][1] >= t


class _Pulses:
    """Every induction pulse: float start (ms) and what is needed to recompute it exactly."""

    def __init__(self, induction: Induction) -> None:
        self.induction = induction
        lead = exact(induction.lead_in_ms)
        stride = _window_length(induction) + exact(induction.gap_ms)
        offsets: list[Fraction] = []
        at = Fraction(0)
        for ph in induction.phases:
            offsets.append(at)
            at += exact(ph.duration_ms)
        self.phase_starts = offsets
        self.lead, self.stride = lead, stride
        starts, widths, windows, phases, ks, shifts = [], [], [], [], [], []
        for w in range(induction.repeats):
            for i, ph in enumerate(induction.phases):
                base = float(lead + w * stride + offsets[i])
                off, k, s = self._offsets(ph, w, i)
                starts.append(base + off)
                widths.append(np.full(off.size, ph.pre.pulse_width_us / 1000.0))
                windows.append(np.full(off.size, w, dtype=np.int64))
                phases.append(np.full(off.size, i, dtype=np.int64))
                ks.append(k)
                shifts.append(s)
        start = np.concatenate(starts)
        order = np.argsort(start, kind="stable")
        self.start = start[order]
        self.stop = self.start + np.concatenate(widths)[order]
        self.window = np.concatenate(windows)[order]
        self.phase = np.concatenate(phases)[order]
        self.k = np.concatenate(ks)[order]
        self.shift = np.concatenate(shifts)[order]

    @staticmethod
    def _offsets(
        ph: Phase, w: int, i: int
    ) -> tuple[npt.NDArray[np.float64], IntArray, npt.NDArray[np.float64]]:
        train = ph.pre
        count = ph.pulse_count()
        k = np.arange(count, dtype=np.int64)
        period = 1000.0 / train.rate_hz
        raw = (train.onset_ms + k * period).astype(np.float64)
        if train.timing == "jittered" and train.jitter_ms > 0:
            s = _phase_rng(train.seed, w, i).uniform(-train.jitter_ms, train.jitter_ms, count)
            latest = ph.duration_ms - train.pulse_width_us / 1000.0
            off: npt.NDArray[np.float64] = np.clip(raw + s, 0.0, latest)
            order = np.argsort(off, kind="stable")
            return off[order], k[order], s[order]
        return raw, k, np.zeros(count)

    def exact_event(self, j: int) -> Event:
        """The pulse ``j`` (in time order) as the compiler builds it, in exact arithmetic."""
        w, i, k = int(self.window[j]), int(self.phase[j]), int(self.k[j])
        ph = self.induction.phases[i]
        train = ph.pre
        off = exact(train.onset_ms) + k * (1000 / exact(train.rate_hz))
        if train.timing == "jittered" and train.jitter_ms > 0:
            latest = exact(ph.duration_ms) - exact(train.pulse_width_us) / 1000
            off = min(max(off + Fraction(float(self.shift[j])), Fraction(0)), latest)
        start = self.lead + w * self.stride + self.phase_starts[i] + off
        width = exact(train.pulse_width_us) / 1000
        return Event("pre_pulse", start, width, window=w, phase=ph.name)

    def indices(self, t_ms: npt.NDArray[np.float64], fs: float, stops: bool) -> IntArray:
        """Sample index of every time, exact (ties recomputed in rational arithmetic)."""
        x = t_ms * (fs / 1000.0) + 0.5
        idx = np.floor(x).astype(np.int64)
        frac = x - np.floor(x)
        tol = _TIE + 64 * np.finfo(np.float64).eps * np.abs(x)
        fs_exact = exact(fs)
        for j in np.flatnonzero((frac < tol) | (frac > 1 - tol)):
            ev = self.exact_event(int(j))
            idx[j] = sample_index(ev.stop if stops else ev.start, fs_exact)
        return idx


def _check_pulses(induction: Induction, sample_rate_hz: float, template: CompiledSweep) -> None:
    pulses = _Pulses(induction)
    if pulses.start.size == 0:
        return
    i0 = pulses.indices(pulses.start, sample_rate_hz, stops=False)
    i1 = pulses.indices(pulses.stop, sample_rate_hz, stops=True)
    bad = i1 <= i0
    bad[1:] |= i0[1:] <= i1[:-1]
    hits = np.flatnonzero(bad)
    if hits.size == 0:
        return
    j = int(hits[0])
    events = (pulses.exact_event(j),) if j == 0 else tuple(map(pulses.exact_event, (j - 1, j)))
    mini = CompiledSweep(
        kind="induction",
        duration=template.duration,
        events=events,
        phases=template.phases,
        jittered=template.jittered,
    )
    check_sampling(mini, sample_rate_hz, budget=False)  # raises the compiler's message


def _check_steps(induction: Induction, sample_rate_hz: float, template: CompiledSweep) -> None:
    fs = exact(sample_rate_hz)
    t = 1000 / fs
    lead = exact(induction.lead_in_ms)
    stride = _window_length(induction) + exact(induction.gap_ms)
    at = Fraction(0)
    for ph in induction.phases:
        dur, lag = exact(ph.duration_ms), exact(ph.post.lag_ms)
        if ph.post.target_rate_hz > 0 and dur - lag < t:
            for w in range(induction.repeats):
                start = lead + w * stride + at + lag
                if sample_index(start + dur - lag, fs) <= sample_index(start, fs):
                    ev = Event("post_epoch", start, dur - lag, window=w, phase=ph.name)
                    mini = CompiledSweep(
                        kind="induction",
                        duration=template.duration,
                        events=(ev,),
                        phases=template.phases,
                    )
                    check_sampling(mini, sample_rate_hz, budget=False)
        at += dur


def check_experiment_sampling(experiment: Experiment, sample_rate_hz: float) -> None:
    """Refuse an experiment whose pulses or steps would vanish or merge at ``sample_rate_hz``.

    What ``rigctl validate --rate`` checks, for the probe sweep and the induction: the
    same answer as rendering them with :meth:`CompiledSweep.waveforms`, without building
    the induction's events. The length of the sweeps is not limited here (that is the
    rig's ``max_sweep_s`` and the render budget).

    Raises
    ------
    CompileError
        Naming the pulse or step, the rate, the advice and (``field``) the protocol field.
    """
    check_sampling(compile_probe(experiment.probes), sample_rate_hz, budget=False)
    induction = experiment.induction
    if _surely_sampled(induction, sample_rate_hz):
        return
    # A template with the names of the phases (window 0) and which ones are jittered.
    spans = tuple(
        PhaseSpan(0, ph.name, Fraction(0), Fraction(0), ph.pre.rate_hz, ph.post.target_rate_hz)
        for ph in induction.phases
    )
    jittered = frozenset(
        ph.name for ph in induction.phases if ph.pre.timing == "jittered" and ph.pre.jitter_ms > 0
    )
    template = CompiledSweep(
        kind="induction", duration=Fraction(0), events=(), phases=spans, jittered=jittered
    )
    _check_steps(induction, sample_rate_hz, template)
    _check_pulses(induction, sample_rate_hz, template)
