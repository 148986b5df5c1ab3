"""A fake NI-DAQmx driver: the real nidaqmx ``Task``/reader/writer code runs against it.

``FakeNidaq`` is a :class:`nidaqmx._base_interpreter.BaseInterpreter`, the layer under
which nidaqmx calls the C library. Installed in place of
``nidaqmx.utils._select_interpreter`` (:meth:`FakeNidaq.install`), it stands in for the
driver *and* for the rig behind the board:

* it records every call (channels with their terminals, ranges and terminal
  configuration, sample clocks, buffers written, start/stop/clear order) in ``calls`` and
  keeps every task in ``tasks``;
* it models the board: a few devices (an X-series PCIe-6353, an M-series PCI-6229 whose
  port1/port2 are static, a USB-6001 with software-timed DO only), resource reservation
  (a running task reserves its channels and its timing engine: a leaked task makes the
  next sweep fail with error -50103), a finite AI sample clock that drives the AO/DO
  tasks clocked from ``/DevN/ai/SampleClock``, and the value every output line holds
  (``line()``: a stopped output keeps its last generated value, as hardware does);
* wired to a rig file (:meth:`FakeNidaq.connect`), it loops the outputs through a
  :class:`~rigctl.hardware.sim.SimulatedCell`: the AO command (V x pA/V) and the TTL
  written drive the cell, and AI returns its Vm (mV x V/mV, clipped to the AI range and
  quantised to 16 bits): rest near -65 mV, EPSPs, spikes;
* it injects faults (:meth:`FakeNidaq.inject`): a ``DaqError`` with a realistic negative
  code at a named step, and a driver-missing mode (``driver_missing = True``) raising
  ``DaqNotFoundError`` as nidaqmx does without NI-DAQmx.

Everything nidaqmx may call but this fake does not model raises
``NotImplementedError(name)``. These are nidaqmx 1.7 private APIs: keep the version pinned.
"""

from __future__ import annotations

import abc
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn, get_args

import nidaqmx.utils  # type: ignore[import-untyped, unused-ignore]
import numpy as np
import numpy.typing as npt
import pytest
from nidaqmx._base_interpreter import BaseInterpreter  # type: ignore[import-untyped, unused-ignore]
from nidaqmx.constants import (  # type: ignore[import-untyped, unused-ignore]
    AcquisitionType,
    ChannelType,
    FillMode,
    ProductCategory,
)
from nidaqmx.error_codes import DAQmxErrors  # type: ignore[import-untyped, unused-ignore]
from nidaqmx.errors import (  # type: ignore[import-untyped, unused-ignore]
    DaqError,
    DaqNotFoundError,
    DaqReadError,
    DaqWriteError,
)
from nidaqmx.types import DriverVersion  # type: ignore[import-untyped, unused-ignore]

from rigctl.hardware.definition import RigDefinition
from rigctl.hardware.sim import SimulatedCell, cell_params

__all__ = [
    "DEFAULT_DEVICES",
    "PCIE_6353",
    "PCI_6229",
    "USB_6001",
    "FakeCall",
    "FakeChannel",
    "FakeDevice",
    "FakeNidaq",
    "FakeTask",
    "Fault",
    "SampleClock",
    "Step",
    "Wiring",
]

FloatArray = npt.NDArray[np.float64]
Step = Literal[
    "create", "channel", "timing", "write", "rest_write", "start", "read", "stop", "clear"
]
"""Where a fault can be injected: ``write`` is a buffered (timed) write, ``rest_write`` an
on-demand single-sample write (what a rig does to put its outputs at rest)."""

DRIVER_NOT_FOUND = (
    "Could not find an installation of NI-DAQmx. Please ensure that NI-DAQmx is installed "
    "on this machine or contact National Instruments for support."
)

_DEFAULT_CODES: dict[str, int] = {
    "create": -201003,
    "channel": -200220,
    "timing": -200077,
    "write": -201003,
    "rest_write": -201003,
    "start": -50103,
    "read": -200279,
    "stop": -201003,
    "clear": -201003,
}

_MESSAGES: dict[int, str] = {
    -50103: (
        "The specified resource is reserved. The operation could not be completed as specified."
    ),
    -200279: (
        "The application is not able to keep up with the hardware acquisition.\n"
        "Increasing the buffer size, reading the data more frequently, or specifying a fixed "
        "number of samples to read instead of reading all available samples might correct "
        "the problem."
    ),
    -201003: (
        "Device cannot be accessed.\nPossible causes:\nDevice is no longer present in the "
        "system.\nDevice is not powered."
    ),
    -200220: "Device identifier is invalid.",
    -200077: (
        "Requested value is not a supported value for this property. The property value may "
        "be invalid because it conflicts with another property."
    ),
    -200462: "Generation cannot be started because the output buffer is empty.",
    -200278: "Attempted to read a sample beyond the final sample acquired.",
    -200473: (
        "Read cannot be performed when the auto start input to DAQmx Read is false and the "
        "task is not running or committed."
    ),
    -200561: "Attempted writing analog data that is too large or too small.",
    -89120: "Source terminal to be routed could not be found on the device.",
    -200088: "Task specified is invalid or does not exist.",
    -200479: "Specified operation cannot be performed while the task is running.",
}

