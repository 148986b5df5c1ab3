"""The rig interface shared by every backend, and the safety checks before any output.

A backend implements :class:`Rig`: ``prepare`` turns compiled waveforms into a
:class:`PreparedSweep` after checking them against the rig's limits (nothing is output
before that), ``run`` plays it hardware-timed while delivering the membrane potential in
chunks, ``abort`` stops a running sweep from another thread, and ``safe_state`` puts every
output at rest (0 pA, TTL low). Backends guarantee the safe state after success, stop,
abort, an exception in any step, and interpreter exit.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from rigctl.hardware.definition import Limits, RigDefinition
from rigctl.protocol import CompiledSweep, Waveforms

__all__ = [
    "Chunk",
    "ChunkCallback",
    "LimitError",
    "PacedRig",
    "PreparedSweep",
    "Rig",
    "RigError",
    "StatefulRig",
    "SweepAborted",
    "SweepResult",
    "check_amplifier",
    "check_intensity",
    "check_limits",
    "prepare_checked",
    "pulse_edges",
    "recheck_prepared",
    "take_latched_abort",
]

FloatArray = npt.NDArray[np.float64]
ByteArray = npt.NDArray[np.uint8]


class RigError(RuntimeError):
    """A rig could not do what was asked; the message is one sentence for the user."""


class LimitError(RigError):
    """A sweep exceeds a safety limit of the rig; nothing was output."""

    def __init__(self, limit: str, message: str) -> None:
        self.limit = limit
        super().__init__(message)


class SweepAborted(RigError):  # noqa: N818 - reads as what happened
    """A sweep was aborted; outputs are at rest and ``result`` holds what was acquired."""

    def __init__(self, message: str, result: SweepResult | None = None) -> None:
        self.result = result
        super().__init__(message)


@dataclass(frozen=True, eq=False)
class PreparedSweep:
    """Waveforms checked against the rig's limits, ready to run.

    ``sweep`` is the compiled sweep the waveforms came from, when there is one (it carries
    the theta windows that the simulated synapse needs for its plasticity).
    """

    label: str
    sample_rate_hz: float
    command_pa: FloatArray
    stim: ByteArray
    sweep: CompiledSweep | None = None

    @property
    def n_samples(self) -> int:
        """Samples per channel."""
        return int(self.stim.shape[0])

    @property
    def duration_s(self) -> float:
        """Sweep length (s)."""
        return self.n_samples / self.sample_rate_hz


@dataclass(frozen=True, eq=False)
class Chunk:
    """A piece of a running sweep: ``vm_mv`` starting at sample ``start``."""

    start: int
    vm_mv: FloatArray
    sample_rate_hz: float
    n_total: int

    @property
    def stop(self) -> int:
        """Index after the last sample of the chunk."""
        return self.start + int(self.vm_mv.shape[0])

    @property
    def fraction_done(self) -> float:
        """How much of the sweep has been acquired (0-1)."""
        return self.stop / self.n_total if self.n_total else 1.0


ChunkCallback = Callable[[Chunk], None]


@dataclass(frozen=True, eq=False)
class SweepResult:
    """One acquired sweep: Vm and what was actually written, with the rig's settings.

    ``complete`` is False when the sweep was aborted; then ``vm_mv`` holds only the
    samples acquired. ``extra`` holds backend-specific information (the simulated rig puts
    its spike times and synaptic weight there).
    """

    label: str
    sample_rate_hz: float
    vm_mv: FloatArray
    command_pa: FloatArray
    stim: ByteArray
    started_at: datetime
    settings: dict[str, Any]
    complete: bool = True
    at_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        """Samples of Vm acquired."""
        return int(self.vm_mv.shape[0])

    @property
    def t_s(self) -> FloatArray:
        """Sample times (s) from the sweep start."""
        return np.arange(self.n_samples, dtype=np.float64) / self.sample_rate_hz


@runtime_checkable
class Rig(Protocol):
    """What every rig backend provides."""

    definition: RigDefinition

    def prepare(self, source: CompiledSweep | Waveforms, label: str = "sweep") -> PreparedSweep:
        """Render and check a sweep; raise :class:`LimitError` naming the limit if refused."""
        ...

    def run(
        self,
        prepared: PreparedSweep,
        on_chunk: ChunkCallback | None = None,
        *,
        at_s: float | None = None,
    ) -> SweepResult:
        """Play the sweep, deliver Vm in chunks, return the result; outputs end at rest."""
        ...

    def abort(self) -> None:
        """Stop a running sweep as soon as possible (callable from any thread).

        Latched: a request that arrives between sweeps stops the next one before it
        outputs anything; a sweep's start never clears it.
        """
        ...

    def safe_state(self) -> None:
        """Put every output at rest: 0 pA command, TTL low."""
        ...

    def close(self) -> None:
        """Release the hardware after putting it at rest."""
        ...


@runtime_checkable
class PacedRig(Protocol):
    """A rig that can play sweeps faster than real time (a simulation).

    A real rig is always hardware-timed and does not implement this; callers ask
    ``isinstance(rig, PacedRig)`` instead of naming a backend.
    """

    def set_paced(self, paced: bool) -> None:
        """Deliver chunks in real time (``True``) or as fast as possible (``False``)."""
        ...


@runtime_checkable
class StatefulRig(Protocol):
    """A rig whose preparation (the simulated cell) can be kept across commands."""

    def state(self) -> dict[str, float | int]:
        """Plain data (JSON-able) describing the preparation now."""
        ...

    def restore_state(self, state: Mapping[str, float | int], *, elapsed_s: float = 0.0) -> None:
        """Go back to ``state``, then let ``elapsed_s`` of experiment time pass."""
        ...


def pulse_edges(stim: ByteArray) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Rising and falling edge sample indices of a 0/1 TTL array."""
    padded = np.concatenate(([0], stim.astype(np.int8), [0]))
    d = np.diff(padded)
    return np.flatnonzero(d > 0), np.flatnonzero(d < 0)


