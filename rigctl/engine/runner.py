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

The runner owns the lock, the lifecycle and the signals; its collaborators hold no lock
of their own: ``schedule.Plan`` (slot times), ``pacing.Pacer`` (waits and pauses),
``run_progress.RunProgress`` (clock and counters), ``sweep_analysis.ProbeTracker``
(probe analysis) and ``run_folder`` (header, sweep records, NWB).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rigctl import protocol as proto
from rigctl.engine.analysis import induction_note
from rigctl.engine.current_calibration import calibrate_experiment
from rigctl.engine.journal import AsyncWriter, DataFolderError, SweepRecord
from rigctl.engine.lifecycle import Change, FinishReason, Lifecycle, RunControl, RunState, Segment
from rigctl.engine.pacing import Pacer, StopRunError
from rigctl.engine.preflight import needs_calibration, preflight
from rigctl.engine.run_folder import export_run_nwb, open_run_folder, prefetch_nwb, sweep_record
from rigctl.engine.run_progress import RunProgress
from rigctl.engine.run_types import RunOptions, RunResult, RunStatus
from rigctl.engine.schedule import Plan, Slot
from rigctl.engine.signals import Signal
from rigctl.engine.sweep_analysis import ProbeTracker, induction_analysis, induction_outcome
from rigctl.hardware import Chunk, PreparedSweep, Rig, RigError, SweepResult

__all__ = ["ExperimentRunner", "RunOptions", "RunResult", "RunState", "RunStatus"]

