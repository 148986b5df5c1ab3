"""The exact event-driven kinase kernels: plain Python written for numba's ``njit``.

Scalars and arrays only, no objects: :mod:`rigctl.plasticity._events` compiles them in a
background thread (see there for the backends and the tables ``mats``, ``rs``, ``consts``).
Between spikes the state ``z = (Q, CaM, CaP, CaD)`` advances by powers of the quiet step
``A``; at a spike step ``Q = CaSyn_pre * CaSyn_post`` is set and the response corrected.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

N_DENSE: Final = 2048
"""Gaps shorter than this many steps use a dense table of powers; longer ones binary powers."""
_TOL: Final = 1e-9  # the spike-time tolerance of kinase.SPIKE_TIME_TOLERANCE


def _advance(
    mats: FloatArray, gap: int, z0: float, z1: float, z2: float, z3: float
) -> tuple[float, float, float, float]:
    """``A ** gap @ z``: one table lookup, or binary powers beyond the dense table."""
    if gap < N_DENSE:
        return _apply(mats[gap], z0, z1, z2, z3)
    rest, j = gap, 0
    while rest > 0:
        if rest & 1:
            z0, z1, z2, z3 = _apply(mats[N_DENSE + j], z0, z1, z2, z3)
        rest >>= 1
        j += 1
    return z0, z1, z2, z3


def _apply(
    m: FloatArray, z0: float, z1: float, z2: float, z3: float
) -> tuple[float, float, float, float]:
    """``m @ z`` for the lower-triangular 4 x 4 quiet step (or one of its powers)."""
    return (
        m[0, 0] * z0,
        m[1, 0] * z0 + m[1, 1] * z1,
        m[2, 0] * z0 + m[2, 1] * z1 + m[2, 2] * z2,
        m[3, 0] * z0 + m[3, 1] * z1 + m[3, 2] * z2 + m[3, 3] * z3,
    )


def _next_event(
    steps: IntArray,
    flags: npt.NDArray[np.uint8],
    pos: IntArray,
    hi: IntArray,
    next_read: int,
) -> tuple[int, int]:
    """The earliest step of the streams (or ``next_read``) and its spike flags; advances."""
    s = next_read
    for i in range(pos.shape[0]):
        if pos[i] < hi[i] and steps[pos[i]] < s:
            s = steps[pos[i]]
    flag = 0
    for i in range(pos.shape[0]):
        while pos[i] < hi[i] and steps[pos[i]] == s:
            flag |= flags[pos[i]]
            pos[i] += 1
    return s, flag


def _quiet_sum(q: float, r2: float, rg: float) -> float:
    """Sum of ``q * r2**k`` over the ``gap - 1`` quiet steps before an event (rg = r**gap)."""
    return q * (r2 - rg * rg) / (1.0 - r2)


def _run(
    steps: IntArray,
    flags: npt.NDArray[np.uint8],
    lo: IntArray,
    hi: IntArray,
    reads: IntArray,
    n_steps: int,
    mats: FloatArray,
    rs: FloatArray,
    consts: FloatArray,
    out: FloatArray,
) -> float:
    """Run one protocol; return ``∫ ca dt`` and write the dWt at each readout into ``out``.

    The spikes come as ``K`` sorted streams ``steps[lo[s]:hi[s]]`` with ``flags`` (1 = pre,
    2 = post, 3 = both); equal steps within and across streams merge into one event.
    ``reads`` are the sorted, distinct readout steps, all ``< n_steps``.
    """
    kick, gain, p_scale, d_scale, r2 = consts[0], consts[1], consts[2], consts[3], consts[4]
    v1, v2, v3 = consts[6], consts[7], consts[8]
    pos = lo.copy()
    z0 = z1 = z2 = z3 = c_pre = c_post = hebb = 0.0
    last, k, n_reads = -1, 0, reads.shape[0]
    while True:
        s, flag = _next_event(steps, flags, pos, hi, reads[k] if k < n_reads else n_steps)
        if s >= n_steps:
            break
        gap = s - last
        rg = rs[gap] if gap < N_DENSE else _rpow(rs, gap)
        hebb += _quiet_sum(z0, r2, rg)
        z0, z1, z2, z3 = _advance(mats, gap, z0, z1, z2, z3)
        c_pre *= rg
        c_post *= rg
        if flag:
            c_pre += kick if flag & 1 else 0.0
            c_post += kick if flag & 2 else 0.0
            d = c_pre * c_post - z0  # the spike sets Q: correct the quiet step's response
            z0, z1, z2, z3 = z0 + d, z1 + v1 * d, z2 + v2 * d, z3 + v3 * d
        hebb += z0
        while k < n_reads and reads[k] == s:
            out[k] = p_scale * z2 - d_scale * z3
            k += 1
        last = s
    gap = n_steps - last
    if gap > 1:
        hebb += _quiet_sum(z0, r2, rs[gap] if gap < N_DENSE else _rpow(rs, gap))
    return float(hebb * gain)


def _rpow(rs: FloatArray, gap: int) -> float:
    """``r ** gap`` from the binary powers (gaps beyond the dense table)."""
    out, rest, j = 1.0, gap, 0
    while rest > 0:
        if rest & 1:
            out *= rs[N_DENSE + j]
        rest >>= 1
        j += 1
    return out


def _steps_of(times: FloatArray, n_steps: int) -> IntArray:
    """Sorted distinct steps ``floor(t + 1e-9)`` of the times in ``[0, n_steps)`` steps."""
    out = np.empty(times.shape[0], dtype=np.int64)
    n = 0
    ordered = True
    for t in times:
        if t >= 0.0:
            s = math.floor(t / 1.0 + _TOL)
            if s < n_steps:
                if n and s < out[n - 1]:
                    ordered = False
                out[n] = s
                n += 1
    out = out[:n]
    if not ordered:
        out = np.sort(out)
    keep = 0
    for i in range(n):
        if keep == 0 or out[i] != out[keep - 1]:
            out[keep] = out[i]
            keep += 1
    return out[:keep]


def _protocol(
    pre_ms: FloatArray,
    post_ms: FloatArray,
    readouts: IntArray,
    n_steps: int,
    mats: FloatArray,
    rs: FloatArray,
    consts: FloatArray,
) -> tuple[FloatArray, float]:
    """One protocol from spike times: dWt at each readout (any order) and ``∫ ca dt``."""
    n_windows = readouts.shape[0]
    increasing = True
    for i in range(1, n_windows):
        if readouts[i] <= readouts[i - 1]:
            increasing = False
            break
    reads = readouts if increasing else np.unique(readouts)
    pre = _steps_of(pre_ms, n_steps)
    post = _steps_of(post_ms, n_steps)
    steps = np.concatenate((pre, post))
    flags = np.empty(steps.shape[0], dtype=np.uint8)
    flags[: pre.shape[0]] = 1
    flags[pre.shape[0] :] = 2
    lo = np.array([0, pre.shape[0]], dtype=np.int64)
    hi = np.array([pre.shape[0], steps.shape[0]], dtype=np.int64)
    out = np.zeros(reads.shape[0])
    hebb = _run(steps, flags, lo, hi, reads, n_steps, mats, rs, consts, out)
    if increasing:
        return out, hebb
    per_window = np.empty(n_windows)
    for i in range(n_windows):
        per_window[i] = out[np.searchsorted(reads, readouts[i])]
    return per_window, hebb


def _checked(
    pre_ms: FloatArray,
    post_ms: FloatArray,
    starts_ms: FloatArray,
    window_ms: float,
    end_steps: int,
    mats: FloatArray,
    rs: FloatArray,
    consts: FloatArray,
) -> tuple[FloatArray, IntArray, float, int]:
    """:func:`_protocol` with the readouts and checks of ``kinase.kinase_dwt`` done here.

    Returns ``(dwt, readout_steps, hebbian, n_steps)``; ``n_steps = -1`` when an input is
    invalid (a time not finite, a window starting before 0 or ending before the first
    step, the end before the last window), for the caller to raise its own error.
    """
    bad = (np.zeros(0), np.zeros(0, dtype=np.int64), 0.0, -1)
    for times in (pre_ms, post_ms, starts_ms):
        for t in times:
            if not math.isfinite(t):
                return bad
    n = starts_ms.shape[0]
    readouts = np.empty(n, dtype=np.int64)
    needed = 0
    for i in range(n):
        if starts_ms[i] < 0.0:
            return bad
        step = int(np.rint((starts_ms[i] + window_ms) / 1.0)) - 1
        if step < 0:
            return bad
        readouts[i] = step
        needed = max(needed, step + 1)
    n_steps = needed if end_steps < 0 else end_steps
    if n_steps < needed:
        return bad
    dwt, hebb = _protocol(pre_ms, post_ms, readouts, n_steps, mats, rs, consts)
    return dwt, readouts, hebb, n_steps


def _rasters(
    pre: npt.NDArray[np.bool_],
    post: npt.NDArray[np.bool_],
    reads: IntArray,
    mats: FloatArray,
    rs: FloatArray,
    consts: FloatArray,
) -> FloatArray:
    """Many protocols from spike rasters (one per row): dWt at each readout (>= 1 of them)."""
    n_rows = pre.shape[0]
    length = reads[reads.shape[0] - 1] + 1  # later steps cannot change any readout
    out = np.zeros((n_rows, reads.shape[0]))
    steps = np.empty(length, dtype=np.int64)
    flags = np.empty(length, dtype=np.uint8)
    lo = np.zeros(1, dtype=np.int64)
    hi = np.zeros(1, dtype=np.int64)
    for row in range(n_rows):
        n = 0
        for s in range(length):
            f = (1 if pre[row, s] else 0) | (2 if post[row, s] else 0)
            if f:
                steps[n] = s
                flags[n] = f
                n += 1
        hi[0] = n
        _run(steps, flags, lo, hi, reads, length, mats, rs, consts, out[row])
    return out


def _merge_pairs(
    steps: IntArray, flags: npt.NDArray[np.uint8], ranges: IntArray
) -> tuple[IntArray, npt.NDArray[np.uint8], IntArray]:
    """Merge each row's pre and post stream (``ranges`` rows) into one flagged stream."""
    n = ranges.shape[0]
    total = 0
    for i in range(n):
        total += ranges[i, 1] - ranges[i, 0] + ranges[i, 3] - ranges[i, 2]
    out_steps = np.empty(total, dtype=np.int64)
    out_flags = np.empty(total, dtype=np.uint8)
    bounds = np.empty((n, 2), dtype=np.int64)
    m = 0
    for i in range(n):
        bounds[i, 0] = m
        a, a_end, b, b_end = ranges[i, 0], ranges[i, 1], ranges[i, 2], ranges[i, 3]
        while a < a_end or b < b_end:
            if b >= b_end or (a < a_end and steps[a] < steps[b]):
                s, f = steps[a], flags[a]
                a += 1
            elif a >= a_end or steps[b] < steps[a]:
                s, f = steps[b], flags[b]
                b += 1
            else:
                s, f = steps[a], flags[a] | flags[b]
                a += 1
                b += 1
            if m > bounds[i, 0] and out_steps[m - 1] == s:
                out_flags[m - 1] |= f
            else:
                out_steps[m] = s
                out_flags[m] = f
                m += 1
        bounds[i, 1] = m
    return out_steps[:m], out_flags[:m], bounds


