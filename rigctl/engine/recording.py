"""A recording folder read back: its sweeps, notes, journal state and analysis table.

The reading side of :mod:`rigctl.engine.journal` (which writes and recovers folders):
:func:`load_recording` reads a folder, tolerating a torn last journal line and damaged
sweep files; :func:`analysis_rows` is the per-sweep table of ``analysis.csv``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "FORMAT",
    "SWEEP_DIR",
    "DataFolderError",
    "LoadedSweep",
    "Recording",
    "analysis_rows",
    "describe_os_error",
    "load_recording",
]

FORMAT = "rigctl.recording"
SWEEP_DIR = "sweeps"


class DataFolderError(OSError):
    """The data folder cannot be used (exists, unwritable, disk full); one sentence."""


def describe_os_error(exc: OSError) -> str:
    """A few words for a file-system error: disk full, read-only, permission, or the OS's."""
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno == errno.EROFS:
        return "the folder is on a read-only disk"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return str(exc.strerror or exc)


@dataclass(frozen=True, eq=False)
class LoadedSweep:
    """A sweep read back from a recording folder."""

    path: Path
    meta: dict[str, Any]

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Load ``vm_mv``, ``command_pa`` and ``stim``."""
        with np.load(self.path, allow_pickle=False) as z:
            return {k: z[k] for k in ("vm_mv", "command_pa", "stim")}

    @property
    def index(self) -> int:
        """Position in the recording."""
        return int(self.meta["index"])


@dataclass(frozen=True)
class Recording:
    """A recording folder read back: header, sweeps (in order), notes, journal state."""

    folder: Path
    header: dict[str, Any]
    sweeps: tuple[LoadedSweep, ...]
    notes: tuple[dict[str, Any], ...]
    status: str
    damaged: tuple[str, ...] = ()
    induction_at_s: float | None = None
    events: tuple[dict[str, Any], ...] = ()

    def since_induction_s(self, sweep: LoadedSweep) -> float:
        """Time of a sweep relative to the induction onset (s); NaN if there was none."""
        if self.induction_at_s is None:
            return float("nan")
        return float(sweep.meta["at_s"]) - self.induction_at_s

    def probes(self) -> Iterator[LoadedSweep]:
        """The probe sweeps in order."""
        return (s for s in self.sweeps if s.meta["kind"] == "probe")

    def protocol_json(self) -> str:
        """The experiment as run."""
        return (self.folder / "protocol.json").read_text(encoding="utf-8")


def _read_journal(folder: Path) -> tuple[list[dict[str, Any]], bool]:
    events: list[dict[str, Any]] = []
    torn = False
    path = folder / "journal.jsonl"
    if not path.exists():
        return events, torn
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            torn = True  # a line cut by a crash: only the last one can be
    return events, torn


def load_recording(folder: str | os.PathLike[str]) -> Recording:
    """Read a recording folder (whatever state a crash left it in)."""
    root = Path(folder)
    if not (root / SWEEP_DIR).is_dir():
        raise DataFolderError(f"{root}: not a rigctl recording folder (no {SWEEP_DIR}/)")
    events, torn = _read_journal(root)
    header: dict[str, Any] = {}
    for ev in events:
        if ev.get("event") == "start":
            header = dict(ev.get("header", {}))
    if not header and (root / "recording.json").exists():
        with contextlib.suppress(OSError, json.JSONDecodeError):
            header = json.loads((root / "recording.json").read_text(encoding="utf-8"))
    sweeps = []
    damaged = []
    for path in sorted((root / SWEEP_DIR).glob("*.npz")):
        try:
            with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                _ = z["vm_mv"].shape
        except Exception:  # a file that does not load is reported, never fatal
            damaged.append(path.name)
            continue
        sweeps.append(LoadedSweep(path, meta))
    sweeps.sort(key=lambda s: s.index)
    notes = tuple(ev for ev in events if ev.get("event") == "note")
    ends = [ev for ev in events if ev.get("event") == "end"]
    status = str(ends[-1].get("status")) if ends else "interrupted"
    if torn:
        damaged.append("journal.jsonl (last line torn)")
    onset: float | None = None
    for ev in events:
        if ev.get("event") == "induction_onset":
            onset = float(ev["at_s"])
    if onset is None:
        onset = next((float(s.meta["at_s"]) for s in sweeps if s.meta["kind"] == "induction"), None)
    return Recording(
        root, header, tuple(sweeps), notes, status, tuple(damaged), onset, tuple(events)
    )


def analysis_rows(rec: Recording) -> list[dict[str, Any]]:
    """One row per sweep: time, segment and the analysis (normalized to the whole baseline)."""
    rows = []
    base = [
        float(s.meta["analysis"]["epsp_mv"])
        for s in rec.probes()
        if rec.since_induction_s(s) < 0
        and "epsp_mv" in s.meta.get("analysis", {})
        and not s.meta["analysis"].get("spike_in_probe")
    ]
    base = [b for b in base if b == b]  # drop NaN
    base_mean = sum(base) / len(base) if base else float("nan")
    slopes = [
        float(s.meta["analysis"]["slope_mv_per_ms"])
        for s in rec.probes()
        if rec.since_induction_s(s) < 0 and "slope_mv_per_ms" in s.meta.get("analysis", {})
    ]
    slopes = [b for b in slopes if b == b]
    slope_mean = sum(slopes) / len(slopes) if slopes else float("nan")
    for s in rec.sweeps:
        a = dict(s.meta.get("analysis", {}))
        spiked = bool(a.get("spike_in_probe", False))
        if "epsp_mv" in a and base_mean == base_mean and base_mean > 0:
            a["normalized_epsp"] = "" if spiked else float(a["epsp_mv"]) / base_mean
        if "slope_mv_per_ms" in a and slope_mean == slope_mean and slope_mean > 0:
            a["normalized_slope"] = float(a["slope_mv_per_ms"]) / slope_mean
        rows.append(
            {
                "index": s.index,
                "kind": s.meta["kind"],
                "segment": s.meta["segment"],
                "at_s": s.meta["at_s"],
                "since_induction_min": rec.since_induction_s(s) / 60.0,
                "epsp_mv": a.get("epsp_mv", ""),
                "normalized_epsp": a.get("normalized_epsp", ""),
                "slope_mv_per_ms": a.get("slope_mv_per_ms", ""),
                "normalized_slope": a.get("normalized_slope", ""),
                "ppr": a.get("ppr", ""),
                "rin_mohm": a.get("rin_mohm", ""),
                "rest_mv": a.get("rest_mv", ""),
                "flags": "; ".join(a.get("flags", [])),
                "complete": s.meta.get("complete", True),
                "planned_s": s.meta.get("planned_s", ""),
                "started_at": s.meta.get("started_at", ""),
                "spike_in_probe": spiked if s.meta["kind"] == "probe" else "",
                "windows_delivered": a.get("windows_delivered", ""),
            }
        )
    return rows