_log = logging.getLogger(__name__)


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
        # time and progress
        self._progress = RunProgress(clock, self.options.fast)
        self._pacer = Pacer(self._ctl, self._progress, sleep, self._journal, self._report)
        self._writer: AsyncWriter | None = None
        # analysis state
        self._probes = ProbeTracker(self.options.analysis, self.options.rin_stop)
        self._stop_reason = ""
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
            writer.event("note", text=text, at_s=self._progress.now())

    def extend_followup(self, minutes: float) -> None:
        """Add follow-up probes for ``minutes`` more (journaled)."""
        n = max(0, math.floor(minutes * 60.0 / self.experiment.probes.interval_s + 1e-9))
        with self._lock:
            self._extra_followup += n
            self._progress.planned += n
            self._ctl.cond.notify_all()
        self._journal("extend", minutes=minutes, probes=n)

    def status(self) -> RunStatus:
        """A consistent snapshot of the run."""
        with self._lock:
            return self._progress.snapshot(self._ctl, self.experiment.probes.interval_s)

    @property
    def state(self) -> RunState:
        """The current (displayed) state."""
        return self._ctl.state

    # ------------------------------------------------------------------ reporting

    def _journal(self, event: str, **data: Any) -> None:
        """Journal an event with its time (any thread); ignored once the journal is closed."""
        with self._lock:
            writer = self._writer
            if writer is not None and self._journal_open:
                writer.event(event, at_s=self._progress.now(), **data)

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
                self._progress.message = message
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

    def checkpoint(self) -> None:
        """Block while paused (journaled); raise if a stop or abort was requested."""
        self._pacer.checkpoint()

    def _skip(self, slot: Slot) -> None:
        with self._lock:
            self._progress.skipped += 1
            self._progress.done += 1
        self._journal(
            "skipped", sweep_kind=slot.kind, segment=slot.segment.value, planned_s=slot.planned_s
        )
        self.warning.emit(
            f"probe planned at {slot.planned_s:.1f} s skipped: its slot passed during a pause"
        )
        self.progress.emit(self.status())

    # ------------------------------------------------------------------ sweeps

    def _play(self, prepared: PreparedSweep, slot: Slot) -> tuple[SweepResult, float]:
        """Run one sweep now; returns the result and its actual start (s since run start)."""
        hook = self.before_sweep
        if hook is not None:
            hook(slot.kind)
        actual = self._progress.now()
        with self._lock:
            self._progress.t_exp = actual
        result = self.rig.run(prepared, self.chunk.emit, at_s=actual)
        with self._lock:
            self._progress.played(result.n_samples / result.sample_rate_hz)
        return result, actual

    def _cut_of(self, result: SweepResult) -> str | None:
        """Why a sweep was cut short: halt, abort or fault (None when it is complete)."""
        if result.complete:
            return None
        with self._lock:
            if self._ctl.halt_requested:
                return "halt"
            return "abort" if self._ctl.abort_requested else "fault"

    def _after_cut(self, what: str) -> None:
        """A sweep ended early: end the run as requested, or as a failure."""
        if self._ctl.should_end():
            raise StopRunError
        raise RigError(f"the {what} sweep was cut short by the rig; stopped")

    def _record(
        self,
        index: int,
        slot: Slot,
        actual: float,
        t_ind: float,
        result: SweepResult,
        analysis: dict[str, Any],
    ) -> SweepRecord:
        rec = sweep_record(index, slot, actual, t_ind, result, analysis, self._cut_of(result))
        assert self._writer is not None
        self._writer.sweep(rec)
        if self._writer.error is not None:
            raise RigError(f"the data folder could not be written ({self._writer.error}); stopped")
        with self._lock:
            self._progress.done += 1
        self.sweep_acquired.emit(rec)
        self.progress.emit(self.status())
        return rec

    def _probe(
        self,
        index: int,
        slot: Slot,
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
        step = self._probes.analyze(result, sweep, slot.segment, actual)
        analysis = step.analysis
        for f in step.flags:
            self.warning.emit(f"sweep {index}: {f}")
        if step.auto_stop is not None:
            self._stop_reason = f"auto-stop: {step.auto_stop}"
            self.warning.emit(self._stop_reason)
            self._journal("auto_stop", reason=step.auto_stop)
            self.stop()
        with self._lock:
            self._progress.last_epsp = step.probe.epsp_mv
            self._progress.last_norm = step.normalized
        self._record(index, slot, actual, t_ind, result, analysis)
        t_min = (actual - t_ind) / 60.0
        where = {"index": index, "segment": slot.segment.value, "since_induction_min": t_min}
        self.analysis_updated.emit({**where, **analysis})

    def _induce(
        self, index: int, slot: Slot, prepared: PreparedSweep, sweep: proto.CompiledSweep
    ) -> float:
        """Play the induction; returns its actual start. A cut sweep is recorded, then ends."""
        with self._lock:
            self._progress.t_exp = self._progress.t_ind = self._progress.now()
        self._move(segment=Segment.INDUCTION)
        result, actual = self._play(prepared, slot)
        with self._lock:
            self._progress.t_ind = actual
        assert self._writer is not None
        self._writer.event("induction_onset", at_s=actual, planned_s=slot.planned_s)
        self._induction = induction_outcome(result, sweep, self._cut_of(result))
        if result.n_samples == 0:
            self._journal("not_started", sweep_kind="induction", planned_s=slot.planned_s)
            self._after_cut("induction")
        rates, analysis = induction_analysis(result, sweep, self._induction)
        for r in rates:
            if not r.ok:
                self.warning.emit(f"induction: {r.line()}")
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
        refusal = preflight(self.rig, self.experiment, self.options.calibrate)
        if refusal:  # nothing output, no data folder created
            return self._refuse(refusal)
        try:
            self._writer, planned = open_run_folder(
                self.rig, self.experiment, self.folder, self.options, self.rig_text
            )
        except DataFolderError as exc:
            return self._refuse(str(exc))
        with self._lock:
            self._progress.planned = planned
        if self.options.write_nwb:  # pynwb takes ~1 s to import: overlap it with the run
            prefetch_nwb()
        clear = getattr(self.rig, "clear_abort", None)
        if callable(clear):  # a stale abort from before this run (the runner's own is latched)
            clear()
        with self._lock:
            self._journal_open = True
            self._progress.t0 = self._progress.clock()
        if not self._ctl.should_end():
            self._move(Lifecycle.RUNNING)
        reason, message = FinishReason.FAILED, ""
        try:
            reason, message = self._acquire()
        finally:
            try:
                self.rig.safe_state()
            except Exception:
                _log.exception("the rig could not put its outputs at rest")
            if callable(clear):  # an abort that came after the last sweep must not linger
                clear()
            reason, message, summary = self._close_folder(reason, message)
        nwb_path = self._export_nwb(reason)
        self._move(Lifecycle.FINISHED, reason=reason, message=message)
        with self._lock:
            recorded = self._progress.recorded()
        state = RunState(reason.value)
        self._result = RunResult(state, self.folder, recorded, summary, message, nwb_path)
        self.finished.emit(self._result)
        return self._result

    def _refuse(self, message: str) -> RunResult:
        """End a run that never started (no output played)."""
        self._move(Lifecycle.FINISHED, reason=FinishReason.FAILED, message=message)
        self._result = RunResult(RunState.FAILED, self.folder, 0, {}, message)
        self.finished.emit(self._result)
        return self._result

    def _acquire(self) -> tuple[FinishReason, str]:
        """Play the schedule; returns how it ended and why (a failure is caught here)."""
        try:
            self._run_schedule()
        except StopRunError:
            if self._ctl.aborting:
                return FinishReason.ABORTED, self._stop_reason or "aborted by the user"
            return FinishReason.STOPPED, self._stop_reason or "stopped by the user"
        except Exception as exc:  # a rig or disk failure: stop safely, keep the data
            _log.exception("run failed")
            self.warning.emit(f"run failed: {exc}")
            return FinishReason.FAILED, str(exc)
        return (FinishReason.STOPPED if self._ctl.should_end() else FinishReason.DONE), ""

    def _close_folder(
        self, reason: FinishReason, message: str
    ) -> tuple[FinishReason, str, dict[str, Any]]:
        """Close the journal with the summary; a write error makes the run a failure."""
        summary = self._summary()
        with self._lock:
            self._journal_open = False
        assert self._writer is not None
        self._writer.close(reason.value, summary)
        if self._writer.error is not None:
            reason = FinishReason.FAILED
            message = message or f"the data folder could not be written: {self._writer.error}"
        return reason, message, summary

    def _export_nwb(self, reason: FinishReason) -> Path | None:
        """Write ``recording.nwb`` if asked and the run ended normally (else None).

        A failure is a warning: the journal is intact and ``rigctl export-nwb`` can retry.
        """
        if not self.options.write_nwb or reason not in (FinishReason.DONE, FinishReason.STOPPED):
            return None
        try:
            return export_run_nwb(self.folder, self.options)
        except Exception as exc:
            self.warning.emit(
                f"NWB export failed ({exc}); the journal is intact, run rigctl export-nwb"
            )
            return None

    def _summary(self) -> dict[str, Any]:
        try:
            summary = self._probes.summary(self._progress.t_ind)
        except Exception as exc:
            _log.exception("the summary could not be computed")
            return {"error": str(exc)}
        with self._lock:
            summary.update(self._progress.pause_fields())
        if self._induction is not None:
            summary["induction"] = dict(self._induction, note=induction_note(self._induction))
        return summary

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
        plan = Plan.of(comp)
        self._move(segment=Segment.BASELINE)
        index, t_ind_plan = self._run_baseline(plan, probe_prep, comp.probe)
        # Induction: never skipped; after a pause it starts now, and the follow-up is
        # re-planned from the compiled offsets relative to when it was due.
        slot = Slot("induction", Segment.INDUCTION, t_ind_plan)
        self._pacer.wait_for(slot)
        if (
            self._progress.resumed_at is not None
        ):  # a pause held the induction back: re-plan from now
            t_ind_plan = max(t_ind_plan, self._progress.now())
        slot = Slot("induction", Segment.INDUCTION, t_ind_plan)
        t_ind = self._induce(index, slot, ind_prep, comp.induction)
        self._move(segment=Segment.FOLLOWUP)
        self._run_followup(index + 1, plan, t_ind_plan, t_ind, probe_prep, comp.probe)

    def _run_baseline(
        self, plan: Plan, prepared: PreparedSweep, sweep: proto.CompiledSweep
    ) -> tuple[int, float]:
        """The compiled baseline probes (more if the user starts the induction by hand).

        Returns the index of the next sweep and the planned start of the induction.
        """
        index = 0
        t_ind_plan = plan.induction_s
        i = 0
        while True:
            if self.options.auto_induction and i >= len(plan.baseline):
                break
            slot = Slot("probe", Segment.BASELINE, plan.baseline_at(i))
            outcome = self._pacer.wait_for(slot, may_induce=True)
            if outcome == "induce":
                t_ind_plan = slot.planned_s if self.options.fast else self._progress.now()
                break
            if not self.options.auto_induction and i >= len(plan.baseline):
                with self._lock:
                    self._progress.planned += 1
            if outcome == "skip":
                self._skip(slot)
            else:
                expected = plan.induction_s if self.options.auto_induction else math.nan
                self._probe(index, slot, expected, prepared, sweep)
                index += 1
            i += 1
            if i == len(plan.baseline):
                self._check_baseline()
        return index, t_ind_plan

    def _run_followup(
        self,
        index: int,
        plan: Plan,
        t_ind_plan: float,
        t_ind: float,
        prepared: PreparedSweep,
        sweep: proto.CompiledSweep,
    ) -> None:
        """The follow-up probes, planned from the induction's slot (extensions included)."""
        j = 0
        while True:
            with self._lock:
                last = len(plan.followup) + self._extra_followup
            if j >= last:
                break
            slot = Slot("probe", Segment.FOLLOWUP, t_ind_plan + plan.followup_offset(j))
            if self._pacer.wait_for(slot) == "skip":
                self._skip(slot)
            else:
                self._probe(index, slot, t_ind, prepared, sweep)
                index += 1
            j += 1

    def _check_baseline(self) -> None:
        check = self._probes.check_baseline()
        assert self._writer is not None
        self._writer.event("baseline_check", **check.as_dict())
        if not check.stable:
            self.warning.emit("baseline not stable: " + "; ".join(check.reasons))
