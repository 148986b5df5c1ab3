"""The NI-DAQmx rig: hardware-timed, sample-exact sweeps on one NI board.

One task set per sweep. The AI task is the master: it runs a finite sample clock, and the
AO task (command, plus the stimulation pulses when ``channels.stim.kind = "ao"``) and the
DO task (stimulation TTL) take ``/<device>/ai/SampleClock`` as their sample clock. The
full output buffers are written before anything starts; the slave tasks start first, so
they are waiting for the first clock edge when the AI task starts. Vm is read in chunks
of ``chunk_ms`` while the sweep runs.

Every compiled waveform ends at rest, so a completed sweep leaves the outputs at 0 V /
TTL low. After an abort or a failure in any step, every task is stopped, then every task
is closed (each step guarded on its own: an unclosed task keeps its channels reserved,
and the next sweep would fail with error -50103), then 0 V and TTL low are written once
with short on-demand tasks. The same rest write runs at interpreter exit.
"""

from __future__ import annotations

import atexit
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from rigctl.hardware.base import (
    Chunk,
    ChunkCallback,
    PreparedSweep,
    RigError,
    SweepResult,
    prepare_checked,
    recheck_prepared,
    take_latched_abort,
)
from rigctl.hardware.definition import RigDefinition
from rigctl.hardware.nidaq._driver import (
    AcquisitionType,
    AnalogMultiChannelWriter,
    AnalogSingleChannelReader,
    AnalogSingleChannelWriter,
    DigitalSingleChannelWriter,
    Edge,
    LineGrouping,
    TerminalConfiguration,
    VoltageUnits,
    describe,
    is_driver_error,
    new_task,
    translate,
)
from rigctl.hardware.nidaq.devices import DeviceInfo, validate_device
from rigctl.protocol import CompiledSweep, Waveforms

__all__ = ["NidaqRig"]

_log = logging.getLogger(__name__)

READ_TIMEOUT_MARGIN_S = 10.0
"""Added to each chunk's duration as the AI read timeout (covers start-up latency)."""

LOCK_TIMEOUT_S = 30.0
"""How long ``safe_state`` waits for a running sweep to wind down before writing anyway."""

_TERMINAL_CONFIG: dict[str, Any] = {
    "differential": TerminalConfiguration.DIFF,
    "rse": TerminalConfiguration.RSE,
    "nrse": TerminalConfiguration.NRSE,
    "pseudodifferential": TerminalConfiguration.PSEUDO_DIFF,
}


@dataclass
class _Problem:
    """A step that failed: what was being done and the exception."""

    step: str
    exc: BaseException

    def text(self) -> str:
        return describe(self.exc, self.step)


class _Progress:
    """The step a sweep is at (for error messages)."""

    def __init__(self) -> None:
        self.step = "starting the sweep"


def _finite_timing(task: Any, fs: float, n: int, source: str) -> None:
    """Clock ``task`` for ``n`` samples at ``fs`` from ``source`` ("": its own clock)."""
    task.timing.cfg_samp_clk_timing(
        fs,
        source=source,
        active_edge=Edge.RISING,
        sample_mode=AcquisitionType.FINITE,
        samps_per_chan=n,
    )


def _add_ao_volts(task: Any, terminal: str, range_v: float) -> None:
    """Add the AO voltage channel ``terminal`` with the output range ±``range_v``."""
    task.ao_channels.add_ao_voltage_chan(
        terminal, min_val=-range_v, max_val=range_v, units=VoltageUnits.VOLTS
    )


def _add_do_line(task: Any, terminal: str) -> None:
    """Add the DO line ``terminal`` (the TTL), one channel per line."""
    task.do_channels.add_do_chan(terminal, line_grouping=LineGrouping.CHAN_PER_LINE)


