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
``NWBFile.notes``. The recordings table is built once, here: pynwb cannot append rows to
it in an existing file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from rigctl import __version__
from rigctl import protocol as proto
from rigctl.engine.journal import (
    DataFolderError,
    LoadedSweep,
    Recording,
    analysis_rows,
    describe_os_error,
    load_recording,
)
from rigctl.engine.summary import condition_of, summary_of
from rigctl.protocol import write_atomic

__all__ = [
    "DEFAULT_SPECIES",
    "NWB_FILENAME",
    "SESSION_FIELDS",
    "SUBJECT_FIELDS",
    "NwbExportError",
    "export_nwb",
]

NWB_FILENAME = "recording.nwb"
#: The paper's preparation: acute hippocampal slices of C57BL/6 mice.
DEFAULT_SPECIES = "Mus musculus"
#: Allen Mouse Brain Atlas abbreviation of hippocampal field CA1.
DEFAULT_LOCATION = "CA1"
#: ISO 8601 open range "0 days or older": the age is not known.
UNKNOWN_AGE = "P0D/"

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

_SEGMENTS = ("baseline", "induction", "followup")
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


def _analysis_columns(rec: Recording) -> list[tuple[str, str]]:
    """The analysis columns this recording has values for."""
    have = {
        n
        for s in rec.sweeps
        for n in _OPTIONAL_COLUMNS
        if math.isfinite(_float((s.meta.get("analysis") or {}).get(n)))
    }
    return [(n, d) for n, d in _ANALYSIS_COLUMNS if n not in _OPTIONAL_COLUMNS or n in have]


class NwbExportError(DataFolderError):
    """The recording folder cannot be exported to NWB; ``str()`` is one sentence.

    A :class:`~rigctl.engine.journal.DataFolderError`, so callers that report unusable
    data folders report this too.
    """


# --------------------------------------------------------------------------- helpers


def _float(value: Any) -> float:
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


def _session_start(rec: Recording) -> datetime:
    """Wall-clock time of experiment time 0 (the first sweep's start minus its ``at_s``)."""
    for s in rec.sweeps:
        t = _parse_time(s.meta.get("started_at"))
        if t is not None:
            at = _float(s.meta.get("at_s", 0.0))
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


