"""How large an induction the GUI previews live, as it is edited.

The designer recompiles the induction, draws it and predicts its plasticity on every
edit, on the GUI thread. A valid protocol can still be far too large for that: a
60-minute induction at 500 Hz has 1.77 million pulses, and previewing it froze the
window for about a minute. Past these limits the previews say so in one sentence and
draw nothing; the file can still be saved, validated, predicted (``rigctl predict``) and,
if the rig allows its length, run.
"""

from __future__ import annotations

from typing import Final

from rigctl.protocol.models import Induction

__all__ = ["LIVE_MAX_MINUTES", "LIVE_MAX_PULSES", "live_preview_limit"]

LIVE_MAX_PULSES: Final = 20_000
"""Most stimulation pulses an induction may have to be previewed live (the paper's: 80)."""

LIVE_MAX_MINUTES: Final = 10.0
"""Longest induction previewed live (min); the paper's lasts 6.2 s."""


def live_preview_limit(induction: Induction) -> str | None:
    """Why ``induction`` is too large to preview as it is edited, or ``None``.

    Decided from the phases alone (nothing is compiled): the number of stimulation pulses
    and the length of the induction sweep, against :data:`LIVE_MAX_PULSES` and
    :data:`LIVE_MAX_MINUTES`.

    Parameters
    ----------
    induction
        The induction (valid).

    Returns
    -------
    str or None
        One sentence naming the quantity, its value and the limit; ``None`` when the
        induction is small enough.
    """
    pulses = induction.repeats * sum(phase.pulse_count() for phase in induction.phases)
    if pulses > LIVE_MAX_PULSES:
        return (
            f"the induction has {pulses:,} stimulation pulses, more than the "
            f"{LIVE_MAX_PULSES:,} the live previews draw"
        )
    minutes = induction.duration_ms / 60_000.0
    if minutes > LIVE_MAX_MINUTES:
        return (
            f"the induction lasts {_beyond(minutes, LIVE_MAX_MINUTES)} min, longer than the "
            f"{LIVE_MAX_MINUTES:g} min the live previews draw"
        )
    return None


def _beyond(value: float, limit: float) -> str:
    """``value`` with just enough digits to read as more than ``limit``."""
    text = f"{value:.3g}"
    for digits in range(3, 10):
        text = f"{value:.{digits}g}"
        if float(text) > limit:
            break
    return text
