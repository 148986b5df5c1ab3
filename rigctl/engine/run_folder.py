"""The run's data folder: its header, the sweep records and the NWB file at the end.

The runner opens the folder with :func:`open_run_folder` (header, protocol, rig file and
the expected size, checked against the free space), builds each sweep's record with
:func:`sweep_record`, and writes the NWB file with :func:`export_run_nwb` once the run
ended normally (:func:`prefetch_nwb` overlaps pynwb's slow import with the run).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rigctl import protocol as proto
from rigctl.engine.journal import AsyncWriter, RecordingWriter, SweepRecord
from rigctl.engine.run_types import RunOptions
from rigctl.engine.schedule import Slot
from rigctl.hardware import Rig, SweepResult

__all__ = ["export_run_nwb", "open_run_folder", "prefetch_nwb", "sweep_record"]

_log = logging.getLogger(__name__)

_BYTES_PER_SAMPLE = 4 + 4 + 1
"""Vm and command as float32, the stimulus as one byte."""


def _header(rig: Rig, exp: proto.Experiment, options: RunOptions) -> dict[str, Any]:
    return {
        "created": datetime.now(UTC).isoformat(),
        "protocol_name": exp.metadata.name,
        "rig": rig.definition.name,
        "backend": rig.definition.backend,
        "options": {
            "fast": options.fast,
            "auto_induction": options.auto_induction,
            "calibrate": options.calibrate,
            "rin_stop": options.rin_stop.describe() if options.rin_stop else None,
        },
        "setup": options.setup.as_dict() if options.setup else None,
        "subject": options.subject,
        "session": options.session,
        "settings": rig.definition.settings_record(),
    }


def open_run_folder(
    rig: Rig, exp: proto.Experiment, folder: Path, options: RunOptions, rig_text: str
) -> tuple[AsyncWriter, int]:
    """Create the data folder; returns its writer and the number of sweeps planned.

    Raises
    ------
    DataFolderError
        If the folder cannot be created or the disk is too full for the recording.
    """
    comp = proto.compile_experiment(exp)
    fs = rig.definition.sample_rate_hz
    n_probe = len([s for s in comp.sweeps if s.kind == "probe"])
    expected = int(
        (n_probe * comp.probe.n_samples(fs) + comp.induction.n_samples(fs)) * _BYTES_PER_SAMPLE
    )
    writer = RecordingWriter(
        folder,
        _header(rig, exp, options),
        protocol_json=proto.dumps(exp),
        rig_text=rig_text or f"# rig definition (from {rig.definition.name})\n",
        rig_json=rig.definition.model_dump(mode="json"),
        expected_bytes=expected,
    )
    return AsyncWriter(writer), len(comp.sweeps)


def sweep_record(
    index: int,
    slot: Slot,
    actual: float,
    induction_s: float,
    result: SweepResult,
    analysis: dict[str, Any],
    cut: str | None,
) -> SweepRecord:
    """The record of one sweep played at ``actual`` s (induction at ``induction_s``)."""
    return SweepRecord(
        index=index,
        kind=slot.kind,
        segment=slot.segment.value,
        at_s=actual,
        since_induction_s=actual - induction_s,
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
        cut=cut,
    )


def _import_nwb() -> None:
    try:
        import pynwb  # type: ignore[import-untyped, unused-ignore]  # noqa: F401

        import rigctl.engine.nwb  # noqa: F401
    except Exception:  # the export at the end reports any problem itself
        _log.debug("pynwb could not be imported ahead of the export", exc_info=True)


def prefetch_nwb() -> None:
    """Import pynwb on a daemon thread (~1 s): overlap it with the run."""
    threading.Thread(target=_import_nwb, name="rigctl-nwb-import", daemon=True).start()


def export_run_nwb(folder: Path, options: RunOptions) -> Path:
    """Write ``recording.nwb`` of the finished folder with the run's metadata."""
    from rigctl.engine.nwb import export_nwb

    return export_nwb(folder, subject=options.subject, session=options.session)
