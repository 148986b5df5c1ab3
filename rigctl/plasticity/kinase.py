"""The kinase learning rule: spike times in, per-window weight change (dWt) out.

Pipeline
--------
1. Spike times (ms) are rasterised onto 1 ms steps (Axon cycles). A spike at ``t`` lands in
   step ``floor(t / dt + 1e-9)``: the small offset keeps a time such as 39.99999999999 ms,
   meant as 40 ms, in step 40. Negative times and times at or after the end of the
   simulation are dropped; two spikes of one neuron in the same step count as one.
2. Every step, in this order::

       CaSyn_pre  += (spike_ca_syn * spike_pre  - CaSyn_pre)  / ca_syn_tau
       CaSyn_post += (spike_ca_syn * spike_post - CaSyn_post) / ca_syn_tau
       ca          = syn_ca_gain * CaSyn_pre * CaSyn_post
       CaM        += (ca  - CaM) / m_tau
       CaP        += (CaM - CaP) / p_tau
       CaD        += (CaP - CaD) / d_tau

   All state starts at zero at t = 0 and carries over through windows and gaps.
3. A theta window starting at ``t0`` is read after step ``round((t0 + window) / dt) - 1``
   (round half to even, as Python's :func:`round`): ``dWt = p_scale * CaP - d_scale * CaD``.
   Summing these readouts gives the dWt of the whole protocol.

Each update in step 2 is a first-order linear IIR filter,
``y[n] = y[n-1] + (x[n] - y[n-1]) / tau``, and ``ca`` is a pointwise product, so the fast
path runs whole arrays (and batches of protocols, one per row) through
:func:`scipy.signal.lfilter` with no Python loop over time. For large batches,
:func:`kinase_dwt_batch` can instead use that the cascade is linear between spikes and jump
from event to event. :func:`kinase_loop` is the literal per-step loop, kept as the slow
reference the fast paths are tested against (:mod:`rigctl.plasticity.kinase_reference`).
Inputs and result types are :mod:`rigctl.plasticity.kinase_base`, the comparators
:mod:`rigctl.plasticity.comparators`; all are re-exported here.
"""

from __future__ import annotations

import math
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter  # type: ignore[import-untyped, unused-ignore]

from rigctl.plasticity import _events
from rigctl.plasticity._events import quiet_step
from rigctl.plasticity.comparators import rate_chl_target, sigmoid_weight, weight_from_dwt
from rigctl.plasticity.kinase_base import (
    _DT,
    SPIKE_TIME_TOLERANCE,
    BoolArray,
    FloatArray,
    IntArray,
    KinaseResult,
    KinaseTraces,
    _resolve_n_steps,
    rasterize,
    rasterize_batch,
    spike_steps,
    window_readout_steps,
)
from rigctl.plasticity.kinase_reference import kinase_loop
from rigctl.plasticity.params import KinaseParams

__all__ = [
    "SPIKE_TIME_TOLERANCE",
    "BoolArray",
    "FloatArray",
    "IntArray",
    "KinaseResult",
    "KinaseTraces",
    "hebbian_batch",
    "hebbian_coincidence",
    "kinase_dwt",
    "kinase_dwt_batch",
    "kinase_loop",
    "kinase_traces",
    "rasterize",
    "rasterize_batch",
    "rate_chl_target",
    "sigmoid_weight",
    "spike_steps",
    "weight_from_dwt",
    "window_readout_steps",
]

_CHUNK_BYTES: Final = 1 << 22  # rows per batch chunk are sized to keep ~4 MB arrays in cache
_DENSE_POWERS: Final = 4096  # longest quiet stretch (steps) with a dense table of powers
_DEFAULT_PARAMS: Final = KinaseParams()


# ----------------------------------------------------------------------------- fast path


