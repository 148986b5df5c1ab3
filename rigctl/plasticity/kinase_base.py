"""The kinase model's inputs and results: spike rasters, window readout steps, result types.

Shared by the fast paths (:mod:`rigctl.plasticity.kinase`) and the per-step reference
(:mod:`rigctl.plasticity.kinase_reference`); see :mod:`rigctl.plasticity.kinase` for the
model and the stepping rules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from rigctl.plasticity.comparators import _count, weight_from_dwt
from rigctl.plasticity.params import AXON_DT_MS, KinaseParams

__all__ = [
    "SPIKE_TIME_TOLERANCE",
    "BoolArray",
    "FloatArray",
    "IntArray",
    "KinaseResult",
    "KinaseTraces",
    "rasterize",
    "rasterize_batch",
    "spike_steps",
    "window_readout_steps",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

SPIKE_TIME_TOLERANCE: Final = 1e-9
"""Added to ``t / dt`` before flooring, so a spike computed as 39.99999999999 ms is in step 40."""

_DT: Final = AXON_DT_MS


# ----------------------------------------------------------------------------- results


def _frozen(array: npt.NDArray[np.generic]) -> None:
    array.flags.writeable = False


@dataclass(frozen=True, eq=False)
class KinaseTraces:
    """State of the cascade after every 1 ms step, for plotting.

    Element ``n`` of each array is the value after the update of step ``n``, i.e. at the end
    of the millisecond that starts at ``t_ms[n] = n * dt``. The arrays are read-only.

    Attributes
    ----------
    ca_syn_pre, ca_syn_post : numpy.ndarray
        Presynaptic and postsynaptic spike-driven calcium traces (calcium units).
    ca : numpy.ndarray
        Synaptic calcium ``syn_ca_gain * ca_syn_pre * ca_syn_post`` (calcium units).
    cam, cap, cad : numpy.ndarray
        The CaM, CaP (CaMKII) and CaD (DAPK1) integrators (calcium units).
    params : KinaseParams
        The parameters that produced the traces.
    """

    ca_syn_pre: FloatArray
    ca_syn_post: FloatArray
    ca: FloatArray
    cam: FloatArray
    cap: FloatArray
    cad: FloatArray
    params: KinaseParams

    def __post_init__(self) -> None:
        for array in (self.ca_syn_pre, self.ca_syn_post, self.ca, self.cam, self.cap, self.cad):
            _frozen(array)

    @property
    def n_steps(self) -> int:
        """Number of simulated 1 ms steps."""
        return int(self.ca.shape[-1])

    @property
    def t_ms(self) -> FloatArray:
        """Start time of each step (ms), the time of a spike that falls in it."""
        return np.arange(self.n_steps, dtype=np.float64) * self.params.dt_ms

    @property
    def dwt(self) -> FloatArray:
        """``p_scale * CaP - d_scale * CaD`` at every step: the dWt a readout there would give."""
        return self.params.p_scale * self.cap - self.params.d_scale * self.cad


@dataclass(frozen=True, eq=False)
class KinaseResult:
    """Predicted weight change of one protocol under the kinase rule.

    Attributes
    ----------
    total : float
        Sum of the per-window weight changes (dimensionless dWt units).
    per_window : numpy.ndarray
        ``p_scale * CaP - d_scale * CaD`` at the end of each theta window, in the order the
        windows were given (read-only).
    readout_steps : numpy.ndarray
        Step index at which each window was read (read-only).
    hebbian : float
        Hebbian coincidence comparator: ``sum(ca) * dt`` over all simulated steps
        (calcium units x ms). Depends on how far the simulation runs (``end_ms``).
    n_steps : int
        Number of simulated 1 ms steps, from t = 0.
    params : KinaseParams
        The parameters used.
    traces : KinaseTraces or None
        The full state over time, if requested.
    """

    total: float
    per_window: FloatArray
    readout_steps: IntArray
    hebbian: float
    n_steps: int
    params: KinaseParams
    traces: KinaseTraces | None = None

    def __post_init__(self) -> None:
        _frozen(self.per_window)
        _frozen(self.readout_steps)

    @property
    def n_windows(self) -> int:
        """Number of theta windows read."""
        return int(self.per_window.shape[0])

    def weight(self, lrate: float | None = None) -> float:
        """Map the per-window dWt to an illustrative weight (uncalibrated).

        Parameters
        ----------
        lrate : float, optional
            Learning rate; defaults to ``params.lrate``.

        Returns
        -------
        float
            ``Wt`` after all windows; see :func:`weight_from_dwt`.
        """
        return weight_from_dwt(self.per_window, self.params.lrate if lrate is None else lrate)


# ----------------------------------------------------------------------------- inputs


def _times(values: npt.ArrayLike, name: str) -> FloatArray:
    times = np.asarray(values, dtype=np.float64)
    if times.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence of times in ms, got shape {times.shape}")
    # One reduction in the usual case; a sum that is not finite is checked element-wise
    # (it may only have overflowed).
    if not math.isfinite(times.sum()) and not np.all(np.isfinite(times)):
        raise ValueError(f"{name}: spike and window times must be finite numbers of ms")
    return times


def spike_steps(spikes_ms: npt.ArrayLike, n_steps: int | None = None) -> IntArray:
    """Return the sorted, unique 1 ms steps that hold at least one spike.

    Parameters
    ----------
    spikes_ms : array_like
        Spike times (ms), in any order. Times before 0 are ignored.
    n_steps : int, optional
        Length of the simulation; spikes in step ``n_steps`` or later are dropped.

    Returns
    -------
    numpy.ndarray
        Step indices ``floor(t / dt + 1e-9)``, sorted, without duplicates.

    Raises
    ------
    ValueError
        If the times are not a 1-D sequence of finite numbers.
    """
    times = _times(spikes_ms, "spikes_ms")
    times = times[times >= 0.0]
    steps = np.floor(times / _DT + SPIKE_TIME_TOLERANCE).astype(np.intp)
    if n_steps is not None:
        steps = steps[steps < n_steps]
    return np.unique(steps)


def rasterize(spikes_ms: npt.ArrayLike, n_steps: int) -> BoolArray:
    """Return the spike raster of one neuron on ``n_steps`` 1 ms steps.

    Parameters
    ----------
    spikes_ms : array_like
        Spike times (ms); see :func:`spike_steps` for the rules.
    n_steps : int
        Number of steps, from t = 0.

    Returns
    -------
    numpy.ndarray
        Boolean array of shape ``(n_steps,)``, True where a step holds a spike.
    """
    n = _count(n_steps, "n_steps")
    raster = np.zeros(n, dtype=np.bool_)
    raster[spike_steps(spikes_ms, n)] = True
    return raster


def rasterize_batch(trains: Sequence[npt.ArrayLike], n_steps: int) -> BoolArray:
    """Rasterise many spike trains at once, one per row.

    Parameters
    ----------
    trains : sequence of array_like
        Spike times (ms) of each train.
    n_steps : int
        Number of steps, from t = 0.

    Returns
    -------
    numpy.ndarray
        Boolean array of shape ``(len(trains), n_steps)``.
    """
    n = _count(n_steps, "n_steps")
    arrays = [_times(train, "trains") for train in trains]
    raster = np.zeros((len(arrays), n), dtype=np.bool_)
    if not arrays:
        return raster
    times = np.concatenate(arrays)
    rows = np.repeat(np.arange(len(arrays)), [a.shape[0] for a in arrays])
    keep = times >= 0.0
    steps = np.floor(times[keep] / _DT + SPIKE_TIME_TOLERANCE).astype(np.intp)
    rows = rows[keep]
    inside = steps < n
    raster[rows[inside], steps[inside]] = True
    return raster


def window_readout_steps(window_starts_ms: npt.ArrayLike, window_ms: float = 200.0) -> IntArray:
    """Return the step after which each theta window is read.

    Parameters
    ----------
    window_starts_ms : array_like
        Start time of each window (ms), >= 0.
    window_ms : float
        Window length (ms), > 0.

    Returns
    -------
    numpy.ndarray
        ``round((t0 + window_ms) / dt) - 1`` for each start ``t0`` (round half to even).

    Raises
    ------
    ValueError
        If the window length is not positive, a start is negative or not finite, or a
        window ends before the first step does.
    """
    starts = _times(window_starts_ms, "window_starts_ms")
    if not (math.isfinite(window_ms) and window_ms > 0):
        raise ValueError(f"window_ms: {window_ms!r} ms; a theta window must last a positive time")
    first = float(starts.min()) if starts.size else 0.0
    if first < 0:
        raise ValueError(
            "window_starts_ms: windows cannot start before t = 0, where the simulation starts"
        )
    steps = np.rint((starts + window_ms) / _DT).astype(np.intp)
    steps -= 1
    if starts.size and round((first + window_ms) / _DT) < 1:  # the earliest readout
        raise ValueError(
            f"window_ms: a {window_ms:g} ms window ends before the first 1 ms step does"
        )
    return steps


def _resolve_n_steps(readouts: IntArray, end_ms: float | None) -> int:
    needed = int(readouts.max()) + 1 if readouts.size else 0
    if end_ms is None:
        return needed
    if not (math.isfinite(end_ms) and end_ms >= 0):
        raise ValueError(f"end_ms: {end_ms!r} is not a finite time >= 0 ms")
    n_steps = round(end_ms / _DT)
    if n_steps < needed:
        raise ValueError(
            f"end_ms: the simulation would stop at {end_ms:g} ms, before the end of the "
            f"last theta window at {needed * _DT:g} ms"
        )
    return n_steps
