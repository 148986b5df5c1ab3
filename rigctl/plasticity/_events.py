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
The kernels (:mod:`rigctl.plasticity._kernels`) are plain Python functions written for
numba's ``njit``. When numba is
installed they are compiled in a background thread on first use (cached on disk, so later
processes load them in a fraction of a second) and used once ready; until then, and when
numba is missing or ``RIGCTL_KINASE_BACKEND=numpy`` is set, callers use their pure-numpy
paths (vectorised IIR filters and a numpy event loop over rows), which give the same
results to rounding. :func:`warm_up` waits for the compiled kernels (benchmarks, tests).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from rigctl.plasticity import _kernels
from rigctl.plasticity._kernels import N_DENSE
from rigctl.plasticity.params import AXON_DT_MS, KinaseParams

__all__ = [
    "N_DENSE",
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

N_POW2: Final = 63
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
_policy: Literal["block", "eager", "idle"] = "block"
_last_use = 0.0
_ENV_CHOICE: Final = _env_backend_at_import()


_INLINE: Final = frozenset({"_apply", "_advance", "_next_event", "_quiet_sum"})
"""Small helpers of the kernel loop, inlined by numba (as in one hand-written loop)."""


def _load() -> Compiled:
    """Import numba, compile (or load from the disk cache) and exercise every kernel."""
    start = time.perf_counter()
    import numba

    glb: dict[str, Any] = vars(_kernels)
    jit: Callable[..., Any] = numba.njit(cache=True, nogil=True)
    names: tuple[str, ...] = ("_apply", "_advance", "_next_event", "_quiet_sum", "_rpow")
    names += ("_run", "_steps_of", "_protocol", "_checked", "_rasters", "_merge_pairs", "_map")
    # Compile into a private namespace so the Python sources stay usable and testable.
    ns: dict[str, Any] = {}
    inline: Callable[..., Any] = numba.njit(cache=True, nogil=True, inline="always")
    for name in names:
        fn = glb[name]
        ns[name] = (inline if name in _INLINE else jit)(fn)
    # The kernels call each other through module globals: point those at the dispatchers
    # while compiling (the functions' __globals__ is the _kernels module), then restore.
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
    if _policy != "block":
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
    if _policy == "block":  # wait for the kernels once, so every later call is fast
        return warm_up() if _forced is None else None
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


def set_loading(policy: Literal["block", "eager", "idle"]) -> None:
    """When the compiled kernels load after their first use.

    ``"block"`` (default: scripts, the command line, tests): the first use waits for
    them (from numba's disk cache, a fraction of a second; the very first time after
    installing, the compile itself), so a timing taken after one call measures the
    compiled kernel and a short-lived command does not leave a compile half done.
    ``"eager"``: at once, in a background thread, the numpy path serving meanwhile.
    ``"idle"``: once the kernels have not been used for a quarter second (at most 5 s
    after the first use), so that loading numba does not compete with an interactive
    application's first previews (the GUI sets this).

    Parameters
    ----------
    policy : {"eager", "idle"}
        The policy.
    """
    global _policy
    if policy not in ("block", "eager", "idle"):
        raise ValueError(f"policy: expected 'block', 'eager' or 'idle', got {policy!r}")
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
