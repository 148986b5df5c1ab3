"""What a recording folder says for its NWB file, read once into typed dataclasses.

:func:`rig_settings` (amplifier, acquisition, stimulator), :func:`as_run` (the protocol as
run, its condition, the set-up) and :func:`sweep_info` (one sweep's metadata) turn the
folder's JSON into :class:`RigSettings`, :class:`AsRun` and :class:`SweepInfo`;
:mod:`rigctl.engine.nwb_build` assembles the file from them. No pynwb here.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rigctl import protocol as proto
from rigctl.engine.recording import DataFolderError, LoadedSweep, Recording
from rigctl.engine.summary import condition_of, summary_of

__all__ = [
    "DEFAULT_LOCATION",
    "DEFAULT_SPECIES",
    "SEGMENTS",
    "UNKNOWN_AGE",
    "AsRun",
    "NwbExportError",
    "RigSettings",
    "SweepInfo",
    "analysis_columns",
    "as_float",
    "as_run",
    "notes_of",
    "nwb_sex",
    "rig_settings",
    "session_start",
    "strings_of",
    "sweep_info",
    "text_or_none",
]

#: The paper's preparation: acute hippocampal slices of C57BL/6 mice.
DEFAULT_SPECIES = "Mus musculus"
#: Allen Mouse Brain Atlas abbreviation of hippocampal field CA1.
DEFAULT_LOCATION = "CA1"
#: ISO 8601 open range "0 days or older": the age is not known.
UNKNOWN_AGE = "P0D/"


SEGMENTS = ("baseline", "induction", "followup")
_ANALYSIS_COLUMNS = (
    (
        "epsp_mv",
        "EPSP amplitude: peak depolarization after the probe pulse minus the "
        "pre-stimulus baseline (mV); NaN for induction sweeps",
    ),
    ("baseline_mv", "mean Vm in the window before the probe pulse (mV)"),
    ("rest_mv", "resting Vm before the test step (mV)"),
    ("rin_mohm", "input resistance from the hyperpolarizing test step (MOhm)"),
    ("normalized_epsp", "EPSP amplitude divided by the mean baseline EPSP amplitude"),
    ("slope_mv_per_ms", "EPSP initial slope over 20-80 % of the rise (mV/ms)"),
    ("ppr", "paired-pulse ratio (second EPSP / first) when the probe is paired"),
)
#: Columns written only when some sweep has a value (an all-NaN column is an NWB finding).
_OPTIONAL_COLUMNS = ("slope_mv_per_ms", "ppr")


def analysis_columns(rec: Recording) -> list[tuple[str, str]]:
    """The analysis columns this recording has values for."""
    have = {
        n
        for s in rec.sweeps
        for n in _OPTIONAL_COLUMNS
        if math.isfinite(as_float((s.meta.get("analysis") or {}).get(n)))
    }
    return [(n, d) for n, d in _ANALYSIS_COLUMNS if n not in _OPTIONAL_COLUMNS or n in have]


class NwbExportError(DataFolderError):
    """The recording folder cannot be exported to NWB; ``str()`` is one sentence.

    A :class:`~rigctl.engine.journal.DataFolderError`, so callers that report unusable
    data folders report this too.
    """


# --------------------------------------------------------------------------- helpers


def as_float(value: Any) -> float:
    """``value`` as a float; NaN when it is missing or not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def session_start(rec: Recording) -> datetime:
    """Wall-clock time of experiment time 0 (the first sweep's start minus its ``at_s``)."""
    for s in rec.sweeps:
        t = _parse_time(s.meta.get("started_at"))
        if t is not None:
            at = as_float(s.meta.get("at_s", 0.0))
            return t - timedelta(seconds=at if math.isfinite(at) else 0.0)
    t = _parse_time(rec.header.get("created"))
    if t is not None:
        return t
    return datetime.fromtimestamp((rec.folder / "journal.jsonl").stat().st_mtime, UTC)


