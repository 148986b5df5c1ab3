"""The summary of one recording, derived from its folder (used by recover and export)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from rigctl import protocol as proto
from rigctl.engine.analysis import induction_note, summarize_recording
from rigctl.engine.recording import Recording

__all__ = [
    "ProbePoint",
    "condition_label",
    "condition_of",
    "probe_points",
    "rates_of",
    "summary_of",
]

_RATES = re.compile(r"(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)")


def rates_of(condition: str) -> tuple[float, float] | None:
    """Prediction and outcome rate of a condition named ``"A-B"`` (Hz), else None."""
    m = _RATES.fullmatch(condition)
    return (float(m.group(1)), float(m.group(2))) if m else None


def condition_label(condition: str) -> str:
    """Display form of a condition: ``"25-50"`` becomes ``"25→50 Hz"``, names are kept."""
    m = _RATES.fullmatch(condition)
    return f"{m.group(1)}→{m.group(2)} Hz" if m else condition


def condition_of(rec: Recording) -> str:
    """The condition a recording belongs to, from what its induction delivered.

    The :func:`rigctl.protocol.condition_key` of the protocol as run (phase rates and
    durations, windows), written as the paper's short id ("25-50") when it is one of
    the paper's conditions (:func:`rigctl.protocol.paper_condition_of`). Never the
    free-text protocol name: two files with different names and the same induction are
    one condition, and the same name over different inductions is two. A recording with
    no protocol (an imported Clampex series or a foreign NWB file) belongs to the
    condition it was imported as (its header's ``protocol_name``); one whose protocol
    cannot be read is a condition of its own, named after its folder.
    """
    imported_as = rec.header.get("protocol_name")
    try:
        text = rec.protocol_json()
        if imported_as and _imported(text):
            return str(imported_as)
        exp = proto.loads(text, str(rec.folder / "protocol.json"))
    except FileNotFoundError:
        return str(imported_as) if imported_as else f"no protocol ({rec.folder.name})"
    except (OSError, proto.ProtocolFileError):
        return f"unreadable protocol ({rec.folder.name})"
    paper = proto.paper_condition_of(exp)
    return f"{paper[0]:g}-{paper[1]:g}" if paper else proto.condition_key(exp)


def _imported(protocol_text: str) -> bool:
    """Whether a recording carries no rigctl protocol (an import's note, or nothing)."""
    if not protocol_text.strip():
        return True
    try:
        data = json.loads(protocol_text)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("format") == "rigctl.imported"


@dataclass(frozen=True)
class ProbePoint:
    """One analysed probe of a recording: when, its EPSP, and whether it held a spike."""

    t_min: float
    """Start of the probe relative to the induction onset (min; -inf without one)."""
    epsp_mv: float
    spiked: bool


def probe_points(rec: Recording) -> list[ProbePoint]:
    """The probes of ``rec`` with an EPSP, in order, timed from the induction onset."""
    onset = rec.induction_at_s if rec.induction_at_s is not None else math.inf
    points = []
    for s in rec.probes():
        a = s.meta.get("analysis", {})
        e = a.get("epsp_mv")
        if e is None:
            continue
        t_min = (float(s.meta["at_s"]) - onset) / 60.0  # the actual start
        points.append(ProbePoint(t_min, float(e), bool(a.get("spike_in_probe", False))))
    return points


def summary_of(rec: Recording) -> dict[str, Any]:
    """Normalized-EPSP summary of a recording (baseline stats, 30-35 min mean, direction)."""
    points = probe_points(rec)
    out = summarize_recording(
        [p.t_min for p in points], [p.epsp_mv for p in points], excluded=[p.spiked for p in points]
    ).as_dict()
    out["condition"] = condition_of(rec)
    out["skipped_probes"] = sum(1 for ev in rec.events if ev.get("event") == "skipped")
    out["pauses"] = sum(1 for ev in rec.events if ev.get("event") == "resumed")
    induction = [s for s in rec.sweeps if s.meta["kind"] == "induction"]
    if induction:
        a = induction[0].meta.get("analysis", {})
        out["phase_rates"] = a.get("phase_rates", [])
        info = {
            "complete": bool(induction[0].meta.get("complete", True)),
            "windows_delivered": a.get("windows_delivered", 0),
            "windows_planned": a.get("windows_planned", 0),
            "cut": induction[0].meta.get("cut"),
        }
        out["induction"] = dict(info, note=induction_note(info))
    clean: dict[str, Any] = json.loads(json.dumps(out, default=float))
    return clean
