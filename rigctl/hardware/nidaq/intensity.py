"""The isolator's analog intensity input, driven by an AO line of the NI board.

Isolators such as a DS4 or an A-M 2100/4100 take their output amplitude from an analog
input. The rig file names the AO line (``stimulator.intensity_terminal``), its scale
(``intensity_ua_per_v``) and the highest intensity allowed (``max_intensity_ua``). The
value is written on demand; a stopped AO keeps it until the next write. The intensity only
matters when the TTL line triggers the isolator, so it is not reset at rest.
"""

from __future__ import annotations

import contextlib
import math

from rigctl.hardware.base import RigError, check_intensity
from rigctl.hardware.definition import RigDefinition
from rigctl.hardware.nidaq._driver import driver_call, new_task

__all__ = ["NidaqIntensity"]


class NidaqIntensity:
    """Sets the isolator's intensity through its analog input (an :class:`IntensityControl`).

    Raises
    ------
    RigError
        If the rig file does not declare an analog intensity.
    """

    def __init__(self, definition: RigDefinition) -> None:
        st = definition.stimulator
        if st.intensity != "analog" or not st.intensity_terminal or not st.intensity_ua_per_v:
            raise RigError(
                f"{definition.name}: the isolator's intensity is set by hand "
                '(stimulator.intensity = "manual"); it cannot be driven'
            )
        self.definition = definition
        self.terminal: str = st.intensity_terminal
        self.ua_per_v: float = st.intensity_ua_per_v
        self._ua = math.nan

    @property
    def stim_intensity_ua(self) -> float:
        """The intensity last written (µA); NaN before the first write."""
        return self._ua

    def set_stim_intensity_ua(self, ua: float) -> None:
        """Check ``ua`` against the isolator's range and write its voltage to the AO line."""
        ua = check_intensity(self.definition, ua)
        volts = ua / self.ua_per_v
        max_v = self.definition.stimulator.max_intensity_ua / self.ua_per_v
        with driver_call("setting the isolator's intensity", f"{self.terminal}: "):
            task = new_task()
            try:
                task.ao_channels.add_ao_voltage_chan(self.terminal, min_val=0.0, max_val=max_v)
                task.write(volts, auto_start=True)
            finally:
                with contextlib.suppress(Exception):
                    task.close()
        self._ua = ua
