"""The test pulse: repeated short current steps and what each says about the cell.

Each pulse is a short sweep: a baseline, a small (hyperpolarizing) current step, and a
tail while the membrane recovers. One exponential model is fitted to the whole sweep
(:func:`scipy.optimize.curve_fit`)::

    baseline:        V = Vrest
    during the step: V = Vrest + I Rs + I Rin (1 - exp(-t / tau))
    after the step:  V = Vrest + I Rin (1 - exp(-D / tau)) exp(-t' / tau)

The instantaneous jump ``I Rs`` at the step onset is the series (access) resistance that a
bridge balance would remove; the exponential part gives the input resistance and the
membrane time constant. Samples right after each edge (filter and pipette-capacitance
transients) are left out of the fit, and every estimate states whether it is valid.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import (  # type: ignore[import-untyped, unused-ignore]
    OptimizeWarning,
    curve_fit,
)

from rigctl.engine.signals import Signal
from rigctl.hardware import Chunk, PreparedSweep, Rig, RigError, SweepResult
from rigctl.protocol import ProbeSchedule, Waveforms

__all__ = [
    "MAX_TEST_PULSE_HZ",
    "Estimate",
    "TestPulse",
    "TestPulseResult",
    "TestPulseSettings",
    "analyze_test_pulse",
    "average_pulses",
]

FloatArray = npt.NDArray[np.float64]

MAX_TEST_PULSE_HZ = 10.0
"""Fastest test-pulse repetition (pulses per second)."""


@dataclass(frozen=True)
class TestPulseSettings:
    """Shape and rate of the test pulse (defaults: the protocol's -10 pA step, 10 Hz).

    Attributes
    ----------
    amplitude_pa
        Step amplitude (pA); non-zero, checked against the rig's ``max_command_pa``.
    baseline_ms, step_ms, tail_ms
        Lengths of the sweep's parts (ms).
    rate_hz
        Pulses per second (at most :data:`MAX_TEST_PULSE_HZ`); the sweep must fit in one
        period. The default 95 ms sweep leaves 5 ms per period for the analysis at 10 Hz;
        the fit assumes the membrane is back at rest when a sweep starts, so on a real cell
        with a long tau_m lower the rate or lengthen ``tail_ms``.
    skip_ms
        Time after each edge left out of the fit (filter and capacitance transients); at
        least two samples are always skipped.
    """

    __test__ = False  # not a pytest test class

    amplitude_pa: float = -10.0
    baseline_ms: float = 10.0
    step_ms: float = 50.0
    tail_ms: float = 35.0
    rate_hz: float = MAX_TEST_PULSE_HZ
    skip_ms: float = 0.15

    def __post_init__(self) -> None:
        for name in ("baseline_ms", "step_ms", "tail_ms", "rate_hz"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"test pulse: {name} = {value!r} must be a positive number")
        if not (math.isfinite(self.amplitude_pa) and self.amplitude_pa != 0):
            raise ValueError(f"test pulse: amplitude_pa = {self.amplitude_pa!r} must be non-zero")
        if not (math.isfinite(self.skip_ms) and self.skip_ms >= 0):
            raise ValueError(f"test pulse: skip_ms = {self.skip_ms!r} must be 0 or more")
        if self.rate_hz > MAX_TEST_PULSE_HZ:
            raise ValueError(
                f"test pulse: rate_hz = {self.rate_hz:g} is over the "
                f"{MAX_TEST_PULSE_HZ:g} pulses/s limit"
            )
        if self.sweep_ms > 1000.0 / self.rate_hz + 1e-9:
            raise ValueError(
                f"test pulse: a {self.sweep_ms:g} ms sweep does not fit in one period at "
                f"{self.rate_hz:g} Hz ({1000.0 / self.rate_hz:g} ms)"
            )

    @classmethod
    def from_probes(cls, probes: ProbeSchedule, **changes: Any) -> TestPulseSettings:
        """The protocol's test step amplitude, with the test pulse's own timing."""
        return cls(**{"amplitude_pa": probes.test_step.amplitude_pa, **changes})

    @property
    def sweep_ms(self) -> float:
        """Length of one test-pulse sweep (ms)."""
        return self.baseline_ms + self.step_ms + self.tail_ms

    def waveforms(self, sample_rate_hz: float) -> Waveforms:
        """The sweep at ``sample_rate_hz``: the step, no stimulation, ending at rest."""
        n = round(self.sweep_ms * sample_rate_hz / 1000.0) + 1
        i0 = round(self.baseline_ms * sample_rate_hz / 1000.0)
        i1 = round((self.baseline_ms + self.step_ms) * sample_rate_hz / 1000.0)
        command = np.zeros(n, dtype=np.float64)
        command[i0:i1] = self.amplitude_pa
        return Waveforms(sample_rate_hz, np.zeros(n, dtype=np.uint8), command)


@dataclass(frozen=True)
class Estimate:
    """A value with whether it can be trusted and, if not, why (one phrase)."""

    value: float
    valid: bool
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Plain data for files."""
        return {"value": self.value, "valid": self.valid, "note": self.note}


@dataclass(frozen=True)
class TestPulseResult:
    """What one test pulse says: Rin, resting Vm, tau_m and Rs, each with its validity."""

    __test__ = False  # not a pytest test class

    rin_mohm: Estimate
    vm_mv: Estimate
    tau_ms: Estimate
    series_resistance_mohm: Estimate
    noise_mv: float
    index: int = 0
    at_s: float = 0.0
    fit: dict[str, float] = field(default_factory=dict)

    def values(self) -> dict[str, float]:
        """The four numbers (NaN where invalid)."""
        return {
            k: (e.value if e.valid else math.nan)
            for k, e in (
                ("rin_mohm", self.rin_mohm),
                ("vm_mv", self.vm_mv),
                ("tau_ms", self.tau_ms),
                ("series_resistance_mohm", self.series_resistance_mohm),
            )
        }

    def as_dict(self) -> dict[str, Any]:
        """Plain data for files (every estimate with its validity)."""
        d = asdict(self)
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in d.items()}


