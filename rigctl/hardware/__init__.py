"""Rig definitions and backends (no Qt; nidaqmx only in :mod:`rigctl.hardware.nidaq`).

``open_rig(definition)`` builds the backend a rig file names: the simulated rig
(default) or the NI-DAQmx rig.
"""

from __future__ import annotations

from rigctl.hardware.base import (
    Chunk,
    ChunkCallback,
    LimitError,
    PacedRig,
    PreparedSweep,
    Rig,
    RigError,
    StatefulRig,
    SweepAborted,
    SweepResult,
    check_limits,
    prepare_checked,
    pulse_edges,
    recheck_prepared,
)
from rigctl.hardware.definition import (
    DEFAULT_RIG_PATH,
    RigDefinition,
    RigFileError,
    load_rig,
    loads_rig,
)
from rigctl.hardware.sim import SimRig

__all__ = [
    "DEFAULT_RIG_PATH",
    "Chunk",
    "ChunkCallback",
    "LimitError",
    "PacedRig",
    "PreparedSweep",
    "Rig",
    "RigDefinition",
    "RigError",
    "RigFileError",
    "SimRig",
    "StatefulRig",
    "SweepAborted",
    "SweepResult",
    "check_limits",
    "load_rig",
    "loads_rig",
    "open_rig",
    "prepare_checked",
    "pulse_edges",
    "recheck_prepared",
]


def open_rig(
    definition: RigDefinition, *, paced: bool | None = None, seed: int | None = None
) -> Rig:
    """Build the backend named by ``definition.backend``.

    ``paced`` and ``seed`` apply to the simulated rig (paced defaults to False: dry runs
    go as fast as possible). The NI rig is imported only when asked for, so machines
    without NI-DAQmx never load it.
    """
    if definition.backend == "sim":
        return SimRig(definition, paced=bool(paced), seed=seed)
    from rigctl.hardware.nidaq import NidaqRig

    return NidaqRig(definition)
