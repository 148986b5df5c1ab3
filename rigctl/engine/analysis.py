"""Online analysis of probe and induction sweeps (pure numpy, no Qt, no hardware).

Per probe sweep: EPSP amplitude (peak depolarization after the probe stimulus relative to
the mean Vm in a window before it), input resistance from the hyperpolarizing test step,
and resting Vm. Across the recording: EPSPs normalized to the baseline mean, health flags
when input resistance or Vm drift beyond thresholds, a stability check of the baseline,
and the summary at 30-35 min after induction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from rigctl.engine.spikes import SPIKE_THRESHOLD_MV, detect_spikes
from rigctl.protocol import CompiledSweep

__all__ = [
    "SPIKE_FLAG",
    "AnalysisSettings",
    "BaselineCheck",
    "ProbeAnalysis",
    "RecordingSummary",
    "analyze_probe",
    "check_baseline",
    "health_flags",
    "induction_note",
    "normalized_series",
    "sd_sem",
    "summarize_recording",
    "window_mean",
    "windows_delivered",
]

SPIKE_FLAG = "spike in probe"
"""The flag of a probe whose Vm crossed the spike threshold after the stimulus."""

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class AnalysisSettings:
    """Windows and thresholds of the online analysis (defaults stated, all configurable).

    Attributes
    ----------
    pre_window_ms
        Length of the pre-stimulus window whose mean Vm is the EPSP baseline.
    search_start_ms, search_stop_ms
        Where after the probe pulse the EPSP peak is searched (skipping the artifact).
    smooth_ms
        Moving-average width applied before taking the peak (suppresses noise).
    rin_change
        Flag when input resistance departs from its baseline mean by more than this
        fraction (default 20 %).
    vm_drift_mv
        Flag when resting Vm departs from its baseline mean by more than this (mV).
    baseline_max_slope
        Largest tolerated trend of the baseline EPSP (fraction of its mean per minute).
    baseline_max_cv
        Largest tolerated coefficient of variation of baseline EPSPs.
    summary_window_min
        Window after induction for the summary (30-35 min).
    spike_threshold_mv
        A probe whose Vm crosses this after the stimulus holds an action potential: it is
        flagged "spike in probe" and its EPSP is left out of the time course and summary.
    """

    pre_window_ms: float = 50.0
    search_start_ms: float = 2.0
    search_stop_ms: float = 50.0
    smooth_ms: float = 1.0
    rin_change: float = 0.20
    vm_drift_mv: float = 5.0
    baseline_max_slope: float = 0.05
    baseline_max_cv: float = 0.35
    summary_window_min: tuple[float, float] = (30.0, 35.0)
    spike_threshold_mv: float = SPIKE_THRESHOLD_MV


@dataclass(frozen=True)
class ProbeAnalysis:
    """What one probe sweep says about the cell."""

    epsp_mv: float
    baseline_mv: float
    rest_mv: float
    rin_mohm: float
    spike_in_probe: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Plain data for files."""
        d: dict[str, Any] = {k: float(v) for k, v in asdict(self).items()}
        d["spike_in_probe"] = self.spike_in_probe
        return d


def window_mean(v: FloatArray, fs: float, start_ms: float, stop_ms: float) -> float:
    """Mean of ``v`` (sampled at ``fs``) from ``start_ms`` to ``stop_ms``; NaN if empty."""
    i0 = max(0, round(start_ms * fs / 1000.0))
    i1 = min(v.size, round(stop_ms * fs / 1000.0))
    return float(v[i0:i1].mean()) if i1 > i0 else math.nan


def analyze_probe(
    vm_mv: npt.ArrayLike,
    sample_rate_hz: float,
    sweep: CompiledSweep,
    settings: AnalysisSettings | None = None,
) -> ProbeAnalysis:
    """EPSP amplitude, pre-stimulus baseline, resting Vm and input resistance of a probe."""
    s = AnalysisSettings() if settings is None else settings
    v = np.asarray(vm_mv, dtype=np.float64)
    fs = float(sample_rate_hz)
    pulses = sweep.of_kind("probe_pulse")
    steps = sweep.of_kind("test_step")
    epsp = math.nan
    base = math.nan
    spiked = False
    if pulses:
        t = pulses[0].start_ms
        after = v[max(0, round(t * fs / 1000.0)) :]
        spiked = detect_spikes(after, fs, s.spike_threshold_mv).size > 0
        base = window_mean(v, fs, t - s.pre_window_ms, t - 0.5)
        i0 = round((t + s.search_start_ms) * fs / 1000.0)
        i1 = min(v.size, round((t + s.search_stop_ms) * fs / 1000.0))
        if i1 > i0:
            width = max(1, round(s.smooth_ms * fs / 1000.0))
            seg = v[max(0, i0 - width) : i1 + width]
            smooth = np.convolve(seg, np.ones(width) / width, mode="same")[width : width + i1 - i0]
            epsp = float(smooth.max()) - base
    rest = math.nan
    rin = math.nan
    if steps:
        st = steps[0]
        rest = window_mean(v, fs, st.start_ms - s.pre_window_ms, st.start_ms)
        # Steady state: the last half of the step.
        steady = window_mean(v, fs, st.start_ms + st.duration_ms / 2, st.stop_ms)
        if st.amplitude_pa != 0:
            rin = (steady - rest) / st.amplitude_pa * 1000.0  # mV / pA = GΩ -> MΩ
    elif pulses:
        rest = base
    return ProbeAnalysis(
        epsp_mv=epsp, baseline_mv=base, rest_mv=rest, rin_mohm=rin, spike_in_probe=spiked
    )


