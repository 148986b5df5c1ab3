"""Protocol model, files and compilation (pure: no Qt, no hardware).

Typical use::

    from rigctl import protocol
    exp = protocol.load("protocols/theta-25-50.json")
    sweep = protocol.compile_induction(exp.induction)
    wave = sweep.waveforms(20_000)
"""

from rigctl.protocol.compile import (
    CompiledExperiment,
    CompiledSweep,
    CompileError,
    Event,
    EventKind,
    PhaseSpan,
    ScheduledSweep,
    Waveforms,
    compile_experiment,
    compile_induction,
    compile_probe,
    exact,
    sample_index,
    schedule,
)
from rigctl.protocol.io import (
    MAX_FILE_BYTES,
    MIGRATIONS,
    Migration,
    Problem,
    ProtocolFileError,
    dumps,
    json_schema,
    load,
    loads,
    migrate,
    model_at,
    problems_of,
    register_migration,
    save,
    write_atomic,
)
from rigctl.protocol.library import PAPER_CONDITIONS, TYPICAL_CURRENT_PA, paper_condition
from rigctl.protocol.models import (
    FORMAT,
    SCHEMA_VERSION,
    Experiment,
    Induction,
    Metadata,
    Phase,
    PostDrive,
    ProbePulse,
    ProbeSchedule,
    StimTrain,
    TestStep,
)

__all__ = [
    "FORMAT",
    "MAX_FILE_BYTES",
    "MIGRATIONS",
    "PAPER_CONDITIONS",
    "SCHEMA_VERSION",
    "TYPICAL_CURRENT_PA",
    "CompileError",
    "CompiledExperiment",
    "CompiledSweep",
    "Event",
    "EventKind",
    "Experiment",
    "Induction",
    "Metadata",
    "Migration",
    "Phase",
    "PhaseSpan",
    "PostDrive",
    "ProbePulse",
    "ProbeSchedule",
    "Problem",
    "ProtocolFileError",
    "ScheduledSweep",
    "StimTrain",
    "TestStep",
    "Waveforms",
    "compile_experiment",
    "compile_induction",
    "compile_probe",
    "dumps",
    "exact",
    "json_schema",
    "load",
    "loads",
    "migrate",
    "model_at",
    "paper_condition",
    "problems_of",
    "register_migration",
    "sample_index",
    "save",
    "schedule",
    "write_atomic",
]
