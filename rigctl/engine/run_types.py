"""What a run is given and what it reports: options, status snapshots and the result.

These are plain frozen dataclasses shared by the runner, the session, the study and the
GUI; they hold no behaviour beyond derived values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rigctl.engine.analysis import AnalysisSettings
from rigctl.engine.lifecycle import RunState
from rigctl.engine.rinwatch import RinStopSettings
from rigctl.engine.setup import SetupRecord

__all__ = ["RunOptions", "RunResult", "RunState", "RunStatus"]


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
