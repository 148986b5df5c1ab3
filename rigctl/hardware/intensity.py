"""The stimulus isolator's intensity: range checks and the optional software control.

The rig file's ``[stimulator]`` section says whether the intensity is ``"manual"`` (set by
hand on the front panel; the app asks for it and logs it) or ``"analog"`` (an AO line into
the isolator's intensity input, scaled in µA/V, never above ``max_intensity_ua``). A rig
backend that can set the intensity implements :class:`IntensityControl`; the range
check is :func:`~rigctl.hardware.base.check_intensity` (re-exported here).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from rigctl.hardware.base import Rig, RigError, check_intensity

__all__ = ["IntensityControl", "check_intensity", "intensity_control"]


@runtime_checkable
class IntensityControl(Protocol):
    """A rig that can set its isolator's intensity (the simulated rig; analog isolators)."""

    @property
    def stim_intensity_ua(self) -> float:
        """The intensity now (µA)."""
        ...

    def set_stim_intensity_ua(self, ua: float) -> None:
        """Set the intensity (µA) after :func:`check_intensity`."""
        ...


def intensity_control(rig: Rig) -> IntensityControl | None:
    """The rig's intensity control, if software can set the intensity; else None.

    Raises
    ------
    RigError
        If the rig file declares an analog intensity but the backend cannot drive it.
    """
    ctl = rig if isinstance(rig, IntensityControl) else None
    analog = rig.definition.stimulator.intensity == "analog"
    if analog and ctl is None and rig.definition.backend == "nidaq":
        from rigctl.hardware.nidaq.intensity import NidaqIntensity

        return NidaqIntensity(rig.definition)
    if analog and ctl is None:
        raise RigError(
            f"the rig file declares an analog isolator intensity on "
            f"{rig.definition.stimulator.intensity_terminal}, but the "
            f'{rig.definition.backend} backend cannot drive it yet; set intensity = "manual"'
        )
    return ctl