def health_flags(
    probe: ProbeAnalysis,
    baseline_rin: float,
    baseline_rest: float,
    settings: AnalysisSettings | None = None,
) -> list[str]:
    """Health warnings of one probe against the baseline means (empty when healthy)."""
    s = AnalysisSettings() if settings is None else settings
    flags = []
    if math.isfinite(baseline_rin) and baseline_rin > 0 and math.isfinite(probe.rin_mohm):
        change = (probe.rin_mohm - baseline_rin) / baseline_rin
        if abs(change) > s.rin_change:
            flags.append(
                f"input resistance {probe.rin_mohm:.0f} MΩ is {change:+.0%} from baseline "
                f"{baseline_rin:.0f} MΩ (limit ±{s.rin_change:.0%})"
            )
    if math.isfinite(baseline_rest) and math.isfinite(probe.rest_mv):
        drift = probe.rest_mv - baseline_rest
        if abs(drift) > s.vm_drift_mv:
            flags.append(
                f"resting Vm {probe.rest_mv:.1f} mV drifted {drift:+.1f} mV from baseline "
                f"(limit ±{s.vm_drift_mv:g} mV)"
            )
    return flags


@dataclass(frozen=True)
class BaselineCheck:
    """Whether the baseline is stable enough to induce, and why not."""

    stable: bool
    n: int
    mean_epsp_mv: float
    cv: float
    slope_per_min: float
    reasons: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain data for files."""
        d = asdict(self)
        d["reasons"] = list(self.reasons)
        return d


def sd_sem(values: FloatArray) -> tuple[float, float]:
    """Sample SD (``ddof=1``) and standard error of the mean; NaN for fewer than 2 values."""
    if values.size < 2:
        return math.nan, math.nan
    sd = float(values.std(ddof=1))
    return sd, sd / math.sqrt(values.size)


def normalized_series(
    since_induction_min: Sequence[float] | npt.ArrayLike,
    values: Sequence[float] | npt.ArrayLike,
) -> FloatArray:
    """A measure (amplitude or slope) over time divided by its baseline (t < 0) mean.

    NaN everywhere when there is no positive, finite baseline mean.
    """
    t = np.asarray(since_induction_min, dtype=np.float64)
    x = np.asarray(values, dtype=np.float64)
    base = x[(t < 0) & np.isfinite(x)]
    mean = float(base.mean()) if base.size else math.nan
    if not (math.isfinite(mean) and mean > 0):
        return np.full(x.shape, math.nan)
    out: FloatArray = x / mean
    return out


def check_baseline(
    times_min: Sequence[float] | npt.ArrayLike,
    epsps_mv: Sequence[float] | npt.ArrayLike,
    rins_mohm: Sequence[float] | npt.ArrayLike = (),
    settings: AnalysisSettings | None = None,
) -> BaselineCheck:
    """Stability of the baseline EPSPs: trend, variability and input resistance."""
    s = AnalysisSettings() if settings is None else settings
    t = np.asarray(times_min, dtype=np.float64)
    e = np.asarray(epsps_mv, dtype=np.float64)
    ok = np.isfinite(e)
    t, e = t[ok], e[ok]
    if e.size < 3:
        return BaselineCheck(
            False, int(e.size), math.nan, math.nan, math.nan, ("fewer than 3 probes",)
        )
    mean = float(e.mean())
    cv = float(e.std(ddof=1) / mean) if mean > 0 else math.inf
    slope = float(np.polyfit(t, e, 1)[0] / mean) if mean > 0 and np.ptp(t) > 0 else 0.0
    reasons = []
    if mean <= 0:
        reasons.append("no EPSP")
    if abs(slope) > s.baseline_max_slope:
        reasons.append(f"EPSPs trend by {slope:+.1%}/min (limit ±{s.baseline_max_slope:.0%}/min)")
    if cv > s.baseline_max_cv:
        reasons.append(f"EPSPs vary by CV {cv:.0%} (limit {s.baseline_max_cv:.0%})")
    r = np.asarray(rins_mohm, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size >= 3 and r.mean() > 0:
        r_change = float(np.ptp(r) / r.mean())
        if r_change > 2 * s.rin_change:
            reasons.append(f"input resistance varies by {r_change:.0%} during the baseline")
    return BaselineCheck(not reasons, int(e.size), mean, cv, slope, tuple(reasons))


@dataclass(frozen=True)
class RecordingSummary:
    """The recording's result: mean normalized EPSP in the summary window."""

    baseline_mean_mv: float
    baseline_sd_mv: float
    n_baseline: int
    window_min: tuple[float, float]
    normalized_mean: float
    normalized_sem: float
    n_window: int
    direction: str
    times_min: tuple[float, ...] = field(default=())
    normalized: tuple[float, ...] = field(default=())
    n_spike_excluded: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain data for files."""
        d = asdict(self)
        d["window_min"] = list(self.window_min)
        d["times_min"] = list(self.times_min)
        d["normalized"] = list(self.normalized)
        return d


def summarize_recording(
    since_induction_min: Sequence[float] | npt.ArrayLike,
    epsps_mv: Sequence[float] | npt.ArrayLike,
    settings: AnalysisSettings | None = None,
    *,
    ltp_threshold: float = 0.10,
    excluded: Sequence[bool] | npt.ArrayLike = (),
) -> RecordingSummary:
    """Normalize EPSPs to the baseline (t < 0) and average the summary window.

    The direction is LTP / LTD when the window mean departs from 1 by more than
    ``ltp_threshold`` (10 %), else "no change". Probes marked in ``excluded`` (a spike in
    the probe) are left out -- NaN in the time course -- and counted in
    ``n_spike_excluded``.
    """
    s = AnalysisSettings() if settings is None else settings
    t = np.asarray(since_induction_min, dtype=np.float64)
    e = np.asarray(epsps_mv, dtype=np.float64).copy()
    skip = np.asarray(excluded, dtype=bool)
    n_excluded = 0
    if skip.size:
        if skip.shape != e.shape:
            raise ValueError("excluded must mark every probe")
        n_excluded = int(skip.sum())
        e[skip] = math.nan
    base = e[(t < 0) & np.isfinite(e)]
    b_mean = float(base.mean()) if base.size else math.nan
    b_sd, _ = sd_sem(base)
    norm = normalized_series(t, e)
    lo, hi = s.summary_window_min
    in_window = (t >= lo) & (t <= hi) & np.isfinite(norm)
    w = norm[in_window]
    mean = float(w.mean()) if w.size else math.nan
    _, sem = sd_sem(w)
    if not math.isfinite(mean):
        direction = "unknown"
    elif mean > 1 + ltp_threshold:
        direction = "LTP"
    elif mean < 1 - ltp_threshold:
        direction = "LTD"
    else:
        direction = "no change"
    return RecordingSummary(
        baseline_mean_mv=b_mean,
        baseline_sd_mv=b_sd,
        n_baseline=int(base.size),
        window_min=(lo, hi),
        normalized_mean=mean,
        normalized_sem=sem,
        n_window=int(w.size),
        direction=direction,
        times_min=tuple(float(x) for x in t),
        normalized=tuple(float(x) for x in norm),
        n_spike_excluded=n_excluded,
    )


def windows_delivered(sweep: CompiledSweep, n_samples: int, sample_rate_hz: float) -> int:
    """How many theta windows of ``sweep`` ended within the first ``n_samples`` played."""
    if sweep.window_length is None:
        return 0
    played_ms = n_samples * 1000.0 / sample_rate_hz
    length = float(sweep.window_length)
    return sum(1 for w in sweep.window_starts if float(w) + length <= played_ms + 1e-9)


def induction_note(info: dict[str, Any]) -> str:
    """One sentence on how much of the induction was delivered.

    ``info`` holds ``complete``, ``windows_delivered``, ``windows_planned`` and ``cut``
    (``abort``, ``halt`` or ``fault``), as the runner journals them.
    """
    done, planned = int(info.get("windows_delivered", 0)), int(info.get("windows_planned", 0))
    if info.get("complete", True):
        return f"induction complete ({done} of {planned} windows)"
    how = {"abort": "aborted", "halt": "halted", "fault": "cut by a fault"}.get(
        str(info.get("cut")), "cut short"
    )
    return f"induction {how} after {done} of {planned} windows"