class NidaqRig:
    """A rig on one NI-DAQmx board (X-series, or M-series with the TTL on port0).

    Opening the rig checks the device (:func:`~rigctl.hardware.nidaq.validate_device`):
    it exists, the rig file's terminals are its channels, and it can hardware-time the
    stimulation line.

    Parameters
    ----------
    definition
        The rig file (``backend = "nidaq"``).

    Raises
    ------
    RigError
        If the NI-DAQmx driver is missing (the message points to the simulated rig), the
        device is absent, or it cannot run this rig file.
    """

    def __init__(self, definition: RigDefinition) -> None:
        self.definition = definition
        self.device: DeviceInfo = validate_device(definition)
        self._lock = threading.RLock()
        self._abort = threading.Event()
        self._running = False
        self._closed = False
        atexit.register(self._at_exit)

    # ------------------------------------------------------------------ Rig protocol

    def prepare(self, source: CompiledSweep | Waveforms, label: str = "sweep") -> PreparedSweep:
        """Render ``source`` at the rig's rate and check it against the rig's limits.

        Raises
        ------
        LimitError
            Naming the limit, if the sweep exceeds one; nothing is output.
        """
        return prepare_checked(self.definition, source, label)

    def run(
        self,
        prepared: PreparedSweep,
        on_chunk: ChunkCallback | None = None,
        *,
        at_s: float | None = None,
    ) -> SweepResult:
        """Play ``prepared`` hardware-timed and return Vm with the outputs written.

        Parameters
        ----------
        prepared
            A sweep from :meth:`prepare`.
        on_chunk
            Called with each chunk of Vm (``chunk_ms`` of the rig file) as it is read, on
            the calling thread. An exception it raises ends the sweep (outputs to rest) and
            propagates.
        at_s
            Experiment time of the sweep, recorded in the result.

        Returns
        -------
        SweepResult
            ``complete`` is False if :meth:`abort` stopped the sweep early; then Vm and
            the outputs hold the samples acquired.

        Raises
        ------
        RigError
            If NI-DAQmx fails at any step: the message names the step and the NI error
            code, and :class:`~rigctl.hardware.nidaq.NidaqError` carries both. Outputs are
            at rest afterwards unless the message says they could not be set to rest.
        """
        recheck_prepared(self.definition, prepared)  # rate and limits, again: nothing output yet
        with self._lock:
            if self._closed:
                raise RigError(f"the NI rig {self.definition.name!r} is closed")
            if take_latched_abort(self._abort):
                return self._not_started(prepared, at_s)
            self._running = True
            tasks: dict[str, Any] = {}
            progress = _Progress()
            result: SweepResult | None = None
            error: BaseException | None = None
            try:
                result = self._acquire(tasks, progress, prepared, on_chunk, at_s)
            except BaseException as exc:  # cleanup must run even on KeyboardInterrupt
                error = exc
            try:
                cleanup = self._teardown(tasks)
                rest: list[_Problem] | None = None
                if error is not None or cleanup or result is None or not result.complete:
                    rest = self._write_rest()
            finally:
                self._running = False
            if error is None and cleanup:
                error, progress.step = cleanup[0].exc, cleanup[0].step
                cleanup = cleanup[1:]
            if result is not None and not result.complete:
                self._abort.clear()  # honoured: the request is consumed by this sweep
            if error is not None:
                failure = self._failure(error, progress.step, prepared.label, cleanup, rest)
                if failure is error:
                    raise error
                raise failure from error
            assert result is not None
            return result

    def abort(self) -> None:
        """Stop the running sweep before its next chunk read (callable from any thread).

        The request is latched: it is consumed by the sweep it stops (the one running, or
        the next one, which then starts no task), never cleared by a sweep's start.
        """
        self._abort.set()

    def clear_abort(self) -> None:
        """Forget an abort request no sweep has honoured (a new run starts afresh)."""
        self._abort.clear()

    def _not_started(self, prepared: PreparedSweep, at_s: float | None) -> SweepResult:
        return SweepResult(
            label=prepared.label,
            sample_rate_hz=prepared.sample_rate_hz,
            vm_mv=np.zeros(0),
            command_pa=np.zeros(0),
            stim=np.zeros(0, dtype=np.uint8),
            started_at=datetime.now(UTC),
            settings=self.definition.settings_record(),
            complete=False,
            at_s=at_s,
            extra={"device": self.device.name, "aborted_at_sample": 0},
        )

    def safe_state(self) -> None:
        """Write 0 V to the command (and an AO stim) and TTL low, with on-demand tasks.

        A running sweep is aborted first (its own cleanup rests the outputs too).

        Raises
        ------
        RigError
            If an output could not be set to rest.
        """
        if self._running:
            self.abort()
        locked = self._lock.acquire(timeout=LOCK_TIMEOUT_S)
        try:
            problems = self._write_rest()
        finally:
            if locked:
                self._lock.release()
        if problems:
            first, *others = problems
            also = f" (also {'; '.join(p.text() for p in others)})" if others else ""
            raise translate(
                first.exc,
                first.step,
                prefix="the outputs could not be set to rest: ",
                suffix=f"{also}; check the amplifier command and the stimulus isolator",
            ) from first.exc

    def close(self) -> None:
        """Put the outputs at rest and refuse further sweeps (idempotent)."""
        if self._closed:
            return
        try:
            self.safe_state()
        finally:
            self._closed = True
            atexit.unregister(self._at_exit)

    @property
    def running(self) -> bool:
        """Whether a sweep is being played."""
        return self._running

    # ------------------------------------------------------------------ sweep

    def _acquire(
        self,
        tasks: dict[str, Any],
        progress: _Progress,
        prepared: PreparedSweep,
        on_chunk: ChunkCallback | None,
        at_s: float | None,
    ) -> SweepResult:
        d = self.definition
        fs = prepared.sample_rate_hz
        n = prepared.n_samples
        ai, ao, do = self._configure(tasks, progress, fs, n)
        started = self._write_and_start(progress, prepared, ai, ao, do)
        vm_v, vm_mv, acquired, chunks = self._read(progress, ai, fs, n, on_chunk)
        progress.step = "finishing the sweep"
        complete = acquired == n
        at_range = (
            float(np.max(np.abs(vm_v[:acquired]))) >= 0.999 * d.channels.vm.range_v
            if acquired
            else False
        )
        extra: dict[str, Any] = {
            "device": self.device.name,
            "product_type": self.device.product_type,
            "chunks": chunks,
            "vm_at_ai_range": bool(at_range),
        }
        if not complete:
            extra["aborted_at_sample"] = acquired
        return SweepResult(
            label=prepared.label,
            sample_rate_hz=fs,
            vm_mv=vm_mv[:acquired].copy(),
            command_pa=np.array(prepared.command_pa[:acquired]),
            stim=np.array(prepared.stim[:acquired]),
            started_at=started,
            settings=d.settings_record(),
            complete=complete,
            at_s=at_s,
            extra=extra,
        )

    def _configure(
        self, tasks: dict[str, Any], progress: _Progress, fs: float, n: int
    ) -> tuple[Any, Any, Any]:
        """Create the AI, AO (and DO) tasks, AO and DO clocked from the AI sample clock."""
        d = self.definition
        ch = d.channels
        clock = f"/{d.device}/ai/SampleClock"

        def step(text: str) -> None:
            progress.step = text

        step("creating the AI task")
        ai = tasks["AI"] = new_task()
        step(f"adding AI channel {ch.vm.terminal}")
        ai.ai_channels.add_ai_voltage_chan(
            ch.vm.terminal,
            terminal_config=_TERMINAL_CONFIG[ch.vm.terminal_config],
            min_val=-ch.vm.range_v,
            max_val=ch.vm.range_v,
            units=VoltageUnits.VOLTS,
        )
        step("configuring the AI sample clock")
        _finite_timing(ai, fs, n, "")

        step("creating the AO task")
        ao = tasks["AO"] = new_task()
        step(f"adding AO channel {ch.command.terminal}")
        _add_ao_volts(ao, ch.command.terminal, ch.command.range_v)
        if ch.stim.kind == "ao":
            step(f"adding AO channel {ch.stim.terminal}")
            _add_ao_volts(ao, ch.stim.terminal, ch.stim.high_v)
        step(f"clocking the AO task from {clock}")
        _finite_timing(ao, fs, n, clock)
        do = None
        if ch.stim.kind == "do":
            step("creating the DO task")
            do = tasks["DO"] = new_task()
            step(f"adding DO line {ch.stim.terminal}")
            _add_do_line(do, ch.stim.terminal)
            step(f"clocking the DO task from {clock}")
            _finite_timing(do, fs, n, clock)
        return ai, ao, do

    def _write_and_start(
        self, progress: _Progress, prepared: PreparedSweep, ai: Any, ao: Any, do: Any
    ) -> datetime:
        """Write the output buffers, start AO and DO (waiting for the clock), then AI."""
        ch = self.definition.channels
        command_v = np.ascontiguousarray(
            prepared.command_pa / ch.command.scale_pa_per_v, dtype=np.float64
        )
        stim_high = np.ascontiguousarray(prepared.stim != 0)
        progress.step = "writing the AO buffer"
        if ch.stim.kind == "ao":
            both = np.ascontiguousarray(np.vstack([command_v, stim_high * ch.stim.high_v]))
            AnalogMultiChannelWriter(ao.out_stream, auto_start=False).write_many_sample(both)
        else:
            AnalogSingleChannelWriter(ao.out_stream, auto_start=False).write_many_sample(command_v)
        if do is not None:
            progress.step = "writing the DO buffer"
            do.write(stim_high, auto_start=False)

        progress.step = "starting the AO task"
        ao.start()
        if do is not None:
            progress.step = "starting the DO task"
            do.start()
        progress.step = "starting the AI task"
        started = datetime.now(UTC)
        ai.start()
        return started

    def _read(
        self,
        progress: _Progress,
        ai: Any,
        fs: float,
        n: int,
        on_chunk: ChunkCallback | None,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], int, int]:
        """Read Vm chunk by chunk until the sweep ends or is aborted.

        Returns Vm in volts and in mV, the samples acquired and the chunks delivered.
        """
        d = self.definition
        vpm = d.vm_volts_per_mv
        chunk = max(1, round(d.chunk_ms * fs / 1000.0))
        timeout = chunk / fs + READ_TIMEOUT_MARGIN_S
        reader = AnalogSingleChannelReader(ai.in_stream)
        vm_v = np.empty(n, dtype=np.float64)
        vm_mv = np.empty(n, dtype=np.float64)
        acquired = 0
        chunks = 0
        while acquired < n:
            if self._abort.is_set():
                break
            k = min(chunk, n - acquired)
            buf = np.empty(k, dtype=np.float64)
            progress.step = f"reading Vm (samples {acquired}-{acquired + k} of {n})"
            got = int(
                reader.read_many_sample(buf, number_of_samples_per_channel=k, timeout=timeout)
            )
            if got <= 0:
                continue
            start = acquired
            acquired += got
            vm_v[start:acquired] = buf[:got]
            vm_mv[start:acquired] = buf[:got] / vpm
            chunks += 1
            if on_chunk is not None:
                progress.step = "delivering a chunk"
                view = vm_mv[start:acquired]
                view.flags.writeable = False
                on_chunk(Chunk(start, view, fs, n))
        return vm_v, vm_mv, acquired, chunks

    # ------------------------------------------------------------------ cleanup

    @staticmethod
    def _teardown(tasks: dict[str, Any]) -> list[_Problem]:
        """Stop every task, then close every task; one failure never skips another."""
        problems: list[_Problem] = []
        for name, task in tasks.items():
            try:
                task.stop()
            except Exception as exc:
                problems.append(_Problem(f"stopping the {name} task", exc))
        for name, task in tasks.items():
            try:
                task.close()
            except Exception as exc:
                problems.append(_Problem(f"closing the {name} task", exc))
        tasks.clear()
        return problems

    def _write_rest(self) -> list[_Problem]:
        """Write 0 V to the command (and AO stim) and TTL low, each in its own task."""
        ch = self.definition.channels
        problems: list[_Problem] = []

        def on_demand(what: str, fill: Any) -> None:
            try:
                task = new_task()
            except Exception as exc:
                problems.append(_Problem(what, exc))
                return
            try:
                fill(task)
            except Exception as exc:
                problems.append(_Problem(what, exc))
            finally:
                try:
                    task.close()
                except Exception as exc:
                    problems.append(_Problem(f"closing the task {what}", exc))

        def command_to_zero(task: Any) -> None:
            _add_ao_volts(task, ch.command.terminal, ch.command.range_v)
            if ch.stim.kind == "ao":
                _add_ao_volts(task, ch.stim.terminal, ch.stim.high_v)
                AnalogMultiChannelWriter(task.out_stream, auto_start=True).write_one_sample(
                    np.zeros(2)
                )
            else:
                AnalogSingleChannelWriter(task.out_stream, auto_start=True).write_one_sample(0.0)

        def ttl_low(task: Any) -> None:
            _add_do_line(task, ch.stim.terminal)
            DigitalSingleChannelWriter(task.out_stream, auto_start=True).write_one_sample_one_line(
                False
            )

        outputs = (
            f"{ch.command.terminal} and {ch.stim.terminal}"
            if ch.stim.kind == "ao"
            else ch.command.terminal
        )
        on_demand(f"writing 0 V to {outputs}", command_to_zero)
        if ch.stim.kind == "do":
            on_demand(f"setting {ch.stim.terminal} low", ttl_low)
        return problems

    @staticmethod
    def _failure(
        exc: BaseException,
        step: str,
        label: str,
        cleanup: list[_Problem],
        rest: list[_Problem] | None,
    ) -> BaseException:
        """The exception to raise: nidaqmx errors become a one-sentence :class:`RigError`.

        Other exceptions (from ``on_chunk``, say) are raised as they are, with the cleanup
        problems added as notes.
        """
        if rest is None:
            outcome = ""
        elif rest:
            outcome = (
                "; the outputs could NOT be set to rest ("
                + "; ".join(p.text() for p in rest)
                + "): check the amplifier command and the stimulus isolator"
            )
        else:
            outcome = "; outputs set to rest (0 V, TTL low)"
        also = f" (also {'; '.join(p.text() for p in cleanup)})" if cleanup else ""
        if is_driver_error(exc):
            return translate(exc, step, prefix=f"{label}: ", suffix=also + outcome)
        for problem in cleanup:
            exc.add_note(problem.text())
        if outcome:
            exc.add_note(outcome.removeprefix("; "))
        return exc

    def _at_exit(self) -> None:
        self._abort.set()
        try:
            self.safe_state()
        except Exception:
            _log.exception(
                "NI rig %r: could not set the outputs to rest at exit", self.definition.name
            )
