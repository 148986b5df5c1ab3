"""The experiment engine: runner state machine, online analysis and crash-safe data (no Qt)."""

from rigctl.engine.analysis import (
    AnalysisSettings,
    BaselineCheck,
    ProbeAnalysis,
    RecordingSummary,
    analyze_probe,
    check_baseline,
    health_flags,
    summarize_recording,
)
from rigctl.engine.journal import (
    AsyncWriter,
    DataFolderError,
    LoadedSweep,
    Recording,
    RecordingWriter,
    SweepRecord,
    load_recording,
    recover,
)
from rigctl.engine.lifecycle import FinishReason, Lifecycle, Segment
from rigctl.engine.runner import ExperimentRunner, RunOptions, RunResult, RunState, RunStatus
from rigctl.engine.session import (
    NoRigError,
    RigBusyError,
    RigLease,
    RigOpenError,
    RigOptions,
    RigSession,
)
from rigctl.engine.signals import Signal

__all__ = [
    "AnalysisSettings",
    "AsyncWriter",
    "BaselineCheck",
    "DataFolderError",
    "ExperimentRunner",
    "FinishReason",
    "Lifecycle",
    "LoadedSweep",
    "NoRigError",
    "ProbeAnalysis",
    "Recording",
    "RecordingSummary",
    "RecordingWriter",
    "RigBusyError",
    "RigLease",
    "RigOpenError",
    "RigOptions",
    "RigSession",
    "RunOptions",
    "RunResult",
    "RunState",
    "RunStatus",
    "Segment",
    "Signal",
    "SweepRecord",
    "analyze_probe",
    "check_baseline",
    "health_flags",
    "load_recording",
    "recover",
    "summarize_recording",
]