def _for_kernel(array: npt.NDArray[Any], dtype: type[Any]) -> npt.NDArray[Any]:
    """``array`` as the compiled kernels were compiled for: writeable, C-contiguous, ``dtype``.

    Any other layout would make numba compile a new specialisation in the caller's thread.
    """
    if array.dtype == dtype and array.flags.c_contiguous and array.flags.writeable:
        return array
    return np.array(array, dtype=dtype, order="C")


def _sorted_readouts(readouts: IntArray) -> tuple[npt.NDArray[np.int64], IntArray | None]:
    """Distinct readout steps in increasing order, and each window's index among them.

    The index is None when the readouts already increase (the usual case).
    """
    if readouts.size < 2 or bool(np.all(readouts[1:] > readouts[:-1])):
        return _for_kernel(readouts, np.int64), None
    unique, window_of = np.unique(readouts, return_inverse=True)
    return _for_kernel(unique, np.int64), window_of.reshape(-1)


def _iir(x: FloatArray, tau_ms: float) -> FloatArray:
    """Filter along the last axis: ``y[n] = y[n-1] + (x[n] - y[n-1]) / tau``, ``y[-1] = 0``."""
    b = np.array([_DT / tau_ms])
    a = np.array([1.0, -(1.0 - _DT / tau_ms)])
    return np.asarray(lfilter(b, a, x, axis=-1), dtype=np.float64)


def _ca_syn(raster: npt.NDArray[np.generic], params: KinaseParams) -> FloatArray:
    drive = raster.astype(np.float64)
    drive *= params.spike_ca_syn
    return _iir(drive, params.ca_syn_tau_ms)


def _cascade(
    pre: npt.NDArray[np.generic], post: npt.NDArray[np.generic], params: KinaseParams
) -> KinaseTraces:
    ca_syn_pre = _ca_syn(pre, params)
    ca_syn_post = ca_syn_pre.copy() if np.array_equal(pre, post) else _ca_syn(post, params)
    ca = params.syn_ca_gain * ca_syn_pre * ca_syn_post
    cam = _iir(ca, params.m_tau_ms)
    cap = _iir(cam, params.p_tau_ms)
    cad = _iir(cap, params.d_tau_ms)
    return KinaseTraces(ca_syn_pre, ca_syn_post, ca, cam, cap, cad, params)


def _kinase_dwt_compiled(
    kernels: _events.Compiled,
    pre_ms: npt.ArrayLike,
    post_ms: npt.ArrayLike,
    window_starts_ms: npt.ArrayLike,
    window_ms: float,
    params: KinaseParams,
    end_ms: float | None,
) -> KinaseResult | None:
    """:func:`kinase_dwt` through the compiled kernel, which also validates the inputs.

    Returns None when an input is invalid: the caller's own checks then raise the error.
    """
    arrays = []
    for values in (pre_ms, post_ms, window_starts_ms):
        array = np.asarray(values, dtype=np.float64)
        if array.ndim != 1:
            return None
        arrays.append(_for_kernel(array, np.float64))
    if not (math.isfinite(window_ms) and window_ms > 0):
        return None
    end_steps = -1
    if end_ms is not None:
        if not (math.isfinite(end_ms) and end_ms >= 0):
            return None
        end_steps = round(end_ms / _DT)
    t = _events.tables(params)
    dwt, readouts, hebbian, n_steps = kernels.checked(
        *arrays, float(window_ms), end_steps, t.mats, t.rs, t.consts
    )
    if n_steps < 0:
        return None
    return KinaseResult(
        total=math.fsum(dwt.tolist()),
        per_window=dwt,
        readout_steps=readouts,
        hebbian=hebbian * params.dt_ms,
        n_steps=n_steps,
        params=params,
    )


