"""The measures the field expects beside the EPSP amplitude: initial slope and paired pulses.

Per probe sweep (pure numpy, no Qt, no hardware):

* **initial slope** (mV/ms): the least-squares slope of Vm over the 20-80 % part of the
  EPSP's rise, found by walking back from the peak (so the stimulus artifact before the
  rise is never part of the fit);
* **paired-pulse ratio** when the probe has a second pulse: the second EPSP's amplitude
  (peak after the second pulse minus the Vm just before it) over the first's (measured by
  :func:`rigctl.engine.analysis.analyze_probe` with its peak search ending before the
  second pulse).

The amplitude itself stays :func:`~rigctl.engine.analysis.analyze_probe`'s (one rule in one
place); :func:`probe_measures` calls it and adds the slope and the ratio.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import numpy.typing as npt

from rigctl.engine.analysis import (
    AnalysisSettings,
    analyze_probe,
    normalized_series,
    window_mean,
)
from rigctl.protocol import CompiledSweep

__all__ = [
    "RISE_FRACTIONS",
    "ProbeMeasures",
    "initial_slope",
    "normalized_series",
    "probe_measures",
]

FloatArray = npt.NDArray[np.float64]

#: The part of the rise the initial slope is fitted over (fractions of the amplitude).
RISE_FRACTIONS = (0.2, 0.8)
#: Window just before the second pulse whose mean Vm is the second EPSP's baseline (ms).
_PRE_SECOND_MS = 1.0
#: Widest smoothing used to find the 20 % and 80 % crossings (ms).
_CROSSING_SMOOTH_MS = 0.25


@dataclass(frozen=True)
class ProbeMeasures:
    """Amplitude, initial slope and (for paired pulses) the second EPSP of one probe.

    Attributes
    ----------
    epsp_mv
        First EPSP amplitude (mV), as :func:`analyze_probe` measures it.
    slope_mv_per_ms
        Initial slope of the first EPSP over 20-80 % of its rise (mV/ms); NaN when the
        EPSP is not positive or the rise is shorter than two samples.
    rise_start_ms, rise_stop_ms
        Where the fit starts and stops in the sweep (ms), for drawing the fit on the trace.
    peak_ms
        Time of the first EPSP's peak in the sweep (ms).
    epsp2_mv
        Second EPSP amplitude (mV) when the probe is paired, else NaN.
    ppr
        Paired-pulse ratio ``epsp2_mv / epsp_mv`` when paired and ``epsp_mv > 0``, else NaN.
    """

    epsp_mv: float
    slope_mv_per_ms: float
    rise_start_ms: float
    rise_stop_ms: float
    peak_ms: float
    epsp2_mv: float = math.nan
    ppr: float = math.nan

    def as_dict(self) -> dict[str, float]:
        """Plain data for files (the analysis columns ``slope_mv_per_ms``, ``ppr`` ...)."""
        return {k: float(v) for k, v in asdict(self).items()}


def _smooth(v: FloatArray, width: int) -> FloatArray:
    if width <= 1:
        return v
    out: FloatArray = np.convolve(v, np.ones(width) / width, mode="same")
    return out


def _peak(
    v: FloatArray, fs: float, t_ms: float, s: AnalysisSettings, stop_ms: float
) -> tuple[int, float]:
    """Index and smoothed value of the largest Vm from ``t + search_start`` to ``stop_ms``."""
    i0 = max(0, round((t_ms + s.search_start_ms) * fs / 1000.0))
    i1 = min(v.size, round(stop_ms * fs / 1000.0))
    if i1 <= i0:
        return -1, math.nan
    sm = _smooth(v, max(1, round(s.smooth_ms * fs / 1000.0)))
    i = i0 + int(np.argmax(sm[i0:i1]))
    return i, float(sm[i])


def initial_slope(
    vm_mv: npt.ArrayLike,
    sample_rate_hz: float,
    pulse_ms: float,
    baseline_mv: float,
    peak_index: int,
    settings: AnalysisSettings | None = None,
) -> tuple[float, float, float]:
    """Slope of the rise of an EPSP between 20 % and 80 % of its amplitude.

    Parameters
    ----------
    vm_mv
        The sweep (mV).
    sample_rate_hz
        Samples per second.
    pulse_ms
        The stimulus time (ms); the fit never starts before it.
    baseline_mv
        Pre-stimulus Vm (mV).
    peak_index
        Sample of the EPSP's peak.
    settings
        Smoothing width used to find the crossings.

    Returns
    -------
    tuple of float
        ``(slope_mv_per_ms, start_ms, stop_ms)``; NaNs when there is no rise to fit.
    """
    s = AnalysisSettings() if settings is None else settings
    v = np.asarray(vm_mv, dtype=np.float64)
    fs = float(sample_rate_hz)
    nan = (math.nan, math.nan, math.nan)
    if not (0 < peak_index < v.size) or not math.isfinite(baseline_mv):
        return nan
    # The amplitude from the peak smoothed like the EPSP's; the crossings from a lightly
    # smoothed trace (a wide boxcar bends the sharp start of the rise and biases the fit).
    amp = float(_smooth(v, max(1, round(s.smooth_ms * fs / 1000.0)))[peak_index]) - baseline_mv
    sm = _smooth(v, max(1, round(min(s.smooth_ms, _CROSSING_SMOOTH_MS) * fs / 1000.0)))
    if not amp > 0:
        return nan
    first = max(0, math.ceil(pulse_ms * fs / 1000.0))
    rise = sm[first : peak_index + 1] - baseline_mv
    lo, hi = (f * amp for f in RISE_FRACTIONS)
    below_hi = np.flatnonzero(rise < hi)
    if below_hi.size == 0:
        return nan
    i80 = int(below_hi[-1])  # the last sample below 80 % before the peak
    below_lo = np.flatnonzero(rise[:i80] < lo)
    i20 = int(below_lo[-1]) + 1 if below_lo.size else 0  # the first at or above 20 %
    if i80 - i20 < 1:
        return nan
    idx = np.arange(first + i20, first + i80 + 1)
    t_ms = idx * 1000.0 / fs
    slope = float(np.polyfit(t_ms, v[idx], 1)[0])
    return slope, float(t_ms[0]), float(t_ms[-1])


def probe_measures(
    vm_mv: npt.ArrayLike,
    sample_rate_hz: float,
    sweep: CompiledSweep,
    settings: AnalysisSettings | None = None,
) -> ProbeMeasures:
    """Amplitude, initial slope and paired-pulse ratio of one probe sweep.

    The first pulse's peak search ends before a second pulse (if any) so the second EPSP
    never counts as the first; otherwise the windows are those of ``settings``.
    """
    s = AnalysisSettings() if settings is None else settings
    v = np.asarray(vm_mv, dtype=np.float64)
    fs = float(sample_rate_hz)
    pulses = sweep.of_kind("probe_pulse")
    if not pulses:
        return ProbeMeasures(math.nan, math.nan, math.nan, math.nan, math.nan)
    t1 = pulses[0].start_ms
    stop1 = t1 + s.search_stop_ms
    if len(pulses) > 1:
        stop1 = min(stop1, pulses[1].start_ms)
    first = replace(s, search_stop_ms=max(s.search_start_ms, stop1 - t1))
    pa = analyze_probe(v, fs, sweep, first)
    i_peak, _ = _peak(v, fs, t1, first, stop1)
    slope, r0, r1 = initial_slope(v, fs, t1, pa.baseline_mv, i_peak, s)
    epsp2 = ppr = math.nan
    if len(pulses) > 1:
        t2 = pulses[1].start_ms
        base2 = window_mean(v, fs, t2 - _PRE_SECOND_MS, t2 - 0.1)
        _, peak2 = _peak(v, fs, t2, s, t2 + s.search_stop_ms)
        epsp2 = peak2 - base2
        ppr = epsp2 / pa.epsp_mv if pa.epsp_mv > 0 else math.nan
    return ProbeMeasures(
        epsp_mv=pa.epsp_mv,
        slope_mv_per_ms=slope,
        rise_start_ms=r0,
        rise_stop_ms=r1,
        peak_ms=i_peak * 1000.0 / fs if i_peak >= 0 else math.nan,
        epsp2_mv=epsp2,
        ppr=ppr,
    )
