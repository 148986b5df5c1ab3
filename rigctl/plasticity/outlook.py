"""The headline of a prediction: the predicted EPSP ratio, its interval, and the direction.

The kinase rule gives a dimensionless dWt; the preview speaks in the quantity the paper
measured, the normalized EPSP, through the mapping fitted to the paper's four conditions
(:mod:`rigctl.plasticity.mapping`). Its uncertainty has two parts, combined in
quadrature:

- **the fit**: the fitted learning rate's standard error, propagated through the mapping;
- **spike timing**: the spread of the ratio over seeds of jittered (±5 ms) and Axon-style
  quasi-regular trains, since real spikes are not the ideal regular trains.

:func:`call_direction` is the one place that turns a ratio interval into LTP, LTD or "no
clear change". The interval is the ratio ± 1 SD (68 %, the convention of the paper's
mean ± SEM). A direction is called only when the whole interval clears 1 by more than the
**no-change band**: the largest deviation from 1 that the paper measured in its flat
conditions, where the rates did not change and no plasticity was found (25 -> 25 Hz:
1.12 ± 0.15, n = 12; 50 -> 50 Hz: 1.09 ± 0.08, n = 11; so the band is ±0.12).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from rigctl import protocol as proto
from rigctl.plasticity.mapping import Dataset, MappingFit, paper_dataset
from rigctl.plasticity.preview import Prediction, TrainOptions, predict

__all__ = [
    "INTERVAL_Z",
    "NO_CHANGE_BAND",
    "NO_CHANGE_BAND_SOURCE",
    "SPREAD_SEEDS",
    "Call",
    "EpspOutlook",
    "call_direction",
    "direction_rule",
    "epsp_outlook",
    "no_change_band",
]

Call = Literal["LTP", "LTD", "no clear change"]

INTERVAL_Z: Final = 1.0
"""Half-width of the interval in standard deviations: ±1 SD (68 %), as the paper's ± SEM."""

SPREAD_SEEDS: Final = 10
"""Seeds per random train kind (jittered, quasi-regular) for the timing spread."""

_JITTER_MS: Final = 5.0

_SPREAD_CACHE_SIZE: Final = 32
_spread_cache: OrderedDict[tuple[object, ...], tuple[np.ndarray, ...]] = OrderedDict()
_spread_lock = threading.Lock()


def no_change_band(dataset: Dataset) -> tuple[float, str]:
    """The no-change band of a dataset: the largest ``|mean - 1|`` of its flat conditions.

    Parameters
    ----------
    dataset : Dataset
        Measured conditions; the flat ones have equal prediction and outcome rates.

    Returns
    -------
    tuple of (float, str)
        The band (0 when the dataset has no flat condition) and where it comes from.
    """
    flat = [c for c in dataset.conditions if math.isclose(c.minus_hz, c.plus_hz)]
    if not flat:
        return 0.0, f"{dataset.name} has no flat condition; no band"
    band = max(abs(c.mean - 1.0) for c in flat)
    listed = "; ".join(
        f"{c.minus_hz:g}->{c.plus_hz:g} Hz {c.mean:.2f} ± {c.sem:.2f} (n = {c.n})" for c in flat
    )
    return band, f"largest deviation from 1 in the flat conditions of {dataset.name} ({listed})"


NO_CHANGE_BAND, NO_CHANGE_BAND_SOURCE = no_change_band(paper_dataset())
"""±0.12 from the paper's flat conditions (25->25 Hz 1.12 ± 0.15; 50->50 Hz 1.09 ± 0.08)."""


def direction_rule(band: float = NO_CHANGE_BAND) -> str:
    """The direction rule in one sentence (for output and tooltips)."""
    source = NO_CHANGE_BAND_SOURCE if band == NO_CHANGE_BAND else "set by the caller"
    return (
        f"LTP if the ±1 SD interval of the predicted EPSP ratio lies above {1 + band:.2f}, "
        f"LTD if it lies below {1 - band:.2f}, otherwise no clear change "
        f"(no-change band ±{band:.2f}: {source})"
    )


def call_direction(low: float, high: float, band: float = NO_CHANGE_BAND) -> Call:
    """Call the direction from an interval of the predicted EPSP ratio.

    Parameters
    ----------
    low, high : float
        The interval (``low <= high``).
    band : float
        The no-change band around 1 (default: the paper's, :data:`NO_CHANGE_BAND`).

    Returns
    -------
    {"LTP", "LTD", "no clear change"}
        LTP when ``low > 1 + band``, LTD when ``high < 1 - band``, otherwise no clear change.
    """
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        return "no clear change"
    if low > 1.0 + band:
        return "LTP"
    if high < 1.0 - band:
        return "LTD"
    return "no clear change"


