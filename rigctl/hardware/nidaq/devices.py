"""NI-DAQmx devices: what is installed, and whether a rig file can run on it.

:func:`list_devices` backs ``rigctl devices``; :func:`validate_device` is what
:class:`~rigctl.hardware.nidaq.NidaqRig` checks when it opens: the device exists, the rig
file's terminals are channels of it, it samples fast enough, and it can hardware-time the
stimulation line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rigctl.hardware.base import RigError
from rigctl.hardware.definition import RigDefinition
from rigctl.hardware.nidaq._driver import (
    DaqError,
    ProductCategory,
    driver_call,
    nidaqmx,
)

__all__ = ["DeviceInfo", "list_devices", "validate_device"]

SOFTWARE_TIMED_DO_PRODUCTS = re.compile(r"^USB-600\d\b", re.IGNORECASE)
"""Product types whose digital output is software-timed only (the low-cost USB-600x)."""

_NO_HW_DO_CATEGORIES = frozenset({"USBDAQ"})


@dataclass(frozen=True)
class DeviceInfo:
    """One NI-DAQmx device as ``rigctl devices`` shows it.

    Attributes
    ----------
    name
        Device name in NI MAX (``Dev1``).
    product_type
        Model (``PCIe-6353``).
    product_category
        NI product category (``X_SERIES_DAQ``, ``M_SERIES_DAQ``, ``USBDAQ``...).
    serial_number
        Serial number (shown in hexadecimal, as NI MAX does).
    ai_channels, ao_channels, do_lines
        Physical channel names.
    simulated
        Whether this is an NI-DAQmx simulated device.
    ai_max_rate_hz, ao_max_rate_hz
        Fastest single-channel AI sampling and AO update rates (0 if the device has none).
    hardware_timed_do
        Whether the first digital line can be clocked (hardware-timed TTL pulses).
    """

    name: str
    product_type: str
    product_category: str
    serial_number: int
    ai_channels: tuple[str, ...]
    ao_channels: tuple[str, ...]
    do_lines: tuple[str, ...]
    simulated: bool = False
    ai_max_rate_hz: float = 0.0
    ao_max_rate_hz: float = 0.0
    hardware_timed_do: bool = False

    @property
    def serial(self) -> str:
        """Serial number as NI MAX prints it (hexadecimal)."""
        return f"0x{self.serial_number:X}"

    def line(self) -> str:
        """One line: name, model, serial, channel counts, DO timing."""
        sim = ", simulated" if self.simulated else ""
        do = "hardware-timed DO" if self.hardware_timed_do else "software-timed DO only"
        return (
            f"{self.name}: {self.product_type} (serial {self.serial}{sim}), "
            f"{len(self.ai_channels)} AI, {len(self.ao_channels)} AO, "
            f"{len(self.do_lines)} DO lines, {do}"
        )


def _names(collection: Any) -> tuple[str, ...]:
    try:
        return tuple(str(n) for n in collection.channel_names)
    except DaqError:  # a device without that subsystem
        return ()


def _rate(device: Any, attribute: str) -> float:
    try:
        return float(getattr(device, attribute))
    except DaqError:
        return 0.0


def _category(device: Any) -> str:
    try:
        return str(ProductCategory(device.product_category).name)
    except (DaqError, ValueError):
        return "UNKNOWN"


def _line_is_clocked(line: str, product_type: str, category: str) -> bool:
    """Whether a DO line can take a sample clock (DAQmx's answer, then the product rules)."""
    if SOFTWARE_TIMED_DO_PRODUCTS.match(product_type) or category in _NO_HW_DO_CATEGORIES:
        return False
    try:
        return bool(nidaqmx.system.PhysicalChannel(line).do_samp_clk_supported)
    except DaqError:  # attribute unknown to an old driver: trust the product rules
        return True


def _device_info(name: str) -> DeviceInfo:
    dev = nidaqmx.system.Device(name)
    product = str(dev.product_type)
    category = _category(dev)
    do_lines = _names(dev.do_lines)
    try:
        simulated = bool(dev.is_simulated)
    except DaqError:
        simulated = False
    return DeviceInfo(
        name=str(dev.name),
        product_type=product,
        product_category=category,
        serial_number=int(dev.serial_num),
        ai_channels=_names(dev.ai_physical_chans),
        ao_channels=_names(dev.ao_physical_chans),
        do_lines=do_lines,
        simulated=simulated,
        ai_max_rate_hz=_rate(dev, "ai_max_single_chan_rate"),
        ao_max_rate_hz=_rate(dev, "ao_max_rate"),
        hardware_timed_do=bool(do_lines) and _line_is_clocked(do_lines[0], product, category),
    )


def list_devices() -> list[DeviceInfo]:
    """The NI-DAQmx devices of this computer, in NI MAX order.

    Raises
    ------
    RigError
        If the NI-DAQmx driver is not installed (the message says that the simulated rig
        is available) or the driver fails (the message carries the NI error code).
    """
    with driver_call("listing the NI-DAQmx devices"):
        names = [str(n) for n in nidaqmx.system.System.local().devices.device_names]
        return [_device_info(n) for n in names]


def _same(a: str, b: str) -> bool:
    return a.strip("/").casefold() == b.strip("/").casefold()


def _check_terminal(
    field: str, terminal: str, device: DeviceInfo, kind: str, have: tuple[str, ...]
) -> None:
    if any(_same(terminal, c) for c in have):
        return
    prefix = terminal.strip("/").split("/", 1)[0]
    if not _same(prefix, device.name):
        raise RigError(
            f"{field} = {terminal!r} is not on the rig's device {device.name!r}; all three "
            "channels must be on one board, which provides the shared sample clock"
        )
    listed = f"{have[0]} ... {have[-1]}" if have else "none"
    raise RigError(
        f"{field} = {terminal!r} is not {kind} of {device.name} ({device.product_type}); "
        f"it has {listed}"
    )


def validate_device(definition: RigDefinition) -> DeviceInfo:
    """Check that ``definition`` can run on the NI-DAQmx device it names.

    Returns the device's :class:`DeviceInfo`.

    Raises
    ------
    RigError
        One sentence naming the problem: the driver is missing, the device is absent, a
        terminal is not a channel of the device, the device samples too slowly, or (with
        ``channels.stim.kind = "do"``) the stimulation line cannot be hardware-timed, as on
        the USB-600x boards, so the TTL pulses would not be sample-exact.
    """
    name = definition.device
    with driver_call(f"looking up device {name!r}"):
        present = [str(n) for n in nidaqmx.system.System.local().devices.device_names]
        match = next((p for p in present if _same(p, name)), None)
        if match is None:
            have = ", ".join(present) if present else "no devices"
            raise RigError(
                f"the rig file names device {name!r}, but NI-DAQmx has {have}; set `device` "
                "to a name listed by `rigctl devices`"
            )
        info = _device_info(match)
    ch = definition.channels
    fs = definition.sample_rate_hz
    _check_terminal(
        "channels.vm.terminal", ch.vm.terminal, info, "an analog input", info.ai_channels
    )
    _check_terminal(
        "channels.command.terminal", ch.command.terminal, info, "an analog output", info.ao_channels
    )
    if ch.stim.kind == "ao":
        _check_terminal(
            "channels.stim.terminal", ch.stim.terminal, info, "an analog output", info.ao_channels
        )
        if _same(ch.stim.terminal, ch.command.terminal):
            raise RigError(
                "channels.stim.terminal and channels.command.terminal are the same output"
            )
    else:
        _check_terminal(
            "channels.stim.terminal", ch.stim.terminal, info, "a digital line", info.do_lines
        )
    if ch.stim.kind == "do":
        with driver_call(f"checking the timing of {ch.stim.terminal}"):
            clocked = _line_is_clocked(ch.stim.terminal, info.product_type, info.product_category)
        if not clocked:
            raise RigError(
                f"{info.name} ({info.product_type}) cannot hardware-time its digital output "
                f"{ch.stim.terminal}, so stimulation pulses would not be sample-exact; use an "
                'X- or M-series board (DO on port0), or set channels.stim.kind = "ao" to '
                "pulse an analog output"
            )
    if info.ai_max_rate_hz and fs > info.ai_max_rate_hz:
        raise RigError(
            f"sample_rate_hz = {fs:g} is faster than {info.name} ({info.product_type}) can sample "
            f"one analog input ({info.ai_max_rate_hz:g} S/s)"
        )
    if info.ao_max_rate_hz and fs > info.ao_max_rate_hz:
        raise RigError(
            f"sample_rate_hz = {fs:g} is faster than {info.name} ({info.product_type}) can update "
            f"its analog outputs ({info.ao_max_rate_hz:g} S/s)"
        )
    return info
