"""The nidaqmx imports and the translation of NI-DAQmx errors into rig errors.

nidaqmx 1.7 ships no ``py.typed`` marker, so everything it exports is ``Any`` to mypy;
the rest of :mod:`rigctl.hardware.nidaq` keeps its own types strict.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import nidaqmx  # type: ignore[import-untyped, unused-ignore]
import nidaqmx.system  # type: ignore[import-untyped, unused-ignore]
from nidaqmx.constants import (  # type: ignore[import-untyped, unused-ignore]
    AcquisitionType,
    Edge,
    LineGrouping,
    ProductCategory,
    TerminalConfiguration,
    VoltageUnits,
)
from nidaqmx.errors import (  # type: ignore[import-untyped, unused-ignore]
    DaqError,
    DaqNotFoundError,
    DaqNotSupportedError,
)
from nidaqmx.stream_readers import AnalogSingleChannelReader  # type: ignore[import-untyped, unused-ignore]
from nidaqmx.stream_writers import (  # type: ignore[import-untyped, unused-ignore]
    AnalogMultiChannelWriter,
    AnalogSingleChannelWriter,
    DigitalSingleChannelWriter,
)

from rigctl.hardware.base import RigError

__all__ = [
    "DRIVER_MISSING",
    "AcquisitionType",
    "AnalogMultiChannelWriter",
    "AnalogSingleChannelReader",
    "AnalogSingleChannelWriter",
    "DaqError",
    "DigitalSingleChannelWriter",
    "DriverMissingError",
    "Edge",
    "LineGrouping",
    "NidaqError",
    "ProductCategory",
    "TerminalConfiguration",
    "VoltageUnits",
    "describe",
    "driver_call",
    "is_driver_error",
    "new_task",
    "nidaqmx",
    "translate",
]

DRIVER_MISSING = (
    "the NI-DAQmx driver is not installed on this computer (nidaqmx could not load it), so "
    "the NI rig cannot be used; install NI-DAQmx from ni.com, or use the simulated rig "
    "hardware/sim.toml, which needs no driver"
)
"""What the user reads when nidaqmx cannot find the NI-DAQmx C library."""


class DriverMissingError(RigError):
    """The NI-DAQmx driver is not installed (or not supported on this platform)."""

    def __init__(self) -> None:
        super().__init__(DRIVER_MISSING)


class NidaqError(RigError):
    """NI-DAQmx refused a step; ``code`` is the NI error code, ``step`` what was being done."""

    def __init__(self, code: int, step: str, message: str) -> None:
        self.code = code
        self.step = step
        super().__init__(message)


def is_driver_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from nidaqmx (a DAQmx error or a missing driver)."""
    return isinstance(exc, DaqError | DaqNotFoundError | DaqNotSupportedError)


def _first_line(exc: BaseException) -> str:
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip().rstrip(".")
    return type(exc).__name__


def describe(exc: BaseException, step: str) -> str:
    """One phrase for a failure of ``step``: the NI error code and the driver's first line."""
    if isinstance(exc, DaqNotFoundError | DaqNotSupportedError):
        return DRIVER_MISSING
    if isinstance(exc, DaqError):
        return f"NI-DAQmx error {int(exc.error_code)} while {step}: {_first_line(exc)}"
    return f"{type(exc).__name__} while {step}: {_first_line(exc)}"


def translate(exc: BaseException, step: str, prefix: str = "", suffix: str = "") -> RigError:
    """The :class:`RigError` to raise for a nidaqmx exception (``from exc``)."""
    if isinstance(exc, DaqNotFoundError | DaqNotSupportedError):
        return DriverMissingError()
    code = int(exc.error_code) if isinstance(exc, DaqError) else 0
    return NidaqError(code, step, f"{prefix}{describe(exc, step)}{suffix}")


@contextmanager
def driver_call(step: str, prefix: str = "") -> Iterator[None]:
    """Translate nidaqmx exceptions raised inside the block into :class:`RigError`."""
    try:
        yield
    except (DaqError, DaqNotFoundError, DaqNotSupportedError) as exc:
        raise translate(exc, step, prefix) from exc


def new_task() -> Any:
    """A new, unnamed NI-DAQmx task (DAQmx names it; names never collide between sweeps)."""
    return nidaqmx.Task()
