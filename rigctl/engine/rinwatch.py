"""Auto-stop during the follow-up when the test-step response is no longer stable.

The paper stops a recording when the response to the small hyperpolarizing step is not
stable. :class:`RinWatch` sees one probe at a time and says when the input resistance has
been outside its band (a fraction around the baseline mean) for ``consecutive`` probes in
a row. Off by default; the runner states it in the run confirmation when on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["RinStopSettings", "RinWatch"]


@dataclass(frozen=True)
class RinStopSettings:
    """When to stop: Rin outside ``reference ± tolerance`` for ``consecutive`` probes."""

    tolerance: float = 0.2
    consecutive: int = 3

    def __post_init__(self) -> None:
        if not (math.isfinite(self.tolerance) and 0 < self.tolerance < 1):
            raise ValueError(f"Rin auto-stop: tolerance {self.tolerance!r} must be in (0, 1)")
        if self.consecutive < 1:
            raise ValueError(f"Rin auto-stop: consecutive {self.consecutive!r} must be >= 1")

    def describe(self) -> str:
        """One line for the run confirmation."""
        return (
            f"auto-stop when input resistance leaves ±{self.tolerance:.0%} of its baseline "
            f"mean for {self.consecutive} consecutive probes"
        )


class RinWatch:
    """Counts consecutive out-of-band probes; :meth:`observe` returns why to stop, or None."""

    def __init__(self, settings: RinStopSettings | None = None) -> None:
        self.settings = RinStopSettings() if settings is None else settings
        self.run = 0

    def observe(self, rin_mohm: float, reference_mohm: float) -> str | None:
        """Feed one probe's Rin; a stop reason once ``consecutive`` probes were out of band.

        A probe without a finite Rin counts as out of band (no usable test step); without a
        finite positive reference nothing is judged.
        """
        if not (math.isfinite(reference_mohm) and reference_mohm > 0):
            return None
        tol = self.settings.tolerance
        out = not math.isfinite(rin_mohm) or abs(rin_mohm / reference_mohm - 1.0) > tol
        self.run = self.run + 1 if out else 0
        if self.run < self.settings.consecutive:
            return None
        return (
            f"input resistance {rin_mohm:.0f} MΩ has been outside ±{tol:.0%} of the baseline "
            f"{reference_mohm:.0f} MΩ for {self.run} consecutive probes"
        )
