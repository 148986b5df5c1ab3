"""The NI-DAQmx backend: the only part of rigctl that imports ``nidaqmx``.

``import nidaqmx`` works without NI's driver; the first real call raises, and this
package turns that into :class:`DriverMissingError`, a :class:`~rigctl.hardware.RigError`
whose message points to the simulated rig.
"""

from rigctl.hardware.nidaq._driver import DRIVER_MISSING, DriverMissingError, NidaqError
from rigctl.hardware.nidaq.devices import DeviceInfo, list_devices, validate_device
from rigctl.hardware.nidaq.rig import NidaqRig

__all__ = [
    "DRIVER_MISSING",
    "DeviceInfo",
    "DriverMissingError",
    "NidaqError",
    "NidaqRig",
    "list_devices",
    "validate_device",
]