def _experiment_as_run(rec: Recording) -> tuple[str, proto.Experiment | None]:
    """The protocol JSON as run (after calibration, if any) and its model (None if invalid)."""
    text = ""
    for ev in rec.events:
        if ev.get("event") == "protocol_calibrated" and isinstance(ev.get("experiment"), dict):
            text = json.dumps(ev["experiment"], indent=2, ensure_ascii=False)
    if not text:
        with contextlib.suppress(OSError):
            text = rec.protocol_json()
    if not text:
        return "", None
    try:
        return text, proto.loads(text, str(rec.folder / "protocol.json"))
    except proto.ProtocolFileError:
        return text, None


def text_or_none(value: Any) -> str | None:
    """``value`` as stripped text; None when missing or blank."""
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def strings_of(value: Any) -> list[str] | None:
    """A list of strings from a list or a ``;``-separated string."""
    if value is None:
        return None
    items = [str(v) for v in value] if isinstance(value, list | tuple) else str(value).split(";")
    out = [v.strip() for v in items if v.strip()]
    return out or None


def nwb_sex(value: Any) -> str:
    """NWB's sex codes (M, F, O, U) from a code or a word; unknown when not given."""
    text = (text_or_none(value) or "U").strip()
    words = {"male": "M", "female": "F", "other": "O", "unknown": "U"}
    return words.get(text.lower(), text.upper() if len(text) == 1 else text)


def _amp_optional(amp: Mapping[str, Any], key: str, scale: float) -> float | None:
    """An optional amplifier setting (e.g. ``bias_current_pa``) in SI units, if recorded."""
    v = amp.get(key)
    return None if v is None else float(v) * scale


def _stim_high_v(rec: Recording) -> float:
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        rig = json.loads((rec.folder / "rig.json").read_text(encoding="utf-8"))
        return float(rig["channels"]["stim"]["high_v"])
    return 5.0


def _describe_probe(exp: proto.Experiment | None) -> str:
    if exp is None:
        return "probe sweep: single presynaptic pulse with a hyperpolarizing test step"
    p = exp.probes
    return (
        f"probe sweep: {p.sweep_ms:g} ms, one presynaptic pulse ({p.probe.pulse_width_us:g} us) "
        f"at {p.probe.time_ms:g} ms, {p.test_step.amplitude_pa:g} pA test step at "
        f"{p.test_step.start_ms:g}-{p.test_step.start_ms + p.test_step.duration_ms:g} ms, "
        f"every {p.interval_s:g} s"
    )


def _describe_induction(exp: proto.Experiment | None) -> str:
    if exp is None:
        return "induction sweep"
    ind = exp.induction
    phases = ", ".join(
        f"{ph.name} {ph.duration_ms:g} ms: pre {ph.pre.rate_hz:g} Hz, post "
        + (
            f"{ph.post.current_pa:g} pA"
            if ph.post.current_pa is not None
            else f"{ph.post.target_rate_hz:g} Hz"
        )
        for ph in ind.phases
    )
    return (
        f"induction ({exp.metadata.name}): {ind.repeats} windows of {ind.effective_window_ms:g} ms "
        f"with {ind.gap_ms:g} ms gaps; {phases}"
    )