def kinase_dwt(
    pre_ms: npt.ArrayLike,
    post_ms: npt.ArrayLike,
    window_starts_ms: npt.ArrayLike,
    window_ms: float = 200.0,
    params: KinaseParams | None = None,
    end_ms: float | None = None,
    *,
    return_traces: bool = False,
) -> KinaseResult:
    """Predict the weight change of one protocol under the kinase rule (fast path).

    Parameters
    ----------
    pre_ms, post_ms : array_like
        Presynaptic and postsynaptic spike times (ms), in any order.
    window_starts_ms : array_like
        Start time of each theta window (ms), >= 0.
    window_ms : float
        Length of every theta window (ms); the default, 200 ms, is the paper's two
        100 ms phases.
    params : KinaseParams, optional
        Cascade constants; Axon v2 defaults if omitted.
    end_ms : float, optional
        Where the simulation stops. Defaults to the end of the last window; a later end
        (e.g. the end of the last gap) leaves every readout unchanged, since readouts are
        taken at window ends, but it adds the tail to ``hebbian`` and to the traces.
    return_traces : bool
        Also return the state of the cascade at every step.

    Returns
    -------
    KinaseResult
        ``total`` and ``per_window`` dWt, the Hebbian comparator and optionally the traces.

    Raises
    ------
    ValueError
        If a time is not finite, a window starts before 0 or ``end_ms`` is before the end of
        the last window.

    Examples
    --------
    >>> pre = [0.0, 40.0, 80.0, 100.0, 120.0, 140.0, 160.0, 180.0]
    >>> round(kinase_dwt(pre, pre, [0.0]).total, 4)
    0.2144
    """
    p = _DEFAULT_PARAMS if params is None else params
    kernels = None if return_traces else _events.compiled()
    if kernels is not None:
        fast = _kinase_dwt_compiled(
            kernels, pre_ms, post_ms, window_starts_ms, window_ms, p, end_ms
        )
        if fast is not None:
            return fast
    readouts = window_readout_steps(window_starts_ms, window_ms)
    n_steps = _resolve_n_steps(readouts, end_ms)
    traces = _cascade(rasterize(pre_ms, n_steps), rasterize(post_ms, n_steps), p)
    per_window = traces.dwt[readouts]
    return KinaseResult(
        total=math.fsum(per_window.tolist()),
        per_window=per_window,
        readout_steps=readouts,
        hebbian=float(np.sum(traces.ca)) * p.dt_ms,
        n_steps=n_steps,
        params=p,
        traces=traces if return_traces else None,
    )


def kinase_traces(
    pre_ms: npt.ArrayLike,
    post_ms: npt.ArrayLike,
    end_ms: float,
    params: KinaseParams | None = None,
) -> KinaseTraces:
    """Simulate the cascade from t = 0 to ``end_ms`` and return its state at every step.

    Parameters
    ----------
    pre_ms, post_ms : array_like
        Presynaptic and postsynaptic spike times (ms).
    end_ms : float
        End of the simulation (ms); ``round(end_ms / dt)`` steps are simulated.
    params : KinaseParams, optional
        Cascade constants; Axon v2 defaults if omitted.

    Returns
    -------
    KinaseTraces
        CaSyn, ca, CaM, CaP and CaD over time.
    """
    p = KinaseParams() if params is None else params
    n_steps = _resolve_n_steps(np.zeros(0, dtype=np.intp), end_ms)
    return _cascade(rasterize(pre_ms, n_steps), rasterize(post_ms, n_steps), p)


def hebbian_coincidence(
    pre_ms: npt.ArrayLike,
    post_ms: npt.ArrayLike,
    end_ms: float,
    params: KinaseParams | None = None,
) -> float:
    """Hebbian coincidence comparator: ``∫ ca dt`` from t = 0 to ``end_ms``.

    This comparator measures only the overlap of pre and post activity and ignores its
    order in time, so a rate increase and the mirror-image decrease score the same, and the
    fastest pairing always scores highest.

    Parameters
    ----------
    pre_ms, post_ms : array_like
        Presynaptic and postsynaptic spike times (ms).
    end_ms : float
        End of the integration (ms).
    params : KinaseParams, optional
        Cascade constants; Axon v2 defaults if omitted.

    Returns
    -------
    float
        ``sum(ca) * dt`` (calcium units x ms).
    """
    p = KinaseParams() if params is None else params
    n_steps = _resolve_n_steps(np.zeros(0, dtype=np.intp), end_ms)
    pre = _ca_syn(rasterize(pre_ms, n_steps), p)
    post = _ca_syn(rasterize(post_ms, n_steps), p)
    return float(np.sum(p.syn_ca_gain * pre * post)) * p.dt_ms


