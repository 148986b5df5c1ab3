r"""The experiment runner: baseline -> induction -> follow-up, as an explicit state machine.

The runner drives any :class:`~rigctl.hardware.Rig` through the compiled experiment on a
worker thread, analyses every sweep as it arrives, hands completed sweeps to a writer
thread (disk I/O never delays acquisition), and reports through plain-Python signals.

States::

    idle -> baseline -> induction -> followup -> done
                 \\-> paused (and back), stopping -> stopped, aborted, failed

* ``pause``/``resume``: no new sweep starts while paused; the schedule resumes from now.
* ``stop``: finish the sweep in flight, then end; the record is complete and valid.
* ``abort``: stop the sweep in flight now and end; the record is marked aborted.
* ``halt``: put the outputs at rest immediately from the calling thread, then abort.

Waits between probes are cooperative: every control call wakes them. Cleanup always runs,
each step guarded on its own: the rig is put at rest, the writer drains and finishes the
folder, and the NWB file is written when the run ended normally.
"""

from __future__ import annotations

import contextlib
import enum
import json
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
    AnalysisSettings,
    ProbeAnalysis,
    analyze_probe,
    check_baseline,
    health_flags,
    summarize_recording,
)
from rigctl.engine.journal import AsyncWriter, DataFolderError, RecordingWriter, SweepRecord
from rigctl.engine.measures import probe_measures
from rigctl.engine.rinwatch import RinStopSettings, RinWatch
from rigctl.engine.setup import SetupRecord
from rigctl.engine.signals import Signal
from rigctl.hardware import Chunk, PreparedSweep, Rig, RigError, SweepResult
from rigctl.hardware.calibration import calibrate_experiment, phase_rates
from rigctl.hardware.preflight import preflight

__all__ = ["ExperimentRunner", "RunOptions", "RunResult", "RunState", "RunStatus"]


