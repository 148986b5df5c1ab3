"""The paper's four theta-cycle conditions, built from the model defaults."""

from __future__ import annotations

from datetime import UTC, datetime

from rigctl.protocol.models import Experiment, Induction, Metadata, Phase, PostDrive, StimTrain

__all__ = ["PAPER_CONDITIONS", "TYPICAL_CURRENT_PA", "paper_condition"]

PAPER_CONDITIONS: dict[str, tuple[float, float]] = {
    "25-25": (25.0, 25.0),
    "25-50": (25.0, 50.0),
    "50-25": (50.0, 25.0),
    "50-50": (50.0, 50.0),
}
"""Prediction -> outcome rates (Hz) of the four conditions of Jang et al. (2026)."""

TYPICAL_CURRENT_PA: dict[float, float] = {25.0: 185.0, 50.0: 260.0}
"""Starting current steps for the target rates; calibrate them for each cell."""

_EXPECTED = {
    "25-25": "no change (paper: 1.12 ± 0.15, n = 12)",
    "25-50": "LTP (paper: 1.42 ± 0.15, n = 12)",
    "50-25": "LTD (paper: 0.73 ± 0.10, n = 18)",
    "50-50": "no change (paper: 1.09 ± 0.08, n = 11)",
}


def paper_condition(minus_hz: float, plus_hz: float, *, author: str = "") -> Experiment:
    """A complete experiment for one prediction -> outcome condition.

    Pre- and postsynaptic activity run at the same rate in each phase; the current steps
    are typical starting values that the calibration replaces for each cell.
    """

    def phase(name: str, rate: float) -> Phase:
        return Phase(
            name=name,
            duration_ms=100.0,
            pre=StimTrain(rate_hz=rate),
            post=PostDrive(target_rate_hz=rate, current_pa=TYPICAL_CURRENT_PA.get(rate)),
        )

    key = f"{minus_hz:g}-{plus_hz:g}"
    expected = _EXPECTED.get(key)
    description = (
        f"Theta-cycle induction, prediction {minus_hz:g} Hz -> outcome {plus_hz:g} Hz: ten "
        "200 ms windows (100 ms prediction + 100 ms outcome) with 400 ms gaps, pre- and "
        "postsynaptic activity together. Baseline probes every 20 s for 5 min, follow-up "
        "for 45 min, -10 pA test step in every probe. Current steps are typical starting "
        "values: calibrate them for each cell."
    )
    if expected:
        description += f" Expected: {expected}."
    return Experiment(
        metadata=Metadata(
            name=f"Theta {key} Hz",
            description=description,
            author=author,
            created=datetime(2026, 11, 23, tzinfo=UTC),
            tags=("theta", "jang-2026", key),
        ),
        induction=Induction(phases=(phase("prediction", minus_hz), phase("outcome", plus_hz))),
    )
