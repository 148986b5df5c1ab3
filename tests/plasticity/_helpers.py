"""Spike trains of the reference protocol, built exactly as the kinase-model spec describes.

Ten theta windows of [100 ms | 100 ms], 400 ms gaps, windows starting at 0, 600, 1200 ms...;
pre and post at the same rate in each phase, each phase's train starting at its onset.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from rigctl.plasticity import TrainTiming, spike_train

N_WINDOWS = 10
PHASE_MS = 100.0
WINDOW_MS = 2 * PHASE_MS
GAP_MS = 400.0
WINDOW_STARTS_MS = np.asarray(np.arange(N_WINDOWS) * (WINDOW_MS + GAP_MS), dtype=np.float64)
END_MS = N_WINDOWS * (WINDOW_MS + GAP_MS)  # end of the last gap

CONDITIONS = [(25.0, 25.0), (25.0, 50.0), (50.0, 25.0), (50.0, 50.0)]


def paper_train(
    minus_hz: float,
    plus_hz: float,
    *,
    timing: TrainTiming = "regular",
    rng: np.random.Generator | None = None,
    jitter_ms: float = 5.0,
    window_starts_ms: npt.ArrayLike = WINDOW_STARTS_MS,
) -> npt.NDArray[np.float64]:
    """One neuron's spikes over the whole protocol (prediction then outcome phase)."""
    parts = []
    for t0 in np.asarray(window_starts_ms, dtype=np.float64).tolist():
        for onset, rate in ((t0, minus_hz), (t0 + PHASE_MS, plus_hz)):
            parts.append(spike_train(timing, onset, PHASE_MS, rate, rng=rng, jitter_ms=jitter_ms))
    return np.concatenate(parts)