def _map(
    steps: IntArray,
    flags: npt.NDArray[np.uint8],
    minus: IntArray,
    plus: IntArray,
    fixed: IntArray,
    reads: IntArray,
    n_steps: int,
    mats: FloatArray,
    rs: FloatArray,
    consts: FloatArray,
) -> FloatArray:
    """Rate map: row ``(i, j)`` merges the streams of ``minus[i]``, ``plus[j]`` and ``fixed``.

    ``minus`` and ``plus`` are ``(n, 4)`` ranges ``(pre_lo, pre_hi, post_lo, post_hi)`` into
    ``steps`` / ``flags`` (each stream sorted); ``fixed`` is one such range. Returns
    ``(n_minus, n_plus, n_reads)``.
    """
    n_m, n_p = minus.shape[0], plus.shape[0]
    both = np.empty((n_m + n_p + 1, 4), dtype=np.int64)
    both[:n_m] = minus
    both[n_m : n_m + n_p] = plus
    both[n_m + n_p] = fixed
    merged, merged_flags, bounds = _merge_pairs(steps, flags, both)
    out = np.zeros((n_m, n_p, reads.shape[0]))
    lo = np.empty(3, dtype=np.int64)
    hi = np.empty(3, dtype=np.int64)
    lo[2], hi[2] = bounds[n_m + n_p, 0], bounds[n_m + n_p, 1]
    for i in range(n_m):
        lo[0], hi[0] = bounds[i, 0], bounds[i, 1]
        for j in range(n_p):
            lo[1], hi[1] = bounds[n_m + j, 0], bounds[n_m + j, 1]
            _run(merged, merged_flags, lo, hi, reads, n_steps, mats, rs, consts, out[i, j])
    return out
