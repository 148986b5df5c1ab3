"""Exact time: protocol numbers as rationals, and the sample an edge falls on.

Every time rigctl outputs is computed in exact rational arithmetic
(``fractions.Fraction`` built from the decimal value the user typed), and an edge at
``t`` ms falls on sample ``floor(t * fs / 1000 + 1/2)``: the nearest sample, ties rounded
up, computed on integers. :mod:`rigctl.protocol.compile` builds on these.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

__all__ = ["CompileError", "edge_samples", "exact", "sample_index"]


class CompileError(ValueError):
    """A protocol cannot be rendered at the requested sample rate.

    ``field`` is the dotted path of the protocol field to change, when there is one.
    """

    def __init__(self, message: str, field: str = "") -> None:
        self.field = field
        super().__init__(message)


def exact(value: float | int | Fraction) -> Fraction:
    """Return ``value`` as the exact decimal it was written as (``0.1`` -> ``1/10``)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    return _exact_float(float(value))


@lru_cache(maxsize=4096)
def _exact_float(value: float) -> Fraction:
    if not math.isfinite(value):
        raise CompileError(f"time value {value!r} is not finite")
    return Fraction(repr(value))


def _nearest(num: int, den: int, fs: Fraction) -> int:
    """``floor((num / den) * fs / 1000 + 1/2)`` for ``den > 0``, in integers."""
    a, b = fs.numerator, fs.denominator
    return (2 * num * a + 1000 * den * b) // (2000 * den * b)


def sample_index(t_ms: Fraction, sample_rate_hz: Fraction) -> int:
    """Sample of an edge at ``t_ms``: the nearest sample, ties rounded up.

    ``floor(t * fs / 1000 + 1/2)`` in integer arithmetic (no rounding anywhere).
    """
    return _nearest(t_ms.numerator, t_ms.denominator, sample_rate_hz)


def edge_samples(start: Fraction, duration: Fraction, sample_rate_hz: Fraction) -> tuple[int, int]:
    """:func:`sample_index` of an event's start and of its stop (``start + duration``).

    The same integers, without building the stop as a reduced ``Fraction`` (the floor
    of a ratio does not depend on how the ratio is written): rendering a sweep asks this
    for every event.
    """
    p, q = start.numerator, start.denominator
    r, s = duration.numerator, duration.denominator
    return _nearest(p, q, sample_rate_hz), _nearest(p * s + r * q, q * s, sample_rate_hz)