# ----------------------------------------------------------------------------- batches


def _batch_rasters(
    pre_rasters: npt.ArrayLike, post_rasters: npt.ArrayLike
) -> tuple[npt.NDArray[np.generic], npt.NDArray[np.generic], bool]:
    same = pre_rasters is post_rasters
    pre = np.asarray(pre_rasters)
    post = pre if same else np.asarray(post_rasters)
    if pre.ndim < 1 or pre.shape != post.shape:
        raise ValueError(
            f"pre_rasters and post_rasters must have the same shape (..., n_steps); "
            f"got {pre.shape} and {post.shape}"
        )
    for name, raster in (("pre_rasters", pre), ("post_rasters", post)):
        if raster.dtype != np.bool_ and not np.all((raster == 0) | (raster == 1)):
            raise ValueError(f"{name}: a raster holds 0 or 1 spikes per 1 ms step")
    return pre, post, same


def _batch_readouts(readout_steps: npt.ArrayLike, n_steps: int) -> IntArray:
    steps = np.asarray(readout_steps)
    if steps.ndim != 1 or (steps.size and not np.issubdtype(steps.dtype, np.integer)):
        raise ValueError("readout_steps: expected a 1-D sequence of whole step indices")
    steps = steps.astype(np.intp)
    if steps.size and (steps.min() < 0 or steps.max() >= n_steps):
        raise ValueError(
            f"readout_steps: every readout must fall inside the {n_steps} simulated steps"
        )
    return steps