# Attribute IDs nidaqmx 1.7 reads on the code paths of a rig.
_TASK_NAME, _TASK_CHANNELS, _TASK_N_CHANS, _TASK_DEVICES = 0x1276, 0x1273, 0x2181, 0x230E
_CHAN_TYPE = 0x187F
_READ_N_CHANS, _WRITE_N_CHANS, _WRITE_DO_BOOLEANS = 0x217B, 0x217E, 0x217F
_DEV_PRODUCT_TYPE, _DEV_SERIAL, _DEV_CATEGORY, _DEV_SIMULATED = 0x631, 0x632, 0x29A9, 0x22CA
_DEV_AI, _DEV_AO, _DEV_DI_LINES, _DEV_DO_LINES, _DEV_DI_PORTS, _DEV_DO_PORTS = (
    0x231E,
    0x231F,
    0x2320,
    0x2322,
    0x2321,
    0x2323,
)
_DEV_CI, _DEV_CO = 0x2324, 0x2325
_DEV_AI_MAX_RATE, _DEV_AO_MAX_RATE = 0x298C, 0x2997
_PHYS_DO_SAMP_CLK = 0x29A8
_SYS_DEVICES, _SYS_MAJOR, _SYS_MINOR, _SYS_UPDATE = 0x193B, 0x1272, 0x1923, 0x2F22

_KIND_TYPE: dict[str, int] = {
    "ai": int(ChannelType.ANALOG_INPUT.value),
    "ao": int(ChannelType.ANALOG_OUTPUT.value),
    "do": int(ChannelType.DIGITAL_OUTPUT.value),
}


def _key(name: str) -> str:
    return name.strip().strip("/").casefold()


def daq_error(
    code: int, detail: str = "", task_name: str = "", *, read: bool = False, write: bool = False
) -> Any:
    """A ``DaqError`` (or its read/write subclass) as the real library raises it."""
    try:
        fallback = str(DAQmxErrors(code).name).replace("_", " ").capitalize() + "."
    except ValueError:
        fallback = "Unknown error."
    message = _MESSAGES.get(code, fallback) + (f"\n{detail}" if detail else "")
    if read:
        return DaqReadError(message, code, 0, task_name=task_name)
    if write:
        return DaqWriteError(message, code, 0, task_name=task_name)
    return DaqError(message, code, task_name=task_name)


# ---------------------------------------------------------------------------- devices


@dataclass(frozen=True)
class FakeDevice:
    """A DAQ board: channel counts, which DO ports can be clocked, maximum rates."""

    name: str
    product_type: str
    category: Any  # nidaqmx.constants.ProductCategory
    serial: int
    n_ai: int
    n_ao: int
    ports: tuple[tuple[int, int, bool], ...]
    """``(port, lines, hardware_timed)`` for each digital port."""
    ai_max_rate_hz: float
    ao_max_rate_hz: float
    simulated: bool = False

    @property
    def ai_channels(self) -> list[str]:
        return [f"{self.name}/ai{i}" for i in range(self.n_ai)]

    @property
    def ao_channels(self) -> list[str]:
        return [f"{self.name}/ao{i}" for i in range(self.n_ao)]

    @property
    def do_lines(self) -> list[str]:
        return [f"{self.name}/port{p}/line{k}" for p, lines, _ in self.ports for k in range(lines)]

    @property
    def do_ports(self) -> list[str]:
        return [f"{self.name}/port{p}" for p, _, _ in self.ports]

    def line_clocked(self, line: str) -> bool:
        """Whether ``line`` (``DevN/portP/lineK``) supports a sample clock."""
        for p, lines, timed in self.ports:
            if any(_key(line) == _key(f"{self.name}/port{p}/line{k}") for k in range(lines)):
                return timed
        raise daq_error(-200220, f"Physical Channel: {line}")


PCIE_6353 = FakeDevice(
    "Dev1",
    "PCIe-6353",
    ProductCategory.X_SERIES_DAQ,
    0x1D2C3B4A,
    n_ai=32,
    n_ao=4,
    ports=((0, 32, True), (1, 8, False), (2, 8, False)),
    ai_max_rate_hz=1.25e6,
    ao_max_rate_hz=2.86e6,
)
"""An X-series board: clocked DO on port0 (its own DO timing engine), PFI ports static."""

