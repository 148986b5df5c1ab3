"""Dry runs on the rig: one calibration or one sweep on a worker thread (no Qt).

A :class:`RigJob` runs one calibration or one dry-run sweep on its own thread and reports
through three callbacks, all called on that thread: a sweep starts, a chunk of Vm
arrived, the job ended (with one :data:`JobOutcome`). Jobs are built by the rig session
(:meth:`rigctl.engine.session.RigSession.dry_run_job`), which lends them the rig; the
rig panel turns the callbacks into queued Qt signals.

The job talks to the rig only through the :class:`~rigctl.hardware.Rig` protocol, wrapped
so that an abort requested at any moment (between the sweeps of a calibration, or before
a sweep has started) is honoured: the rig's own ``abort()`` only stops a sweep that runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from rigctl.engine.analysis import analyze_probe
from rigctl.engine.current_calibration import ExperimentCalibration, calibrate_experiment
from rigctl.engine.spikes import PhaseRate, phase_rates
from rigctl.hardware import (
    Chunk,
    ChunkCallback,
    LimitError,
    PreparedSweep,
    Rig,
    RigDefinition,
    RigError,
    SweepAborted,
    SweepResult,
)
from rigctl.protocol import CompiledSweep, CompileError, Experiment, Waveforms, compile_experiment

__all__ = [
    "CalibrationDone",
    "JobAborted",
    "JobFailed",
    "JobOutcome",
    "ProbeSummary",
    "RigJob",
    "SweepDone",
    "SweepKind",
    "SweepStarted",
    "calibration_work",
    "probe_summary",
    "sweep_work",
]

_log = logging.getLogger(__name__)

SweepKind = Literal["induction", "probe"]
"""Which sweep of an experiment to run."""

# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class SweepStarted:
    """A sweep of a job is about to be played.

    Attributes
    ----------
    label
        The sweep's label (``"induction"``, ``"calibration 150 pA"``, ...).
    n_samples
        Samples per channel.
    sample_rate_hz
        Sample rate (Hz).
    index
        Position of the sweep in the job (1 for the first).
    """

    label: str
    n_samples: int
    sample_rate_hz: float
    index: int

    @property
    def duration_s(self) -> float:
        """Sweep length (s)."""
        return self.n_samples / self.sample_rate_hz


@dataclass(frozen=True)
class ProbeSummary:
    """What a probe sweep shows at a glance.

    Attributes
    ----------
    epsp_mv
        EPSP amplitude as a recording measures it
        (:func:`~rigctl.engine.analysis.analyze_probe`; ``None`` if the sweep ended
        before the pulse).
    fired
        Whether the cell crossed the spike threshold after the pulse (the analysis's
        ``spike_in_probe``; then ``epsp_mv`` is not an EPSP amplitude).
    pulse_ms
        Time of the probe pulse in the sweep (ms).
    input_resistance_mohm
        Input resistance from the test step, as a recording measures it (``None``
        without a test step or if the sweep ended before it).
    step_pa
        Amplitude of the test step (pA).
    """

    epsp_mv: float | None
    fired: bool
    pulse_ms: float | None
    input_resistance_mohm: float | None
    step_pa: float | None

    def line(self) -> str:
        """One sentence for the user."""
        parts = []
        if self.epsp_mv is not None and self.pulse_ms is not None:
            if self.fired:
                parts.append(f"the probe pulse at {self.pulse_ms:g} ms made the cell fire")
            else:
                parts.append(f"EPSP {self.epsp_mv:.2f} mV (probe pulse at {self.pulse_ms:g} ms)")
        if self.input_resistance_mohm is not None and self.step_pa is not None:
            parts.append(
                f"input resistance {self.input_resistance_mohm:.0f} MΩ "
                f"(from the {self.step_pa:g} pA test step)"
            )
        return "; ".join(parts) if parts else "no probe pulse or test step was acquired"


@dataclass(frozen=True)
class SweepDone:
    """A dry-run sweep that was played to its end.

    Attributes
    ----------
    which
        ``"induction"`` or ``"probe"``.
    experiment
        The experiment whose sweep was played.
    sweep
        The compiled sweep that was played.
    result
        What the rig acquired.
    rates
        Achieved against target rate of every phase (empty for a probe sweep).
    probe
        EPSP and input resistance of a probe sweep (``None`` for an induction).
    """

    which: SweepKind
    experiment: Experiment
    sweep: CompiledSweep
    result: SweepResult
    rates: tuple[PhaseRate, ...]
    probe: ProbeSummary | None


@dataclass(frozen=True)
class CalibrationDone:
    """A calibration that finished.

    Attributes
    ----------
    experiment
        The experiment as it was when the calibration started.
    calibration
        The calibrated experiment, the rates it achieved and the f-I curve.
    sweeps
        Number of sweeps the calibration played.
    """

    experiment: Experiment
    calibration: ExperimentCalibration
    sweeps: int


@dataclass(frozen=True)
class JobFailed:
    """A job that could not be done; ``message`` is one sentence for the user.

    Attributes
    ----------
    message
        What went wrong (a refused sweep names the limit).
    limit
        The rig limit a refused sweep exceeds (``LimitError.limit``), else ``None``.
    """

    message: str
    limit: str | None = None


@dataclass(frozen=True)
class JobAborted:
    """A job stopped on request; outputs are at rest.

    Attributes
    ----------
    message
        What was stopped, for the user.
    result
        The samples acquired by the sweep that was running, if any.
    """

    message: str
    result: SweepResult | None = None


JobOutcome = SweepDone | CalibrationDone | JobFailed | JobAborted
"""How a job ended."""

Work = Callable[[Rig], SweepDone | CalibrationDone | JobAborted]
"""What a job does with its (guarded) rig."""


# --------------------------------------------------------------------------- the rig seen by a job


class _GuardedRig:
    """The lent rig as a job sees it: abortable at any time, reporting every sweep.

    Implements :class:`~rigctl.hardware.Rig`; ``close`` is a no-op because the session,
    not the job, owns the rig.
    """

    def __init__(
        self,
        rig: Rig,
        cancel: threading.Event,
        on_started: Callable[[SweepStarted], None],
        on_chunk: Callable[[Chunk], None],
    ) -> None:
        self._rig = rig
        self._cancel = cancel
        self._on_started = on_started
        self._on_chunk = on_chunk
        self.definition: RigDefinition = rig.definition
        self.sweeps = 0

    def _check(self) -> None:
        if self._cancel.is_set():
            raise SweepAborted("aborted before the next sweep started")

    def prepare(self, source: CompiledSweep | Waveforms, label: str = "sweep") -> PreparedSweep:
        self._check()
        return self._rig.prepare(source, label)

    def run(
        self,
        prepared: PreparedSweep,
        on_chunk: ChunkCallback | None = None,
        *,
        at_s: float | None = None,
    ) -> SweepResult:
        self._check()
        self.sweeps += 1
        self._on_started(
            SweepStarted(prepared.label, prepared.n_samples, prepared.sample_rate_hz, self.sweeps)
        )

        def relay(chunk: Chunk) -> None:
            if self._cancel.is_set():
                # An abort that came before the rig started this sweep was cleared by
                # run(); say it again so the sweep stops at the next chunk.
                self._rig.abort()
            own = np.array(chunk.vm_mv, dtype=np.float64, copy=True)
            self._on_chunk(Chunk(chunk.start, own, chunk.sample_rate_hz, chunk.n_total))
            if on_chunk is not None:
                on_chunk(chunk)

        return self._rig.run(prepared, relay, at_s=at_s)

    def abort(self) -> None:
        self._rig.abort()

    def safe_state(self) -> None:
        self._rig.safe_state()

    def close(self) -> None:
        """Do nothing: the rig session closes the rig."""


# --------------------------------------------------------------------------- work


def probe_summary(
    vm_mv: npt.ArrayLike, sample_rate_hz: float, sweep: CompiledSweep
) -> ProbeSummary:
    """EPSP amplitude and input resistance of an acquired probe sweep.

    The numbers are the engine's probe analysis
    (:func:`rigctl.engine.analysis.analyze_probe`, the one a recording uses), so the Rig
    tab and a recording measure a probe the same way.

    Parameters
    ----------
    vm_mv
        Membrane potential (mV), possibly shorter than the sweep if it was aborted.
    sample_rate_hz
        Sample rate (Hz).
    sweep
        The compiled probe sweep that was played.

    Returns
    -------
    ProbeSummary
        ``None`` for what the sweep ended before; ``fired`` when the analysis found a
        spike after the probe pulse.
    """
    v = np.asarray(vm_mv, dtype=np.float64)
    analysis = analyze_probe(v, sample_rate_hz, sweep)
    pulses = sweep.of_kind("probe_pulse")
    pulse_ms = pulses[0].start_ms if pulses else None
    epsp = analysis.epsp_mv if np.isfinite(analysis.epsp_mv) else None
    fired = epsp is not None and analysis.spike_in_probe
    steps = sweep.of_kind("test_step")
    step_pa = steps[0].amplitude_pa if steps and steps[0].amplitude_pa != 0 else None
    rin = analysis.rin_mohm if step_pa is not None and np.isfinite(analysis.rin_mohm) else None
    return ProbeSummary(epsp, fired, pulse_ms, rin, step_pa)


def sweep_work(which: SweepKind, experiment: Experiment) -> Work:
    """The work of a dry run of one sweep of ``experiment``.

    Parameters
    ----------
    which
        ``"induction"`` (then the achieved rate of every phase is measured) or
        ``"probe"`` (then the EPSP and input resistance are).
    experiment
        The experiment whose compiled sweep is played.

    Returns
    -------
    Callable
        What a :class:`RigJob` runs.
    """

    def work(rig: Rig) -> SweepDone | JobAborted:
        compiled = compile_experiment(experiment)
        sweep = compiled.induction if which == "induction" else compiled.probe
        result = rig.run(rig.prepare(sweep, label=which))
        fs = result.sample_rate_hz
        if not result.complete:
            return JobAborted(
                f"{which} sweep aborted after {result.n_samples / fs:.2f} s of "
                f"{sweep.n_samples(fs) / fs:.2f} s",
                result,
            )
        if which == "induction":
            rates = tuple(phase_rates(result.vm_mv, fs, sweep))
            return SweepDone(which, experiment, sweep, result, rates, None)
        return SweepDone(
            which, experiment, sweep, result, (), probe_summary(result.vm_mv, fs, sweep)
        )

    return work


def calibration_work(experiment: Experiment) -> Work:
    """The work of calibrating the currents of ``experiment`` on the rig.

    Parameters
    ----------
    experiment
        The experiment whose driven phases get their currents
        (:func:`~rigctl.engine.current_calibration.calibrate_experiment`: f-I ladder, then in
        context with the stimulation off).

    Returns
    -------
    Callable
        What a :class:`RigJob` runs.
    """

    def work(rig: Rig) -> CalibrationDone:
        calibration = calibrate_experiment(rig, experiment)
        sweeps = rig.sweeps if isinstance(rig, _GuardedRig) else 0
        return CalibrationDone(experiment, calibration, sweeps)

    return work


# --------------------------------------------------------------------------- the job


class RigJob:
    """One piece of rig work on its own thread, abortable at any moment.

    Parameters
    ----------
    rig
        The rig to work on (used through the :class:`~rigctl.hardware.Rig` protocol only).
    work
        What to do (:func:`sweep_work`, :func:`calibration_work`).
    on_started
        Called (on the job's thread) before every sweep.
    on_chunk
        Called (on the job's thread) with every chunk of Vm, a copy the job no longer
        touches.
    on_ended
        Called once (on the job's thread) with the outcome, last.
    name
        What the job does, for messages ("calibration", "induction sweep").
    """

    def __init__(
        self,
        rig: Rig,
        work: Work,
        *,
        on_started: Callable[[SweepStarted], None],
        on_chunk: Callable[[Chunk], None],
        on_ended: Callable[[JobOutcome], None],
        name: str,
    ) -> None:
        self._cancel = threading.Event()
        self._rig = _GuardedRig(rig, self._cancel, on_started, on_chunk)
        self._work = work
        self._on_ended = on_ended
        self.name = name
        self._thread = threading.Thread(target=self._main, name=f"rigctl {name}", daemon=True)

    def start(self) -> None:
        """Start the work on its thread."""
        self._thread.start()

    def cancel(self) -> None:
        """Abort: stop the running sweep now and start no other (any thread)."""
        self._cancel.set()
        self._rig.abort()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._cancel.is_set()

    def is_alive(self) -> bool:
        """Whether the job's thread is still running."""
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; ``True`` if it has."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _main(self) -> None:
        outcome: JobOutcome
        try:
            outcome = self._work(self._rig)
        except RigError as exc:
            if self.cancelled or isinstance(exc, SweepAborted):
                result = exc.result if isinstance(exc, SweepAborted) else None
                outcome = JobAborted(f"{self.name} aborted", result)
            elif isinstance(exc, LimitError):
                outcome = JobFailed(str(exc), exc.limit)
            else:
                outcome = JobFailed(f"{self.name} failed: {exc}")
        except CompileError as exc:
            outcome = JobFailed(f"{self.name}: the protocol cannot be rendered: {exc}")
        except Exception as exc:  # a bug: say so in the panel, keep the traceback in the log
            _log.exception("%s failed", self.name)
            outcome = JobFailed(f"{self.name} failed unexpectedly ({type(exc).__name__}: {exc})")
        if isinstance(outcome, JobAborted | JobFailed):
            outcome = self._rest(outcome)
        self._on_ended(outcome)

    def _rest(self, outcome: JobAborted | JobFailed) -> JobOutcome:
        """After a failure or an abort, put the outputs at rest once more."""
        try:
            self._rig.safe_state()
        except RigError as exc:
            return JobFailed(f"{outcome.message}; and the outputs could not be set to rest: {exc}")
        return outcome
