"""The NWB file of a recording, built in memory from small typed functions.

:func:`build_nwbfile` assembles the file (:mod:`rigctl.engine.nwb` checks and writes it):
the file and its subject, the devices and the electrode, one sweep's series and
recordings-table row at a time, then the icephys grouping tables and the induction's
achieved rates, from the typed settings of :mod:`rigctl.engine.nwb_meta`. pynwb and hdmf
are imported only when a file is built.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rigctl import __version__
from rigctl.engine.nwb_meta import (
    DEFAULT_LOCATION,
    DEFAULT_SPECIES,
    SEGMENTS,
    UNKNOWN_AGE,
    AsRun,
    NwbExportError,
    RigSettings,
    SweepInfo,
    analysis_columns,
    as_float,
    as_run,
    notes_of,
    nwb_sex,
    rig_settings,
    session_start,
    strings_of,
    sweep_info,
    text_or_none,
)
from rigctl.engine.recording import LoadedSweep, Recording, analysis_rows

__all__ = ["SweepSeries", "build_nwbfile"]


# --------------------------------------------------------------------------- the file


def _new_file(rec: Recording, sess: Mapping[str, Any], rig: RigSettings, run: AsRun) -> Any:
    """The NWBFile with its session metadata, protocol and notes."""
    from pynwb import NWBFile  # type: ignore[import-untyped, unused-ignore]

    exp = run.experiment
    description = (exp.metadata.description if exp is not None else "") or run.name
    tags = list(exp.metadata.tags) if exp is not None else []
    amplitude = rig.amplitude_ua
    return NWBFile(
        session_description=text_or_none(sess.get("session_description"))
        or f"{run.name}: {description}",
        identifier=str(uuid.uuid4()),
        session_start_time=session_start(rec),
        experimenter=strings_of(sess.get("experimenter")),
        lab=text_or_none(sess.get("lab")),
        institution=text_or_none(sess.get("institution")),
        experiment_description=text_or_none(sess.get("experiment_description"))
        or (
            "Whole-cell current clamp of a CA1 pyramidal neuron: baseline probe EPSPs, a "
            "theta-cycle plasticity induction, then follow-up probe EPSPs"
            + (" (simulated cell, rigctl sim backend)." if rig.simulated else ".")
        ),
        session_id=(text_or_none(sess.get("session_id")) or rec.folder.name).replace("/", "-"),
        related_publications=strings_of(sess.get("related_publications")),
        keywords=strings_of(sess.get("keywords")) or tags or None,
        notes=notes_of(rec, run.summary),
        protocol=run.protocol_text or None,
        pharmacology=text_or_none(sess.get("pharmacology")),
        stimulus_notes=(
            f"Presynaptic stimulation: TTL pulses trigger the {rig.isolator}"
            + (f" set to {amplitude:g} uA" if math.isfinite(amplitude) else "")
            + "; postsynaptic current steps through the patch electrode. "
            + f"{run.induction_text}. {run.probe_text}."
        ),
        data_collection=(
            f"Recorded with rigctl {__version__} on rig {rig.rig_name!r} "
            f"(backend {rig.backend}), {rig.sample_rate_hz:g} Hz. Analysis: EPSP = "
            "peak depolarization after the probe pulse minus the mean Vm before it; "
            "normalized to the mean baseline EPSP; summary = mean at 30-35 min after induction."
        ),
    )


def _subject(rec: Recording, subj: Mapping[str, Any], rig: RigSettings) -> Any:
    """The NWB Subject: the given fields over the defaults (a simulated cell says so)."""
    from pynwb.file import Subject  # type: ignore[import-untyped, unused-ignore]

    return Subject(
        subject_id=(text_or_none(subj.get("subject_id")) or rec.folder.name).replace("/", "-"),
        species=text_or_none(subj.get("species")) or DEFAULT_SPECIES,
        sex=nwb_sex(subj.get("sex")),
        age=text_or_none(subj.get("age")) or UNKNOWN_AGE,
        strain=text_or_none(subj.get("strain")),
        genotype=text_or_none(subj.get("genotype")),
        weight=text_or_none(subj.get("weight")),
        description=text_or_none(subj.get("description"))
        or (
            "Simulated CA1 neuron (rigctl sim backend); no animal was used."
            if rig.simulated
            else None
        ),
    )


def _stimulator_text(rig: RigSettings) -> str:
    return (
        f"{rig.isolator}, TTL-triggered"
        + (
            f", amplitude {rig.amplitude_ua:g} uA (front panel)"
            if math.isfinite(rig.amplitude_ua)
            else ", amplitude not recorded"
        )
        + (", output duration follows the TTL width" if rig.follows_ttl_width else "")
    )


def _electrode(
    nwbfile: Any, rec: Recording, sess: Mapping[str, Any], rig: RigSettings, run: AsRun
) -> Any:
    """The amplifier, DAQ and stimulator devices, and the patch electrode (added)."""
    from pynwb.icephys import IntracellularElectrode  # type: ignore[import-untyped, unused-ignore]

    amplifier = nwbfile.create_device(
        name="amplifier",
        description=f"{rig.amp_model}, mode {rig.amp_mode}, {rig.gain_text}, "
        f"{rig.feedback_text}, {rig.lowpass_text}",
    )
    nwbfile.create_device(
        name="daq",
        description=(
            f"{'simulated' if rig.simulated else 'NI-DAQmx'} data acquisition "
            f"{rig.device} at {rig.sample_rate_hz:g} Hz; command scaling "
            f"{rig.command_pa_per_v:g} pA/V, Vm scaling "
            f"{rig.vm_mv_per_mv:g} mV/mV before the primary gain"
        ),
    )
    nwbfile.create_device(name="stimulator", description=_stimulator_text(rig))
    electrode = IntracellularElectrode(
        name="electrode",
        device=amplifier,
        description=(
            f"whole-cell patch electrode, current clamp ({rig.amp_model}, {rig.gain_text}, "
            f"{rig.feedback_text})"
            + ("; simulated" if rig.simulated else "")
            + (f"; {run.setup_describe}" if run.setup_describe else "")
        ),
        filtering=f"{rig.lowpass_text} (amplifier)",
        location=text_or_none(sess.get("location")) or DEFAULT_LOCATION,
        cell_id=text_or_none(sess.get("cell_id")) or run.setup_cell_id or rec.folder.name,
        slice=text_or_none(sess.get("slice")) or run.setup_slice_id,
        seal=text_or_none(sess.get("seal")),
        resistance=text_or_none(sess.get("resistance")),
        initial_access_resistance=text_or_none(sess.get("initial_access_resistance"))
        or run.access_resistance,
    )
    nwbfile.add_icephys_electrode(electrode)
    return electrode


# --------------------------------------------------------------------------- the tables

_SWEEP_COLUMNS = (
    ("sweep_index", "index of the sweep in the recording"),
    ("kind", "probe or induction"),
    ("segment", "baseline, induction or followup"),
    ("since_induction_s", "sweep start relative to the induction onset (s)"),
    ("complete", "whether the sweep ran to its end"),
    ("cut", "why a sweep was cut short (abort, halt, fault); '' if complete"),
    ("windows_delivered", "theta windows delivered in full (induction; -1 for probes)"),
    (
        "planned_s",
        "the sweep's slot in the compiled schedule (s from the run start)"
        "; its actual start is the series' starting_time",
    ),
    ("spike_in_probe", "a spike in the probe: its EPSP is left out of the summary"),
    (
        "stimulation",
        "name of the TimeSeries in /stimulus/presentation with the TTL line that "
        "triggered the extracellular stimulus isolator in this sweep",
    ),
)
"""The ``sweep`` category of the recordings table: (column, description)."""


def _declare_categories(nwbfile: Any, columns: list[tuple[str, str]]) -> None:
    """The recordings table's extra categories, declared before its first row."""
    from hdmf.common import DynamicTable, VectorData  # type: ignore[import-untyped, unused-ignore]

    recordings = nwbfile.get_intracellular_recordings()
    recordings.add_category(
        category=DynamicTable(
            name="sweep",
            description="the sweep in the rigctl recording folder",
            columns=[VectorData(name=n, description=d, data=[]) for n, d in _SWEEP_COLUMNS],
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


def _packed(data: np.ndarray[Any, Any]) -> Any:
    from hdmf.backends.hdf5 import H5DataIO  # type: ignore[import-untyped, unused-ignore]

    return H5DataIO(data, compression="gzip", compression_opts=4, shuffle=True)


@dataclass(frozen=True)
class SweepSeries:
    """One sweep's three series: current command, stimulus TTL and membrane potential."""

    command: Any
    ttl: Any
    vm: Any


def _series(
    info: SweepInfo,
    arrays: Mapping[str, np.ndarray[Any, Any]],
    electrode: Any,
    rig: RigSettings,
    run: AsRun,
) -> SweepSeries:
    """The NWB series of one sweep (not yet added to the file)."""
    from pynwb import TimeSeries  # type: ignore[import-untyped, unused-ignore]
    from pynwb.icephys import (  # type: ignore[import-untyped, unused-ignore]
        CurrentClampSeries,
        CurrentClampStimulusSeries,
    )

    i, fs, at = info.index, info.sample_rate_hz, info.at_s
    what = run.probe_text if info.kind == "probe" else run.induction_text
    command = CurrentClampStimulusSeries(
        name=f"command_{i:05d}",
        data=_packed(arrays["command_pa"].astype(np.float32)),
        conversion=1e-12,
        electrode=electrode,
        rate=fs,
        starting_time=at,
        sweep_number=np.uint32(i),
        stimulus_description=info.kind,
        description=f"current command of sweep {i} ({info.segment}): {what}.{info.incomplete}",
    )
    ttl = TimeSeries(
        name=f"stim_ttl_{i:05d}",
        data=_packed(arrays["stim"].astype(np.float32) * np.float32(rig.ttl_high_v)),
        unit="volts",
        conversion=1.0,
        rate=fs,
        starting_time=at,
        description=(
            f"TTL trigger of the stimulus isolator in sweep {i} ({rig.ttl_high_v:g} V = high); "
            "each high "
            "pulse passes the isolator's current through the extracellular stimulating "
            f"electrode.{info.incomplete}"
        ),
    )
    vm = CurrentClampSeries(
        name=f"vm_{i:05d}",
        data=_packed(arrays["vm_mv"].astype(np.float32)),
        conversion=1e-3,
        electrode=electrode,
        gain=rig.vm_gain,
        bias_current=rig.bias_current_a,
        bridge_balance=rig.bridge_balance_ohm,
        capacitance_compensation=rig.capacitance_compensation_f,
        rate=fs,
        starting_time=at,
        sweep_number=np.uint32(i),
        stimulus_description=info.kind,
        description=f"membrane potential of sweep {i} ({info.segment}).{info.incomplete}",
    )
    return SweepSeries(command, ttl, vm)


def _add_sweep(
    nwbfile: Any,
    electrode: Any,
    info: SweepInfo,
    series: SweepSeries,
    row: Mapping[str, Any],
    columns: list[tuple[str, str]],
) -> Any:
    """Add one sweep's series and its recordings-table row; its simultaneous recording."""
    nwbfile.add_stimulus(series.ttl)
    ir = nwbfile.add_intracellular_recording(
        electrode=electrode,
        stimulus=series.command,
        response=series.vm,
        sweep={
            "sweep_index": info.index,
            "kind": info.kind,
            "segment": info.segment,
            "since_induction_s": info.since_induction_s,
            "complete": info.complete,
            "cut": info.cut,
            "windows_delivered": info.windows_delivered,
            "planned_s": info.planned_s,
            "spike_in_probe": bool(info.measured.get("spike_in_probe", False)),
            "stimulation": series.ttl.name,
        },
        analysis={
            **{n: as_float(info.measured.get(n)) for n, _ in columns},
            "normalized_epsp": as_float(row.get("normalized_epsp")),
            "flags": str(row.get("flags", "")),
        },
    )
    return nwbfile.add_icephys_simultaneous_recording(recordings=[ir])


def _group(nwbfile: Any, by_segment: Mapping[str, list[Any]], run: AsRun) -> None:
    """The icephys grouping tables, built once: segments, one repetition, one condition."""
    sequential = []
    for segment in sorted(by_segment, key=lambda x: SEGMENTS.index(x) if x in SEGMENTS else 99):
        stype = run.induction_text if segment == "induction" else f"{run.probe_text} ({segment})"
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
        repetitions=[repetition], condition=run.condition, protocol_name=run.name
    )


_PHASE_COLUMNS = (
    ("phase", "phase name", lambda r: str(r.get("phase"))),
    ("target_hz", "target postsynaptic rate (Hz)", lambda r: as_float(r.get("target_hz"))),
    ("achieved_hz", "measured postsynaptic rate (Hz)", lambda r: as_float(r.get("achieved_hz"))),
    (
        "n_spikes",
        "spikes counted in the phase over all windows",
        lambda r: int(r.get("n_spikes", 0)),
    ),
    ("ok", "achieved rate within tolerance of the target", lambda r: bool(r.get("ok"))),
)


def _induction_phases(nwbfile: Any, rec: Recording) -> None:
    """The induction's achieved firing rate per phase, in an ``icephys`` module (if any)."""
    from hdmf.common import DynamicTable, VectorData  # type: ignore[import-untyped, unused-ignore]

    induction = [s for s in rec.sweeps if s.meta.get("kind") == "induction"]
    rates = list(induction[0].meta.get("analysis", {}).get("phase_rates", [])) if induction else []
    if not rates:
        return
    table = DynamicTable(
        name="induction_phases",
        description="postsynaptic firing during each phase of the induction sweep",
        columns=[
            VectorData(name=n, description=d, data=[value(r) for r in rates])
            for n, d, value in _PHASE_COLUMNS
        ],
    )
    module = nwbfile.create_processing_module(
        name="icephys", description="derived measures of the recording (rigctl online analysis)"
    )
    module.add(table)


def build_nwbfile(rec: Recording, subj: Mapping[str, Any], sess: Mapping[str, Any]) -> Any:
    """The in-memory NWBFile of a recording (see :mod:`rigctl.engine.nwb` for its layout).

    Raises
    ------
    NwbExportError
        A sweep does not record its sample rate, or none of the sweep files can be read.
    """
    rig = rig_settings(rec)
    run = as_run(rec)
    nwbfile = _new_file(rec, sess, rig, run)
    nwbfile.subject = _subject(rec, subj, rig)
    electrode = _electrode(nwbfile, rec, sess, rig, run)
    columns = analysis_columns(rec)
    _declare_categories(nwbfile, columns)
    rows = {int(r["index"]): r for r in analysis_rows(rec)}
    by_segment: dict[str, list[Any]] = {}
    for s in rec.sweeps:
        arrays = _arrays(s)
        if arrays is None:
            continue
        info = sweep_info(rec, s, rig.sample_rate_hz)
        series = _series(info, arrays, electrode, rig, run)
        sim = _add_sweep(nwbfile, electrode, info, series, rows.get(info.index, {}), columns)
        by_segment.setdefault(info.segment, []).append(sim)
    if not by_segment:
        raise NwbExportError(f"{rec.folder}: none of the sweep files could be read")
    _group(nwbfile, by_segment, run)
    _induction_phases(nwbfile, rec)
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
