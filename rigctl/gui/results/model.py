"""What the Results tab shows, without widgets: loaded recordings, exclusions, statistics.

Exclusions are saved beside each recording, so they follow the recording into any set it
is opened with: a recording folder gets ``<folder>/exclusion.json``; an ``.nwb`` file
``<file>.nwb.exclusion.json`` next to it. The file holds ``{"excluded": true, "reason":
"...", "at": "<UTC time>"}``; including the recording again deletes it. A file that cannot
be read counts as "not excluded" and is reported (never fatal).

Statistics always come from the engine (:func:`rigctl.engine.group.summarize_recordings`,
:func:`rigctl.engine.stats.condition_tests`, :func:`rigctl.engine.stats.anova_2x2`) over
the included recordings; excluded ones are listed with their reasons.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rigctl.engine.group import GroupError, condition_label, find_recordings, summarize_recordings
from rigctl.engine.journal import Recording, analysis_rows
from rigctl.engine.stats import anova_2x2, condition_tests
from rigctl.engine.summary import condition_of
from rigctl.io.abf import ImportOptions
from rigctl.io.results import ResultsSummary, load_any

__all__ = [
    "EXCLUSION_FILE",
    "LoadedSet",
    "RecordingTrace",
    "exclusion_path",
    "expand_paths",
    "load_paths",
    "read_exclusion",
    "recording_trace",
    "summarize_set",
    "write_exclusion",
]

EXCLUSION_FILE = "exclusion.json"
"""Name of the exclusion file inside a recording folder."""


def exclusion_path(source: str | os.PathLike[str]) -> Path:
    """Where the exclusion of a recording (folder or ``.nwb`` file) is saved."""
    p = Path(source)
    if p.suffix.lower() == ".nwb" and not p.is_dir():
        return p.with_name(p.name + "." + EXCLUSION_FILE)
    return p / EXCLUSION_FILE


def read_exclusion(source: str | os.PathLike[str]) -> str | None:
    """The saved reason a recording is excluded, or None when it is included."""
    path = exclusion_path(source)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not data.get("excluded", False):
        return None
    return str(data.get("reason", "")) or "excluded"


def write_exclusion(source: str | os.PathLike[str], reason: str | None) -> None:
    """Save (``reason`` given) or remove (None) a recording's exclusion.

    Raises
    ------
    OSError
        The file cannot be written or removed (read-only data, disk full).
    """
    path = exclusion_path(source)
    if reason is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    text = json.dumps(
        {
            "excluded": True,
            "reason": reason.strip() or "excluded",
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        indent=2,
    )
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, path)


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Each recording named by ``paths``: folders (searched as the engine does) and ``.nwb``.

    Raises
    ------
    GroupError
        A path does not exist or holds no recording (one sentence).
    """
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.suffix.lower() == ".nwb" and not p.is_dir():
            if not p.is_file():
                raise GroupError(f"{p}: no such file")
            found = [p]
        else:
            found = find_recordings([p])
        out += [f for f in found if f not in out]
    return out


@dataclass(frozen=True)
class LoadedSet:
    """Recordings read from disk, with those that could not be read."""

    recordings: tuple[Recording, ...]
    unreadable: tuple[tuple[str, str], ...]


def load_paths(
    paths: Sequence[str | os.PathLike[str]],
    *,
    options: ImportOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LoadedSet:
    """Read every recording named by ``paths`` (:func:`rigctl.io.results.load_any`, one by one).

    ``progress(done, total)`` is called after each recording. Unreadable recordings are
    listed with one sentence each.

    Raises
    ------
    GroupError
        A path does not exist or holds no recording.
    """
    found = expand_paths(paths)
    recordings: list[Recording] = []
    unreadable: list[tuple[str, str]] = []
    for i, source in enumerate(found):
        recs, bad = load_any([source], options)
        recordings += recs
        unreadable += bad
        if progress is not None:
            progress(i + 1, len(found))
    return LoadedSet(tuple(recordings), tuple(unreadable))


def summarize_set(
    recordings: Sequence[Recording],
    exclusions: dict[str, str],
    *,
    unreadable: Sequence[tuple[str, str]] = (),
    window_min: tuple[float, float] = (30.0, 35.0),
) -> ResultsSummary:
    """The statistics of the included recordings (the excluded listed with their reasons).

    Raises
    ------
    GroupError
        No recording is included and usable.
    """
    included = [r for r in recordings if str(r.folder) not in exclusions]
    left_out = list(unreadable) + [
        (str(r.folder), f"excluded: {exclusions[str(r.folder)]}")
        for r in recordings
        if str(r.folder) in exclusions
    ]
    if not included:
        raise GroupError("every recording is excluded; include one to see the statistics")
    groups = summarize_recordings(included, window_min=window_min, excluded=left_out)
    return ResultsSummary(groups, condition_tests(groups), anova_2x2(groups))


# --------------------------------------------------------------------------- one recording


@dataclass(frozen=True)
class RecordingTrace:
    """One recording's time course for the per-recording plots.

    All sequences are aligned with the probe sweeps (minutes since the induction).
    """

    condition: str
    label: str
    name: str
    times_min: tuple[float, ...]
    epsp: tuple[float, ...]
    slope: tuple[float, ...]
    rin_mohm: tuple[float, ...]
    rest_mv: tuple[float, ...]
    flagged: tuple[bool, ...]
    induction_min: tuple[float, ...]
    incomplete_min: tuple[float, ...]
    skipped_min: tuple[float, ...]
    notes: tuple[str, ...]


def _num(value: Any) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return math.nan
    return x if math.isfinite(x) else math.nan


def _events_text(rec: Recording) -> list[str]:
    out = [f"status: {rec.status}"]
    out += [f"damaged: {d}" for d in rec.damaged]
    for ev in rec.events:
        if ev.get("event") == "skipped":
            out.append(
                f"skipped {ev.get('sweep_kind', 'probe')} at {_num(ev.get('planned_s')):.0f} s"
            )
    return out


def recording_trace(rec: Recording) -> RecordingTrace:
    """Normalized EPSP and slope, Rin, Vm, flags and skipped or cut sweeps of a recording."""
    rows = analysis_rows(rec)
    probes = [r for r in rows if r["kind"] == "probe"]
    onset = rec.induction_at_s
    notes = _events_text(rec)
    for r in rows:
        if r["flags"]:
            notes.append(f"sweep {r['index']}: {r['flags']}")
        if not r["complete"]:
            notes.append(f"sweep {r['index']} ({r['kind']}) was cut short")
    skipped = [
        (_num(ev.get("planned_s")) - (onset or 0.0)) / 60.0
        for ev in rec.events
        if ev.get("event") == "skipped"
    ]
    cond = condition_of(rec)
    return RecordingTrace(
        condition=cond,
        label=condition_label(cond),
        name=str(rec.header.get("protocol_name", "")) or rec.folder.name,
        times_min=tuple(_num(r["since_induction_min"]) for r in probes),
        epsp=tuple(_num(r["normalized_epsp"]) for r in probes),
        slope=tuple(_num(r["normalized_slope"]) for r in probes),
        rin_mohm=tuple(_num(r["rin_mohm"]) for r in probes),
        rest_mv=tuple(_num(r["rest_mv"]) for r in probes),
        flagged=tuple(bool(r["flags"]) or r["spike_in_probe"] is True for r in probes),
        induction_min=tuple(
            _num(r["since_induction_min"]) for r in rows if r["kind"] == "induction"
        ),
        incomplete_min=tuple(_num(r["since_induction_min"]) for r in rows if not r["complete"]),
        skipped_min=tuple(skipped),
        notes=tuple(notes),
    )
