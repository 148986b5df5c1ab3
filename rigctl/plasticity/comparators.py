"""Comparators of the kinase rule: the rate-CHL target and Axon's sigmoid weight update."""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["rate_chl_target", "sigmoid_weight", "weight_from_dwt"]

_WEIGHT_GAIN: Final = 6.0
_LWT_START: Final = 0.5


def _count(value: int, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise ValueError(f"{name}: expected a whole number >= 0, got {value!r}")
    return int(value)


# ----------------------------------------------------------------------------- comparators


def rate_chl_target(
    n_windows: int,
    pre_minus_hz: float,
    pre_plus_hz: float,
    post_minus_hz: float | None = None,
    post_plus_hz: float | None = None,
) -> float:
    """Rate-based Contrastive Hebbian Learning target ``n_windows * (x+ y+ - x- y-)``.

    ``x`` is the presynaptic and ``y`` the postsynaptic rate in kHz; minus is the
    prediction phase, plus the outcome phase.

    Parameters
    ----------
    n_windows : int
        Number of theta windows.
    pre_minus_hz, pre_plus_hz : float
        Presynaptic rate in the minus and plus phase (Hz).
    post_minus_hz, post_plus_hz : float, optional
        Postsynaptic rates (Hz); default to the presynaptic ones (pre and post in sync).

    Returns
    -------
    float
        The target (kHz squared).
    """
    n = _count(n_windows, "n_windows")
    post_minus = pre_minus_hz if post_minus_hz is None else post_minus_hz
    post_plus = pre_plus_hz if post_plus_hz is None else post_plus_hz
    rates = (pre_minus_hz, pre_plus_hz, post_minus, post_plus)
    if not all(math.isfinite(r) and r >= 0 for r in rates):
        raise ValueError(f"rate_chl_target: rates must be finite and >= 0 Hz, got {rates}")
    x_minus, x_plus, y_minus, y_plus = (r / 1000.0 for r in rates)
    return n * (x_plus * y_plus - x_minus * y_minus)


def sigmoid_weight(lwt: float, gain: float = _WEIGHT_GAIN) -> float:
    """Axon's sigmoidal weight of a linear weight: ``2 / (1 + ((1 - LWt) / LWt) ** gain)``.

    Parameters
    ----------
    lwt : float
        Linear weight in [0, 1].
    gain : float
        Sigmoid gain (Axon: 6).

    Returns
    -------
    float
        Weight in [0, 2]; 1 at ``lwt = 0.5``.
    """
    if not 0.0 <= lwt <= 1.0:
        raise ValueError(f"lwt: {lwt!r} is outside the [0, 1] range of a linear weight")
    if not (math.isfinite(gain) and gain > 0):
        raise ValueError(f"gain: {gain!r} must be a positive sigmoid gain")
    if lwt == 0.0:
        return 0.0
    odds: float = ((1.0 - lwt) / lwt) ** gain
    return 2.0 / (1.0 + odds)


def weight_from_dwt(per_window: npt.ArrayLike, lrate: float = 0.04) -> float:
    """Map per-window dWt to a weight the way Axon does (illustrative, *uncalibrated*).

    Starting at ``LWt = 0.5``, each window adds ``d = lrate * dWt_k``, soft-bounded
    (``d *= 1 - LWt`` if ``d > 0`` else ``d *= LWt``) and clipped to [0, 1]; the result is
    passed through :func:`sigmoid_weight` (gain 6), so no change gives ``Wt = 1``. The
    learning rate is not fitted to any measurement: read ``Wt`` as a direction and a rough
    size, not as a predicted EPSP ratio.

    Parameters
    ----------
    per_window : array_like
        dWt of each theta window, in order.
    lrate : float
        Learning rate (> 0); Axon default 0.04.

    Returns
    -------
    float
        ``Wt`` after the last window.
    """
    if not (math.isfinite(lrate) and lrate > 0):
        raise ValueError(f"lrate: {lrate!r} must be a positive learning rate")
    dwts = np.asarray(per_window, dtype=np.float64)
    if dwts.ndim != 1 or not np.all(np.isfinite(dwts)):
        raise ValueError("per_window: expected a 1-D sequence of finite dWt values")
    lwt = _LWT_START
    for dwt in dwts.tolist():
        step = lrate * dwt
        step *= (1.0 - lwt) if step > 0 else lwt
        lwt = min(1.0, max(0.0, lwt + step))
    return sigmoid_weight(lwt)