def check_intensity(definition: RigDefinition, ua: float) -> float:
    """Return ``ua`` if the isolator may be set to it; else raise one clear sentence.

    Raises
    ------
    LimitError
        If ``ua`` is not a number between 0 and the rig's ``max_intensity_ua``.
    """
    limit = definition.stimulator.max_intensity_ua
    if not isinstance(ua, int | float) or not math.isfinite(ua) or ua < 0 or ua > limit:
        raise LimitError(
            "max_intensity_ua",
            f"a stimulus intensity of {ua!r} µA is outside the isolator's range "
            f"0-{limit:g} µA (stimulator.max_intensity_ua in the rig file)",
        )
    return float(ua)


def check_limits(
    command_pa: FloatArray, stim: ByteArray, sample_rate_hz: float, limits: Limits, label: str
) -> None:
    """Refuse a sweep that exceeds any limit, naming it; return silently otherwise."""
    n = stim.shape[0]
    if command_pa.shape != stim.shape:
        raise RigError(f"{label}: command and stim waveforms differ in length")
    if n == 0:
        raise RigError(f"{label}: the sweep has no samples")
    if not np.all(np.isfinite(command_pa)):
        raise LimitError("max_command_pa", f"{label}: the command holds non-finite values")
    duration_s = n / sample_rate_hz
    if duration_s > limits.max_sweep_s:
        raise LimitError(
            "max_sweep_s",
            f"{label}: the sweep lasts {duration_s:g} s, over the rig's limit "
            f"max_sweep_s = {limits.max_sweep_s:g} s",
        )
    peak = max(float(command_pa.max()), -float(command_pa.min()))  # no |x| temporary
    if peak > limits.max_command_pa + 1e-9:
        raise LimitError(
            "max_command_pa",
            f"{label}: the command reaches {peak:g} pA, over the rig's limit "
            f"max_command_pa = {limits.max_command_pa:g} pA",
        )
    if command_pa[-1] != 0.0 or stim[-1] != 0:
        raise RigError(f"{label}: the waveforms do not end at rest (0 pA, TTL low)")
    on, off = pulse_edges(stim)
    if on.size == 0:
        return
    widths_us = (off - on) / sample_rate_hz * 1e6
    widest = float(widths_us.max())
    if widest > limits.max_pulse_width_us + 1e-9:
        raise LimitError(
            "max_pulse_width_us",
            f"{label}: a stimulation pulse lasts {widest:g} µs, over the rig's limit "
            f"max_pulse_width_us = {limits.max_pulse_width_us:g} µs",
        )
    if on.size > 1:
        gaps_ms = np.diff(on) / sample_rate_hz * 1e3
        shortest = float(gaps_ms.min())
        rate = 1000.0 / shortest
        if rate > limits.max_stim_rate_hz * (1 + 1e-9):
            raise LimitError(
                "max_stim_rate_hz",
                f"{label}: pulses come at up to {rate:.4g} Hz, over the rig's limit "
                f"max_stim_rate_hz = {limits.max_stim_rate_hz:g} Hz",
            )
        if shortest < limits.min_interpulse_ms - 1e-9:
            raise LimitError(
                "min_interpulse_ms",
                f"{label}: two pulses are {shortest:g} ms apart, under the rig's limit "
                f"min_interpulse_ms = {limits.min_interpulse_ms:g} ms",
            )
    duty = float(np.count_nonzero(stim)) / n
    if duty > limits.max_duty_cycle + 1e-12:
        raise LimitError(
            "max_duty_cycle",
            f"{label}: the stimulation line is high {duty:.3%} of the sweep, over the rig's "
            f"limit max_duty_cycle = {limits.max_duty_cycle:.3%}",
        )


