r"""The experiment runner: baseline -> induction -> follow-up, as an explicit state machine.

The runner drives any :class:`~rigctl.hardware.Rig` through the compiled experiment on a
worker thread, analyses every sweep as it arrives, hands completed sweeps to a writer
thread (disk I/O never delays acquisition), and reports through plain-Python signals.

The sweeps are the compiled experiment's schedule (:func:`rigctl.protocol.compile_experiment`,
the same objects ``rigctl show`` counts); a manual induction or an extended follow-up
re-plans the remaining sweeps from the compiled offsets. Every sweep keeps its planned
time and its actual start (monotonic seconds since the run began, and UTC wall-clock).
The state is the segment, lifecycle and finish reason of :mod:`rigctl.engine.lifecycle`.

* ``pause``/``resume``: no new sweep starts while paused; probes whose slot passed are
  skipped (journaled and counted), never played late; the next one keeps its slot.
* ``stop``: finish the sweep in flight, then end; the record is complete and valid.
* ``abort``: stop the sweep in flight now and end; the record is marked aborted.
* ``halt``: put the outputs at rest immediately from the calling thread, then abort.

Waits between probes are cooperative: every control call wakes them. Cleanup always runs,
each step guarded on its own: the rig is put at rest, the writer drains and finishes the
folder, and the NWB file is written when the run ended normally.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rigctl import protocol as proto
from rigctl.engine.analysis import (
    SPIKE_FLAG,
    AnalysisSettings,
    ProbeAnalysis,
    analyze_probe,
    check_baseline,
    health_flags,
    induction_note,
    summarize_recording,
    windows_delivered,
)
from rigctl.engine.current_calibration import calibrate_experiment
from rigctl.engine.journal import AsyncWriter, DataFolderError, RecordingWriter, SweepRecord
from rigctl.engine.lifecycle import Change, FinishReason, Lifecycle, RunControl, RunState, Segment
from rigctl.engine.measures import probe_measures
from rigctl.engine.preflight import needs_calibration, preflight
from rigctl.engine.rinwatch import RinStopSettings, RinWatch
from rigctl.engine.setup import SetupRecord
from rigctl.engine.signals import Signal
from rigctl.engine.spikes import phase_rates
from rigctl.hardware import Chunk, PreparedSweep, Rig, RigError, SweepResult

__all__ = ["ExperimentRunner", "RunOptions", "RunResult", "RunState", "RunStatus"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    """How to run an experiment.

    Attributes
    ----------
    fast
        Do not wait between sweeps (experiment time is virtual): dry runs on the
        simulated rig. On a real rig, leave it off.
    auto_induction
        Start the induction when the baseline time is over; otherwise keep probing until
        :meth:`ExperimentRunner.start_induction` is called.
    calibrate
        ``"missing"``: calibrate the currents before the baseline when any phase has none;
        ``"always"``; ``"never"``.
    write_nwb
        Export ``recording.nwb`` at the end of the run.
    analysis
        Windows and thresholds of the online analysis.
    subject, session
        Metadata for the NWB file (subject id, species, ...; experimenter, lab, ...).
    setup
        What the set-up found (currents, intensity, test pulse, set-up time, slice and
        cell); written into ``recording.json``, the journal and the NWB file.
    rin_stop
        Stop the follow-up when Rin leaves its band for N consecutive probes (None: off).
    """

    fast: bool = False
    auto_induction: bool = True
    calibrate: str = "missing"
    write_nwb: bool = True
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    subject: dict[str, str] = field(default_factory=dict)
    session: dict[str, str] = field(default_factory=dict)
    setup: SetupRecord | None = None
    rin_stop: RinStopSettings | None = None


@dataclass(frozen=True)
class RunStatus:
    """A consistent snapshot of the run, safe to read from any thread.

    ``state`` is what a user sees; ``segment``, ``lifecycle`` and ``finish_reason`` are
    the three pieces of state it is derived from. ``skipped_probes`` counts the probes
    whose slot passed while the run was paused (they are journaled, never played late).
    """

    state: RunState
    sweeps_done: int
    sweeps_planned: int
    segment: str
    experiment_time_s: float
    remaining_s: float
    since_induction_s: float | None
    last_epsp_mv: float | None
    last_normalized: float | None
    message: str = ""
    lifecycle: str = "idle"
    finish_reason: str | None = None
    skipped_probes: int = 0
    pauses: int = 0
    paused_s: float = 0.0

    @property
    def fraction(self) -> float:
        """Progress 0-1."""
        return self.sweeps_done / self.sweeps_planned if self.sweeps_planned else 0.0


@dataclass(frozen=True)
class RunResult:
    """How the run ended and what it produced."""

    state: RunState
    folder: Path
    sweeps: int
    summary: dict[str, Any]
    message: str = ""
    nwb_path: Path | None = None


class _StopRunError(Exception):
    """Internal: leave the acquisition loop (stop, abort)."""


@dataclass(frozen=True)
class _Slot:
    """One sweep of the plan: what, where and when (s since the run began)."""

    kind: str
    segment: Segment
    planned_s: float


class ExperimentRunner:
    """Runs one recording on a rig.

    Parameters
    ----------
    rig
        Any backend implementing :class:`~rigctl.hardware.Rig`.
    experiment
        The experiment to run.
    folder
        The (new or empty) data folder.
    options
        See :class:`RunOptions`.
    rig_text
        The rig file's text, kept in the data folder.
    clock
        Monotonic time source (s); injected by tests.
    sleep
        How to let time pass between sweeps (tests: advance a fake ``clock``); by default
        a wait that every control call interrupts.

    Attributes
    ----------
    before_sweep
        Called on the runner's thread with the sweep kind after the last check and just
        before ``rig.run`` (tests park the runner there to race requests against it).
    """

    def __init__(
        self,
        rig: Rig,
        experiment: proto.Experiment,
        folder: str | Path,
        options: RunOptions | None = None,
        *,
        rig_text: str = "",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.rig = rig
        self.experiment = experiment
        self.folder = Path(folder)
        self.options = RunOptions() if options is None else options
        self.rig_text = rig_text
        self._clock = clock
        self._sleep = sleep
        self.before_sweep: Callable[[str], None] | None = None
        # signals
        self.state_changed: Signal[RunState] = Signal("state_changed")
        self.sweep_acquired: Signal[SweepRecord] = Signal("sweep_acquired")
        self.analysis_updated: Signal[dict[str, Any]] = Signal("analysis_updated")
        self.progress: Signal[RunStatus] = Signal("progress")
        self.warning: Signal[str] = Signal("warning")
        self.chunk: Signal[Chunk] = Signal("chunk")
        self.finished: Signal[RunResult] = Signal("finished")
        # control: state and latched requests behind one lock
        self._ctl = RunControl()
        self._lock = self._ctl.lock
        self._extra_followup = 0
        self._thread: threading.Thread | None = None
        self._result: RunResult | None = None
        self._journal_open = False
        # time
        self._t0: float | None = None
        self._virtual = 0.0
        self._resumed_at: float | None = None
        # progress
        self._done = 0
        self._planned = 0
        self._t_exp = 0.0
        self._t_ind: float | None = None
        self._last_epsp: float | None = None
        self._last_norm: float | None = None
        self._message = ""
        self._skipped = 0
        self._pauses = 0
        self._paused_s = 0.0
        self._writer: AsyncWriter | None = None
        # analysis state
        self._baseline: list[ProbeAnalysis] = []
        self._baseline_times: list[float] = []
        self._probe_at: list[float] = []
        self._probe_epsps: list[float] = []
        self._rin_watch = RinWatch(self.options.rin_stop) if self.options.rin_stop else None
        self._stop_reason = ""
        self._probe_spiked: list[bool] = []
        self._induction: dict[str, Any] | None = None

    # ------------------------------------------------------------------ control API

    def start(self) -> None:
        """Start the run on a worker thread."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("this runner has already been started")
            self._thread = threading.Thread(target=self.run, name="rigctl-runner", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> RunResult | None:
        """Wait for the run to end; returns its result (None on timeout)."""
        t = self._thread
        if t is not None:
            t.join(timeout)
            if t.is_alive():
                return None
        return self._result

    def pause(self) -> None:
        """No new sweep starts until :meth:`resume` (journaled; the sweep in flight ends)."""
        self._ctl.request("pause")
        self._journal("pause")

    def resume(self) -> None:
        """Continue after :meth:`pause`; probes whose slot passed are skipped, not caught up."""
        self._ctl.request("resume")
        self._journal("resume")

    def stop(self) -> None:
        """Finish the sweep in flight, then end the run (the record stays valid)."""
        change = self._ctl.request("stop")
        self._journal("stop")
        self._report(change)

    def abort(self) -> None:
        """Stop now: the sweep in flight is cut and the record is marked aborted.

        The request is latched: arriving before, between or during sweeps (or during
        calibration), it is honoured at the next check and never cleared.
        """
        change = self._ctl.request("abort")
        self._journal("abort")
        self._rig_abort()
        self._report(change)

    def halt(self) -> None:
        """Emergency: outputs to rest now (from this thread), then abort."""
        change = self._ctl.request("halt")
        self._rig_abort()
        try:
            self.rig.safe_state()
        except Exception:
            _log.exception("halt: the rig could not put its outputs at rest")
        self._journal("halt")
        self._report(change)

    def start_induction(self) -> None:
        """Start the induction at the next sweep slot (the baseline is stable)."""
        self._ctl.request("induce")
        self._journal("manual_induction")

    def add_note(self, text: str) -> None:
        """Add a note at the current experiment time (kept in the journal and the NWB).

        Raises
        ------
        RuntimeError
            If the run has not started or is over (its journal is closed).
        """
        with self._lock:
            writer = self._writer
            if writer is None or not self._journal_open or writer.closed:
                raise RuntimeError("notes can be added only while the run is in progress")
            writer.event("note", text=text, at_s=self._now())

    def extend_followup(self, minutes: float) -> None:
        """Add follow-up probes for ``minutes`` more (journaled)."""
        n = max(0, math.floor(minutes * 60.0 / self.experiment.probes.interval_s + 1e-9))
        with self._lock:
            self._extra_followup += n
            self._planned += n
            self._ctl.cond.notify_all()
        self._journal("extend", minutes=minutes, probes=n)

    def status(self) -> RunStatus:
        """A consistent snapshot of the run."""
        with self._lock:
            ctl = self._ctl
            remaining = max(0, self._planned - self._done) * self.experiment.probes.interval_s
            return RunStatus(
                state=ctl.state,
                sweeps_done=self._done,
                sweeps_planned=self._planned,
                segment="" if ctl.segment == Segment.NONE else ctl.segment.value,
                experiment_time_s=self._t_exp,
                remaining_s=remaining,
                since_induction_s=None if self._t_ind is None else self._t_exp - self._t_ind,
                last_epsp_mv=self._last_epsp,
                last_normalized=self._last_norm,
                message=self._message,
                lifecycle=ctl.lifecycle.value,
                finish_reason=None if ctl.reason is None else ctl.reason.value,
                skipped_probes=self._skipped,
                pauses=self._pauses,
                paused_s=self._paused_s,
            )

    @property
    def state(self) -> RunState:
        """The current (displayed) state."""
        return self._ctl.state

    # ------------------------------------------------------------------ reporting

    def _now(self) -> float:
        """Seconds since the run began: monotonic, or virtual in a fast run."""
        if self._t0 is None:
            return 0.0
        if self.options.fast:
            return self._virtual
        return self._clock() - self._t0

    def _journal(self, event: str, **data: Any) -> None:
        """Journal an event with its time (any thread); ignored once the journal is closed."""
        with self._lock:
            writer = self._writer
            if writer is not None and self._journal_open:
                writer.event(event, at_s=self._now(), **data)

    def _rig_abort(self) -> None:
        try:
            self.rig.abort()
        except Exception:
            _log.exception("the rig refused an abort request")

    def _report(self, change: Change | None, message: str = "") -> None:
        """Tell listeners about a state change; never called with the lock held."""
        if change is None:
            return
        if message:
            with self._lock:
                self._message = message
        if change.changed:
            self._journal("state", state=change.after.value, message=message)
            self.state_changed.emit(change.after)
        self.progress.emit(self.status())

    def _move(
        self,
        lifecycle: Lifecycle | None = None,
        segment: Segment | None = None,
        reason: FinishReason | None = None,
        message: str = "",
    ) -> None:
        self._report(self._ctl.transition(lifecycle, segment, reason), message)

    # ------------------------------------------------------------------ waiting

    def _pass_time(self, seconds: float) -> None:
        if self.options.fast:
            self._virtual += seconds
        elif self._sleep is not None:
            self._sleep(seconds)
        else:
            with self._lock:
                self._ctl.cond.wait(timeout=min(seconds, 0.5))

    def checkpoint(self) -> None:
        """Block while paused (journaled); raise if a stop or abort was requested."""
        ctl = self._ctl
        with self._lock:
            if ctl.should_end():
                raise _StopRunError
            if not ctl.pause_requested:
                return
            change = ctl.transition(Lifecycle.PAUSED)
            began = self._now()
        self._journal("paused")
        self._report(change)
        with self._lock:
            while ctl.pause_requested and not ctl.should_end():
                ctl.cond.wait(timeout=0.5)
            ending = ctl.should_end()
            resumed = None if ending else ctl.transition(Lifecycle.RUNNING)
            ended = self._now()
            self._pauses += 1
            self._paused_s += ended - began
            self._resumed_at = ended
        self._journal("resumed", paused_at_s=began, paused_for_s=ended - began)
        if ending:
            raise _StopRunError
        self._report(resumed)

    def _wait_for(self, slot: _Slot, *, may_induce: bool = False) -> str:
        """Wait for a slot: ``"go"``, ``"skip"`` (passed during a pause) or ``"induce"``."""
        while True:
            self.checkpoint()
            with self._lock:
                if may_induce and self._ctl.induce_requested:
                    return "induce"
                resumed = self._resumed_at
            if slot.kind == "probe" and resumed is not None and slot.planned_s < resumed:
                return "skip"
            remaining = slot.planned_s - self._now()
            if remaining > 0:
                self._pass_time(remaining)
                continue
            with self._lock:  # the last check: from here the sweep is in flight
                if self._ctl.should_end():
                    raise _StopRunError
                if not self._ctl.pause_requested:
                    return "go"

    def _skip(self, slot: _Slot) -> None:
        with self._lock:
            self._skipped += 1
            self._done += 1
        self._journal(
            "skipped", sweep_kind=slot.kind, segment=slot.segment.value, planned_s=slot.planned_s
        )
        self.warning.emit(
            f"probe planned at {slot.planned_s:.1f} s skipped: its slot passed during a pause"
        )
        self.progress.emit(self.status())

    # ------------------------------------------------------------------ sweeps

    def _play(self, prepared: PreparedSweep, slot: _Slot) -> tuple[SweepResult, float]:
        """Run one sweep now; returns the result and its actual start (s since run start)."""
        hook = self.before_sweep
        if hook is not None:
            hook(slot.kind)
        actual = self._now()
        with self._lock:
            self._t_exp = actual
        result = self.rig.run(prepared, self.chunk.emit, at_s=actual)
        with self._lock:
            if self.options.fast:
                self._virtual += result.n_samples / result.sample_rate_hz
            self._resumed_at = None
        return result, actual

    def _cut_reason(self) -> str:
        with self._lock:
            if self._ctl.halt_requested:
                return "halt"
            return "abort" if self._ctl.abort_requested else "fault"

    def _after_cut(self, what: str) -> None:
        """A sweep ended early: end the run as requested, or as a failure."""
        if self._ctl.should_end():
            raise _StopRunError
        raise RigError(f"the {what} sweep was cut short by the rig; stopped")

    def _record(
        self,
        index: int,
        slot: _Slot,
        actual: float,
        t_ind: float,
        result: SweepResult,
        analysis: dict[str, Any],
    ) -> SweepRecord:
        rec = SweepRecord(
            index=index,
            kind=slot.kind,
            segment=slot.segment.value,
            at_s=actual,
            since_induction_s=actual - t_ind,
            started_at=result.started_at.isoformat(),
            sample_rate_hz=result.sample_rate_hz,
            vm_mv=result.vm_mv,
            command_pa=result.command_pa,
            stim=result.stim,
            complete=result.complete,
            settings=result.settings,
            analysis=analysis,
            extra=result.extra,
            planned_s=slot.planned_s,
            cut=None if result.complete else self._cut_reason(),
        )
        assert self._writer is not None
        self._writer.sweep(rec)
        if self._writer.error is not None:
            raise RigError(f"the data folder could not be written ({self._writer.error}); stopped")
        with self._lock:
            self._done += 1
        self.sweep_acquired.emit(rec)
        self.progress.emit(self.status())
        return rec

    def _probe(
        self,
        index: int,
        slot: _Slot,
        t_ind: float,
        prepared: PreparedSweep,
        sweep: proto.CompiledSweep,
    ) -> None:
        result, actual = self._play(prepared, slot)
        if result.n_samples == 0:
            self._journal("not_started", sweep_kind="probe", planned_s=slot.planned_s)
            self._after_cut("probe")
        if not result.complete:  # what was acquired is kept, but not measured
            self._record(index, slot, actual, t_ind, result, {"flags": ["cut short"]})
            self._after_cut("probe")
        pa = analyze_probe(result.vm_mv, result.sample_rate_hz, sweep, self.options.analysis)
        analysis: dict[str, Any] = pa.as_dict()
        extra = probe_measures(result.vm_mv, result.sample_rate_hz, sweep, self.options.analysis)
        analysis.update({k: v for k, v in extra.as_dict().items() if k != "epsp_mv"})
        if slot.segment == Segment.BASELINE and not pa.spike_in_probe:
            self._baseline.append(pa)
            self._baseline_times.append(actual / 60.0)
        base_epsps = [b.epsp_mv for b in self._baseline if math.isfinite(b.epsp_mv)]
        base_mean = sum(base_epsps) / len(base_epsps) if base_epsps else math.nan
        usable = not pa.spike_in_probe and base_mean and math.isfinite(base_mean)
        norm = pa.epsp_mv / base_mean if usable else math.nan
        analysis["normalized_epsp"] = norm
        rins = [b.rin_mohm for b in self._baseline if math.isfinite(b.rin_mohm)]
        rests = [b.rest_mv for b in self._baseline if math.isfinite(b.rest_mv)]
        flags = (
            health_flags(
                pa,
                sum(rins) / len(rins) if rins else math.nan,
                sum(rests) / len(rests) if rests else math.nan,
                self.options.analysis,
            )
            if slot.segment != Segment.BASELINE or len(self._baseline) > 3
            else []
        )
        if pa.spike_in_probe:
            flags.insert(0, SPIKE_FLAG)
        analysis["flags"] = flags
        for f in flags:
            self.warning.emit(f"sweep {index}: {f}")
        if slot.segment == Segment.FOLLOWUP and self._rin_watch is not None:
            reason = self._rin_watch.observe(
                pa.rin_mohm, sum(rins) / len(rins) if rins else math.nan
            )
            if reason is not None:
                self._stop_reason = f"auto-stop: {reason}"
                self.warning.emit(self._stop_reason)
                self._journal("auto_stop", reason=reason)
                self.stop()
        self._probe_at.append(actual)
        self._probe_epsps.append(pa.epsp_mv)
        self._probe_spiked.append(pa.spike_in_probe)
        with self._lock:
            self._last_epsp = pa.epsp_mv
            self._last_norm = norm
        self._record(index, slot, actual, t_ind, result, analysis)
        t_min = (actual - t_ind) / 60.0
        self.analysis_updated.emit(
            {
                "index": index,
                "segment": slot.segment.value,
                "since_induction_min": t_min,
                **analysis,
            }
        )

    def _induce(
        self, index: int, slot: _Slot, prepared: PreparedSweep, sweep: proto.CompiledSweep
    ) -> float:
        """Play the induction; returns its actual start. A cut sweep is recorded, then ends."""
        with self._lock:
            self._t_exp = self._t_ind = self._now()
        self._move(segment=Segment.INDUCTION)
        result, actual = self._play(prepared, slot)
        with self._lock:
            self._t_ind = actual
        assert self._writer is not None
        self._writer.event("induction_onset", at_s=actual, planned_s=slot.planned_s)
        fs = result.sample_rate_hz
        planned_windows = len(sweep.window_starts)
        delivered = windows_delivered(sweep, result.n_samples, fs)
        self._induction = {
            "complete": result.complete,
            "windows_delivered": delivered,
            "windows_planned": planned_windows,
            "cut": None if result.complete else self._cut_reason(),
        }
        if result.n_samples == 0:
            self._journal("not_started", sweep_kind="induction", planned_s=slot.planned_s)
            self._after_cut("induction")
        rates = phase_rates(result.vm_mv, fs, sweep, windows=delivered)
        for r in rates:
            if not r.ok:
                self.warning.emit(f"induction: {r.line()}")
        analysis = {
            "phase_rates": [r.as_dict() for r in rates],
            "windows_delivered": delivered,
            "windows_planned": planned_windows,
        }
        self._record(index, slot, actual, actual, result, analysis)
        self.analysis_updated.emit({"index": index, "segment": "induction", **analysis})
        if not result.complete:
            self._journal("induction_cut", **self._induction)
            self.warning.emit(induction_note(self._induction))
            self._after_cut("induction")
        return actual

    # ------------------------------------------------------------------ the run

    def run(self) -> RunResult:
        """Run the whole experiment on this thread; returns how it ended."""
        reason = FinishReason.FAILED
        message = ""
        summary: dict[str, Any] = {}
        nwb_path: Path | None = None
        refusal = preflight(self.rig, self.experiment, self.options.calibrate)
        if refusal:  # nothing output, no data folder created
            self._move(Lifecycle.FINISHED, reason=FinishReason.FAILED, message=refusal)
            self._result = RunResult(RunState.FAILED, self.folder, 0, {}, refusal)
            self.finished.emit(self._result)
            return self._result
        try:
            self._writer = self._open_writer()
        except DataFolderError as exc:
            self._move(Lifecycle.FINISHED, reason=FinishReason.FAILED, message=str(exc))
            self._result = RunResult(RunState.FAILED, self.folder, 0, {}, str(exc))
            self.finished.emit(self._result)
            return self._result
        if self.options.write_nwb:  # pynwb takes ~1 s to import: overlap it with the run
            threading.Thread(target=_import_nwb, name="rigctl-nwb-import", daemon=True).start()
        clear = getattr(self.rig, "clear_abort", None)
        if callable(clear):  # a stale abort from before this run (the runner's own is latched)
            clear()
        with self._lock:
            self._journal_open = True
            self._t0 = self._clock()
        if not self._ctl.should_end():
            self._move(Lifecycle.RUNNING)
        try:
            self._run_schedule()
            reason = FinishReason.STOPPED if self._ctl.should_end() else FinishReason.DONE
        except _StopRunError:
            reason = FinishReason.ABORTED if self._ctl.aborting else FinishReason.STOPPED
            message = "aborted by the user" if self._ctl.aborting else "stopped by the user"
            message = self._stop_reason or message
        except Exception as exc:  # a rig or disk failure: stop safely, keep the data
            reason = FinishReason.FAILED
            message = str(exc)
            _log.exception("run failed")
            self.warning.emit(f"run failed: {exc}")
        finally:
            try:
                self.rig.safe_state()
            except Exception:
                _log.exception("the rig could not put its outputs at rest")
            if callable(clear):  # an abort that came after the last sweep must not linger
                clear()
            summary = self._summary()
            with self._lock:
                self._journal_open = False
            assert self._writer is not None
            self._writer.close(reason.value, summary)
            if self._writer.error is not None:
                reason = FinishReason.FAILED
                message = message or f"the data folder could not be written: {self._writer.error}"
        if self.options.write_nwb and reason in (FinishReason.DONE, FinishReason.STOPPED):
            try:
                from rigctl.engine.nwb import export_nwb

                nwb_path = export_nwb(
                    self.folder, subject=self.options.subject, session=self.options.session
                )
            except Exception as exc:
                self.warning.emit(
                    f"NWB export failed ({exc}); the journal is intact, run rigctl export-nwb"
                )
        self._move(Lifecycle.FINISHED, reason=reason, message=message)
        state = RunState(reason.value)
        self._result = RunResult(state, self.folder, self._recorded(), summary, message, nwb_path)
        self.finished.emit(self._result)
        return self._result

    def _recorded(self) -> int:
        with self._lock:
            return self._done - self._skipped

    def _summary(self) -> dict[str, Any]:
        try:
            t_ind = math.inf if self._t_ind is None else self._t_ind
            rs = summarize_recording(
                [(a - t_ind) / 60.0 for a in self._probe_at],
                self._probe_epsps,
                self.options.analysis,
                excluded=self._probe_spiked,
            )
            summary = rs.as_dict()
        except Exception as exc:
            _log.exception("the summary could not be computed")
            return {"error": str(exc)}
        with self._lock:
            summary["skipped_probes"] = self._skipped
            summary["pauses"] = self._pauses
            summary["paused_s"] = self._paused_s
        if self._induction is not None:
            summary["induction"] = dict(self._induction, note=induction_note(self._induction))
        return summary

    def _open_writer(self) -> AsyncWriter:
        exp = self.experiment
        comp = proto.compile_experiment(exp)
        fs = self.rig.definition.sample_rate_hz
        n_probe = len([s for s in comp.sweeps if s.kind == "probe"])
        bytes_per_sample = 4 + 4 + 1
        expected = int(
            (n_probe * comp.probe.n_samples(fs) + comp.induction.n_samples(fs)) * bytes_per_sample
        )
        header = {
            "created": datetime.now(UTC).isoformat(),
            "protocol_name": exp.metadata.name,
            "rig": self.rig.definition.name,
            "backend": self.rig.definition.backend,
            "options": {
                "fast": self.options.fast,
                "auto_induction": self.options.auto_induction,
                "calibrate": self.options.calibrate,
                "rin_stop": self.options.rin_stop.describe() if self.options.rin_stop else None,
            },
            "setup": self.options.setup.as_dict() if self.options.setup else None,
            "subject": self.options.subject,
            "session": self.options.session,
            "settings": self.rig.definition.settings_record(),
        }
        writer = RecordingWriter(
            self.folder,
            header,
            protocol_json=proto.dumps(exp),
            rig_text=self.rig_text or f"# rig definition (from {self.rig.definition.name})\n",
            rig_json=self.rig.definition.model_dump(mode="json"),
            expected_bytes=expected,
        )
        with self._lock:
            self._planned = len(comp.sweeps)
        return AsyncWriter(writer)

    def _maybe_calibrate(self, exp: proto.Experiment) -> proto.Experiment:
        if not needs_calibration(exp, self.options.calibrate):
            return exp
        self.checkpoint()
        self._move(segment=Segment.CALIBRATING, message="calibrating the postsynaptic currents")
        cal = calibrate_experiment(self.rig, exp, cancel=self.checkpoint)
        assert self._writer is not None
        self._writer.event(
            "calibration",
            currents_pa=cal.currents(),
            rates=[r.as_dict() for r in cal.rates],
        )
        for r in cal.rates:
            if not r.ok:
                self.warning.emit(f"calibration: {r.line()}")
        return cal.experiment

    def _run_schedule(self) -> None:
        exp = self._maybe_calibrate(self.experiment)
        if exp is not self.experiment:
            self.experiment = exp
            assert self._writer is not None
            self._writer.event("protocol_calibrated", experiment=json.loads(proto.dumps(exp)))
        comp = proto.compile_experiment(exp)
        probe_prep = self.rig.prepare(comp.probe, "probe")
        ind_prep = self.rig.prepare(comp.induction, "induction")
        plan = _Plan.of(comp)
        self._move(segment=Segment.BASELINE)
        index = 0
        # Baseline: the compiled probes (more if the user starts the induction by hand).
        t_ind_plan = plan.induction_s
        i = 0
        while True:
            if self.options.auto_induction and i >= len(plan.baseline):
                break
            slot = _Slot("probe", Segment.BASELINE, plan.baseline_at(i))
            outcome = self._wait_for(slot, may_induce=True)
            if outcome == "induce":
                t_ind_plan = slot.planned_s if self.options.fast else self._now()
                break
            if not self.options.auto_induction and i >= len(plan.baseline):
                with self._lock:
                    self._planned += 1
            if outcome == "skip":
                self._skip(slot)
            else:
                expected = plan.induction_s if self.options.auto_induction else math.nan
                self._probe(index, slot, expected, probe_prep, comp.probe)
                index += 1
            i += 1
            if i == len(plan.baseline):
                self._check_baseline()
        # Induction: never skipped; after a pause it starts now, and the follow-up is
        # re-planned from the compiled offsets relative to when it was due.
        slot = _Slot("induction", Segment.INDUCTION, t_ind_plan)
        self._wait_for(slot)
        if self._resumed_at is not None:  # a pause held the induction back: re-plan from now
            t_ind_plan = max(t_ind_plan, self._now())
        slot = _Slot("induction", Segment.INDUCTION, t_ind_plan)
        t_ind = self._induce(index, slot, ind_prep, comp.induction)
        index += 1
        self._move(segment=Segment.FOLLOWUP)
        j = 0
        while True:
            with self._lock:
                last = len(plan.followup) + self._extra_followup
            if j >= last:
                break
            slot = _Slot("probe", Segment.FOLLOWUP, t_ind_plan + plan.followup_offset(j))
            if self._wait_for(slot) == "skip":
                self._skip(slot)
            else:
                self._probe(index, slot, t_ind, probe_prep, comp.probe)
                index += 1
            j += 1

    def _check_baseline(self) -> None:
        check = check_baseline(
            self._baseline_times,
            [b.epsp_mv for b in self._baseline],
            [b.rin_mohm for b in self._baseline],
            self.options.analysis,
        )
        assert self._writer is not None
        self._writer.event("baseline_check", **check.as_dict())
        if not check.stable:
            self.warning.emit("baseline not stable: " + "; ".join(check.reasons))


def _import_nwb() -> None:
    try:
        import pynwb  # type: ignore[import-untyped, unused-ignore]  # noqa: F401

        import rigctl.engine.nwb  # noqa: F401
    except Exception:  # the export at the end reports any problem itself
        _log.debug("pynwb could not be imported ahead of the export", exc_info=True)


@dataclass(frozen=True)
class _Plan:
    """The compiled schedule as the runner walks it (no second calculation of times)."""

    baseline: tuple[float, ...]
    induction_s: float
    followup: tuple[float, ...]
    interval_s: float

    @classmethod
    def of(cls, comp: proto.CompiledExperiment) -> _Plan:
        ind = next(s for s in comp.sweeps if s.kind == "induction")
        return cls(
            baseline=tuple(s.start_s for s in comp.sweeps if s.segment == "baseline"),
            induction_s=ind.start_s,
            followup=tuple(s.since_induction_s for s in comp.sweeps if s.segment == "followup"),
            interval_s=comp.experiment.probes.interval_s,
        )

    def baseline_at(self, i: int) -> float:
        """Planned start of baseline probe ``i`` (past the compiled ones: same spacing)."""
        if i < len(self.baseline):
            return self.baseline[i]
        last = self.baseline[-1] if self.baseline else -self.interval_s
        return last + (i - len(self.baseline) + 1) * self.interval_s

    def followup_offset(self, j: int) -> float:
        """Planned start of follow-up probe ``j`` relative to the induction onset."""
        if j < len(self.followup):
            return self.followup[j]
        last = self.followup[-1] if self.followup else 0.0
        return last + (j - len(self.followup) + 1) * self.interval_s
