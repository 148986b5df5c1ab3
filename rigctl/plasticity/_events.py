"""The exact event-driven kinase kernel, compiled with numba when it is available.

Between spikes the cascade is linear with constant coefficients: both CaSyn traces decay by
``r = 1 - dt / ca_syn_tau`` per step, so their product ``Q`` decays by ``r**2``, and the state
``z = (Q, CaM, CaP, CaD)`` advances by ``z' = A @ z`` (see :func:`quiet_step`). A stretch of
``L`` steps ending in a spike is one multiplication by ``A**L`` (from a table of powers),
followed by the correction of ``Q`` at the spike step. The kernel visits only spike and
readout steps, so its cost grows with spikes and windows, not with milliseconds; it equals
the per-step loop to rounding error.

Backends
--------
The kernels below are plain Python functions written for numba's ``njit``. When numba is
installed they are compiled in a background thread on first use (cached on disk, so later
processes load them in a fraction of a second) and used once ready; until then, and when
numba is missing or ``RIGCTL_KINASE_BACKEND=numpy`` is set, callers use their pure-numpy
paths (vectorised IIR filters and a numpy event loop over rows), which give the same
results to rounding. :func:`warm_up` waits for the compiled kernels (benchmarks, tests).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from rigctl.plasticity.params import AXON_DT_MS, KinaseParams

__all__ = [
    "Backend",
    "Tables",
    "backend",
    "compiled",
    "quiet_step",
    "set_backend",
    "set_loading",
    "tables",
    "warm_up",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

Backend = Literal["numba", "numpy"]

N_DENSE: Final = 2048
"""Gaps shorter than this many steps use a dense table of powers; longer ones use binary powers."""
N_POW2: Final = 63
_TOL: Final = 1e-9  # the spike-time tolerance of kinase.SPIKE_TIME_TOLERANCE
_ENV: Final = "RIGCTL_KINASE_BACKEND"
_LOAD_DELAY_S: Final = 0.05  # eager: start loading this long after the first use
_IDLE_S: Final = 0.25  # idle: start loading once the kernels were unused this long ...
_IDLE_MAX_S: Final = 5.0  # ... or this long after the first use at the latest


# ----------------------------------------------------------------------------- tables


def quiet_step(params: KinaseParams) -> tuple[FloatArray, FloatArray]:
    """One spike-free step of ``z = (Q, CaM, CaP, CaD)`` with ``Q = CaSyn_pre * CaSyn_post``.

    Without spikes both CaSyn traces decay by ``r = 1 - dt / ca_syn_tau``, so ``Q`` decays by
    ``r**2`` and the step is linear: ``z' = A @ z``. A step whose ``Q`` is set otherwise (a
    spike) adds ``v * (Q_actual - Q_quiet)``, ``v`` being the response of ``z'`` to ``Q'``.

    Parameters
    ----------
    params : KinaseParams
        Cascade constants.

    Returns
    -------
    tuple of numpy.ndarray
        ``A`` (4 x 4) and ``v`` (4).
    """
    r = 1.0 - AXON_DT_MS / params.ca_syn_tau_ms
    gain_m = params.syn_ca_gain * AXON_DT_MS / params.m_tau_ms
    to_p, to_d = AXON_DT_MS / params.p_tau_ms, AXON_DT_MS / params.d_tau_ms
    v = np.array([1.0, gain_m, gain_m * to_p, gain_m * to_p * to_d])
    a = np.zeros((4, 4))
    a[0, 0] = r * r
    a[1] = (gain_m * r * r, 1.0 - AXON_DT_MS / params.m_tau_ms, 0.0, 0.0)
    a[2] = a[1] * to_p
    a[2, 2] += 1.0 - to_p
    a[3] = a[2] * to_d
    a[3, 3] += 1.0 - to_d
    return a, v


@dataclass(frozen=True, eq=False)
class Tables:
    """Precomputed powers for one parameter set (read-only arrays).

    Attributes
    ----------
    mats : numpy.ndarray
        ``(N_DENSE + N_POW2, 4, 4)``: ``A**L`` for ``L < N_DENSE``, then ``A**(2**k)``.
    rs : numpy.ndarray
        The same for the CaSyn decay ``r``.
    consts : numpy.ndarray
        ``kick, syn_ca_gain, p_scale, d_scale, r**2, v0, v1, v2, v3``.
    """

    mats: FloatArray
    rs: FloatArray
    consts: FloatArray


def _dense_powers(a: FloatArray, n: int) -> FloatArray:
    """``a ** L`` for ``L < n`` by doubling: each block is the previous one times a power."""
    out = np.empty((n, *a.shape))
    out[0] = np.eye(a.shape[0])
    filled, step = 1, a.copy()
    while filled < n:
        take = min(filled, n - filled)
        out[filled : filled + take] = out[:take] @ step
        filled += take
        step = step @ step
    return out


_last: list[tuple[KinaseParams, Tables]] = []


def tables(params: KinaseParams) -> Tables:
    """The tables of :class:`Tables` for ``params`` (cached)."""
    last = _last[0] if _last else None
    if last is not None and last[0] is params:
        return last[1]
    result = _tables(params)
    _last[:] = [(params, result)]
    return result


@lru_cache(maxsize=16)
def _tables(params: KinaseParams) -> Tables:
    a, v = quiet_step(params)
    r = np.array([[1.0 - AXON_DT_MS / params.ca_syn_tau_ms]])
    pow2 = np.empty((N_POW2, 4, 4))
    r2 = np.empty(N_POW2)
    base, rb = a.copy(), float(r[0, 0])
    for k in range(N_POW2):
        pow2[k], r2[k] = base, rb
        base, rb = base @ base, rb * rb
    mats = np.concatenate([_dense_powers(a, N_DENSE), pow2])
    rs = np.concatenate([_dense_powers(r, N_DENSE)[:, 0, 0], r2])
    rr = float(r[0, 0])
    kick = params.spike_ca_syn * AXON_DT_MS / params.ca_syn_tau_ms
    consts = np.array(
        [kick, params.syn_ca_gain, params.p_scale, params.d_scale, rr * rr, *v.tolist()]
    )
    for array in (mats, rs, consts):
        array.flags.writeable = False
    return Tables(mats, rs, consts)


# ----------------------------------------------------------------------------- kernels
# Plain Python written for numba: scalars and arrays only, no objects.


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
    n_dense = N_DENSE
    pos = lo.copy()
    n_streams = lo.shape[0]
    z0 = z1 = z2 = z3 = 0.0
    c_pre = c_post = 0.0
    hebb = 0.0
    last = -1
    k = 0
    n_reads = reads.shape[0]
    while True:
        s = n_steps
        for i in range(n_streams):
            if pos[i] < hi[i] and steps[pos[i]] < s:
                s = steps[pos[i]]
        if k < n_reads and reads[k] < s:
            s = reads[k]
        if s >= n_steps:
            break
        flag = 0
        for i in range(n_streams):
            while pos[i] < hi[i] and steps[pos[i]] == s:
                flag |= flags[pos[i]]
                pos[i] += 1
        gap = s - last
        # the quiet steps strictly between the last event and this one
        rg = rs[gap] if gap < n_dense else _rpow(rs, gap)
        hebb += z0 * (r2 - rg * rg) / (1.0 - r2)
        if gap < n_dense:
            m = mats[gap]
            y0 = m[0, 0] * z0
            y1 = m[1, 0] * z0 + m[1, 1] * z1
            y2 = m[2, 0] * z0 + m[2, 1] * z1 + m[2, 2] * z2
            y3 = m[3, 0] * z0 + m[3, 1] * z1 + m[3, 2] * z2 + m[3, 3] * z3
            z0, z1, z2, z3 = y0, y1, y2, y3
        else:
            rest, j = gap, 0
            while rest > 0:
                if rest & 1:
                    m = mats[N_DENSE + j]
                    y0 = m[0, 0] * z0
                    y1 = m[1, 0] * z0 + m[1, 1] * z1
                    y2 = m[2, 0] * z0 + m[2, 1] * z1 + m[2, 2] * z2
                    y3 = m[3, 0] * z0 + m[3, 1] * z1 + m[3, 2] * z2 + m[3, 3] * z3
                    z0, z1, z2, z3 = y0, y1, y2, y3
                rest >>= 1
                j += 1
        c_pre *= rg
        c_post *= rg
        if flag:
            if flag & 1:
                c_pre += kick
            if flag & 2:
                c_post += kick
            d = c_pre * c_post - z0
            z0 += d
            z1 += v1 * d
            z2 += v2 * d
            z3 += v3 * d
        hebb += z0
        while k < n_reads and reads[k] == s:
            out[k] = p_scale * z2 - d_scale * z3
            k += 1
        last = s
    gap = n_steps - last
    if gap > 1:
        rg = rs[gap] if gap < n_dense else _rpow(rs, gap)
        hebb += z0 * (r2 - rg * rg) / (1.0 - r2)
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


# ----------------------------------------------------------------------------- backend


@dataclass(frozen=True)
class Compiled:
    """The compiled kernels (numba dispatchers), and how long loading them took."""

    protocol: Callable[..., tuple[FloatArray, float]]
    checked: Callable[..., tuple[FloatArray, IntArray, float, int]]
    rasters: Callable[..., FloatArray]
    rate_map: Callable[..., FloatArray]
    load_s: float


def _env_backend_at_import() -> Backend | None:
    value = os.environ.get(_ENV, "").strip().lower()
    return "numpy" if value == "numpy" else None


_lock = threading.Lock()
_compiled: Compiled | None = None
_loader: threading.Thread | None = None
_failure: str | None = None
_forced: Backend | None = None
_policy: Literal["eager", "idle"] = "eager"
_last_use = 0.0
_ENV_CHOICE: Final = _env_backend_at_import()


def _load() -> Compiled:
    """Import numba, compile (or load from the disk cache) and exercise every kernel."""
    start = time.perf_counter()
    import numba

    glb: dict[str, Any] = globals()
    jit: Callable[..., Any] = numba.njit(cache=True, nogil=True)
    names: tuple[str, ...] = ("_rpow", "_run", "_steps_of", "_protocol", "_checked", "_rasters")
    names += ("_merge_pairs", "_map")
    # Compile into a private namespace so the Python sources stay usable and testable.
    ns: dict[str, Any] = {}
    for name in names:
        fn = glb[name]
        ns[name] = jit(fn)
    # The kernels call each other through module globals: point those at the dispatchers
    # only inside numba's view (the functions' __globals__ is this module), then compile.
    saved = {name: glb[name] for name in names}
    try:
        glb.update(ns)
        t = tables(KinaseParams())
        reads = np.array([3, 7], dtype=np.int64)
        ns["_protocol"](np.array([0.0, 2.0]), np.array([1.0]), reads, 9, t.mats, t.rs, t.consts)
        one_ms = np.array([1.0])
        ns["_checked"](one_ms, one_ms, one_ms, 5.0, -1, t.mats, t.rs, t.consts)
        one = np.zeros((1, 9), dtype=np.bool_)
        ns["_rasters"](one, one, reads, t.mats, t.rs, t.consts)
        rng = np.zeros((1, 4), dtype=np.int64)
        ns["_map"](
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.uint8),
            rng,
            rng,
            np.zeros(4, dtype=np.int64),
            reads,
            9,
            t.mats,
            t.rs,
            t.consts,
        )
    finally:
        glb.update(saved)
    return Compiled(
        ns["_protocol"], ns["_checked"], ns["_rasters"], ns["_map"], time.perf_counter() - start
    )


def _load_in_background() -> None:
    global _compiled, _failure
    time.sleep(_LOAD_DELAY_S)
    first = time.monotonic()
    while _policy == "idle" and time.monotonic() - first < _IDLE_MAX_S:
        quiet = time.monotonic() - _last_use
        if quiet >= _IDLE_S:
            break
        time.sleep(_IDLE_S - quiet)
    try:
        result = _load()
    except Exception as exc:  # numba missing or broken: stay on numpy, say why
        with _lock:
            _failure = f"{type(exc).__name__}: {exc}"
        return
    with _lock:
        _compiled = result


def _start_loader() -> None:
    global _loader
    with _lock:
        if _loader is not None or _failure is not None:
            return
        _loader = threading.Thread(
            target=_load_in_background, name="rigctl-kinase-compile", daemon=True
        )
        _loader.start()


def compiled() -> Compiled | None:
    """The compiled kernels if they are ready and wanted; otherwise start loading them.

    Returns
    -------
    Compiled or None
        None means: use the numpy path for now.
    """
    global _last_use
    if _compiled is not None and _forced is None:
        return _compiled
    if (_forced or _ENV_CHOICE) == "numpy":
        return None
    _last_use = time.monotonic()
    _start_loader()
    return None


def backend() -> Backend:
    """Which backend the kernel uses right now (``"numba"`` once compiled, else ``"numpy"``)."""
    return "numba" if compiled() is not None else "numpy"


def set_backend(name: Backend | None) -> None:
    """Force ``"numpy"`` (e.g. to test the fallback), or ``None`` to use numba when ready.

    Parameters
    ----------
    name : {"numpy", "numba"} or None
        ``"numba"`` behaves as ``None`` (numba once it has loaded).
    """
    global _forced
    if name not in ("numpy", "numba", None):
        raise ValueError(f"backend: expected 'numpy', 'numba' or None, got {name!r}")
    _forced = "numpy" if name == "numpy" else None


def set_loading(policy: Literal["eager", "idle"]) -> None:
    """When the compiled kernels load after their first use.

    ``"eager"`` (default): at once, in a background thread (scripts, benchmarks).
    ``"idle"``: once the kernels have not been used for a quarter second (at most 5 s
    after the first use), so that loading numba does not compete with an interactive
    application's first previews (the GUI sets this).

    Parameters
    ----------
    policy : {"eager", "idle"}
        The policy.
    """
    global _policy
    if policy not in ("eager", "idle"):
        raise ValueError(f"policy: expected 'eager' or 'idle', got {policy!r}")
    _policy = policy


def warm_up(timeout_s: float = 120.0) -> Compiled | None:
    """Start loading the compiled kernels if needed and wait for them.

    Parameters
    ----------
    timeout_s : float
        Longest wait (s).

    Returns
    -------
    Compiled or None
        The kernels (with their load time), or None if numba is unavailable or disabled.
    """
    if _ENV_CHOICE == "numpy":
        return None
    _start_loader()
    loader = _loader
    if loader is not None:
        loader.join(timeout_s)
    return _compiled


def failure() -> str | None:
    """Why the compiled kernels could not be loaded, if they could not."""
    return _failure