def _check_keys(what: str, given: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise NwbExportError(
            f"unknown {what} field {unknown[0]!r} for the NWB file; expected one of "
            f"{', '.join(allowed)}"
        )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def _strings(value: Any) -> list[str] | None:
    """A list of strings from a list or a ``;``-separated string."""
    if value is None:
        return None
    items = [str(v) for v in value] if isinstance(value, list | tuple) else str(value).split(";")
    out = [v.strip() for v in items if v.strip()]
    return out or None


def _sex(value: Any) -> str:
    """NWB's sex codes (M, F, O, U) from a code or a word; unknown when not given."""
    text = (_text(value) or "U").strip()
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


def _notes(rec: Recording, summary: Mapping[str, Any]) -> str:
    lines = [f"rigctl recording folder {rec.folder.name!r}, status {rec.status}."]
    if rec.damaged:
        lines.append("Skipped damaged files: " + ", ".join(rec.damaged) + ".")
    mean = _float(summary.get("normalized_mean"))
    if math.isfinite(mean):
        lo, hi = summary.get("window_min", (30, 35))
        lines.append(
            f"Normalized EPSP at {lo:g}-{hi:g} min: {mean:.3f} +/- "
            f"{_float(summary.get('normalized_sem')):.3f} (SEM over {summary.get('n_window')} "
            f"probes), {summary.get('direction')}."
        )
    for n in rec.notes:
        at = _float(n.get("at_s"))
        rel = at - rec.induction_at_s if rec.induction_at_s is not None else math.nan
        when = f"t = {at:.0f} s" + (
            f" ({rel / 60:+.1f} min from induction)" if math.isfinite(rel) else ""
        )
        lines.append(f"Note at {when}: {n.get('text', '')}")
    return "\n".join(lines)


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
        image = _image(_build(rec, subj, sess))
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


def _build(rec: Recording, subj: dict[str, Any], sess: dict[str, Any]) -> Any:
    """The in-memory NWBFile of a recording."""
    from hdmf.backends.hdf5 import H5DataIO  # type: ignore[import-untyped, unused-ignore]
    from hdmf.common import DynamicTable, VectorData  # type: ignore[import-untyped, unused-ignore]
    from pynwb import NWBFile, TimeSeries  # type: ignore[import-untyped, unused-ignore]
    from pynwb.file import Subject  # type: ignore[import-untyped, unused-ignore]
    from pynwb.icephys import (  # type: ignore[import-untyped, unused-ignore]
        CurrentClampSeries,
        CurrentClampStimulusSeries,
        IntracellularElectrode,
    )

    protocol_text, exp = _experiment_as_run(rec)
    settings: dict[str, Any] = dict(
        rec.header.get("settings") or rec.sweeps[0].meta.get("settings") or {}
    )
    amp: dict[str, Any] = dict(settings.get("amplifier") or {})
    stimulator: dict[str, Any] = dict(settings.get("stimulator") or {})
    simulated = rec.header.get("backend", settings.get("backend")) == "sim"
    summary = summary_of(rec)
    condition = condition_of(rec)
    name = (
        exp.metadata.name if exp is not None else str(rec.header.get("protocol_name", "recording"))
    )

    isolator = str(stimulator.get("model", "stimulus isolator"))
    amplitude_ua = _float(stimulator.get("amplitude_ua"))
    setup: dict[str, Any] = dict(rec.header.get("setup") or {})  # rigctl setup, if run
    if setup.get("stim_intensity_ua") is not None:
        amplitude_ua = _float(setup["stim_intensity_ua"])
    rs = dict((setup.get("test_pulse") or {}).get("series_resistance_mohm") or {})
    rig_name = str(settings.get("rig", rec.header.get("rig", "?")))
    fs_default = _float(settings.get("sample_rate_hz"))
    amp_model = str(amp.get("model", "amplifier"))
    gain = f"primary gain x{_float(amp.get('primary_gain')):g}"
    feedback = f"feedback resistor {_float(amp.get('feedback_resistor_mohm')):g} MOhm"
    lowpass = f"Bessel low-pass {_float(amp.get('lowpass_khz')):g} kHz"

    # ---- file
    description = (exp.metadata.description if exp is not None else "") or name
    tags = list(exp.metadata.tags) if exp is not None else []
    keywords = _strings(sess.get("keywords")) or tags or None
    nwbfile = NWBFile(
        session_description=_text(sess.get("session_description")) or f"{name}: {description}",
        identifier=str(uuid.uuid4()),
        session_start_time=_session_start(rec),
        experimenter=_strings(sess.get("experimenter")),
        lab=_text(sess.get("lab")),
        institution=_text(sess.get("institution")),
        experiment_description=_text(sess.get("experiment_description"))
        or (
            "Whole-cell current clamp of a CA1 pyramidal neuron: baseline probe EPSPs, a "
            "theta-cycle plasticity induction, then follow-up probe EPSPs"
            + (" (simulated cell, rigctl sim backend)." if simulated else ".")
        ),
        session_id=(_text(sess.get("session_id")) or rec.folder.name).replace("/", "-"),
        related_publications=_strings(sess.get("related_publications")),
        keywords=keywords,
        notes=_notes(rec, summary),
        protocol=protocol_text or None,
        pharmacology=_text(sess.get("pharmacology")),
        stimulus_notes=(
            f"Presynaptic stimulation: TTL pulses trigger the {isolator}"
            + (f" set to {amplitude_ua:g} uA" if math.isfinite(amplitude_ua) else "")
            + "; postsynaptic current steps through the patch electrode. "
            + f"{_describe_induction(exp)}. {_describe_probe(exp)}."
        ),
        data_collection=(
            f"Recorded with rigctl {__version__} on rig {rig_name!r} "
            f"(backend {settings.get('backend', '?')}), {fs_default:g} Hz. Analysis: EPSP = "
            "peak depolarization after the probe pulse minus the mean Vm before it; "
            "normalized to the mean baseline EPSP; summary = mean at 30-35 min after induction."
        ),
    )

    # ---- subject
    nwbfile.subject = Subject(
        subject_id=(_text(subj.get("subject_id")) or rec.folder.name).replace("/", "-"),
        species=_text(subj.get("species")) or DEFAULT_SPECIES,
        sex=_sex(subj.get("sex")),
        age=_text(subj.get("age")) or UNKNOWN_AGE,
        strain=_text(subj.get("strain")),
        genotype=_text(subj.get("genotype")),
        weight=_text(subj.get("weight")),
        description=_text(subj.get("description"))
        or (
            "Simulated CA1 neuron (rigctl sim backend); no animal was used." if simulated else None
        ),
    )

    # ---- devices and electrode
    amplifier = nwbfile.create_device(
        name="amplifier",
        description=f"{amp_model}, mode {amp.get('mode', '?')}, {gain}, {feedback}, {lowpass}",
    )
    nwbfile.create_device(
        name="daq",
        description=(
            f"{'simulated' if simulated else 'NI-DAQmx'} data acquisition "
            f"{settings.get('device', '?')!s} at {fs_default:g} Hz; command scaling "
            f"{_float(settings.get('command_pa_per_v')):g} pA/V, Vm scaling "
            f"{_float(settings.get('vm_mv_per_mv')):g} mV/mV before the primary gain"
        ),
    )
    nwbfile.create_device(
        name="stimulator",
        description=(
            f"{isolator}, TTL-triggered"
            + (
                f", amplitude {amplitude_ua:g} uA (front panel)"
                if math.isfinite(amplitude_ua)
                else ", amplitude not recorded"
            )
            + (
                ", output duration follows the TTL width"
                if stimulator.get("follows_ttl_width")
                else ""
            )
        ),
    )
    electrode = IntracellularElectrode(
        name="electrode",
        device=amplifier,
        description=(
            f"whole-cell patch electrode, current clamp ({amp_model}, {gain}, {feedback})"
            + ("; simulated" if simulated else "")
            + (f"; {_text(setup.get('describe'))}" if setup.get("describe") else "")
        ),
        filtering=f"{lowpass} (amplifier)",
        location=_text(sess.get("location")) or DEFAULT_LOCATION,
        cell_id=_text(sess.get("cell_id")) or _text(setup.get("cell_id")) or rec.folder.name,
        slice=_text(sess.get("slice")) or _text(setup.get("slice_id")),
        seal=_text(sess.get("seal")),
        resistance=_text(sess.get("resistance")),
        initial_access_resistance=_text(sess.get("initial_access_resistance"))
        or (f"{_float(rs['value']):.3g} MOhm (bridge estimate)" if rs.get("valid") else None),
    )
    nwbfile.add_icephys_electrode(electrode)

    # ---- the recordings table, with its extra columns declared before the first row
    recordings = nwbfile.get_intracellular_recordings()
    columns = _analysis_columns(rec)
    recordings.add_category(
        category=DynamicTable(
            name="sweep",
            description="the sweep in the rigctl recording folder",
            columns=[
                VectorData(
                    name="sweep_index", description="index of the sweep in the recording", data=[]
                ),
                VectorData(name="kind", description="probe or induction", data=[]),
                VectorData(name="segment", description="baseline, induction or followup", data=[]),
                VectorData(
                    name="since_induction_s",
                    description="sweep start relative to the induction onset (s)",
                    data=[],
                ),
                VectorData(
                    name="complete", description="whether the sweep ran to its end", data=[]
                ),
                VectorData(
                    name="cut",
                    description="why a sweep was cut short (abort, halt, fault); '' if complete",
                    data=[],
                ),
                VectorData(
                    name="windows_delivered",
                    description="theta windows delivered in full (induction; -1 for probes)",
                    data=[],
                ),
                VectorData(
                    name="planned_s",
                    description="the sweep's slot in the compiled schedule (s from the run start)"
                    "; its actual start is the series' starting_time",
                    data=[],
                ),
                VectorData(
                    name="spike_in_probe",
                    description="a spike in the probe: its EPSP is left out of the summary",
                    data=[],
                ),
                VectorData(
                    name="stimulation",
                    description=(
                        "name of the TimeSeries in /stimulus/presentation with the TTL line that "
                        "triggered the extracellular stimulus isolator in this sweep"
                    ),
                    data=[],
                ),
            ],
        )
    )
    recordings.add_category(
        category=DynamicTable(
            name="analysis",
            description="online analysis of the sweep (as in analysis.csv)",
            columns=[VectorData(name=n, description=d, data=[]) for n, d in columns]
            + [VectorData(name="flags", description="health warnings, '; '-separated", data=[])],
        )
    )

    vm_gain = _float(settings.get("vm_mv_per_mv")) * _float(amp.get("primary_gain"))
    bias = _amp_optional(amp, "bias_current_pa", 1e-12)
    bridge = _amp_optional(amp, "bridge_balance_mohm", 1e6)
    capacitance = _amp_optional(amp, "capacitance_compensation_pf", 1e-12)
    if simulated:  # the simulated cell has no electrode: no bias, bridge or compensation
        bias, bridge, capacitance = (0.0 if v is None else v for v in (bias, bridge, capacitance))
    ttl_high = _stim_high_v(rec)
    probe_text = _describe_probe(exp)
    induction_text = _describe_induction(exp)
    rows = {int(r["index"]): r for r in analysis_rows(rec)}
    by_segment: dict[str, list[int]] = {}

    def packed(data: np.ndarray[Any, Any]) -> Any:
        return H5DataIO(data, compression="gzip", compression_opts=4, shuffle=True)

    for s in rec.sweeps:
        arrays = _arrays(s)
        if arrays is None:
            continue
        meta = s.meta
        i = s.index
        fs = _float(meta.get("sample_rate_hz"))
        if not (math.isfinite(fs) and fs > 0):
            fs = fs_default
        if not (math.isfinite(fs) and fs > 0):
            raise NwbExportError(f"{s.path}: the sweep does not record its sample rate")
        at = max(0.0, _float(meta.get("at_s")))
        kind = str(meta.get("kind", "probe"))
        segment = str(meta.get("segment", "followup"))
        what = probe_text if kind == "probe" else induction_text
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
        command = CurrentClampStimulusSeries(
            name=f"command_{i:05d}",
            data=packed(arrays["command_pa"].astype(np.float32)),
            conversion=1e-12,
            electrode=electrode,
            rate=fs,
            starting_time=at,
            sweep_number=np.uint32(i),
            stimulus_description=kind,
            description=f"current command of sweep {i} ({segment}): {what}.{incomplete}",
        )
        ttl = TimeSeries(
            name=f"stim_ttl_{i:05d}",
            data=packed(arrays["stim"].astype(np.float32) * np.float32(ttl_high)),
            unit="volts",
            conversion=1.0,
            rate=fs,
            starting_time=at,
            description=(
                f"TTL trigger of the stimulus isolator in sweep {i} ({ttl_high:g} V = high); "
                "each high "
                "pulse passes the isolator's current through the extracellular stimulating "
                f"electrode.{incomplete}"
            ),
        )
        vm = CurrentClampSeries(
            name=f"vm_{i:05d}",
            data=packed(arrays["vm_mv"].astype(np.float32)),
            conversion=1e-3,
            electrode=electrode,
            gain=vm_gain if math.isfinite(vm_gain) else None,
            bias_current=bias,
            bridge_balance=bridge,
            capacitance_compensation=capacitance,
            rate=fs,
            starting_time=at,
            sweep_number=np.uint32(i),
            stimulus_description=kind,
            description=f"membrane potential of sweep {i} ({segment}).{incomplete}",
        )
        nwbfile.add_stimulus(ttl)
        row = rows.get(i, {})
        since = rec.since_induction_s(s)
        if not math.isfinite(since):
            since = _float(meta.get("since_induction_s"))
        ir = nwbfile.add_intracellular_recording(
            electrode=electrode,
            stimulus=command,
            response=vm,
            sweep={
                "sweep_index": i,
                "kind": kind,
                "segment": segment,
                "since_induction_s": since,
                "complete": bool(meta.get("complete", True)),
                "cut": str(meta.get("cut") or ""),
                "windows_delivered": delivered,
                "planned_s": _float(meta.get("planned_s")),
                "spike_in_probe": bool(measured.get("spike_in_probe", False)),
                "stimulation": ttl.name,
            },
            analysis={
                **{n: _float(measured.get(n)) for n, _ in columns},
                "normalized_epsp": _float(row.get("normalized_epsp")),
                "flags": str(row.get("flags", "")),
            },
        )
        sim = nwbfile.add_icephys_simultaneous_recording(recordings=[ir])
        by_segment.setdefault(segment, []).append(sim)

    if not by_segment:
        raise NwbExportError(f"{rec.folder}: none of the sweep files could be read")

    # ---- grouping, built once
    sequential = []
    for segment in sorted(by_segment, key=lambda x: _SEGMENTS.index(x) if x in _SEGMENTS else 99):
        stype = induction_text if segment == "induction" else f"{probe_text} ({segment})"
        sequential.append(
            nwbfile.add_icephys_sequential_recording(
                simultaneous_recordings=by_segment[segment], stimulus_type=stype
            )
        )
    repetition = nwbfile.add_icephys_repetition(sequential_recordings=sequential)
    conditions = nwbfile.get_icephys_experimental_conditions()
    conditions.add_column(
        name="condition", description="the paper condition (pre Hz-post Hz) or protocol name"
    )
    conditions.add_column(name="protocol_name", description="name of the protocol as run")
    nwbfile.add_icephys_experimental_condition(
        repetitions=[repetition], condition=condition, protocol_name=name
    )

    # ---- the induction's achieved firing rates
    induction = [s for s in rec.sweeps if s.meta.get("kind") == "induction"]
    rates = list(induction[0].meta.get("analysis", {}).get("phase_rates", [])) if induction else []
    if rates:
        table = DynamicTable(
            name="induction_phases",
            description="postsynaptic firing during each phase of the induction sweep",
            columns=[
                VectorData(
                    name="phase",
                    description="phase name",
                    data=[str(r.get("phase")) for r in rates],
                ),
                VectorData(
                    name="target_hz",
                    description="target postsynaptic rate (Hz)",
                    data=[_float(r.get("target_hz")) for r in rates],
                ),
                VectorData(
                    name="achieved_hz",
                    description="measured postsynaptic rate (Hz)",
                    data=[_float(r.get("achieved_hz")) for r in rates],
                ),
                VectorData(
                    name="n_spikes",
                    description="spikes counted in the phase over all windows",
                    data=[int(r.get("n_spikes", 0)) for r in rates],
                ),
                VectorData(
                    name="ok",
                    description="achieved rate within tolerance of the target",
                    data=[bool(r.get("ok")) for r in rates],
                ),
            ],
        )
        module = nwbfile.create_processing_module(
            name="icephys", description="derived measures of the recording (rigctl online analysis)"
        )
        module.add(table)
    return nwbfile


def _arrays(sweep: LoadedSweep) -> dict[str, np.ndarray[Any, Any]] | None:
    """A sweep's arrays, or None when the file no longer loads (it is then skipped)."""
    try:  # opened here so that a damaged file's handle is closed whatever np.load does
        with open(sweep.path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            a = {k: np.asarray(z[k]) for k in ("vm_mv", "command_pa", "stim")}
    except Exception:  # a file damaged since it was listed: skipped like any damaged file
        return None
    if a["vm_mv"].size == 0:
        return None
    return a
