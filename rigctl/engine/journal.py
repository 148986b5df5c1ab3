"""The crash-safe recording folder: every completed sweep survives anything.

Layout of a recording folder::

    recording.json      header, status and summary (rewritten atomically; derivable)
    protocol.json       the experiment exactly as run
    rig.toml            the rig file as run (text), rig.json its validated settings
    journal.jsonl       append-only events (start, sweep, note, state, end), fsync'd
    sweeps/NNNNN-<segment>.npz   one file per completed sweep, written atomically
    analysis.csv        derived table, one row per sweep
    recording.nwb       NWB export (written at the end, or by ``rigctl export-nwb``)

A sweep file is written to a temporary name, flushed to disk and renamed, so it either
exists complete or not at all; ``kill -9`` at any moment loses at most the sweep in
flight. :func:`recover` rebuilds ``recording.json`` and ``analysis.csv`` from the sweep
files and the journal (tolerating a torn last journal line). Reading a folder back is
:mod:`rigctl.engine.recording` (re-exported here).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import queue
import shutil
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rigctl.engine.recording import (
    FORMAT,
    SWEEP_DIR,
    DataFolderError,
    LoadedSweep,
    Recording,
    analysis_rows,
    describe_os_error,
    load_recording,
)
from rigctl.engine.summary import summary_of
from rigctl.protocol import write_atomic

__all__ = [
    "FORMAT",
    "SWEEP_DIR",
    "AsyncWriter",
    "DataFolderError",
    "LoadedSweep",
    "Recording",
    "RecordingWriter",
    "SweepRecord",
    "analysis_rows",
    "describe_os_error",
    "load_recording",
    "recover",
]


@dataclass(frozen=True, eq=False)
class SweepRecord:
    """An acquired sweep as the runner hands it to the writer.

    ``at_s`` is the sweep's *actual* start (monotonic seconds since the run began) and
    ``started_at`` its UTC wall-clock start; ``planned_s`` is its slot in the compiled
    schedule. A sweep cut short has ``complete = False`` and ``cut`` says why
    (``abort``, ``halt`` or ``fault``); it holds only what was acquired and applied.
    """

    index: int
    kind: str
    segment: str
    at_s: float
    since_induction_s: float
    started_at: str
    sample_rate_hz: float
    vm_mv: npt.NDArray[np.float64]
    command_pa: npt.NDArray[np.float64]
    stim: npt.NDArray[np.uint8]
    complete: bool
    settings: dict[str, Any]
    analysis: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    planned_s: float | None = None
    cut: str | None = None

    def meta(self) -> dict[str, Any]:
        """Everything but the arrays, as plain data."""
        return {
            "index": self.index,
            "kind": self.kind,
            "segment": self.segment,
            "at_s": self.at_s,
            "actual_s": self.at_s,
            "planned_s": self.planned_s,
            "since_induction_s": self.since_induction_s,
            "started_at": self.started_at,
            "sample_rate_hz": self.sample_rate_hz,
            "n_samples": int(self.vm_mv.shape[0]),
            "complete": self.complete,
            "cut": self.cut,
            "settings": self.settings,
            "analysis": self.analysis,
            "extra": self.extra,
        }

    @property
    def filename(self) -> str:
        """Name of the sweep file in ``sweeps/``."""
        return f"{self.index:05d}-{self.segment}.npz"


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


class RecordingWriter:
    """Writes one recording folder; every method is safe to call from one writer thread.

    Creating it checks the folder before anything runs: it must be new or empty,
    writable, and have room for the recording (``expected_bytes``, twice over).
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        header: dict[str, Any],
        *,
        protocol_json: str,
        rig_text: str,
        rig_json: dict[str, Any],
        expected_bytes: int = 0,
    ) -> None:
        self.folder = Path(folder)
        try:
            if self.folder.exists() and any(self.folder.iterdir()):
                raise DataFolderError(
                    f"{self.folder}: the data folder is not empty; choose a new folder so no "
                    "recording is overwritten"
                )
            (self.folder / SWEEP_DIR).mkdir(parents=True, exist_ok=True)
            probe = self.folder / ".write-test"
            probe.write_bytes(b"ok")
            probe.unlink()
        except DataFolderError:
            raise
        except OSError as exc:
            raise DataFolderError(
                f"{self.folder}: cannot write the data folder ({exc.strerror or exc})"
            ) from None
        free = shutil.disk_usage(self.folder).free
        if expected_bytes and free < 2 * expected_bytes:
            raise DataFolderError(
                f"{self.folder}: only {free / 1e6:.0f} MB free, the recording needs about "
                f"{expected_bytes / 1e6:.0f} MB (twice that is required)"
            )
        self.header = dict(header, format=FORMAT, status="running")
        write_atomic(self.folder / "protocol.json", protocol_json.encode("utf-8"))
        write_atomic(self.folder / "rig.toml", rig_text.encode("utf-8"))
        write_atomic(self.folder / "rig.json", _json(rig_json).encode("utf-8"))
        write_atomic(self.folder / "recording.json", _json(self.header).encode("utf-8"))
        self._journal = open(self.folder / "journal.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self.event("start", header=self.header)

    def event(self, kind: str, **data: Any) -> None:
        """Append one event to the journal and flush it to disk."""
        line = json.dumps(
            {"event": kind, "time": datetime.now(UTC).isoformat(), **data}, default=str
        )
        self._journal.write(line + "\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())

    def write_sweep(self, record: SweepRecord) -> Path:
        """Write a completed sweep atomically, then journal it."""
        buf = io.BytesIO()
        np.savez(
            buf,
            vm_mv=np.asarray(record.vm_mv, dtype=np.float32),
            command_pa=np.asarray(record.command_pa, dtype=np.float32),
            stim=np.asarray(record.stim, dtype=np.uint8),
            meta=np.array(json.dumps(record.meta(), default=str)),
        )
        path = self.folder / SWEEP_DIR / record.filename
        write_atomic(path, buf.getvalue())
        self.event(
            "sweep",
            index=record.index,
            file=f"{SWEEP_DIR}/{record.filename}",
            segment=record.segment,
        )
        return path

    def finish(self, status: str, summary: dict[str, Any] | None = None) -> None:
        """Record the final status and summary, and write the derived files."""
        self.event("end", status=status)
        self._journal.close()
        recover(self.folder, status=status, summary=summary)


class AsyncWriter:
    """Runs a :class:`RecordingWriter` on its own thread so disk I/O never delays a sweep.

    ``error`` holds the first exception the writer hit (e.g. disk full); the runner checks
    it after every sweep and stops safely, keeping what was written.
    """

    def __init__(self, writer: RecordingWriter) -> None:
        self.writer = writer
        self.error: BaseException | None = None
        self.closed = False
        # Bounded: a run faster than the disk (dry runs) waits for the writer, so a crash
        # can only lose the sweep being written and at most one queued behind it.
        self._queue: queue.Queue[tuple[str, Any] | None] = queue.Queue(maxsize=2)
        self._thread = threading.Thread(target=self._loop, name="rigctl-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            what, payload = item
            if self.error is not None:
                continue
            try:
                if what == "sweep":
                    self.writer.write_sweep(payload)
                else:
                    kind, data = payload
                    self.writer.event(kind, **data)
            except BaseException as exc:
                self.error = exc

    def sweep(self, record: SweepRecord) -> None:
        """Queue a sweep for writing."""
        if self.closed:
            raise RuntimeError("the recording is closed")
        self._queue.put(("sweep", record))

    def event(self, kind: str, **data: Any) -> None:
        """Queue a journal event (ignored once the writer is closed)."""
        if not self.closed:
            self._queue.put(("event", (kind, data)))

    def close(self, status: str, summary: dict[str, Any] | None = None) -> None:
        """Write everything queued, then finish the folder."""
        self.closed = True
        self._queue.put(None)
        self._thread.join()
        if self.error is None:
            try:
                self.writer.finish(status, summary)
            except BaseException as exc:
                self.error = exc
        else:
            with contextlib.suppress(BaseException):
                self.writer._journal.close()
            with contextlib.suppress(BaseException):
                recover(self.writer.folder, status="failed", summary=summary)


def recover(
    folder: str | os.PathLike[str],
    *,
    status: str | None = None,
    summary: dict[str, Any] | None = None,
) -> Recording:
    """Rebuild ``recording.json`` and ``analysis.csv`` from the sweeps and the journal.

    Used at the end of every run and by ``rigctl recover`` after a crash. Temporary
    files a crash left behind (``.NAME.XXXX.tmp``, from the atomic writer) are removed;
    their names are listed in the header under ``"removed_tmp"``. The outcome of the last
    NWB export (``"nwb_export"``) is kept. Returns the recording as read.

    Raises
    ------
    DataFolderError
        The folder is not a recording, or cannot be written (read-only, disk full);
        ``str()`` is one sentence.
    """
    rec = load_recording(folder)
    try:
        return _rebuild(rec, status, summary)
    except DataFolderError:
        raise
    except OSError as exc:
        raise DataFolderError(
            f"{rec.folder}: cannot rebuild the recording's record ({describe_os_error(exc)})"
        ) from None


def _remove_leftovers(folder: Path) -> list[str]:
    """Remove the atomic writer's temporary files; their names, folder-relative.

    Raises :class:`DataFolderError` naming those that cannot be removed.
    """
    removed: list[str] = []
    left: list[str] = []
    why = ""
    for path in sorted([*folder.glob(".*.tmp"), *(folder / SWEEP_DIR).glob(".*.tmp")]):
        name = str(path.relative_to(folder))
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            left.append(name)
            why = why or describe_os_error(exc)
        else:
            removed.append(name)
    if left:
        raise DataFolderError(
            f"{folder}: cannot remove {len(left)} temporary file(s) left by a crash "
            f"({', '.join(left)}): {why}"
        )
    return removed


def _rebuild(rec: Recording, status: str | None, summary: dict[str, Any] | None) -> Recording:
    removed = _remove_leftovers(rec.folder)
    final = status or rec.status
    if summary is None:
        summary = summary_of(rec)
    header = dict(rec.header, format=FORMAT, status=final)
    header["n_sweeps"] = len(rec.sweeps)
    header["n_notes"] = len(rec.notes)
    header["damaged"] = list(rec.damaged)
    header["summary"] = summary
    header["recovered_at"] = datetime.now(UTC).isoformat()
    if removed:
        header["removed_tmp"] = removed
    with contextlib.suppress(OSError, ValueError):
        previous = json.loads((rec.folder / "recording.json").read_text(encoding="utf-8"))
        if isinstance(previous, dict) and "nwb_export" in previous:
            header["nwb_export"] = previous["nwb_export"]
    write_atomic(rec.folder / "recording.json", _json(header).encode("utf-8"))
    rows = analysis_rows(rec)
    out = io.StringIO()
    fields = [
        "index",
        "kind",
        "segment",
        "at_s",
        "since_induction_min",
        "epsp_mv",
        "normalized_epsp",
        "slope_mv_per_ms",
        "normalized_slope",
        "ppr",
        "rin_mohm",
        "rest_mv",
        "flags",
        "complete",
        "planned_s",
        "started_at",
        "spike_in_probe",
        "windows_delivered",
    ]
    w = csv.DictWriter(out, fieldnames=fields)
    w.writeheader()
    w.writerows(rows)
    write_atomic(rec.folder / "analysis.csv", out.getvalue().encode("utf-8"))
    return replace(rec, header=header, status=final)
