"""The kinase rule as a literal per-step Python loop: the slow reference of the fast paths."""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

from rigctl.plasticity.kinase_base import (
    SPIKE_TIME_TOLERANCE,
    KinaseResult,
    KinaseTraces,
    _resolve_n_steps,
    _times,
    window_readout_steps,
)
from rigctl.plasticity.params import KinaseParams

__all__ = ["kinase_loop"]

_DEFAULT_PARAMS: Final = KinaseParams()


# ----------------------------------------------------------------------------- reference


def kinase_loop(
    pre_ms: npt.ArrayLike,
    post_ms: npt.ArrayLike,
    window_starts_ms: npt.ArrayLike,
    window_ms: float = 200.0,
    params: KinaseParams | None = None,
    end_ms: float | None = None,
    *,
    return_traces: bool = False,
) -> KinaseResult:
    """Reference implementation: the cascade as a plain Python loop over 1 ms steps.

    Slow (one interpreted iteration per step, about 1 ms per paper protocol and a few
    seconds for a 46 x 46 rate map) and kept only as the oracle that :func:`kinase_dwt`
    and :func:`kinase_dwt_batch` are tested and benchmarked against.
    It takes the same arguments and returns the same result as :func:`kinase_dwt`, but
    rasterises and integrates with scalar Python arithmetic, written straight from the
    equations.

    Parameters
    ----------
    pre_ms, post_ms : array_like
        Presynaptic and postsynaptic spike times (ms).
    window_starts_ms : array_like
        Start time of each theta window (ms).
    window_ms : float
        Length of every theta window (ms).
    params : KinaseParams, optional
        Cascade constants; Axon v2 defaults if omitted.
    end_ms : float, optional
        Where the simulation stops; defaults to the end of the last window.
    return_traces : bool
        Also record the state at every step.

    Returns
    -------
    KinaseResult
        As :func:`kinase_dwt`.
    """
    p = KinaseParams() if params is None else params
    window_readout_steps(window_starts_ms, window_ms)  # same validation as the fast path
    dt = p.dt_ms
    readouts = [
        round((float(t0) + window_ms) / dt) - 1
        for t0 in np.asarray(window_starts_ms, dtype=float).tolist()
    ]
    n_steps = max(readouts) + 1 if readouts else 0
    if end_ms is not None:
        n_steps = _resolve_n_steps(np.asarray(readouts, dtype=np.intp), end_ms)

    def steps_of(spikes: npt.ArrayLike) -> set[int]:
        times = _times(spikes, "spikes_ms").tolist()
        return {math.floor(t / dt + SPIKE_TIME_TOLERANCE) for t in times if t >= 0.0}

    pre_steps, post_steps = steps_of(pre_ms), steps_of(post_ms)
    windows_read_at: dict[int, list[int]] = {}
    for k, step in enumerate(readouts):
        windows_read_at.setdefault(step, []).append(k)

    spike_ca, syn_tau, gain = p.spike_ca_syn, p.ca_syn_tau_ms, p.syn_ca_gain
    m_tau, p_tau, d_tau = p.m_tau_ms, p.p_tau_ms, p.d_tau_ms
    ca_syn_pre = ca_syn_post = cam = cap = cad = 0.0
    ca_sum = 0.0
    per_window = [0.0] * len(readouts)
    rows: list[tuple[float, float, float, float, float, float]] = []
    for n in range(n_steps):
        spike_pre = 1.0 if n in pre_steps else 0.0
        spike_post = 1.0 if n in post_steps else 0.0
        ca_syn_pre += (spike_ca * spike_pre - ca_syn_pre) / syn_tau
        ca_syn_post += (spike_ca * spike_post - ca_syn_post) / syn_tau
        ca = gain * ca_syn_pre * ca_syn_post
        cam += (ca - cam) / m_tau
        cap += (cam - cap) / p_tau
        cad += (cap - cad) / d_tau
        ca_sum += ca
        if n in windows_read_at:
            for k in windows_read_at[n]:
                per_window[k] = p.p_scale * cap - p.d_scale * cad
        if return_traces:
            rows.append((ca_syn_pre, ca_syn_post, ca, cam, cap, cad))

    traces = None
    if return_traces:
        table = np.array(rows, dtype=np.float64).reshape(n_steps, 6).T.copy()
        traces = KinaseTraces(
            ca_syn_pre=table[0],
            ca_syn_post=table[1],
            ca=table[2],
            cam=table[3],
            cap=table[4],
            cad=table[5],
            params=p,
        )
    return KinaseResult(
        total=math.fsum(per_window),
        per_window=np.array(per_window, dtype=np.float64),
        readout_steps=np.array(readouts, dtype=np.intp),
        hebbian=ca_sum * dt,
        n_steps=n_steps,
        params=p,
        traces=traces,
    )