def _model(fs: float, n: int, i0: int, i1: int) -> Callable[..., FloatArray]:
    t = np.arange(n, dtype=np.float64) / fs * 1000.0  # ms
    t_on = i0 / fs * 1000.0
    t_off = i1 / fs * 1000.0
    during = (np.arange(n) >= i0) & (np.arange(n) < i1)
    after = np.arange(n) >= i1

    def f(idx: FloatArray, rest: float, jump: float, dv: float, tau: float) -> FloatArray:
        k = idx.astype(np.intp)
        tau = max(tau, 1e-3)
        out = np.full(k.shape, rest)
        d = during[k]
        out[d] += jump + dv * (1.0 - np.exp(-(t[k][d] - t_on) / tau))
        a = after[k]
        charged = dv * (1.0 - math.exp(-(t_off - t_on) / tau))
        out[a] += charged * np.exp(-(t[k][a] - t_off) / tau)
        return out

    return f


def analyze_test_pulse(
    vm_mv: npt.ArrayLike, sample_rate_hz: float, settings: TestPulseSettings
) -> TestPulseResult:
    """Fit one test-pulse sweep; every estimate says whether it is valid and why not."""
    v = np.asarray(vm_mv, dtype=np.float64)
    fs = float(sample_rate_hz)
    i_pa = settings.amplitude_pa
    i0 = round(settings.baseline_ms * fs / 1000.0)
    i1 = round((settings.baseline_ms + settings.step_ms) * fs / 1000.0)
    n = v.size
    if n <= i1 + 2 or i0 < 2:
        raise ValueError(f"a test-pulse sweep of {n} samples is too short to analyse")
    skip = max(2, math.ceil(settings.skip_ms * fs / 1000.0))
    base = v[:i0]
    rest0 = float(base.mean())
    noise = float(base.std(ddof=1))
    idx = np.arange(n)
    keep = ~(((idx >= i0) & (idx < i0 + skip)) | ((idx >= i1) & (idx < i1 + skip)))
    x = idx[keep].astype(np.float64)
    late = v[max(i0 + skip, i1 - max(skip, (i1 - i0) // 5)) : i1].mean()
    early = v[i0 + skip : i0 + 2 * skip].mean()
    dv0 = float(late - early) or i_pa * 1e-3
    p0 = [rest0, float(early - rest0), dv0, max(settings.step_ms / 4.0, 1.0)]
    rest_note = "" if math.isfinite(rest0) else "no baseline samples"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", OptimizeWarning)
            popt, pcov = curve_fit(_model(fs, n, i0, i1), x, v[keep], p0=p0, maxfev=2000)
        se = np.sqrt(np.clip(np.diag(pcov), 0.0, None))
        if not (np.all(np.isfinite(popt)) and np.all(np.isfinite(se))):
            raise RuntimeError("non-finite fit")
    except (RuntimeError, ValueError, OptimizeWarning, np.linalg.LinAlgError):
        bad = Estimate(math.nan, False, "the exponential fit did not converge")
        return TestPulseResult(bad, Estimate(rest0, not rest_note, rest_note), bad, bad, noise)
    rest, jump, dv, tau = (float(p) for p in popt)
    se_rest, se_jump, se_dv, se_tau = (float(s) for s in se)
    return TestPulseResult(
        rin_mohm=_rin(dv, se_dv, tau, i_pa, settings),
        vm_mv=Estimate(rest, se_rest < 1.0, "" if se_rest < 1.0 else "the baseline is unstable"),
        tau_ms=_tau(tau, se_tau, settings),
        series_resistance_mohm=_rs(jump, se_jump, tau, i_pa, skip / fs * 1000.0),
        noise_mv=noise,
        fit={
            "rest_mv": rest,
            "jump_mv": jump,
            "dv_mv": dv,
            "tau_ms": tau,
            "se_jump_mv": se_jump,
            "se_dv_mv": se_dv,
            "se_tau_ms": se_tau,
        },
    )


def _rin(dv: float, se: float, tau: float, i_pa: float, s: TestPulseSettings) -> Estimate:
    rin = dv / i_pa * 1000.0  # mV / pA = GΩ -> MΩ
    if rin <= 0:
        return Estimate(rin, False, "the membrane did not follow the step")
    if se > 0.1 * abs(dv):
        return Estimate(rin, False, f"the response is within the noise (±{se:.2g} mV)")
    if tau > s.step_ms:
        return Estimate(rin, False, f"the {s.step_ms:g} ms step is shorter than tau_m")
    return Estimate(rin, True)


def _tau(tau: float, se: float, s: TestPulseSettings) -> Estimate:
    if not tau > 0:
        return Estimate(tau, False, "no exponential charging")
    if se > 0.2 * tau:
        return Estimate(tau, False, f"the fit leaves tau uncertain (±{se:.2g} ms)")
    if tau > s.step_ms:
        return Estimate(tau, False, f"the {s.step_ms:g} ms step is shorter than tau_m")
    return Estimate(tau, True)


def _rs(jump: float, se: float, tau: float, i_pa: float, skipped_ms: float) -> Estimate:
    rs = jump / i_pa * 1000.0
    if tau > 0 and skipped_ms > 0.05 * tau:
        return Estimate(
            rs,
            False,
            f"the sample rate is too low to resolve the jump ({skipped_ms:.2g} ms skipped "
            f"after the edge, tau_m {tau:.3g} ms)",
        )
    if abs(jump) < 3.0 * se:
        return Estimate(rs, False, f"the jump ({jump:.2g} mV) is within the noise (±{se:.2g} mV)")
    if rs < 0:
        return Estimate(rs, False, "the jump goes against the step (capacitance transient?)")
    return Estimate(rs, True)


PulseCallback = Callable[[TestPulseResult, SweepResult], None]


class TestPulse:
    """Repeats the test pulse on a rig until stopped; reports every pulse.

    Parameters
    ----------
    rig
        The rig (borrowed; the test pulse never closes it).
    settings
        Shape and rate of the pulse; checked against the rig's limits at construction.
    clock, sleep
        Time source and sleeper (tests inject fakes; a fast simulated rig may use a
        sleeper that does nothing).

    Raises
    ------
    LimitError
        From the constructor, if the pulse exceeds a limit of the rig (nothing is output).
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        rig: Rig,
        settings: TestPulseSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rig = rig
        self.settings = TestPulseSettings() if settings is None else settings
        self.prepared: PreparedSweep = rig.prepare(
            self.settings.waveforms(rig.definition.sample_rate_hz), "test pulse"
        )
        self._clock = clock
        self._sleep = sleep
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.count = 0
        self.last: TestPulseResult | None = None
        self.error: BaseException | None = None
        self.pulsed: Signal[TestPulseResult] = Signal("pulsed")

    def pulse(self, on_chunk: Callable[[Chunk], None] | None = None) -> TestPulseResult:
        """Run and analyse one pulse now (outputs at rest afterwards, whatever happens)."""
        return self._pulse(on_chunk)[0]

    def _pulse(
        self, on_chunk: Callable[[Chunk], None] | None
    ) -> tuple[TestPulseResult, SweepResult]:
        try:
            res = self.rig.run(self.prepared, on_chunk)
        finally:
            self.rig.safe_state()
        if not res.complete:
            raise RigError("the test pulse was aborted")
        out = analyze_test_pulse(res.vm_mv, res.sample_rate_hz, self.settings)
        out = replace(out, index=self.count, at_s=self._clock())
        self.count += 1
        self.last = out
        self.pulsed.emit(out)
        return out, res

    def run(
        self,
        n: int | None = None,
        on_pulse: PulseCallback | None = None,
        on_chunk: Callable[[Chunk], None] | None = None,
    ) -> list[TestPulseResult]:
        """Pulse at the set rate until :meth:`stop` (or ``n`` pulses); returns the results."""
        period = 1.0 / self.settings.rate_hz
        results: list[TestPulseResult] = []
        next_t = self._clock()
        while not self._stop.is_set() and (n is None or len(results) < n):
            wait = next_t - self._clock()
            if wait > 0:
                self._sleep(wait)
            next_t = max(next_t + period, self._clock())
            r, sweep = self._pulse(on_chunk)
            results.append(r)
            if on_pulse is not None:
                on_pulse(r, sweep)
        return results

    def start(
        self, on_pulse: PulseCallback | None = None, on_chunk: Callable[[Chunk], None] | None = None
    ) -> None:
        """Pulse on a worker thread until :meth:`stop`; a failure lands in :attr:`error`."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("the test pulse is already running")
        self._stop.clear()

        def work() -> None:
            try:
                self.run(None, on_pulse, on_chunk)
            except BaseException as exc:  # reported, outputs already at rest
                self.error = exc

        self._thread = threading.Thread(target=work, name="rigctl-test-pulse", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop pulsing after the pulse in flight; outputs at rest."""
        self._stop.set()
        t = self._thread
        if t is not None:
            t.join(timeout)
        self.rig.safe_state()

    @property
    def running(self) -> bool:
        """Whether the worker thread is pulsing."""
        return self._thread is not None and self._thread.is_alive()


def average_pulses(results: Sequence[TestPulseResult]) -> TestPulseResult:
    """The running average of test pulses (each estimate over the pulses where it is valid).

    An estimate is valid when at least half of the pulses gave a valid value; otherwise it
    carries the most recent pulse's reason.
    """
    if not results:
        raise ValueError("no test pulse to average")

    def mean(key: str) -> Estimate:
        ests: list[Estimate] = [getattr(r, key) for r in results]
        ok = [e.value for e in ests if e.valid]
        if len(ok) * 2 < len(ests):
            return Estimate(ests[-1].value, False, ests[-1].note)
        return Estimate(float(np.mean(ok)), True)

    last = results[-1]
    return TestPulseResult(
        rin_mohm=mean("rin_mohm"),
        vm_mv=mean("vm_mv"),
        tau_ms=mean("tau_ms"),
        series_resistance_mohm=mean("series_resistance_mohm"),
        noise_mv=float(np.mean([r.noise_mv for r in results])),
        index=last.index,
        at_s=last.at_s,
        fit={"pulses_averaged": float(len(results))},
    )