def _chunks(n_rows: int, n_cols: int) -> list[slice]:
    rows = max(1, _CHUNK_BYTES // (8 * max(n_cols, 1)))
    return [slice(i, min(i + rows, n_rows)) for i in range(0, n_rows, rows)]


def _dwt_cascade(
    pre: npt.NDArray[np.generic],
    post: npt.NDArray[np.generic],
    readouts: IntArray,
    params: KinaseParams,
    same: bool,
) -> FloatArray:
    """Batch dWt by filtering every row through the whole cascade (chunks of rows)."""
    out = np.zeros((pre.shape[0], readouts.size), dtype=np.float64)
    for rows in _chunks(pre.shape[0], pre.shape[1]):
        ca_syn_pre = _ca_syn(pre[rows], params)
        ca_syn_post = ca_syn_pre if same else _ca_syn(post[rows], params)
        ca = params.syn_ca_gain * ca_syn_pre * ca_syn_post
        cap = _iir(_iir(ca, params.m_tau_ms), params.p_tau_ms)
        cad = _iir(cap, params.d_tau_ms)
        out[rows] = params.p_scale * cap[:, readouts] - params.d_scale * cad[:, readouts]
    return out


def _matrix_powers(a: FloatArray, exponents: IntArray) -> FloatArray:
    """``a ** k`` for every ``k`` in ``exponents`` (binary exponentiation, vectorised)."""
    result = np.broadcast_to(np.eye(a.shape[0]), (exponents.size, *a.shape)).copy()
    base = a.copy()
    remaining = exponents.copy()
    while np.any(remaining):
        odd = (remaining & 1).astype(np.bool_)
        result[odd] = result[odd] @ base
        remaining >>= 1
        base = base @ base
    return result


def _dwt_events(
    pre: BoolArray, post: BoolArray, readouts: IntArray, params: KinaseParams, same: bool
) -> FloatArray:
    """Batch dWt by jumping from event to event (spike or readout steps) in every row.

    Between events the cascade is linear (see :func:`rigctl.plasticity._events.quiet_step`),
    so a stretch of ``L`` quiet steps is one multiplication by ``A ** L``; a row costs
    O(number of events) instead of O(number of steps), and all rows advance together.
    """
    n_rows, length = pre.shape
    unique_steps, window_of = np.unique(readouts, return_inverse=True)
    is_readout = np.zeros(length, dtype=np.bool_)
    is_readout[unique_steps] = True
    flat = np.flatnonzero((pre if same else pre | post) | is_readout)
    rows, steps = np.divmod(flat, length)
    counts = np.bincount(rows, minlength=n_rows)  # every row holds all readouts: >= 1
    first = np.cumsum(counts) - counts
    order = np.arange(flat.size) - first[rows]
    n_events = int(counts.max())
    # (event index, row) tables; padding repeats a row's last step: a zero-length no-op
    event_step = np.repeat(steps[first + counts - 1][None, :], n_events, axis=0)
    event_step[order, rows] = steps
    kick = params.spike_ca_syn * _DT / params.ca_syn_tau_ms
    kick_pre = np.zeros((n_events, n_rows))
    kick_post = np.zeros((n_events, n_rows))
    kick_pre[order, rows] = np.where(pre[rows, steps], kick, 0.0)
    kick_post[order, rows] = np.where(post[rows, steps], kick, 0.0)
    gaps = np.diff(event_step, axis=0, prepend=np.full((1, n_rows), -1))
    if int(gaps.max()) < _DENSE_POWERS:  # index a table of all powers by the gap itself
        exponents, gap_index = np.arange(int(gaps.max()) + 1), gaps
    else:
        exponents, gap_index = np.unique(gaps, return_inverse=True)
        gap_index = gap_index.reshape(gaps.shape)
    a, v = quiet_step(params)
    a_pow = _matrix_powers(a, exponents)
    r_pow = (1.0 - _DT / params.ca_syn_tau_ms) ** exponents.astype(np.float64)

    z = np.zeros((n_rows, 4))
    ca_syn_pre = np.zeros(n_rows)
    ca_syn_post = np.zeros(n_rows)
    dwt = np.empty((n_events, n_rows))
    for j in range(n_events):
        k = gap_index[j]
        z = np.einsum("bij,bj->bi", a_pow[k], z)
        decay = r_pow[k]
        ca_syn_pre *= decay
        ca_syn_pre += kick_pre[j]
        ca_syn_post *= decay
        ca_syn_post += kick_post[j]
        z += np.multiply.outer(ca_syn_pre * ca_syn_post - z[:, 0], v)
        dwt[j] = params.p_scale * z[:, 2] - params.d_scale * z[:, 3]

    read = is_readout[steps]
    by_step = np.zeros((n_rows, unique_steps.size))
    by_step[rows[read], np.searchsorted(unique_steps, steps[read])] = dwt[order[read], rows[read]]
    return by_step[:, window_of]


def kinase_dwt_batch(
    pre_rasters: npt.ArrayLike,
    post_rasters: npt.ArrayLike,
    readout_steps: npt.ArrayLike,
    params: KinaseParams | None = None,
    *,
    method: Literal["events", "cascade"] = "events",
) -> FloatArray:
    """Per-window dWt of many protocols at once, one protocol per raster row.

    Parameters
    ----------
    pre_rasters, post_rasters : array_like
        Spike rasters of shape ``(..., n_steps)`` (bool, or numbers 0 / 1), element ``n``
        being the millisecond from ``n`` ms; see :func:`rasterize_batch`. With
        ``method="cascade"``, passing the same array object for both (pre and post in
        sync) skips one filter pass.
    readout_steps : array_like of int
        Step after which each window is read, shared by all rows; see
        :func:`window_readout_steps`.
    params : KinaseParams, optional
        Cascade constants; Axon v2 defaults if omitted.
    method : {"events", "cascade"}
        ``"cascade"`` runs every row through the IIR filters (as :func:`kinase_dwt`) and
        samples the readouts. ``"events"`` (default, much faster for sparse spikes) uses
        that the cascade is linear between spikes: it jumps from one spike or readout step
        to the next with precomputed powers of the one-step transition matrix; its work and
        memory grow with rows x spikes per row rather than rows x steps. Both agree with
        :func:`kinase_loop` to rounding error.

    Returns
    -------
    numpy.ndarray
        dWt of shape ``(..., n_windows)``; sum over the last axis for the protocol totals.

    Raises
    ------
    ValueError
        If the rasters differ in shape or hold other values than 0 and 1, a readout falls
        outside the rasters or the method is unknown.
    """
    p = KinaseParams() if params is None else params
    if method not in ("events", "cascade"):
        raise ValueError(f"method: expected 'events' or 'cascade', got {method!r}")
    pre, post, same = _batch_rasters(pre_rasters, post_rasters)
    lead, n_steps = pre.shape[:-1], pre.shape[-1]
    readouts = _batch_readouts(readout_steps, n_steps)
    n_rows = math.prod(lead)
    if readouts.size == 0 or n_rows == 0:
        return np.zeros((*lead, readouts.size), dtype=np.float64)
    length = int(readouts.max()) + 1  # later steps cannot change any readout
    pre2 = pre.reshape(n_rows, n_steps)[:, :length]
    post2 = post.reshape(n_rows, n_steps)[:, :length]
    if method == "cascade":
        out = _dwt_cascade(pre2, post2, readouts, p, same)
    else:
        kernels = _events.compiled()
        if kernels is None:
            pre_b = pre2.astype(np.bool_, copy=False)
            post_b = post2.astype(np.bool_, copy=False)
            out = _dwt_events(pre_b, post_b, readouts, p, same)
        else:
            reads, window_of = _sorted_readouts(readouts)
            t = _events.tables(p)
            at_reads = kernels.rasters(
                _for_kernel(pre.reshape(n_rows, n_steps), np.bool_),
                _for_kernel(post.reshape(n_rows, n_steps), np.bool_),
                reads,
                t.mats,
                t.rs,
                t.consts,
            )
            out = at_reads if window_of is None else at_reads[:, window_of]
    return out.reshape((*lead, readouts.size))


def hebbian_batch(
    pre_rasters: npt.ArrayLike,
    post_rasters: npt.ArrayLike,
    params: KinaseParams | None = None,
) -> FloatArray:
    """Hebbian coincidence comparator ``∫ ca dt`` of many protocols, one per raster row.

    Parameters
    ----------
    pre_rasters, post_rasters : array_like
        Spike rasters of shape ``(..., n_steps)``; the integral runs over all steps.
    params : KinaseParams, optional
        Cascade constants; Axon v2 defaults if omitted.

    Returns
    -------
    numpy.ndarray
        ``sum(ca) * dt`` of shape ``(...)`` (calcium units x ms).
    """
    p = KinaseParams() if params is None else params
    pre, post, same = _batch_rasters(pre_rasters, post_rasters)
    lead, n_steps = pre.shape[:-1], pre.shape[-1]
    n_rows = math.prod(lead)
    pre2 = pre.reshape(n_rows, n_steps)
    post2 = post.reshape(n_rows, n_steps)
    out = np.zeros(n_rows, dtype=np.float64)
    for rows in _chunks(n_rows, n_steps):
        ca_syn_pre = _ca_syn(pre2[rows], p)
        ca_syn_post = ca_syn_pre if same else _ca_syn(post2[rows], p)
        out[rows] = np.sum(ca_syn_pre * ca_syn_post, axis=-1) * (p.syn_ca_gain * p.dt_ms)
    return out.reshape(lead)