def notes_of(rec: Recording, summary: Mapping[str, Any]) -> str:
    """The file's notes: folder and status, damaged files, the summary, the user's notes."""
    lines = [f"rigctl recording folder {rec.folder.name!r}, status {rec.status}."]
    if rec.damaged:
        lines.append("Skipped damaged files: " + ", ".join(rec.damaged) + ".")
    mean = as_float(summary.get("normalized_mean"))
    if math.isfinite(mean):
        lo, hi = summary.get("window_min", (30, 35))
        lines.append(
            f"Normalized EPSP at {lo:g}-{hi:g} min: {mean:.3f} +/- "
            f"{as_float(summary.get('normalized_sem')):.3f} (SEM over {summary.get('n_window')} "
            f"probes), {summary.get('direction')}."
        )
    for n in rec.notes:
        at = as_float(n.get("at_s"))
        rel = at - rec.induction_at_s if rec.induction_at_s is not None else math.nan
        when = f"t = {at:.0f} s" + (
            f" ({rel / 60:+.1f} min from induction)" if math.isfinite(rel) else ""
        )
        lines.append(f"Note at {when}: {n.get('text', '')}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- typed settings


@dataclass(frozen=True)
class RigSettings:
    """The rig as recorded in the folder (amplifier, acquisition, stimulator), typed."""

    rig_name: str
    backend: str
    device: str
    simulated: bool
    sample_rate_hz: float
    command_pa_per_v: float
    vm_mv_per_mv: float
    amp_model: str
    amp_mode: str
    primary_gain: float
    feedback_resistor_mohm: float
    lowpass_khz: float
    bias_current_a: float | None
    bridge_balance_ohm: float | None
    capacitance_compensation_f: float | None
    isolator: str
    amplitude_ua: float
    follows_ttl_width: bool
    ttl_high_v: float

    @property
    def gain_text(self) -> str:
        """The primary gain, for descriptions."""
        return f"primary gain x{self.primary_gain:g}"

    @property
    def feedback_text(self) -> str:
        """The feedback resistor, for descriptions."""
        return f"feedback resistor {self.feedback_resistor_mohm:g} MOhm"

    @property
    def lowpass_text(self) -> str:
        """The amplifier's filter, for descriptions."""
        return f"Bessel low-pass {self.lowpass_khz:g} kHz"

    @property
    def vm_gain(self) -> float | None:
        """Gain of the Vm channel (scaling times primary gain), if known."""
        gain = self.vm_mv_per_mv * self.primary_gain
        return gain if math.isfinite(gain) else None


def rig_settings(rec: Recording) -> RigSettings:
    """The rig settings recorded in ``rec`` (header, else its first sweep)."""
    settings: dict[str, Any] = dict(
        rec.header.get("settings") or rec.sweeps[0].meta.get("settings") or {}
    )
    amp: dict[str, Any] = dict(settings.get("amplifier") or {})
    stimulator: dict[str, Any] = dict(settings.get("stimulator") or {})
    simulated = rec.header.get("backend", settings.get("backend")) == "sim"
    amplitude_ua = as_float(stimulator.get("amplitude_ua"))
    setup: dict[str, Any] = dict(rec.header.get("setup") or {})  # rigctl setup, if run
    if setup.get("stim_intensity_ua") is not None:
        amplitude_ua = as_float(setup["stim_intensity_ua"])
    bias = _amp_optional(amp, "bias_current_pa", 1e-12)
    bridge = _amp_optional(amp, "bridge_balance_mohm", 1e6)
    capacitance = _amp_optional(amp, "capacitance_compensation_pf", 1e-12)
    if simulated:  # the simulated cell has no electrode: no bias, bridge or compensation
        bias, bridge, capacitance = (0.0 if v is None else v for v in (bias, bridge, capacitance))
    return RigSettings(
        rig_name=str(settings.get("rig", rec.header.get("rig", "?"))),
        backend=str(settings.get("backend", "?")),
        device=str(settings.get("device", "?")),
        simulated=simulated,
        sample_rate_hz=as_float(settings.get("sample_rate_hz")),
        command_pa_per_v=as_float(settings.get("command_pa_per_v")),
        vm_mv_per_mv=as_float(settings.get("vm_mv_per_mv")),
        amp_model=str(amp.get("model", "amplifier")),
        amp_mode=str(amp.get("mode", "?")),
        primary_gain=as_float(amp.get("primary_gain")),
        feedback_resistor_mohm=as_float(amp.get("feedback_resistor_mohm")),
        lowpass_khz=as_float(amp.get("lowpass_khz")),
        bias_current_a=bias,
        bridge_balance_ohm=bridge,
        capacitance_compensation_f=capacitance,
        isolator=str(stimulator.get("model", "stimulus isolator")),
        amplitude_ua=amplitude_ua,
        follows_ttl_width=bool(stimulator.get("follows_ttl_width")),
        ttl_high_v=_stim_high_v(rec),
    )


@dataclass(frozen=True)
class AsRun:
    """What was run: the protocol (text and model), its name and condition, the set-up."""

    protocol_text: str
    experiment: proto.Experiment | None
    name: str
    condition: str
    summary: Mapping[str, Any]
    probe_text: str
    induction_text: str
    setup_describe: str | None
    setup_cell_id: str | None
    setup_slice_id: str | None
    access_resistance: str | None
    """The set-up's series-resistance estimate, as NWB's initial access resistance."""


def as_run(rec: Recording) -> AsRun:
    """The protocol as run and the set-up recorded in ``rec``."""
    protocol_text, exp = _experiment_as_run(rec)
    name = (
        exp.metadata.name if exp is not None else str(rec.header.get("protocol_name", "recording"))
    )
    setup: dict[str, Any] = dict(rec.header.get("setup") or {})
    rs = dict((setup.get("test_pulse") or {}).get("series_resistance_mohm") or {})
    return AsRun(
        protocol_text=protocol_text,
        experiment=exp,
        name=name,
        condition=condition_of(rec),
        summary=summary_of(rec),
        probe_text=_describe_probe(exp),
        induction_text=_describe_induction(exp),
        setup_describe=text_or_none(setup.get("describe")) if setup.get("describe") else None,
        setup_cell_id=text_or_none(setup.get("cell_id")),
        setup_slice_id=text_or_none(setup.get("slice_id")),
        access_resistance=(
            f"{as_float(rs['value']):.3g} MOhm (bridge estimate)" if rs.get("valid") else None
        ),
    )


@dataclass(frozen=True)
class SweepInfo:
    """One sweep's metadata, typed: when, what, how it ended, and its analysis."""

    index: int
    sample_rate_hz: float
    at_s: float
    kind: str
    segment: str
    complete: bool
    cut: str
    windows_delivered: int
    planned_s: float
    since_induction_s: float
    measured: Mapping[str, Any]
    incomplete: str
    """A sentence for the series' descriptions when the sweep was cut short, else ''."""


def sweep_info(rec: Recording, sweep: LoadedSweep, default_rate_hz: float) -> SweepInfo:
    """The typed metadata of one sweep (:class:`NwbExportError` without a sample rate)."""
    meta = sweep.meta
    fs = as_float(meta.get("sample_rate_hz"))
    if not (math.isfinite(fs) and fs > 0):
        fs = default_rate_hz
    if not (math.isfinite(fs) and fs > 0):
        raise NwbExportError(f"{sweep.path}: the sweep does not record its sample rate")
    kind = str(meta.get("kind", "probe"))
    measured = dict(meta.get("analysis") or {})
    delivered = int(measured.get("windows_delivered", -1)) if kind == "induction" else -1
    incomplete = (
        ""
        if meta.get("complete", True)
        else f" Incomplete: the sweep was cut short ({meta.get('cut') or 'cut'})"
        + (
            f" after {delivered} of {measured.get('windows_planned', '?')} theta windows."
            if delivered >= 0
            else "."
        )
    )
    since = rec.since_induction_s(sweep)
    if not math.isfinite(since):
        since = as_float(meta.get("since_induction_s"))
    return SweepInfo(
        index=sweep.index,
        sample_rate_hz=fs,
        at_s=max(0.0, as_float(meta.get("at_s"))),
        kind=kind,
        segment=str(meta.get("segment", "followup")),
        complete=bool(meta.get("complete", True)),
        cut=str(meta.get("cut") or ""),
        windows_delivered=delivered,
        planned_s=as_float(meta.get("planned_s")),
        since_induction_s=since,
        measured=measured,
        incomplete=incomplete,
    )
