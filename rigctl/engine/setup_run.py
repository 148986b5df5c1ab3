"""A whole set-up without a person at the rig: what ``rigctl setup`` runs.

Whole-cell -> test pulse -> calibration -> EPSP search -> :class:`SetupRecord`. On the
simulated rig a :class:`VirtualClock` stands in for the wall clock: the 20 s between probes
pass instantly but still count in the set-up time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rigctl import protocol as proto
from rigctl.engine.setup import (
    EpspSearch,
    ProbeOutcome,
    SearchSettings,
    SetupRecord,
    SetupSession,
)
from rigctl.engine.testpulse import TestPulseResult, TestPulseSettings
from rigctl.hardware import Rig
from rigctl.hardware.intensity import check_intensity

__all__ = ["HeadlessSetup", "VirtualClock", "run_setup"]


class VirtualClock:
    """Experiment time that advances only when slept through (simulated rig, tests)."""

    def __init__(self, start_s: float = 0.0) -> None:
        self.t = float(start_s)

    def now(self) -> float:
        """The current virtual time (s)."""
        return self.t

    def sleep(self, seconds: float) -> None:
        """Advance the virtual time by ``seconds`` without waiting."""
        if seconds > 0:
            self.t += seconds


@dataclass(frozen=True)
class HeadlessSetup:
    """How a headless set-up ended: the record, whether the EPSP is in the band, and why not."""

    record: SetupRecord
    in_band: bool
    message: str
    experiment: proto.Experiment


def run_setup(
    rig: Rig,
    experiment: proto.Experiment,
    *,
    search: SearchSettings | None = None,
    auto: bool = False,
    intensity_ua: float | None = None,
    pulses: int = 10,
    pulse_settings: TestPulseSettings | None = None,
    limit_s: float = 300.0,
    whole_cell_ago_s: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] | None = None,
    slice_id: str | None = None,
    cell_id: str | None = None,
    on_pulse: Callable[[TestPulseResult], None] | None = None,
    on_probe: Callable[[ProbeOutcome], None] | None = None,
) -> HeadlessSetup:
    """Run a set-up: ``pulses`` test pulses, calibration, then the EPSP search.

    With ``auto`` the intensity is raised on the isolator's analog input; otherwise every
    probe uses ``intensity_ua`` (default: the rig file's front-panel ``amplitude_ua``) and
    the search stops after the probes that confirm it. Outputs are at rest afterwards,
    whatever happens.

    Raises
    ------
    RigError, LimitError
        The rig refused (a limit, a missing driver, an intensity out of range).
    ValueError
        Settings that make no sense (one sentence).
    """
    s = SearchSettings() if search is None else search
    session = SetupSession(
        rig, experiment, limit_s=limit_s, clock=clock, sleep=sleep, slice_id=slice_id,
        cell_id=cell_id,
    )  # fmt: skip
    manual_ua = _manual_intensity(rig, auto, intensity_ua)

    def entered(index: int, last: ProbeOutcome | None) -> float | None:
        if manual_ua is None or index >= s.confirm:
            return None
        return manual_ua

    # Everything that can be refused is refused here, before any output.
    tp = session.test_pulse(pulse_settings)
    found = session.epsp_search(s, auto=auto, intensity_source=None if auto else entered)
    if on_pulse is not None:
        tp.pulsed.connect(on_pulse)
    if on_probe is not None:
        found.probed.connect(on_probe)
    try:
        session.whole_cell(whole_cell_ago_s)
        tp.run(pulses)
        session.calibrate()
        hit = found.run()
    finally:
        rig.safe_state()
    record = session.record()
    return HeadlessSetup(record, hit is not None, _message(found, record), session.experiment)


def _manual_intensity(rig: Rig, auto: bool, intensity_ua: float | None) -> float | None:
    """The intensity set by hand (given, else the rig file's), checked; refused if none.

    With ``auto`` nothing is refused: the isolator's analog input sets the intensity.
    """
    manual_ua = intensity_ua if intensity_ua is not None else rig.definition.stimulator.amplitude_ua
    if not auto and manual_ua is None:
        raise ValueError(
            "the isolator's intensity is set by hand: give it with --intensity-ua "
            "(or stimulator.amplitude_ua in the rig file)"
        )
    if not auto and manual_ua is not None:
        check_intensity(rig.definition, manual_ua)
    return manual_ua


def _message(search: EpspSearch, record: SetupRecord) -> str:
    """One line: the EPSP found, or why not; and the set-up limit if it was passed."""
    s = search.settings
    hit = search.found
    if hit is not None:
        message = f"EPSP {record.epsp_mv:.2f} mV at {hit.intensity_ua:g} µA, in the band"
    elif search.outcomes:
        last = search.outcomes[-1]
        message = search.message or (
            f"the EPSP ({last.epsp_mv:.2f} mV at {last.intensity_ua:g} µA) is outside "
            f"{s.target_mv:g} ± {s.tolerance_mv:g} mV: change the intensity"
        )
    else:
        message = search.message or "no probe was run"
    if record.over_limit:
        message += f"; set-up took {record.setup_s:.0f} s, over the {record.limit_s:.0f} s limit"
    return message