@dataclass(frozen=True)
class EpspOutlook:
    """Predicted normalized EPSP with its uncertainty and the direction called from it.

    Attributes
    ----------
    ratio : float
        Predicted EPSP ratio of the prediction (its trains), with the fitted mapping.
    low, high : float
        The interval ``ratio ± sd`` (68 %).
    sd, sd_fit, sd_timing : float
        Combined standard deviation, and its parts from the fit and from spike timing.
    direction : {"LTP", "LTD", "no clear change"}
        From :func:`call_direction`.
    band : float
        The no-change band used.
    rule : str
        The rule, in words, with the band's source.
    basis : str
        What the mapping was fitted to.
    """

    ratio: float
    low: float
    high: float
    sd: float
    sd_fit: float
    sd_timing: float
    direction: Call
    band: float
    rule: str
    basis: str

    @property
    def interval(self) -> tuple[float, float]:
        """``(low, high)``."""
        return self.low, self.high


def timing_ratios(
    source: proto.Experiment | proto.Induction,
    fit: MappingFit,
    n_seeds: int = SPREAD_SEEDS,
    sweep: proto.CompiledSweep | None = None,
) -> np.ndarray:
    """Predicted ratios of ``n_seeds`` jittered and ``n_seeds`` quasi-regular train draws."""
    induction = source.induction if isinstance(source, proto.Experiment) else source
    per_window = _seed_per_window(induction, fit, n_seeds, sweep)
    return np.asarray([fit.ratio(pw) for draws in per_window for pw in draws], dtype=np.float64)


def _seed_per_window(
    induction: proto.Induction,
    fit: MappingFit,
    n_seeds: int,
    sweep: proto.CompiledSweep | None,
) -> tuple[np.ndarray, ...]:
    """Per-window dWt of each seed, per train kind; cached by what it depends on.

    The draws are seeded (seeds ``0 .. n_seeds - 1``), so they depend only on the
    induction, the kinase parameters and ``n_seeds``: an edit that leaves the induction
    alone, or changes it back, reuses them instead of simulating ~20 trains again.
    """
    key = (induction, fit.params, n_seeds)
    with _spread_lock:
        hit = _spread_cache.get(key)
        if hit is not None:
            _spread_cache.move_to_end(key)
            return hit
    sweep = proto.compile_induction(induction) if sweep is None else sweep
    draws: list[np.ndarray] = []
    for timing in ("jittered", "quasi_regular"):
        options = TrainOptions(timing=timing, n_seeds=n_seeds, jitter_ms=_JITTER_MS)
        pred = predict(induction, fit.params, trains=options, traces=False, sweep=sweep)
        per_window = np.array(pred.seed_per_window, dtype=np.float64)
        per_window.flags.writeable = False
        draws.append(per_window)
    result = tuple(draws)
    with _spread_lock:
        _spread_cache[key] = result
        while len(_spread_cache) > _SPREAD_CACHE_SIZE:
            _spread_cache.popitem(last=False)
    return result


def epsp_outlook(
    prediction: Prediction,
    fit: MappingFit,
    source: proto.Experiment | proto.Induction | None = None,
    *,
    band: float = NO_CHANGE_BAND,
    n_seeds: int = SPREAD_SEEDS,
    sweep: proto.CompiledSweep | None = None,
) -> EpspOutlook:
    """The headline for ``prediction``: ratio, ±1 SD interval and direction.

    Parameters
    ----------
    prediction : Prediction
        From :func:`rigctl.plasticity.predict`, with ``fit.params``.
    fit : MappingFit
        The fitted dWt -> EPSP-ratio mapping (with its standard error).
    source : Experiment or Induction, optional
        The protocol, to draw the random trains of the timing spread (with the phases'
        lags); without it, no timing spread is added.
    band : float
        The no-change band.
    n_seeds : int
        Seeds per random train kind.
    sweep : CompiledSweep, optional
        The compiled induction of ``source``, if at hand.

    Returns
    -------
    EpspOutlook
        The ratio, its interval, the parts of its uncertainty and the direction.
    """
    ratio = fit.ratio(prediction.per_window)
    sd_fit = 0.0
    se = fit.value_se
    if math.isfinite(se) and se > 0:
        up = fit.ratio(prediction.per_window, fit.value + se)
        down = fit.ratio(prediction.per_window, max(fit.value - se, 1e-12))
        sd_fit = abs(up - down) / 2.0
    elif not math.isfinite(se):
        sd_fit = math.inf
    sd_timing = 0.0
    if source is not None:
        ratios = timing_ratios(source, fit, n_seeds, sweep)
        sd_timing = float(np.std(ratios, ddof=1)) if ratios.size > 1 else 0.0
    sd = math.hypot(sd_fit, sd_timing)
    low, high = ratio - INTERVAL_Z * sd, ratio + INTERVAL_Z * sd
    return EpspOutlook(
        ratio=ratio,
        low=low,
        high=high,
        sd=sd,
        sd_fit=sd_fit,
        sd_timing=sd_timing,
        direction=call_direction(low, high, band),
        band=band,
        rule=direction_rule(band),
        basis=fit.basis,
    )
