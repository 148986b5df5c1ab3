"""The simulated isolator and pipette: recruitment curve and series resistance of one cell.

Raising the isolator's intensity recruits more Schaffer-collateral fibres: the EPSP grows
along a sigmoid above a threshold and saturates when every fibre in reach fires. The curve
is cell-dependent (seeded) and anchored so that the rig file's reference intensity (the
front-panel setting, ``stimulator.amplitude_ua``) gives the rig file's EPSP: the simulated
cell behaves as before at the default intensity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_REFERENCE_UA",
    "RecruitmentCurve",
    "recruitment_curve",
    "series_resistance_mohm",
]

DEFAULT_REFERENCE_UA = 100.0
"""Reference intensity when the rig file gives none (µA)."""


@dataclass(frozen=True)
class RecruitmentCurve:
    """EPSP size against stimulus intensity, relative to the size at ``reference_ua``.

    ``relative(I) = f(I) / f(reference)`` with ``f`` a logistic (midpoint ``half_ua``,
    slope ``slope_ua``) shifted to be 0 at and below ``threshold_ua``.
    """

    threshold_ua: float
    half_ua: float
    slope_ua: float
    reference_ua: float

    def _f(self, ua: float) -> float:
        if ua <= self.threshold_ua:
            return 0.0

        def logistic(x: float) -> float:
            return 1.0 / (1.0 + math.exp(-(x - self.half_ua) / self.slope_ua))

        floor = logistic(self.threshold_ua)
        return (logistic(ua) - floor) / (1.0 - floor)

    def relative(self, ua: float) -> float:
        """EPSP size at ``ua`` relative to the size at the reference intensity."""
        return self._f(ua) / self._f(self.reference_ua)

    @property
    def saturation(self) -> float:
        """The largest relative EPSP (every fibre recruited)."""
        return 1.0 / self._f(self.reference_ua)


def recruitment_curve(seed: int, reference_ua: float = DEFAULT_REFERENCE_UA) -> RecruitmentCurve:
    """The seeded recruitment curve of cell ``seed``; the reference sits on its rising part."""
    rng = np.random.default_rng([seed, 0x150F])
    half = reference_ua * float(rng.uniform(0.85, 1.25))
    slope = half * float(rng.uniform(0.15, 0.25))
    return RecruitmentCurve(
        threshold_ua=half - 2.5 * slope, half_ua=half, slope_ua=slope, reference_ua=reference_ua
    )


def series_resistance_mohm(seed: int) -> float:
    """The seeded series (access) resistance of cell ``seed``: 10-25 MΩ."""
    return float(np.random.default_rng([seed, 0x5E51]).uniform(10.0, 25.0))
