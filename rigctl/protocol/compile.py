"""Compile an experiment to timed events, and events to sample-exact waveforms.

This is the one event stream of rigctl: the GUI preview, the plasticity preview, the
simulated rig and the NI rig all consume what is compiled here, so what is previewed is
exactly what runs.

Exactness
---------
Every time is computed from absolute quantities (window onset + pulse index x period),
never by accumulating increments, and in exact rational arithmetic (``fractions.Fraction``
built from the decimal value the user typed). An edge at time ``t`` (ms) falls on sample
``floor(t * fs / 1000 + 1/2)``: the nearest sample, ties rounded up. Over a 45-minute
schedule or a long induction there is therefore no drift, and the same edge compiles to
the same sample whatever the path that led to it.

Every sweep is followed by one closing sample at rest (0 pA, TTL low), so a waveform
always ends at rest even when the last phase drives to the very end of the sweep.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import Literal

import numpy as np
import numpy.typing as npt

from rigctl.protocol.models import Experiment, Induction, Phase, ProbeSchedule
from rigctl.protocol.timing import CompileError, edge_samples, exact, sample_index

__all__ = [
    "CompileError",
    "CompiledExperiment",
    "CompiledSweep",
    "Event",
    "EventKind",
    "PhaseSpan",
    "ScheduledSweep",
    "Waveforms",
    "check_sampling",
    "compile_experiment",
    "compile_induction",
    "compile_probe",
    "exact",
    "induction_samples",
    "sample_index",
    "schedule",
]

EventKind = Literal["pre_pulse", "post_epoch", "probe_pulse", "test_step"]
_KIND_ORDER: dict[str, int] = {"post_epoch": 0, "test_step": 1, "pre_pulse": 2, "probe_pulse": 3}

#: Hard cap on the samples of one rendered sweep per channel (5 min at 20 kHz). It bounds
#: memory: a sweep takes 9 bytes a sample for its two outputs, 17 with the recorded Vm,
#: and a run holds the compiled events, the waveforms and the simulation together (a
#: 9-minute 500 Hz sweep peaked at 1.1 GB). Real inductions last seconds.
MAX_SAMPLES = 6_000_000


@dataclass(frozen=True, slots=True)
class Event:
    """One timed output event of a sweep.

    Times are exact (``Fraction``, ms, from the sweep start); use the ``*_ms`` / ``*_s``
    properties for floats. ``amplitude_pa`` is the command current of a ``post_epoch`` or
    ``test_step`` (0 for an uncalibrated epoch, see ``calibrated``) and 0 for pulses.
    """

    kind: EventKind
    start: Fraction
    duration: Fraction
    amplitude_pa: float = 0.0
    window: int | None = None
    phase: str | None = None
    calibrated: bool = True

    @property
    def stop(self) -> Fraction:
        """Exact end time (ms)."""
        return self.start + self.duration

    @property
    def start_ms(self) -> float:
        """Start time (ms)."""
        return float(self.start)

    @property
    def stop_ms(self) -> float:
        """End time (ms)."""
        return float(self.stop)

    @property
    def start_s(self) -> float:
        """Start time (s)."""
        return float(self.start / 1000)

    @property
    def duration_ms(self) -> float:
        """Duration (ms)."""
        return float(self.duration)


@dataclass(frozen=True, slots=True)
class PhaseSpan:
    """Where one phase of one theta window lies in the induction sweep (exact ms)."""

    window: int
    name: str
    start: Fraction
    stop: Fraction
    pre_rate_hz: float
    post_rate_hz: float


@dataclass(frozen=True)
class Waveforms:
    """Sample-exact output waveforms of one sweep.

    ``stim`` is the TTL line (0/1, ``uint8``), ``command_pa`` the current command (pA).
    The last sample is always at rest.
    """

    sample_rate_hz: float
    stim: npt.NDArray[np.uint8]
    command_pa: npt.NDArray[np.float64]

    @property
    def n_samples(self) -> int:
        """Samples per channel."""
        return int(self.stim.shape[0])

    @property
    def t_s(self) -> npt.NDArray[np.float64]:
        """Sample times (s) from the sweep start."""
        return np.arange(self.n_samples, dtype=np.float64) / self.sample_rate_hz


@dataclass(frozen=True)
class CompiledSweep:
    """A sweep as an ordered list of events, ready to render at any sample rate."""

    kind: Literal["induction", "probe"]
    duration: Fraction
    events: tuple[Event, ...]
    phases: tuple[PhaseSpan, ...] = ()
    window_starts: tuple[Fraction, ...] = ()
    window_length: Fraction | None = None
    post_targets: tuple[Fraction, ...] = ()
    jittered: frozenset[str] = frozenset()

    @property
    def duration_ms(self) -> float:
        """Sweep length (ms), without the closing rest sample."""
        return float(self.duration)

    def of_kind(self, *kinds: EventKind) -> tuple[Event, ...]:
        """The events of the given kinds, in time order."""
        return tuple(e for e in self.events if e.kind in kinds)

    @cached_property
    def pre_pulse_ms(self) -> npt.NDArray[np.float64]:
        """Onsets of the presynaptic stimulation pulses (induction and probe), ms."""
        return np.array(
            [e.start_ms for e in self.of_kind("pre_pulse", "probe_pulse")], dtype=np.float64
        )

    @cached_property
    def post_target_ms(self) -> npt.NDArray[np.float64]:
        """The target postsynaptic spike train (regular at each phase's rate, after its lag)."""
        return np.array([float(t) for t in self.post_targets], dtype=np.float64)

    @cached_property
    def phase_onsets_ms(self) -> dict[str, tuple[tuple[float, npt.NDArray[np.float64]], ...]]:
        """Onsets (ms) of each phase's spans, grouped by the span's length (ms).

        ``{phase name: ((length, onsets), ...)}``, phases and lengths in order of first
        appearance; the arrays are read-only. Random trains of a phase are drawn for all
        its spans of one length at once.
        """
        groups: dict[str, dict[float, list[float]]] = {}
        for span in self.phases:
            by_length = groups.setdefault(span.name, {})
            by_length.setdefault(float(span.stop - span.start), []).append(float(span.start))
        out: dict[str, tuple[tuple[float, npt.NDArray[np.float64]], ...]] = {}
        for name, by_length in groups.items():
            parts = []
            for length, onsets in by_length.items():
                array = np.asarray(onsets, dtype=np.float64)
                array.flags.writeable = False
                parts.append((length, array))
            out[name] = tuple(parts)
        return out

    @property
    def window_starts_ms(self) -> npt.NDArray[np.float64]:
        """Onsets of the theta windows (ms)."""
        return np.array([float(t) for t in self.window_starts], dtype=np.float64)

    @property
    def post_epochs_ms(self) -> npt.NDArray[np.float64]:
        """``(n, 2)`` array of [start, stop] of each command epoch (ms)."""
        spans = [(e.start_ms, e.stop_ms) for e in self.of_kind("post_epoch", "test_step")]
        return np.array(spans, dtype=np.float64).reshape(-1, 2)

    def injected_charge_pc(self) -> float:
        """Total charge injected by the command (pC = pA x s), signed."""
        return math.fsum(
            e.amplitude_pa * float(e.duration) / 1000.0
            for e in self.of_kind("post_epoch", "test_step")
        )

    def n_samples(self, sample_rate_hz: float) -> int:
        """Samples per channel at ``sample_rate_hz``, including the closing rest sample."""
        return sample_index(self.duration, exact(sample_rate_hz)) + 1

    def waveforms(self, sample_rate_hz: float) -> Waveforms:
        """Render the sweep at ``sample_rate_hz`` with every edge at its exact sample.

        Raises
        ------
        CompileError
            If a pulse would be shorter than one sample or merge with the next pulse, or
            the sweep would exceed ``MAX_SAMPLES``.
        """
        n = check_sampling(self, sample_rate_hz)
        fs = exact(sample_rate_hz)
        stim = np.zeros(n, dtype=np.uint8)
        command = np.zeros(n, dtype=np.float64)
        for ev in self.events:
            i0, i1 = edge_samples(ev.start, ev.duration, fs)
            if ev.kind in ("pre_pulse", "probe_pulse"):
                stim[i0:i1] = 1
            else:
                command[i0:i1] = ev.amplitude_pa
        stim[-1] = 0
        command[-1] = 0.0
        return Waveforms(sample_rate_hz=float(sample_rate_hz), stim=stim, command_pa=command)


# --------------------------------------------------------------------------- sampling


def _where(ev: Event, sweep: CompiledSweep) -> str:
    if ev.kind == "probe_pulse":
        return "the probe pulse"
    if ev.kind == "test_step":
        return "the test step"
    window = "" if ev.window is None else f", window {ev.window + 1}"
    return f"phase {ev.phase!r}{window}" if ev.phase else sweep.kind


def _field(ev: Event, sweep: CompiledSweep, attr: str) -> str:
    """Dotted protocol path of ``attr`` of the phase (or probe part) that made ``ev``."""
    if ev.kind == "probe_pulse":
        return "probes.probe.pulse_width_us"
    if ev.kind == "test_step":
        return "probes.test_step.duration_ms"
    names = [p.name for p in sweep.phases if p.window == 0]
    index = names.index(ev.phase) if ev.phase in names else 0
    return f"induction.phases[{index}].{attr}"


def _merge_advice(last: Event, ev: Event, sweep: CompiledSweep) -> tuple[str, str]:
    """The field to change and advice that is true for two pulses that merge."""
    gap = ev.start - last.stop
    faster = (
        f", or raise the sample rate to at least {1000 / float(gap):.6g} Hz"
        if gap > 0
        else " (they touch or overlap, so no sample rate separates them)"
    )
    jittered = [p for p in dict.fromkeys((last.phase, ev.phase)) if p in sweep.jittered]
    if jittered:
        culprit = ev if ev.phase in jittered else last
        names = " and ".join(repr(p) for p in jittered)
        return _field(culprit, sweep, "pre.jitter_ms"), (
            f"lower jitter_ms of phase{'s' * (len(jittered) > 1)} {names} (a jittered "
            f"pulse is kept inside its phase, so it can land next to its neighbour){faster}"
        )
    if ev.phase != last.phase:
        return _field(ev, sweep, "pre.onset_ms"), (
            f"delay the first pulse of phase {ev.phase!r} (onset_ms){faster}"
        )
    return _field(ev, sweep, "pre.rate_hz"), f"lower the rate or the pulse width{faster}"


def check_sampling(sweep: CompiledSweep, sample_rate_hz: float, *, budget: bool = True) -> int:
    """Check that ``sweep`` renders honestly at ``sample_rate_hz``; return its sample count.

    Refuses, before anything is allocated, a sweep of more than :data:`MAX_SAMPLES`
    samples, a stimulation pulse or current step shorter than one sample (it would vanish),
    and two pulses with no low sample between them (they would merge into one).

    Raises
    ------
    CompileError
        Naming the event, the rate and what to change; ``field`` is the protocol field.
    """
    if not (isinstance(sample_rate_hz, int | float) and math.isfinite(sample_rate_hz)):
        raise CompileError(f"sample rate {sample_rate_hz!r} Hz must be a positive number")
    if sample_rate_hz <= 0:
        raise CompileError(f"sample rate {sample_rate_hz!r} Hz must be a positive number")
    fs = exact(sample_rate_hz)
    n = sample_index(sweep.duration, fs) + 1
    if budget and n > MAX_SAMPLES:
        longest_s = MAX_SAMPLES / sample_rate_hz
        raise CompileError(
            f"the {sweep.kind} sweep would need {n:,} samples per channel at "
            f"{sample_rate_hz:g} Hz, over the budget of {MAX_SAMPLES:,} "
            f"({MAX_SAMPLES * 9 // 1_000_000} MB); shorten it to at most {longest_s:g} s "
            "or lower the sample rate",
            "induction.repeats" if sweep.kind == "induction" else "probes.sweep_ms",
        )
    sample_us = 1e6 / sample_rate_hz
    last: Event | None = None
    last_off = -1
    for ev in sweep.events:
        i0, i1 = edge_samples(ev.start, ev.duration, fs)
        pulse = ev.kind in ("pre_pulse", "probe_pulse")
        if i1 <= i0 and (pulse or ev.duration > 0):
            what = "stimulation pulse" if pulse else "current step"
            field_ = _field(ev, sweep, "pre.pulse_width_us" if pulse else "post.lag_ms")
            raise CompileError(
                f"a {float(ev.duration) * 1000:g} µs {what} ({_where(ev, sweep)}, at "
                f"{ev.start_ms:g} ms) is shorter than one sample ({sample_us:g} µs at "
                f"{sample_rate_hz:g} Hz) and would vanish; "
                + ("widen the pulse" if pulse else "lengthen the step")
                + f" or raise the sample rate to at least {1000 / float(ev.duration):.6g} Hz",
                field_,
            )
        if not pulse:
            continue
        if i0 <= last_off and last is not None:
            field_, advice = _merge_advice(last, ev, sweep)
            raise CompileError(
                f"the pulses at {last.start_ms:g} ms ({_where(last, sweep)}) and "
                f"{ev.start_ms:g} ms ({_where(ev, sweep)}) merge at {sample_rate_hz:g} Hz "
                f"sampling (no low sample between them, {sample_us:g} µs); {advice}",
                field_,
            )
        last, last_off = ev, i1
    return n


# --------------------------------------------------------------------------- induction


def _phase_rng(seed: int, window: int, phase_index: int) -> np.random.Generator:
    return np.random.default_rng([seed, window, phase_index])


def _pulse_starts(
    phase: Phase, phase_start: Fraction, window: int, phase_index: int
) -> list[Fraction]:
    train = phase.pre
    period = 1000 / exact(train.rate_hz)
    onset = exact(train.onset_ms)
    count = phase.pulse_count()
    if train.timing == "jittered" and train.jitter_ms > 0:
        dur = exact(phase.duration_ms)
        latest = dur - exact(train.pulse_width_us) / 1000
        rng = _phase_rng(train.seed, window, phase_index)
        shifts = rng.uniform(-train.jitter_ms, train.jitter_ms, size=count)
        return _jittered_starts(phase_start, onset, period, latest, shifts.tolist())
    return _progression(phase_start + onset, period, count)


def _progression(base: Fraction, step: Fraction, count: int) -> list[Fraction]:
    """``base + k * step`` for ``k < count``: one normalisation each, on integers."""
    num = base.numerator * step.denominator
    inc = step.numerator * base.denominator
    den = base.denominator * step.denominator
    return [Fraction(num + k * inc, den) for k in range(count)]


def _jittered_starts(
    phase_start: Fraction, onset: Fraction, period: Fraction, latest: Fraction, shifts: list[float]
) -> list[Fraction]:
    """``phase_start + sorted(clamp(onset + k * period + shift_k, 0, latest))``, exactly.

    The same values as Fraction arithmetic (each float shift is the exact dyadic rational
    it holds), computed on integers over one common denominator: a long jittered
    induction compiles several times faster than with a Fraction per operation.
    """
    ratios = [s.as_integer_ratio() for s in shifts]
    den = math.lcm(onset.denominator, period.denominator, latest.denominator)
    den = math.lcm(den, max((b for _, b in ratios), default=1))  # shifts: powers of two
    first = onset.numerator * (den // onset.denominator)
    step = period.numerator * (den // period.denominator)
    top = latest.numerator * (den // latest.denominator)
    offsets = sorted(
        min(max(first + k * step + a * (den // b), 0), top) for k, (a, b) in enumerate(ratios)
    )
    p_num, p_den = phase_start.numerator, phase_start.denominator
    return [Fraction(p_num * den + off * p_den, p_den * den) for off in offsets]


def _window_length(induction: Induction) -> Fraction:
    if induction.window_ms is not None:
        return exact(induction.window_ms)
    return sum((exact(p.duration_ms) for p in induction.phases), Fraction(0))


def _induction_length(induction: Induction) -> Fraction:
    stride = _window_length(induction) + exact(induction.gap_ms)
    return exact(induction.lead_in_ms) + induction.repeats * stride


def induction_samples(induction: Induction, sample_rate_hz: float) -> int:
    """Samples per channel of the induction sweep at ``sample_rate_hz``, without compiling it."""
    return sample_index(_induction_length(induction), exact(sample_rate_hz)) + 1


@functools.lru_cache(maxsize=2)
def compile_induction(induction: Induction) -> CompiledSweep:
    """Compile the induction sweep: lead-in, then ``repeats`` x (window + gap).

    Both are immutable, so the last two are kept: previews and ``rigctl predict`` ask
    for the same induction several times, and a long one takes seconds to compile.
    """
    lead = exact(induction.lead_in_ms)
    window_len = _window_length(induction)
    stride = window_len + exact(induction.gap_ms)
    events: list[Event] = []
    spans: list[PhaseSpan] = []
    starts: list[Fraction] = []
    targets: list[Fraction] = []
    for w in range(induction.repeats):
        w_start = lead + w * stride
        starts.append(w_start)
        p_start = w_start
        for i, phase in enumerate(induction.phases):
            dur = exact(phase.duration_ms)
            p_stop = p_start + dur
            spans.append(
                PhaseSpan(
                    window=w,
                    name=phase.name,
                    start=p_start,
                    stop=p_stop,
                    pre_rate_hz=phase.pre.rate_hz,
                    post_rate_hz=phase.post.target_rate_hz,
                )
            )
            width = exact(phase.pre.pulse_width_us) / 1000
            events.extend(
                Event("pre_pulse", t, width, window=w, phase=phase.name)
                for t in _pulse_starts(phase, p_start, w, i)
            )
            post = phase.post
            if post.target_rate_hz > 0:
                lag = exact(post.lag_ms)
                events.append(
                    Event(
                        "post_epoch",
                        p_start + lag,
                        dur - lag,
                        amplitude_pa=post.current_pa or 0.0,
                        window=w,
                        phase=phase.name,
                        calibrated=post.current_pa is not None,
                    )
                )
                period = 1000 / exact(post.target_rate_hz)
                targets.extend(_progression(p_start + lag, period, phase.post_spike_count()))
            p_start = p_stop
    return CompiledSweep(
        kind="induction",
        duration=_induction_length(induction),
        events=_ordered(events),
        phases=tuple(spans),
        window_starts=tuple(starts),
        window_length=window_len,
        post_targets=tuple(targets),
        jittered=frozenset(
            p.name for p in induction.phases if p.pre.timing == "jittered" and p.pre.jitter_ms > 0
        ),
    )


def compile_probe(probes: ProbeSchedule) -> CompiledSweep:
    """Compile one probe sweep: the hyperpolarizing test step and the probe pulse."""
    step = probes.test_step
    pulse = probes.probe
    events = [
        Event(
            "test_step",
            exact(step.start_ms),
            exact(step.duration_ms),
            amplitude_pa=step.amplitude_pa,
        ),
    ]
    # One pulse, or two for the paired-pulse ratio (each as wide as the first).
    events += [
        Event("probe_pulse", exact(t_ms), exact(pulse.pulse_width_us) / 1000)
        for t_ms in pulse.times_ms
    ]
    return CompiledSweep(kind="probe", duration=exact(probes.sweep_ms), events=_ordered(events))


def _ordered(events: Iterable[Event]) -> tuple[Event, ...]:
    # float(t) is monotone in t, so comparing it first keeps the exact order while
    # sparing the Fraction comparisons that dominated long inductions; the exact time
    # decides only between times equal as floats.
    return tuple(sorted(events, key=lambda e: (float(e.start), e.start, _KIND_ORDER[e.kind])))


# --------------------------------------------------------------------------- schedule


@dataclass(frozen=True, slots=True)
class ScheduledSweep:
    """One sweep of the experiment schedule.

    ``start`` is exact seconds from the start of the recording; ``since_induction_s`` is
    the time relative to the induction onset (negative during the baseline).
    """

    kind: Literal["probe", "induction"]
    segment: Literal["baseline", "induction", "followup"]
    index: int
    start: Fraction
    induction_start: Fraction

    @property
    def start_s(self) -> float:
        """Start time (s) from the start of the recording."""
        return float(self.start)

    @property
    def since_induction_s(self) -> float:
        """Start time (s) relative to the induction onset."""
        return float(self.start - self.induction_start)


def schedule(experiment: Experiment) -> tuple[ScheduledSweep, ...]:
    """The sweep schedule: baseline probes, the induction, follow-up probes.

    Baseline probe ``i`` starts at ``i x interval``; the induction at
    ``n_baseline x interval``; follow-up probe ``j`` (from 1) at induction onset plus
    ``j x interval``. Every start is computed from its index, so there is no drift.
    """
    probes = experiment.probes
    interval = exact(probes.interval_s)
    n_base = probes.baseline_count
    t_ind = n_base * interval
    out = [ScheduledSweep("probe", "baseline", i, i * interval, t_ind) for i in range(n_base)]
    out.append(ScheduledSweep("induction", "induction", 0, t_ind, t_ind))
    # The first follow-up probe waits until the induction sweep is over.
    ind_s = _induction_length(experiment.induction) / 1000
    first = max(1, math.ceil(ind_s / interval))
    out.extend(
        ScheduledSweep("probe", "followup", j - first, t_ind + j * interval, t_ind)
        for j in range(first, first + probes.followup_count)
    )
    return tuple(out)


@dataclass(frozen=True)
class CompiledExperiment:
    """Everything a runner needs: the two sweep templates and the schedule."""

    experiment: Experiment
    induction: CompiledSweep
    probe: CompiledSweep
    sweeps: tuple[ScheduledSweep, ...] = field(default=())

    @property
    def total_s(self) -> float:
        """Time from the first probe to the end of the last sweep (s)."""
        last = self.sweeps[-1]
        tail = self.induction if last.kind == "induction" else self.probe
        return float(last.start + tail.duration / 1000)


def compile_experiment(experiment: Experiment) -> CompiledExperiment:
    """Compile the induction, the probe sweep and the schedule of an experiment."""
    return CompiledExperiment(
        experiment=experiment,
        induction=compile_induction(experiment.induction),
        probe=compile_probe(experiment.probes),
        sweeps=schedule(experiment),
    )