USB_6001 = FakeDevice(
    "Dev2",
    "USB-6001",
    ProductCategory.USBDAQ,
    0x1F00A1B2,
    n_ai=8,
    n_ao=2,
    ports=((0, 8, False), (1, 4, False), (2, 1, False)),
    ai_max_rate_hz=20e3,
    ao_max_rate_hz=5e3,
)
"""A low-cost USB board: software-timed DO only, AO at most 5 kS/s."""

PCI_6229 = FakeDevice(
    "Dev3",
    "PCI-6229",
    ProductCategory.M_SERIES_DAQ,
    0x12A3B4C5,
    n_ai=32,
    n_ao=4,
    ports=((0, 32, True), (1, 8, False), (2, 8, False)),
    ai_max_rate_hz=250e3,
    ao_max_rate_hz=833e3,
)
"""An M-series board: port0 can be clocked (from another subsystem's clock), port1/2 cannot."""

DEFAULT_DEVICES: tuple[FakeDevice, ...] = (PCIE_6353, USB_6001, PCI_6229)


# ---------------------------------------------------------------------------- records


@dataclass
class FakeChannel:
    """A virtual channel as created by ``DAQmxCreate*Chan`` (enum values as nidaqmx passes them)."""

    kind: Literal["ai", "ao", "do"]
    physical: str
    name: str
    min_val: float = 0.0
    max_val: float = 0.0
    terminal_config: int | None = None
    units: int | None = None
    line_grouping: int | None = None


@dataclass(frozen=True)
class SampleClock:
    """Arguments of ``DAQmxCfgSampClkTiming``."""

    rate: float
    source: str
    active_edge: int
    sample_mode: int
    samps_per_chan: int

    @property
    def finite(self) -> bool:
        return self.sample_mode == int(AcquisitionType.FINITE.value)


@dataclass
class FakeTask:
    """One task: its channels, clock, buffer, state and progress."""

    handle: int
    name: str
    channels: list[FakeChannel] = field(default_factory=list)
    clock: SampleClock | None = None
    buffer: FloatArray | None = None
    """Written output samples, ``(channels, samples)``; DO lines as 0/1."""
    state: Literal["created", "running", "stopped", "cleared"] = "created"
    position: int = 0
    """Samples acquired (AI) or generated (AO/DO) so far."""
    response: FloatArray | None = None
    """What the AI channels will return, ``(channels, samples)`` (V)."""
    slaves: list[FakeTask] = field(default_factory=list)
    start_trigger: tuple[str, int] | None = None
    """Digital-edge start trigger (source, edge), if one was configured."""

    @property
    def kind(self) -> str:
        """``ai``, ``ao`` or ``do`` (``""`` before the first channel)."""
        return self.channels[0].kind if self.channels else ""

    @property
    def n_samples(self) -> int:
        return self.clock.samps_per_chan if self.clock is not None else 0

    @property
    def device(self) -> str:
        return self.channels[0].physical.strip("/").split("/", 1)[0] if self.channels else ""


@dataclass(frozen=True)
class FakeCall:
    """One interpreter call: operation, task handle and kind, and the details that matter."""

    op: str
    task: int | None
    kind: str
    detail: dict[str, Any]


@dataclass
class Fault:
    """A fault armed at ``step``: passes ``after`` matching calls, then fails ``times`` times."""

    step: Step
    code: int
    kind: str | None = None
    after: int = 0
    times: int = 1
    seen: int = 0
    fired: int = 0


@dataclass(frozen=True)
class Wiring:
    """How the board is cabled to the amplifier and the isolator (from a rig file)."""

    command: str
    pa_per_v: float
    stim: str
    stim_kind: Literal["do", "ao"]
    ttl_threshold_v: float
    vm: str
    vm_volts_per_mv: float

    @classmethod
    def of(cls, d: RigDefinition) -> Wiring:
        ch = d.channels
        return cls(
            command=ch.command.terminal,
            pa_per_v=ch.command.scale_pa_per_v,
            stim=ch.stim.terminal,
            stim_kind=ch.stim.kind,
            ttl_threshold_v=d.stimulator.ttl_threshold_v,
            vm=ch.vm.terminal,
            vm_volts_per_mv=d.vm_volts_per_mv,
        )


# ---------------------------------------------------------------------------- the driver