class RunState(enum.StrEnum):
    """Where the runner is."""

    IDLE = "idle"
    CALIBRATING = "calibrating"
    BASELINE = "baseline"
    INDUCTION = "induction"
    FOLLOWUP = "followup"
    PAUSED = "paused"
    STOPPING = "stopping"
    DONE = "done"
    STOPPED = "stopped"
    ABORTED = "aborted"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        """Whether the run is over."""
        return self in (RunState.DONE, RunState.STOPPED, RunState.ABORTED, RunState.FAILED)


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
    """A consistent snapshot of the run, safe to read from any thread."""

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
    clock, sleep_until
        Injected time sources (tests); default: monotonic time and event waits.
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
    ) -> None:
        self.rig = rig
        self.experiment = experiment
        self.folder = Path(folder)
        self.options = RunOptions() if options is None else options
        self.rig_text = rig_text
        self._clock = clock
        # signals
        self.state_changed: Signal[RunState] = Signal("state_changed")
        self.sweep_acquired: Signal[SweepRecord] = Signal("sweep_acquired")
        self.analysis_updated: Signal[dict[str, Any]] = Signal("analysis_updated")
        self.progress: Signal[RunStatus] = Signal("progress")
        self.warning: Signal[str] = Signal("warning")
        self.chunk: Signal[Chunk] = Signal("chunk")
        self.finished: Signal[RunResult] = Signal("finished")
        # control
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._state = RunState.IDLE
        self._paused = False
        self._stop = False
        self._abort = False
        self._induce_now = False
        self._extra_followup = 0
        self._thread: threading.Thread | None = None
        self._result: RunResult | None = None
        # progress
        self._done = 0
        self._planned = 0
        self._segment = ""
        self._t_exp = 0.0
        self._t_ind: float | None = None
        self._last_epsp: float | None = None
        self._last_norm: float | None = None
        self._message = ""
        self._writer: AsyncWriter | None = None
        # analysis state
        self._baseline: list[ProbeAnalysis] = []
        self._baseline_times: list[float] = []
        self._probe_at: list[float] = []
        self._probe_epsps: list[float] = []
        self._rin_watch = RinWatch(self.options.rin_stop) if self.options.rin_stop else None
        self._stop_reason = ""

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
        """No new sweep starts until :meth:`resume`."""
        with self._lock:
            if not self._state.finished:
                self._paused = True
                self._wake.notify_all()

    def resume(self) -> None:
        """Continue after :meth:`pause`."""
        with self._lock:
            self._paused = False
            self._wake.notify_all()

    def stop(self) -> None:
        """Finish the sweep in flight, then end the run (the record stays valid)."""
        with self._lock:
            self._stop = True
            self._paused = False
            running = not self._state.finished and self._state != RunState.IDLE
            if running:
                self._state = RunState.STOPPING
            self._wake.notify_all()
        if running:
            self.state_changed.emit(RunState.STOPPING)

    def abort(self) -> None:
        """Stop now: the sweep in flight is cut and the record is marked aborted."""
        with self._lock:
            self._abort = True
            self._paused = False
            self._wake.notify_all()
        with contextlib.suppress(Exception):
            self.rig.abort()

    def halt(self) -> None:
        """Emergency: outputs to rest now (from this thread), then abort."""
        with contextlib.suppress(Exception):
            self.rig.abort()
        with contextlib.suppress(Exception):
            self.rig.safe_state()
        self.abort()

    def start_induction(self) -> None:
        """Start the induction at the next sweep slot (the baseline is stable)."""
        with self._lock:
            self._induce_now = True
            self._wake.notify_all()

    def add_note(self, text: str) -> None:
        """Add a note at the current experiment time (kept in the journal and the NWB).

        Raises
        ------
        RuntimeError
            If the run has not started or is over (its journal is closed).
        """
        with self._lock:
            writer = self._writer
            if writer is None or self._state.finished or writer.closed:
                raise RuntimeError("notes can be added only while the run is in progress")
            writer.event("note", text=text, at_s=self._t_exp)

    def extend_followup(self, minutes: float) -> None:
        """Add follow-up probes for ``minutes`` more."""
        n = max(0, math.floor(minutes * 60.0 / self.experiment.probes.interval_s + 1e-9))
        with self._lock:
            self._extra_followup += n
            self._planned += n
            self._wake.notify_all()

    def status(self) -> RunStatus:
        """A consistent snapshot of the run."""
        with self._lock:
            remaining = max(0, self._planned - self._done) * self.experiment.probes.interval_s
            return RunStatus(
                state=self._state,
                sweeps_done=self._done,
                sweeps_planned=self._planned,
                segment=self._segment,
                experiment_time_s=self._t_exp,
                remaining_s=remaining,
                since_induction_s=None if self._t_ind is None else self._t_exp - self._t_ind,
                last_epsp_mv=self._last_epsp,
                last_normalized=self._last_norm,
                message=self._message,
            )

    @property
    def state(self) -> RunState:
        """The current state."""
        with self._lock:
            return self._state

    # ------------------------------------------------------------------ internals

    def _set_state(self, state: RunState, message: str = "") -> None:
        with self._lock:
            self._state = state
            if message:
                self._message = message
        self.state_changed.emit(state)
        self.progress.emit(self.status())
        if self._writer is not None:
            self._writer.event("state", state=state.value, message=message)

    def _check(self) -> None:
        """Raise _StopRunError if asked to stop/abort; block while paused."""
        with self._lock:
            if self._abort or self._stop:
                raise _StopRunError
            if self._paused:
                before = self._state
                self._state = RunState.PAUSED
                self.state_changed.emit(RunState.PAUSED)
                while self._paused and not (self._abort or self._stop):
                    self._wake.wait()
                if self._abort or self._stop:
                    raise _StopRunError
                self._state = before
                self.state_changed.emit(before)

    def _wait_until(self, t_wall: float) -> None:
        """Wait (cooperatively) until the monotonic time ``t_wall``."""
        if self.options.fast:
            self._check()
            return
        with self._lock:
            while True:
                if self._abort or self._stop:
                    raise _StopRunError
                if self._induce_now and self._state == RunState.BASELINE:
                    return
                if self._paused:
                    self._check()  # pause now, not at the next sweep slot
                    continue
                remaining = t_wall - self._clock()
                if remaining <= 0:
                    break
                self._wake.wait(timeout=min(remaining, 0.5))
        self._check()

    def _acquire(self, prepared: PreparedSweep, at_s: float) -> SweepResult:
        result = self.rig.run(prepared, self.chunk.emit, at_s=at_s)
        if not result.complete:
            raise _StopRunError
        return result

    def _record(
        self,
        index: int,
        kind: str,
        segment: str,
        at_s: float,
        t_ind: float,
        result: SweepResult,
        analysis: dict[str, Any],
    ) -> SweepRecord:
        rec = SweepRecord(
            index=index,
            kind=kind,
            segment=segment,
            at_s=at_s,
            since_induction_s=at_s - t_ind,
            started_at=result.started_at.isoformat(),
            sample_rate_hz=result.sample_rate_hz,
            vm_mv=result.vm_mv,
            command_pa=result.command_pa,
            stim=result.stim,
            complete=result.complete,
            settings=result.settings,
            analysis=analysis,
            extra=result.extra,
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
        segment: str,
        at_s: float,
        t_ind: float,
        prepared: PreparedSweep,
        sweep: proto.CompiledSweep,
    ) -> None:
        result = self._acquire(prepared, at_s)
        pa = analyze_probe(result.vm_mv, result.sample_rate_hz, sweep, self.options.analysis)
        analysis: dict[str, Any] = pa.as_dict()
        extra = probe_measures(result.vm_mv, result.sample_rate_hz, sweep, self.options.analysis)
        analysis.update({k: v for k, v in extra.as_dict().items() if k != "epsp_mv"})
        t_min = (at_s - t_ind) / 60.0
        if segment == "baseline":
            self._baseline.append(pa)
            self._baseline_times.append(at_s / 60.0)
        base_epsps = [b.epsp_mv for b in self._baseline if math.isfinite(b.epsp_mv)]
        base_mean = sum(base_epsps) / len(base_epsps) if base_epsps else math.nan
        norm = pa.epsp_mv / base_mean if base_mean and math.isfinite(base_mean) else math.nan
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
            if segment != "baseline" or len(self._baseline) > 3
            else []
        )
        analysis["flags"] = flags
        for f in flags:
            self.warning.emit(f"sweep {index}: {f}")
        if segment == "followup" and self._rin_watch is not None:
            reason = self._rin_watch.observe(
                pa.rin_mohm, sum(rins) / len(rins) if rins else math.nan
            )
            if reason is not None:
                self._stop_reason = f"auto-stop: {reason}"
                self.warning.emit(self._stop_reason)
                assert self._writer is not None
                self._writer.event("auto_stop", reason=reason, at_s=at_s)
                self.stop()
        self._probe_at.append(at_s)
        self._probe_epsps.append(pa.epsp_mv)
        with self._lock:
            self._last_epsp = pa.epsp_mv
            self._last_norm = norm
        self._record(index, "probe", segment, at_s, t_ind, result, analysis)
        self.analysis_updated.emit(
            {"index": index, "segment": segment, "since_induction_min": t_min, **analysis}
        )

    # ------------------------------------------------------------------ the run

    def run(self) -> RunResult:
        """Run the whole experiment on this thread; returns how it ended."""
        status = RunState.FAILED
        message = ""
        summary: dict[str, Any] = {}
        nwb_path: Path | None = None
        refusal = preflight(self.rig, self.experiment, self.options.calibrate)
        if refusal:  # nothing output, no data folder created
            self._set_state(RunState.FAILED, refusal)
            self._result = RunResult(RunState.FAILED, self.folder, 0, {}, refusal)
            self.finished.emit(self._result)
            return self._result
        try:
            self._writer = self._open_writer()
        except DataFolderError as exc:
            self._set_state(RunState.FAILED, str(exc))
            self._result = RunResult(RunState.FAILED, self.folder, 0, {}, str(exc))
            self.finished.emit(self._result)
            return self._result
        try:
            self._run_schedule()
            status = RunState.STOPPED if self._stop else RunState.DONE
        except _StopRunError:
            status = RunState.ABORTED if self._abort else RunState.STOPPED
            message = "aborted by the user" if self._abort else "stopped by the user"
            message = self._stop_reason or message
        except Exception as exc:  # a rig or disk failure: stop safely, keep the data
            status = RunState.FAILED
            message = str(exc)
            self.warning.emit(f"run failed: {exc}")
        finally:
            with contextlib.suppress(Exception):
                self.rig.safe_state()
            try:
                t_ind = math.inf if self._t_ind is None else self._t_ind
                rs = summarize_recording(
                    [(a - t_ind) / 60.0 for a in self._probe_at],
                    self._probe_epsps,
                    self.options.analysis,
                )
                summary = rs.as_dict()
            except Exception as exc:
                summary = {"error": str(exc)}
            assert self._writer is not None
            self._writer.close(status.value, summary)
            if self._writer.error is not None:
                status = RunState.FAILED
                message = message or f"the data folder could not be written: {self._writer.error}"
        if self.options.write_nwb and status in (RunState.DONE, RunState.STOPPED):
            try:
                from rigctl.engine.nwb import export_nwb

                nwb_path = export_nwb(
                    self.folder, subject=self.options.subject, session=self.options.session
                )
            except Exception as exc:
                self.warning.emit(
                    f"NWB export failed ({exc}); the journal is intact, run rigctl export-nwb"
                )
        self._set_state(status, message)
        self._result = RunResult(status, self.folder, self._done, summary, message, nwb_path)
        self.finished.emit(self._result)
        return self._result

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
        missing = any(
            p.post.target_rate_hz > 0 and p.post.current_pa is None for p in exp.induction.phases
        )
        mode = self.options.calibrate
        if mode == "never" or (mode == "missing" and not missing):
            return exp
        self._set_state(RunState.CALIBRATING, "calibrating the postsynaptic currents")
        cal = calibrate_experiment(self.rig, exp)
        assert self._writer is not None
        self._writer.event(
            "calibration",
            currents_pa=cal.currents(),
            rates=[
                {"phase": r.phase, "target_hz": r.target_hz, "achieved_hz": r.achieved_hz}
                for r in cal.rates
            ],
        )
        for r in cal.rates:
            if not r.ok:
                self.warning.emit(f"calibration: {r.line()}")
        return cal.experiment

    def _run_schedule(self) -> proto.Experiment:
        exp = self._maybe_calibrate(self.experiment)
        if exp is not self.experiment:
            self.experiment = exp
            assert self._writer is not None
            self._writer.event("protocol_calibrated", experiment=json.loads(proto.dumps(exp)))
        comp = proto.compile_experiment(exp)
        interval = exp.probes.interval_s
        probe_prep = self.rig.prepare(comp.probe, "probe")
        ind_prep = self.rig.prepare(comp.induction, "induction")
        t0_wall = self._clock()
        index = 0
        # Baseline: probes until the baseline time is over (or the user starts the induction).
        self._set_state(RunState.BASELINE)
        with self._lock:
            self._segment = "baseline"
        n_base = exp.probes.baseline_count
        i = 0
        while True:
            at = i * interval
            if i > 0:
                self._wait_until(t0_wall + at)
            with self._lock:
                induce = self._induce_now
            if induce or (self.options.auto_induction and i >= n_base):
                break
            self._check()
            with self._lock:
                self._t_exp = at
            # The onset is known in advance unless the user starts the induction by hand.
            expected_onset = n_base * interval if self.options.auto_induction else math.nan
            self._probe(index, "baseline", at, expected_onset, probe_prep, comp.probe)
            index += 1
            i += 1
            if i == n_base:
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
            if not self.options.auto_induction and i >= n_base:
                with self._lock:
                    self._planned += 1
        # Fix the induction onset and give the baseline sweeps their relative times.
        t_ind = i * interval
        with self._lock:
            self._t_ind = t_ind
        assert self._writer is not None
        self._writer.event("induction_onset", at_s=t_ind, baseline_probes=i)
        # Induction.
        self._wait_until(t0_wall + t_ind)
        with self._lock:
            self._segment = "induction"
            self._t_exp = t_ind
        self._set_state(RunState.INDUCTION)
        result = self._acquire(ind_prep, t_ind)
        rates = phase_rates(result.vm_mv, result.sample_rate_hz, comp.induction)
        for r in rates:
            if not r.ok:
                self.warning.emit(f"induction: {r.line()}")
        analysis = {
            "phase_rates": [
                {
                    "phase": r.phase,
                    "target_hz": r.target_hz,
                    "achieved_hz": r.achieved_hz,
                    "n_spikes": r.n_spikes,
                    "ok": r.ok,
                }
                for r in rates
            ]
        }
        self._record(index, "induction", "induction", t_ind, t_ind, result, analysis)
        self.analysis_updated.emit({"index": index, "segment": "induction", **analysis})
        index += 1
        # Follow-up: probe j at t_ind + j * interval, after the induction sweep ends.
        self._set_state(RunState.FOLLOWUP)
        with self._lock:
            self._segment = "followup"
        first = max(1, math.ceil(result.n_samples / result.sample_rate_hz / interval))
        j = first
        while True:
            with self._lock:
                last = first + exp.probes.followup_count + self._extra_followup - 1
            if j > last:
                break
            at = t_ind + j * interval
            self._wait_until(t0_wall + at)
            with self._lock:
                self._t_exp = at
            self._probe(index, "followup", at, t_ind, probe_prep, comp.probe)
            index += 1
            j += 1
        # With a manual onset the baseline sweeps were written before it was known; the
        # journal's induction_onset event and each sweep's at_s give their relative times.
        return exp
