"""Export a recording folder to NWB (Neurodata Without Borders, icephys).

The folder (journal, sweep files, protocol) is the record; ``recording.nwb`` is derived from
it in one pass, so it can be rebuilt at any time, also from a folder a crash left behind.
The file holds, for each sweep:

* ``command_NNNNN``: the current command as a ``CurrentClampStimulusSeries`` (pA stored,
  ``conversion`` 1e-12 to amperes),
* ``stim_ttl_NNNNN``: the TTL line that triggers the stimulus isolator, as a plain
  ``TimeSeries`` in ``/stimulus`` (its level in volts stored: 0 or the TTL high level, with
  ``conversion`` 1 so that readers which accept only SI-prefix conversions, such as neo,
  load it).
  It is not a ``CurrentClampStimulusSeries``: that type means current injected through the
  patch electrode, while the isolator passes its current through a separate extracellular
  stimulating electrode; the nominal isolator amplitude is in the series description,
* ``vm_NNNNN``: the membrane potential as a ``CurrentClampSeries`` (mV stored,
  ``conversion`` 1e-3 to volts) with the amplifier gain,

one row per sweep in the ``IntracellularRecordingsTable`` (with a ``sweep`` and an
``analysis`` category: EPSP, input resistance, normalized EPSP, flags), grouped into
simultaneous recordings (one per sweep), sequential recordings (one per segment:
baseline, induction, follow-up), one repetition and one experimental condition. The
protocol as run is embedded as JSON in ``NWBFile.protocol``, the journal's notes in
``NWBFile.notes``. The recordings table is built once, in memory
(:func:`rigctl.engine.nwb_build.build_nwbfile`): pynwb cannot append rows to it in an
existing file. This module checks the metadata and the free space and writes the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rigctl.engine.nwb_build import build_nwbfile
from rigctl.engine.nwb_meta import (
    DEFAULT_LOCATION,
    DEFAULT_SPECIES,
    UNKNOWN_AGE,
    NwbExportError,
)
from rigctl.engine.recording import DataFolderError, Recording, describe_os_error, load_recording
from rigctl.protocol import write_atomic

__all__ = [
    "DEFAULT_LOCATION",
    "DEFAULT_SPECIES",
    "NWB_FILENAME",
    "SESSION_FIELDS",
    "SUBJECT_FIELDS",
    "UNKNOWN_AGE",
    "NwbExportError",
    "export_nwb",
]

NWB_FILENAME = "recording.nwb"
SUBJECT_FIELDS = (
    "subject_id",
    "species",
    "sex",
    "age",
    "strain",
    "genotype",
    "weight",
    "description",
)
"""Keys accepted in ``subject`` (NWB ``Subject`` fields)."""

SESSION_FIELDS = (
    "experimenter",
    "lab",
    "institution",
    "experiment_description",
    "session_description",
    "session_id",
    "related_publications",
    "keywords",
    "cell_id",
    "location",
    "slice",
    "seal",
    "resistance",
    "initial_access_resistance",
    "pharmacology",
)
"""Keys accepted in ``session`` (NWB file and electrode metadata)."""

# --------------------------------------------------------------------------- helpers


def _check_keys(what: str, given: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise NwbExportError(
            f"unknown {what} field {unknown[0]!r} for the NWB file; expected one of "
            f"{', '.join(allowed)}"
        )


# --------------------------------------------------------------------------- export


def export_nwb(
    folder: str | os.PathLike[str],
    *,
    subject: Mapping[str, Any] | None = None,
    session: Mapping[str, Any] | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Path:
    """Write the recording in ``folder`` as an NWB file.

    Parameters
    ----------
    folder
        A rigctl recording folder, in whatever state a run or a crash left it (damaged sweep
        files and a torn last journal line are skipped and listed in the file's notes).
    subject
        NWB ``Subject`` fields (see :data:`SUBJECT_FIELDS`), over those recorded in the
        folder's header. Defaults: ``subject_id`` the folder name, ``species``
        :data:`DEFAULT_SPECIES`, ``sex`` ``"U"``, ``age`` ``"P0D/"`` (unknown).
    session
        File and electrode metadata (see :data:`SESSION_FIELDS`), over those recorded in the
        header; ``experimenter``, ``keywords`` and ``related_publications`` may be lists or
        ``;``-separated strings. The electrode ``location`` defaults to ``"CA1"``.
    path
        Where to write; default ``folder / "recording.nwb"``. The file is written under a
        temporary name and renamed, so an existing file is replaced only by a complete one.

    Returns
    -------
    Path
        The NWB file written.

    Raises
    ------
    NwbExportError
        The folder is not a recording, holds no readable sweep, a metadata field is
        unknown, or the file cannot be written (disk full, read-only, no permission).
        Free space is checked before anything is written; a failed write leaves no
        partial file and any previous file untouched. The outcome of every export that
        reached the writing stage is noted in the folder's ``recording.json`` as
        ``"nwb_export": {"ok": ..., "at": ..., "path" | "error": ...}`` when the folder
        can be written, so a later ``rigctl export-nwb`` can retry.
    """
    try:
        rec = load_recording(folder)
    except DataFolderError as exc:
        raise NwbExportError(str(exc)) from None
    if not rec.sweeps:
        raise NwbExportError(f"{rec.folder}: the recording has no readable sweep to export")
    subj = {**dict(rec.header.get("subject") or {}), **dict(subject or {})}
    sess = {**dict(rec.header.get("session") or {}), **dict(session or {})}
    _check_keys("subject", subj, SUBJECT_FIELDS)
    _check_keys("session", sess, SESSION_FIELDS)
    target = rec.folder / NWB_FILENAME if path is None else Path(path)
    try:
        _check_free(target, _estimate_bytes(rec))
        image = _image(build_nwbfile(rec, subj, sess))
        _check_free(target, len(image))
        write_atomic(target, image)
    except NwbExportError as exc:
        _record_export(rec.folder, target, exc)
        raise
    except OSError as exc:
        error = NwbExportError(f"{target}: cannot write the NWB file ({describe_os_error(exc)})")
        _record_export(rec.folder, target, error)
        raise error from None
    _record_export(rec.folder, target, None)
    return target


_MARGIN_BYTES = 1 << 20
"""Room left free beyond the file itself (metadata, the folder entry, other writers)."""


def _estimate_bytes(rec: Recording) -> int:
    """A rough lower estimate of the NWB file's size: the compressed sweep data.

    Sweep files hold raw samples; gzip with shuffle shrinks them about threefold.
    """
    total = 0
    for s in rec.sweeps:
        with contextlib.suppress(OSError):
            total += s.path.stat().st_size
    return total // 3


def _check_free(target: Path, needed: int) -> None:
    """Raise :class:`NwbExportError` if ``target``'s disk has no room for ``needed`` bytes."""
    free = shutil.disk_usage(target.parent).free
    if free < needed + _MARGIN_BYTES:
        raise NwbExportError(
            f"{target}: cannot write the NWB file (the disk is full: it needs about "
            f"{(needed + _MARGIN_BYTES) / 1e6:.1f} MB and {free / 1e6:.1f} MB are free)"
        )


def _image(nwbfile: Any) -> bytes:
    """The NWB file as bytes, built in memory.

    HDF5 never touches the disk: an I/O error can only come from the plain write of these
    bytes afterwards, so h5py never goes on writing (or flushing, at close) after one.
    """
    import h5py  # type: ignore[import-untyped, unused-ignore]
    from pynwb import NWBHDF5IO  # type: ignore[import-untyped, unused-ignore]

    name = f"rigctl-{uuid.uuid4().hex}.nwb"  # in-memory only; unique per open file
    h5 = h5py.File(name, "w", driver="core", backing_store=False)
    try:
        with NWBHDF5IO(mode="w", file=h5) as io:
            io.write(nwbfile)
            h5.flush()
            image: bytes = h5.id.get_file_image()
    finally:
        h5.close()
    return image


def _record_export(folder: Path, target: Path, error: NwbExportError | None) -> None:
    """Note the export's outcome in ``recording.json`` (``"nwb_export"``), best effort.

    A folder that cannot be written (full, read-only) keeps its previous record: the
    export's error is what the caller reports.
    """
    path = folder / "recording.json"
    try:
        header = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if not isinstance(header, dict):
        return
    outcome: dict[str, Any] = {"ok": error is None, "at": datetime.now(UTC).isoformat()}
    if error is None:
        outcome["path"] = str(target)
    else:
        outcome["error"] = str(error)
    header["nwb_export"] = outcome
    text = json.dumps(header, indent=2, ensure_ascii=False, default=str) + "\n"
    with contextlib.suppress(OSError):
        write_atomic(path, text.encode("utf-8"))