class FakeNidaq(BaseInterpreter):  # type: ignore[misc]
    """The fake driver and the rig behind it (see the module docstring).

    Parameters
    ----------
    devices
        The boards present.
    """

    def __init__(self, devices: Sequence[FakeDevice] = DEFAULT_DEVICES) -> None:
        self.devices = {_key(d.name): d for d in devices}
        self.calls: list[FakeCall] = []
        self.tasks: dict[int, FakeTask] = {}
        self.lines: dict[str, float] = {}
        self.faults: list[Fault] = []
        self.driver_missing = False
        self.wiring: Wiring | None = None
        self.cell: SimulatedCell | None = None
        self.cell_inputs: list[tuple[FloatArray, npt.NDArray[np.uint8]]] = []
        self._next_handle = 1
        self._last_channel = ""
        self._lock = threading.RLock()

    # ------------------------------------------------------------ test-facing API

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Make nidaqmx use this fake: replace ``_select_interpreter`` wherever it lives."""
        original = nidaqmx.utils._select_interpreter
        for name, module in list(sys.modules.items()):
            if (
                name.split(".")[0] == "nidaqmx"
                and getattr(module, "_select_interpreter", None) is original
            ):
                monkeypatch.setattr(module, "_select_interpreter", self.select_interpreter)

    def select_interpreter(self, grpc_options: Any = None, interpreter: Any = None) -> Any:
        """Stand-in for ``nidaqmx.utils._select_interpreter``."""
        if interpreter is not None:
            return interpreter
        if self.driver_missing:
            raise DaqNotFoundError(DRIVER_NOT_FOUND)
        return self

    def connect(self, definition: RigDefinition, *, seed: int = 0) -> None:
        """Cable the board as ``definition`` says, to a simulated cell (seeded)."""
        self.wiring = Wiring.of(definition)
        self.cell = SimulatedCell(cell_params(definition.sim, seed), seed, plasticity=False)

    def inject(
        self,
        step: Step,
        *,
        code: int | None = None,
        kind: str | None = None,
        after: int = 0,
        times: int = 1,
    ) -> Fault:
        """Arm a fault: the matching call (``kind``: ``ai``/``ao``/``do`` task) raises a DaqError.

        A failing ``clear`` still releases the task (as the driver does when it reports an
        error while clearing); a failing ``stop`` leaves the task running and reserved.
        """
        if step not in get_args(Step):
            raise ValueError(f"unknown step {step!r}")
        fault = Fault(step, _DEFAULT_CODES[step] if code is None else code, kind, after, times)
        self.faults.append(fault)
        return fault

    def line(self, physical: str) -> float:
        """Value an output line holds now (V for AO, 0/1 for DO); outputs power up at 0."""
        return self.lines.get(_key(physical), 0.0)

    def set_line(self, physical: str, value: float) -> None:
        """Force a line's value (as a previous program might have left it)."""
        self.lines[_key(physical)] = float(value)

    def outputs_at_rest(self) -> bool:
        """Whether every output line holds 0 V / low."""
        return all(v == 0.0 for v in self.lines.values())

    def ops(self, *names: str) -> list[tuple[str, str]]:
        """``(operation, task kind)`` of the recorded calls named (all if none named)."""
        return [(c.op, c.kind) for c in self.calls if not names or c.op in names]

    def of_kind(self, kind: str) -> list[FakeTask]:
        """Every task (in creation order) whose channels are of ``kind``."""
        return [t for t in self.tasks.values() if t.kind == kind]

    def open_tasks(self) -> list[FakeTask]:
        """Tasks not cleared (a leak if any remain after a sweep)."""
        return [t for t in self.tasks.values() if t.state != "cleared"]

    # ------------------------------------------------------------ internals

    def _record(self, op: str, task: FakeTask | None = None, **detail: Any) -> None:
        self.calls.append(
            FakeCall(op, task.handle if task else None, task.kind if task else "", detail)
        )

    def _task(self, handle: int) -> FakeTask:
        task = self.tasks.get(handle)
        if task is None or task.state == "cleared":
            raise daq_error(-200088)
        return task

    def _fault(
        self, step: Step, task: FakeTask | None, kind: str | None = None, **kinds: bool
    ) -> None:
        kind = kind or (task.kind if task is not None else None)
        for f in self.faults:
            if f.step != step or (f.kind is not None and kind != f.kind):
                continue
            f.seen += 1
            if f.seen > f.after and f.fired < f.times:
                f.fired += 1
                raise daq_error(f.code, "(injected)", task.name if task else "", **kinds)

    def _device(self, name: str) -> FakeDevice:
        dev = self.devices.get(_key(name))
        if dev is None:
            raise daq_error(-200220, f"Device Specified: {name}")
        return dev

    def _physical(self, name: str, options: list[str]) -> str:
        if not any(_key(name) == _key(o) for o in options):
            raise daq_error(-200220, f"Physical Channel Name: {name}")
        return name

    def _add_channel(self, handle: int, channel: FakeChannel) -> None:
        with self._lock:
            task = self._task(handle)
            self._fault("channel", task, channel.kind)
            if task.channels and task.kind != channel.kind:
                raise daq_error(-200559, "Task cannot contain a channel of this type")
            dev = self._device(channel.physical.strip("/").split("/", 1)[0])
            options = {"ai": dev.ai_channels, "ao": dev.ao_channels, "do": dev.do_lines}[
                channel.kind
            ]
            self._physical(channel.physical, options)
            task.channels.append(channel)
            self._last_channel = channel.name
            self._record(
                f"create_{channel.kind}_chan",
                task,
                physical=channel.physical,
                min_val=channel.min_val,
                max_val=channel.max_val,
                terminal_config=channel.terminal_config,
                line_grouping=channel.line_grouping,
            )

    def _resources(self, task: FakeTask) -> set[str]:
        res = {_key(c.physical) for c in task.channels}
        if task.kind in ("ai", "ao") or task.clock is not None:
            res.add(f"{_key(task.device)}/{task.kind}-timing-engine")
        return res

    def _reserve(self, task: FakeTask) -> None:
        mine = self._resources(task)
        for other in self.tasks.values():
            if other is not task and other.state == "running" and mine & self._resources(other):
                raise daq_error(-50103, f"Task Name: {other.name} holds the resource", task.name)

    def _set_lines(self, task: FakeTask, values: FloatArray) -> None:
        for ch, v in zip(task.channels, values, strict=True):
            self.lines[_key(ch.physical)] = float(v)

    def _advance_slaves(self, ai: FakeTask) -> None:
        for s in ai.slaves:
            if s.state != "running" or s.buffer is None:
                continue
            s.position = min(ai.position, s.buffer.shape[1], s.n_samples or ai.position)
            if s.position > 0:
                self._set_lines(s, s.buffer[:, s.position - 1])

    def _slave_source(self, task: FakeTask) -> bool:
        """Whether the task is clocked from its device's AI sample clock (else its own clock)."""
        assert task.clock is not None
        src = _key(task.clock.source)
        if src == "":
            return False
        if src == _key(f"/{task.device}/ai/SampleClock"):
            return True
        raise daq_error(-89120, f"Source Terminal: {task.clock.source}", task.name)

    def _simulate(self, ai: FakeTask) -> FloatArray:
        """The AI response over the whole sweep, driven by the outputs the cell receives."""
        n = ai.n_samples
        w = self.wiring
        out = np.zeros((len(ai.channels), n))
        if w is None or self.cell is None or ai.clock is None:
            return out
        command_v = np.full(n, self.line(w.command))
        stim_level = np.full(n, self.line(w.stim))
        for s in ai.slaves:
            assert s.buffer is not None
            for ch, seq in zip(s.channels, s.buffer, strict=True):
                m = min(n, seq.shape[0])
                full = np.empty(n)
                full[:m] = seq[:m]
                full[m:] = seq[m - 1] if m else self.line(ch.physical)
                if _key(ch.physical) == _key(w.command):
                    command_v = full
                elif _key(ch.physical) == _key(w.stim):
                    stim_level = full
        threshold = w.ttl_threshold_v if w.stim_kind == "ao" else 0.5
        stim = (stim_level >= threshold).astype(np.uint8)
        command_pa = command_v * w.pa_per_v
        self.cell_inputs.append((command_pa, stim))
        cell, _ = self.cell.respond(command_pa, stim, ai.clock.rate)
        rng = np.random.default_rng(len(self.cell_inputs))
        for i, ch in enumerate(ai.channels):
            if _key(ch.physical) == _key(w.vm):
                volts = cell.vm_mv * w.vm_volts_per_mv
            else:  # an open input: a little noise around 0 V
                volts = 1e-3 * rng.standard_normal(n)
            lsb = (ch.max_val - ch.min_val) / 65536.0
            out[i] = np.round(np.clip(volts, ch.min_val, ch.max_val) / lsb) * lsb
        return out

    def _write(
        self, handle: int, num: int, auto_start: bool, layout: int, data: npt.NDArray[Any], op: str
    ) -> int:
        with self._lock:
            task = self._task(handle)
            nchan = len(task.channels)
            if layout != int(FillMode.GROUP_BY_CHANNEL.value):
                raise NotImplementedError("interleaved writes")
            values = np.asarray(data, dtype=np.float64).reshape(nchan, num)
            if task.kind == "ao":
                for ch, row in zip(task.channels, values, strict=True):
                    if row.size and (
                        row.min() < ch.min_val - 1e-9 or row.max() > ch.max_val + 1e-9
                    ):
                        raise daq_error(-200561, f"Channel Name: {ch.name}", task.name, write=True)
            timed = task.clock is not None
            self._fault("write" if timed else "rest_write", task, write=True)
            self._record(
                op, task, samples=num, auto_start=auto_start, timed=timed, data=values.copy()
            )
            if timed:
                task.buffer = values.copy()
                if auto_start and task.state != "running":
                    self._start(task)
                return num
            self._reserve(task)
            self._set_lines(task, values[:, -1])
            return num

    def _start(self, task: FakeTask) -> None:
        slave = False  # clocked from the AI sample clock (generates as AI acquires)
        if task.kind in ("ao", "do") and task.clock is not None:
            if task.buffer is None:
                raise daq_error(-200462, "", task.name)
            if task.kind == "do":
                dev = self._device(task.device)
                for ch in task.channels:
                    if not dev.line_clocked(ch.physical):
                        raise daq_error(-200077, "Property: DAQmx_SampTimingType", task.name)
            slave = self._slave_source(task)
        self._reserve(task)
        task.state = "running"
        task.position = 0
        if task.kind == "ai" and task.clock is not None:
            task.slaves = [
                t
                for t in self.tasks.values()
                if t.state == "running"
                and t.kind in ("ao", "do")
                and t.clock is not None
                and t.buffer is not None
                and _key(t.clock.source) == _key(f"/{task.device}/ai/SampleClock")
            ]
            task.response = self._simulate(task)
        elif task.kind in ("ao", "do") and task.clock is not None and not slave:
            # Its own clock: the fake generates the whole buffer at once.
            assert task.buffer is not None
            task.position = task.buffer.shape[1]
            self._set_lines(task, task.buffer[:, -1])

    # ------------------------------------------------------------ task lifecycle

    @property
    def driver_version(self) -> Any:
        return DriverVersion(25, 5, 0)

    def create_task(self, session_name: str) -> tuple[int, bool]:
        with self._lock:
            self._fault("create", None)
            handle = self._next_handle
            self._next_handle += 1
            name = session_name or f"_unnamedTask<{handle - 1}>"
            if any(t.name == name and t.state != "cleared" for t in self.tasks.values()):
                raise daq_error(-200089, f"Task Name: {name}")
            task = FakeTask(handle, name)
            self.tasks[handle] = task
            self._record("create_task", task, name=name)
            return handle, True

    def hash_task_handle(self, task_handle: int) -> int:
        return hash(task_handle)

    def start_task(self, task: int) -> None:
        with self._lock:
            t = self._task(task)
            self._record("start_task", t)  # attempts are recorded, failed or not
            self._fault("start", t)
            if t.state == "running":
                raise daq_error(-200479, "", t.name)
            self._start(t)

    def stop_task(self, task: int) -> None:
        with self._lock:
            t = self._task(task)
            self._record("stop_task", t)
            self._fault("stop", t)
            if t.state == "running":
                t.state = "stopped"

    def clear_task(self, task: int) -> None:
        with self._lock:
            t = self._task(task)
            self._record("clear_task", t)
            t.state = "cleared"
            self._fault("clear", t)

    def task_control(self, task: int, action: int) -> None:
        raise NotImplementedError("task_control")

    def is_task_done(self, task: int) -> bool:
        t = self._task(task)
        return t.state != "running" or t.clock is None or t.position >= t.n_samples

    def wait_until_task_done(self, task: int, time_to_wait: float) -> None:
        if not self.is_task_done(task):
            raise daq_error(-200560, "", self._task(task).name)

    # ------------------------------------------------------------ channels and timing

    def internal_get_last_created_chan(self) -> str:
        return self._last_channel

    def create_ai_voltage_chan(
        self,
        task: int,
        physical_channel: str,
        name_to_assign_to_channel: str,
        terminal_config: int,
        min_val: float,
        max_val: float,
        units: int,
        custom_scale_name: str,
    ) -> None:
        ch = FakeChannel(
            "ai",
            physical_channel,
            name_to_assign_to_channel or physical_channel,
            min_val,
            max_val,
            terminal_config=terminal_config,
            units=units,
        )
        self._add_channel(task, ch)

    def create_ao_voltage_chan(
        self,
        task: int,
        physical_channel: str,
        name_to_assign_to_channel: str,
        min_val: float,
        max_val: float,
        units: int,
        custom_scale_name: str,
    ) -> None:
        ch = FakeChannel(
            "ao",
            physical_channel,
            name_to_assign_to_channel or physical_channel,
            min_val,
            max_val,
            units=units,
        )
        self._add_channel(task, ch)

    def create_do_chan(
        self, task: int, lines: str, name_to_assign_to_lines: str, line_grouping: int
    ) -> None:
        names = nidaqmx.utils.unflatten_channel_string(lines)
        if len(names) != 1:
            raise NotImplementedError("multi-line DO channels")
        ch = FakeChannel(
            "do",
            names[0],
            name_to_assign_to_lines or names[0],
            0.0,
            1.0,
            line_grouping=line_grouping,
        )
        self._add_channel(task, ch)

    def cfg_samp_clk_timing(
        self,
        task: int,
        rate: float,
        source: str,
        active_edge: int,
        sample_mode: int,
        samps_per_chan: int,
    ) -> None:
        with self._lock:
            t = self._task(task)
            self._fault("timing", t)
            t.clock = SampleClock(
                float(rate), str(source), int(active_edge), int(sample_mode), int(samps_per_chan)
            )
            self._record(
                "cfg_samp_clk_timing",
                t,
                rate=t.clock.rate,
                source=t.clock.source,
                active_edge=t.clock.active_edge,
                sample_mode=t.clock.sample_mode,
                samps_per_chan=t.clock.samps_per_chan,
            )

    def cfg_dig_edge_start_trig(self, task: int, trigger_source: str, trigger_edge: int) -> None:
        with self._lock:
            t = self._task(task)
            t.start_trigger = (str(trigger_source), int(trigger_edge))
            self._record("cfg_dig_edge_start_trig", t, source=trigger_source, edge=trigger_edge)

    def disable_start_trig(self, task: int) -> None:
        with self._lock:
            t = self._task(task)
            t.start_trigger = None
            self._record("disable_start_trig", t)

    # ------------------------------------------------------------ reads and writes

    def read_analog_f64(
        self,
        task: int,
        num_samps_per_chan: int,
        timeout: float,
        fill_mode: int,
        read_array: FloatArray,
    ) -> tuple[FloatArray, int]:
        with self._lock:
            t = self._task(task)
            self._fault("read", t, read=True)
            if t.state != "running" or t.response is None:
                raise daq_error(-200473, "", t.name, read=True)
            if fill_mode != int(FillMode.GROUP_BY_CHANNEL.value):
                raise NotImplementedError("interleaved reads")
            left = t.n_samples - t.position
            k = left if num_samps_per_chan < 0 else int(num_samps_per_chan)
            if k > left:
                raise daq_error(-200278, "", t.name, read=True)
            view = read_array.reshape(len(t.channels), -1)
            view[:, :k] = t.response[:, t.position : t.position + k]
            t.position += k
            self._advance_slaves(t)
            self._record("read_analog_f64", t, samples=k, timeout=timeout)
            return read_array, k

    def write_analog_f64(
        self,
        task: int,
        num_samps_per_chan: int,
        auto_start: bool,
        timeout: float,
        data_layout: int,
        write_array: FloatArray,
    ) -> int:
        return self._write(
            task, num_samps_per_chan, auto_start, data_layout, write_array, "write_analog_f64"
        )

    def write_analog_scalar_f64(
        self, task: int, auto_start: bool, timeout: float, value: float
    ) -> None:
        layout = int(FillMode.GROUP_BY_CHANNEL.value)
        self._write(task, 1, auto_start, layout, np.array([value]), "write_analog_scalar_f64")

    def write_digital_lines(
        self,
        task: int,
        num_samps_per_chan: int,
        auto_start: bool,
        timeout: float,
        data_layout: int,
        write_array: npt.NDArray[np.bool_],
    ) -> int:
        t = self._task(task)
        if any(ch.kind != "do" for ch in t.channels):
            raise daq_error(-200077, "Digital write to a non-digital task", t.name)
        return self._write(
            task, num_samps_per_chan, auto_start, data_layout, write_array, "write_digital_lines"
        )

    # ------------------------------------------------------------ attributes

    def get_task_attribute_string(self, task: int, attribute: int) -> str:
        t = self._task(task)
        if attribute == _TASK_NAME:
            return t.name
        if attribute == _TASK_CHANNELS:
            return str(nidaqmx.utils.flatten_channel_string([c.name for c in t.channels]))
        if attribute == _TASK_DEVICES:
            return t.device
        raise NotImplementedError(f"task attribute 0x{attribute:X}")

    def get_task_attribute_uint32(self, task: int, attribute: int) -> int:
        if attribute == _TASK_N_CHANS:
            return len(self._task(task).channels)
        raise NotImplementedError(f"task attribute 0x{attribute:X}")

    def get_chan_attribute_int32(self, task: int, channel: str, attribute: int) -> int:
        t = self._task(task)
        if attribute == _CHAN_TYPE:
            names = nidaqmx.utils.unflatten_channel_string(channel) if channel else []
            chans = [c for c in t.channels if not names or c.name in names]
            if not chans:
                raise daq_error(-200486, f"Channel Name: {channel}", t.name)
            return _KIND_TYPE[chans[0].kind]
        raise NotImplementedError(f"channel attribute 0x{attribute:X}")

    def get_read_attribute_uint32(self, task: int, attribute: int) -> int:
        if attribute == _READ_N_CHANS:
            return len(self._task(task).channels)
        raise NotImplementedError(f"read attribute 0x{attribute:X}")

    def get_write_attribute_uint32(self, task: int, attribute: int) -> int:
        if attribute == _WRITE_N_CHANS:
            return len(self._task(task).channels)
        if attribute == _WRITE_DO_BOOLEANS:
            return 1
        raise NotImplementedError(f"write attribute 0x{attribute:X}")

    def get_system_info_attribute_string(self, attribute: int) -> str:
        if attribute == _SYS_DEVICES:
            return ", ".join(d.name for d in self.devices.values())
        raise NotImplementedError(f"system attribute 0x{attribute:X}")

    def get_system_info_attribute_uint32(self, attribute: int) -> int:
        version = {_SYS_MAJOR: 25, _SYS_MINOR: 5, _SYS_UPDATE: 0}
        if attribute in version:
            return version[attribute]
        raise NotImplementedError(f"system attribute 0x{attribute:X}")

    def get_device_attribute_string(self, device_name: str, attribute: int) -> str:
        dev = self._device(device_name)
        flat: Callable[[list[str]], str] = nidaqmx.utils.flatten_channel_string
        lists: dict[int, Callable[[], str]] = {
            _DEV_PRODUCT_TYPE: lambda: dev.product_type,
            _DEV_AI: lambda: flat(dev.ai_channels),
            _DEV_AO: lambda: flat(dev.ao_channels),
            _DEV_DO_LINES: lambda: flat(dev.do_lines),
            _DEV_DI_LINES: lambda: flat(dev.do_lines),
            _DEV_DO_PORTS: lambda: flat(dev.do_ports),
            _DEV_DI_PORTS: lambda: flat(dev.do_ports),
            _DEV_CI: lambda: flat([f"{dev.name}/ctr{i}" for i in range(4)]),
            _DEV_CO: lambda: flat([f"{dev.name}/ctr{i}" for i in range(4)]),
        }
        if attribute in lists:
            return str(lists[attribute]())
        raise NotImplementedError(f"device attribute 0x{attribute:X}")

    def get_device_attribute_int32(self, device_name: str, attribute: int) -> int:
        dev = self._device(device_name)
        if attribute == _DEV_CATEGORY:
            return int(dev.category.value)
        raise NotImplementedError(f"device attribute 0x{attribute:X}")

    def get_device_attribute_uint32(self, device_name: str, attribute: int) -> int:
        dev = self._device(device_name)
        if attribute == _DEV_SERIAL:
            return dev.serial
        raise NotImplementedError(f"device attribute 0x{attribute:X}")

    def get_device_attribute_double(self, device_name: str, attribute: int) -> float:
        dev = self._device(device_name)
        if attribute == _DEV_AI_MAX_RATE:
            return dev.ai_max_rate_hz
        if attribute == _DEV_AO_MAX_RATE:
            return dev.ao_max_rate_hz
        raise NotImplementedError(f"device attribute 0x{attribute:X}")

    def get_device_attribute_bool(self, device_name: str, attribute: int) -> bool:
        dev = self._device(device_name)
        if attribute == _DEV_SIMULATED:
            return dev.simulated
        raise NotImplementedError(f"device attribute 0x{attribute:X}")

    def get_physical_chan_attribute_bool(self, physical_channel: str, attribute: int) -> bool:
        dev = self._device(physical_channel.strip("/").split("/", 1)[0])
        if attribute == _PHYS_DO_SAMP_CLK:
            return dev.line_clocked(physical_channel)
        raise NotImplementedError(f"physical channel attribute 0x{attribute:X}")

    def get_error_string(self, error_code: int) -> str:
        return str(_MESSAGES.get(error_code, "Unknown error."))

    def get_extended_error_info(self) -> str:
        return ""


def _unimplemented(name: str) -> Callable[..., NoReturn]:
    def method(self: object, *args: object, **kwargs: object) -> NoReturn:
        raise NotImplementedError(name)

    method.__name__ = method.__qualname__ = name
    return method


def _fill_unimplemented(cls: type) -> None:
    """Give every abstract method nidaqmx declares but the fake does not model a stub."""
    for name in sorted(getattr(cls, "__abstractmethods__", ())):
        stub = _unimplemented(name)
        setattr(cls, name, property(stub) if name == "driver_version" else stub)
    abc.update_abstractmethods(cls)


_fill_unimplemented(FakeNidaq)