CURRENT_CLAMP_MODE = "I-Clamp"
"""The amplifier mode every rigctl protocol needs (it commands current, reads Vm)."""


def check_amplifier(definition: RigDefinition, label: str = "sweep") -> None:
    """Refuse a sweep when the rig file says the amplifier is not in current clamp.

    ``amplifier.mode``: in V-Clamp the command would be read as a voltage, in I=0 it
    would be ignored while the protocol believes it was injected.
    """
    mode = definition.amplifier.mode
    if mode != CURRENT_CLAMP_MODE:
        raise LimitError(
            "amplifier.mode",
            f"{label}: the rig's amplifier is in {mode} mode (amplifier.mode in the rig file), "
            f"but rigctl protocols are current clamp; switch the amplifier to "
            f'{CURRENT_CLAMP_MODE} and set mode = "{CURRENT_CLAMP_MODE}" in the rig file',
        )


def recheck_prepared(definition: RigDefinition, prepared: PreparedSweep) -> None:
    """The last line of defence, run by every backend's ``run`` before the first sample.

    Checks the prepared arrays themselves (not how they were made) against the rig they
    are about to be played on: sample rate, array types, amplifier mode and every limit.
    A :class:`PreparedSweep` built by hand, or prepared for another rig, is refused here.

    Raises
    ------
    LimitError, RigError
        Naming the limit; nothing has been output.
    """
    label = prepared.label
    if prepared.sample_rate_hz != definition.sample_rate_hz:
        raise RigError(
            f"{label}: prepared at {prepared.sample_rate_hz:g} Hz, but the rig "
            f"samples at {definition.sample_rate_hz:g} Hz"
        )
    command, stim = prepared.command_pa, prepared.stim
    if not (
        isinstance(command, np.ndarray)
        and isinstance(stim, np.ndarray)
        and command.dtype == np.float64
        and stim.dtype == np.uint8
        and command.ndim == 1
        and stim.ndim == 1
    ):
        raise RigError(f"{label}: the waveforms are not 1-D float64 command / uint8 TTL arrays")
    if stim.size and int(stim.max()) > 1:
        raise RigError(f"{label}: the TTL waveform holds values other than 0 and 1")
    check_amplifier(definition, label)
    check_limits(command, stim, definition.sample_rate_hz, definition.limits, label)


def take_latched_abort(abort: threading.Event) -> bool:
    """Consume an abort latched before a sweep began (then the backend outputs nothing).

    Every backend's ``run`` calls this once, under its lock, before the first sample; a
    request that arrives later stops the sweep between chunks instead.
    """
    if not abort.is_set():
        return False
    abort.clear()
    return True


def prepare_checked(
    definition: RigDefinition, source: CompiledSweep | Waveforms, label: str
) -> PreparedSweep:
    """Render ``source`` at the rig's sample rate and check it against the rig's limits."""
    fs = definition.sample_rate_hz
    check_amplifier(definition, label)
    if isinstance(source, CompiledSweep):
        sweep: CompiledSweep | None = source
        wave = source.waveforms(fs)
    else:
        sweep = None
        wave = source
        if not math.isclose(wave.sample_rate_hz, fs):
            raise RigError(
                f"{label}: waveforms at {wave.sample_rate_hz:g} Hz, "
                f"but the rig samples at {fs:g} Hz"
            )
    command = np.ascontiguousarray(wave.command_pa, dtype=np.float64)
    stim = np.ascontiguousarray(wave.stim, dtype=np.uint8)
    check_limits(command, stim, fs, definition.limits, label)
    command.flags.writeable = False
    stim.flags.writeable = False
    return PreparedSweep(label=label, sample_rate_hz=fs, command_pa=command, stim=stim, sweep=sweep)
