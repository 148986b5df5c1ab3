"""Import a Clampex (ABF) series of probe sweeps as a rigctl recording folder.

One ABF per segment (baseline, follow-up ...) or one file with many sweeps: every sweep
becomes a probe sweep of the folder at its true start time (the file's ``abfDateTime``
plus the sweep's start offset from the ABF2 synch array, or ``n * sweepIntervalSec``),
relative to the first sweep of all files. Vm is taken from the first ADC channel in mV;
the command from the matching DAC's epoch table (``sweepC``), the stimulus TTL from the
digital outputs (``sweepD``) or, without any, from short pulses on another analog output.
The probe pulse is the first short (≤ 5 ms) stimulus pulse in the sweep (a second one
makes a paired probe), the test step the first hyperpolarizing epoch of the command; either
can be given instead (``--probe-at``, ``--step-at``/``--step-pa``) and then overrides the file.
Each sweep is analysed with the engine's probe analysis (amplitude, slope, paired pulses),
so ``summarize`` and ``export-nwb`` work on the folder unchanged. Each file's ABF header
is kept as text in ``abf/<name>.txt`` and its key fields in ``recording.json``.

Files that cannot be a current-clamp probe series raise :class:`AbfImportError` with one
sentence naming the file: voltage clamp (recorded channel in pA), no probe, ABF1 gap-free.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rigctl import __version__
from rigctl import protocol as proto
from rigctl.engine.analysis import analyze_probe
from rigctl.engine.journal import RecordingWriter, SweepRecord, recover
from rigctl.engine.measures import probe_measures

__all__ = ["MAX_PROBE_WIDTH_MS", "AbfImportError", "ImportOptions", "ImportResult", "import_abf"]

#: A digital pulse longer than this is a gate, not a probe stimulus.
MAX_PROBE_WIDTH_MS = 5.0
_GAP_FREE = 3
_DEFAULT_STEP_MS = 200.0


class AbfImportError(ValueError):
    """The ABF files cannot be imported; ``str()`` is one sentence naming the file."""


@dataclass(frozen=True)
class ImportOptions:
    """How to read the ABF files where they do not say it themselves.

    Attributes
    ----------
    probe_at_ms
        Probe pulse time in every sweep (ms); overrides the digital outputs.
    paired_interval_ms
        Interval to a second probe pulse (ms) when ``probe_at_ms`` is given.
    step_at_ms, step_pa, step_ms
        Test step onset (ms), amplitude (pA, negative) and length (ms); override the epochs.
    induction_at_s
        Induction onset in seconds after the first sweep of the first file.
    induction_file
        An ABF recorded during the induction: its first sweep's start is the onset, and its
        sweeps are stored as induction sweeps.
    protocol_file
        A rigctl protocol file describing the experiment (gives the condition).
    condition
        Name of the condition when no protocol file is given.
    """

    probe_at_ms: float | None = None
    paired_interval_ms: float | None = None
    step_at_ms: float | None = None
    step_pa: float | None = None
    step_ms: float = _DEFAULT_STEP_MS
    induction_at_s: float | None = None
    induction_file: str | None = None
    protocol_file: str | None = None
    condition: str | None = None


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote."""

    folder: Path
    n_sweeps: int
    files: tuple[str, ...]
    induction_at_s: float | None
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True, eq=False)
class _Sweep:
    start: datetime
    sample_rate_hz: float
    vm_mv: npt.NDArray[np.float64]
    command_pa: npt.NDArray[np.float64]
    stim: npt.NDArray[np.uint8]
    compiled: proto.CompiledSweep
    number: int


def _open(path: Path) -> Any:
    import pyabf  # type: ignore[import-untyped, unused-ignore]

    if not path.is_file():
        raise AbfImportError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pyabf.ABF(str(path))
    except Exception as exc:  # pyabf raises anything on a damaged or foreign file
        raise AbfImportError(f"{path}: not a readable ABF file ({type(exc).__name__})") from None


def _vm_channel(abf: Any, path: Path) -> int:
    units = [str(u).strip() for u in abf.adcUnits]
    if units and units[0] not in ("pA", "nA"):
        for i, u in enumerate(units):
            if u == "mV":
                return i
    if units and units[0] in ("pA", "nA"):
        raise AbfImportError(
            f"{path}: the recorded channel is in {units[0]} (voltage clamp), not current clamp "
            "in mV; only current-clamp probe series can be imported"
        )
    raise AbfImportError(
        f"{path}: no recorded channel in mV (channels in {', '.join(units) or 'no unit'}); "
        "only current-clamp probe series can be imported"
    )


def _sweep_offsets_s(abf: Any) -> npt.NDArray[np.float64]:
    """Start of each sweep after the file's start (s), from the synch array where it has one."""
    default = np.arange(abf.sweepCount) * float(abf.sweepIntervalSec)
    sec = getattr(abf, "_synchArraySection", None)
    unit = float(getattr(getattr(abf, "_protocolSection", None), "fSynchTimeUnit", 0) or 0)
    starts = list(getattr(sec, "lStart", []) or [])
    if len(starts) >= abf.sweepCount and abf.sweepCount > 0:
        s = np.asarray(starts[: abf.sweepCount], dtype=np.float64)
        s = s * unit / 1e6 if unit > 0 else s / float(abf.dataRate) / max(1, abf.channelCount)
        if np.all(np.diff(s) > 0) or abf.sweepCount == 1:
            return np.asarray(s - s[0] + default[0], dtype=np.float64)
    return np.asarray(default, dtype=np.float64)


#: Start of a file whose header has no acquisition date: its sweeps keep relative times.
_UNDATED = datetime(2000, 1, 1, tzinfo=UTC)


def _start(abf: Any) -> datetime:
    # pyabf fills a missing ABF1 date with the file's ctime (when it was copied, not
    # recorded): treat such a file as undated.
    header = getattr(abf, "_headerV1", None)
    if header is not None and int(getattr(header, "lFileStartDate", 0) or 0) == 0:
        return _UNDATED
    t = abf.abfDateTime
    if not isinstance(t, datetime) or t.year < 1980:
        return _UNDATED
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _check_dated(read: list[tuple[Path, Any, list[_Sweep]]], induction: list[_Sweep]) -> None:
    """Several files can only be placed in time against each other if each has a date."""
    if len(read) + bool(induction) < 2:
        return
    for path, _, sweeps in read:
        if sweeps and sweeps[0].start == _UNDATED:
            raise AbfImportError(
                f"{path}: the header has no acquisition date, so its sweeps cannot be placed "
                "in time against the other files; import it on its own"
            )
    if induction and induction[0].start == _UNDATED:
        raise AbfImportError(
            "the induction file's header has no acquisition date, so the induction cannot be "
            "placed in time; give --induction-at instead"
        )


def _digital(abf: Any) -> npt.NDArray[np.uint8]:
    """OR of the digital outputs of the current sweep (0/1), zeros when there are none."""
    n = len(abf.sweepY)
    out = np.zeros(n, dtype=np.uint8)
    if abf.sweepEpochs is None or not getattr(abf.sweepEpochs, "digitalStates", None):
        return out
    for bit in range(8):
        try:
            d = abf.sweepD(bit)
        except Exception:  # pyabf cannot build this line's waveform: treat it as absent
            continue
        if d is not None and len(d) >= n:
            out |= (np.asarray(d[:n]) > 0).astype(np.uint8)
    return out


def _analog_stimulus(abf: Any, sweep: int, channel: int) -> npt.NDArray[np.uint8]:
    """Short pulses on another analog output (a DAC that triggers the isolator), as 0/1.

    Only pulses of at most :data:`MAX_PROBE_WIDTH_MS` count; zeros when there are none.
    """
    n = len(abf.sweepY)
    out = np.zeros(n, dtype=np.uint8)
    fs = float(abf.dataRate)
    for k, stimulus in enumerate(getattr(abf, "stimulusByChannel", None) or []):
        if k == channel:
            continue
        try:
            w = np.asarray(stimulus.stimulusWaveform(sweep), dtype=np.float64)[:n]
        except Exception:  # no waveform for this output
            continue
        if w.size != n or not np.all(np.isfinite(w)):
            continue
        active = (np.abs(w - w[0]) > 1e-9).astype(np.uint8)
        for start_ms, width_ms in _pulses_ms(active, fs):
            if width_ms <= MAX_PROBE_WIDTH_MS:
                i = round(start_ms * fs / 1000.0)
                out[i : i + max(1, round(width_ms * fs / 1000.0))] = 1
    return out


def _pulses_ms(stim: npt.NDArray[np.uint8], fs: float) -> list[tuple[float, float]]:
    edges = np.diff(np.concatenate(([0], stim.astype(np.int8), [0])))
    ups, downs = np.flatnonzero(edges > 0), np.flatnonzero(edges < 0)
    return [(u * 1000.0 / fs, (d - u) * 1000.0 / fs) for u, d in zip(ups, downs, strict=True)]


def _command(abf: Any) -> npt.NDArray[np.float64]:
    n = len(abf.sweepY)
    try:
        c = np.asarray(abf.sweepC, dtype=np.float64)[:n]
    except Exception:  # no usable stimulus waveform in the file
        c = np.zeros(0)
    if c.size != n or not np.all(np.isfinite(c)):
        return np.zeros(n)
    ch = int(getattr(abf, "sweepChannel", 0))
    unit = str(abf.dacUnits[ch]).strip() if ch < len(abf.dacUnits) else "pA"
    return c * 1000.0 if unit == "nA" else c


def _step_from_command(c: npt.NDArray[np.float64], fs: float) -> tuple[float, float, float] | None:
    """First hyperpolarizing step of the command: (start_ms, duration_ms, amplitude_pa)."""
    if c.size == 0:
        return None
    hold = float(c[0])
    low = c < hold - 1e-6
    if not low.any():
        return None
    i0 = int(np.argmax(low))
    rest = np.flatnonzero(~low[i0:])
    i1 = i0 + (int(rest[0]) if rest.size else c.size - i0)
    return i0 * 1000.0 / fs, (i1 - i0) * 1000.0 / fs, float(c[i0] - hold)


def _event(kind: proto.EventKind, start_ms: float, dur_ms: float, amp: float = 0.0) -> Any:
    return proto.Event(
        kind,
        Fraction(start_ms).limit_denominator(10**6),
        Fraction(max(dur_ms, 1e-3)).limit_denominator(10**6),
        amplitude_pa=amp,
    )


def _compiled(
    path: Path, number: int, fs: float, stim: Any, cmd: Any, opts: ImportOptions
) -> proto.CompiledSweep:
    events = []
    if opts.probe_at_ms is not None:
        length_ms = len(cmd) * 1000.0 / fs
        if opts.probe_at_ms + (opts.paired_interval_ms or 0.0) + 5.0 > length_ms:
            raise AbfImportError(
                f"{path}: sweep {number} is {length_ms:g} ms long, too short for a probe at "
                f"{opts.probe_at_ms:g} ms (--probe-at) and its EPSP"
            )
        times = [opts.probe_at_ms]
        if opts.paired_interval_ms is not None:
            times.append(opts.probe_at_ms + opts.paired_interval_ms)
        events += [_event("probe_pulse", t, 0.1) for t in times]
    else:
        short = [(t, w) for t, w in _pulses_ms(stim, fs) if w <= MAX_PROBE_WIDTH_MS]
        if not short:
            raise AbfImportError(
                f"{path}: sweep {number} has no probe stimulus (no digital or analog output "
                f"pulse of at most {MAX_PROBE_WIDTH_MS:g} ms); give the probe time with "
                "--probe-at MS"
            )
        events += [_event("probe_pulse", t, w) for t, w in short[:2]]
    if opts.step_at_ms is not None and opts.step_pa is not None:
        events.append(_event("test_step", opts.step_at_ms, opts.step_ms, opts.step_pa))
    else:
        step = _step_from_command(cmd, fs)
        if step is not None:
            events.append(_event("test_step", *step))
    events.sort(key=lambda e: e.start)
    duration = Fraction(len(cmd) * 1000, 1) / Fraction(fs).limit_denominator(10**6)
    return proto.CompiledSweep(kind="probe", duration=duration, events=tuple(events))


def _read(path: Path, opts: ImportOptions, *, need_probe: bool = True) -> tuple[Any, list[_Sweep]]:
    """The file's sweeps; anything pyabf cannot make sense of becomes one sentence."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyabf warns about odd headers it can read
            return _read_sweeps(path, opts, need_probe)
    except AbfImportError:
        raise
    except Exception as exc:  # a damaged or unusual file: pyabf raises anything
        raise AbfImportError(
            f"{path}: cannot read the sweeps of this ABF file ({type(exc).__name__}: {exc})"
        ) from None


def _read_sweeps(path: Path, opts: ImportOptions, need_probe: bool) -> tuple[Any, list[_Sweep]]:
    abf = _open(path)
    if int(abf.abfVersion["major"]) == 1 and int(abf.nOperationMode) == _GAP_FREE:
        raise AbfImportError(
            f"{path}: an ABF1 gap-free recording has no sweeps to analyse as probes; record "
            "the probes episodically (one sweep per probe)"
        )
    ch = _vm_channel(abf, path)
    fs = float(abf.dataRate)
    start = _start(abf)
    offsets = _sweep_offsets_s(abf)
    sweeps = []
    for n in range(int(abf.sweepCount)):
        abf.setSweep(n, channel=ch)
        vm = np.asarray(abf.sweepY, dtype=np.float64)
        if not np.all(np.isfinite(vm)):
            raise AbfImportError(f"{path}: sweep {n} holds non-numeric samples")
        stim = _digital(abf)
        if not stim.any():
            stim = _analog_stimulus(abf, n, ch)
        cmd = _command(abf)
        compiled = (
            _compiled(path, n, fs, stim, cmd, opts)
            if need_probe
            else proto.CompiledSweep(kind="induction", duration=Fraction(0), events=())
        )
        if opts.probe_at_ms is not None and not stim.any():
            for e in compiled.of_kind("probe_pulse"):  # mark the pulse on the stim line
                i = round(e.start_ms * fs / 1000.0)
                stim[i : i + max(1, round(e.duration_ms * fs / 1000.0))] = 1
        sweeps.append(
            _Sweep(start + timedelta(seconds=float(offsets[n])), fs, vm, cmd, stim, compiled, n)
        )
    return abf, sweeps


def _header_text(abf: Any) -> str:
    try:
        return str(abf.headerText)
    except Exception as exc:  # pyabf's full header dump can fail on odd files
        return f"(pyabf could not list this header: {type(exc).__name__}: {exc})"


def _header(abf: Any, path: Path) -> dict[str, Any]:
    try:
        return _header_fields(abf, path)
    except Exception as exc:  # keep what can be kept; the sweeps were read already
        return {"file": path.name, "error": f"{type(exc).__name__}: {exc}"}


def _header_fields(abf: Any, path: Path) -> dict[str, Any]:
    return {
        "file": path.name,
        "abf_version": str(abf.abfVersionString),
        "protocol": str(abf.protocol or ""),
        "abf_datetime": str(abf.abfDateTime),
        "operation_mode": int(abf.nOperationMode),
        "sweeps": int(abf.sweepCount),
        "sample_rate_hz": float(abf.dataRate),
        "adc": [f"{n} ({u})" for n, u in zip(abf.adcNames, abf.adcUnits, strict=False)],
        "dac": [f"{n} ({u})" for n, u in zip(abf.dacNames, abf.dacUnits, strict=False)],
        "sweep_interval_s": float(abf.sweepIntervalSec),
        "guid": str(getattr(abf, "fileGUID", "")),
    }


def _protocol_json(opts: ImportOptions) -> tuple[str, str]:
    if opts.protocol_file is None:
        note = {"format": "rigctl.imported", "note": "imported from ABF; no rigctl protocol"}
        return json.dumps(note, indent=2), opts.condition or "ABF import"
    try:
        exp = proto.load(opts.protocol_file)
    except proto.ProtocolFileError as exc:
        raise AbfImportError(exc.lines()[0]) from None
    return proto.dumps(exp), exp.metadata.name


def _folder_header(
    read: list[tuple[Path, Any, list[_Sweep]]],
    ind_abf: Any,
    induction_file: str | os.PathLike[str] | None,
    name: str,
) -> dict[str, Any]:
    """The recording folder's header: what was imported, from which files, by whom."""
    headers = [_header(a, p) for p, a, _ in read]
    if ind_abf is not None and induction_file is not None:
        headers.append({**_header(ind_abf, Path(induction_file)), "role": "induction"})
    return {
        "created": datetime.now(UTC).isoformat(),
        "protocol_name": name,
        "rig": "Clampex (imported ABF)",
        "backend": "abf",
        "imported_by": f"rigctl {__version__}",
        "source": {"format": "abf", "files": headers},
        "settings": {"rig": "Clampex (imported ABF)", "backend": "abf"},
    }


def _sweep_record(
    index: int,
    s: _Sweep,
    kind: str,
    t0: datetime,
    onset: float | None,
    settings: dict[str, Any],
) -> SweepRecord:
    """One imported sweep as the recording stores it, probes analysed like a rigctl run's."""
    at = (s.start - t0).total_seconds()
    since = at - onset if onset is not None else math.nan
    segment = kind if kind == "induction" else "baseline" if since < 0 else "followup"
    if onset is None:
        segment = "baseline"
    analysis: dict[str, Any] = {}
    if kind == "probe":
        analysis.update(analyze_probe(s.vm_mv, s.sample_rate_hz, s.compiled).as_dict())
        # The amplitude with the peak search ending at a second pulse, if any.
        analysis.update(probe_measures(s.vm_mv, s.sample_rate_hz, s.compiled).as_dict())
        analysis["flags"] = []
    return SweepRecord(
        index=index,
        kind=kind,
        segment=segment,
        at_s=at,
        since_induction_s=since,
        started_at=s.start.isoformat(),
        sample_rate_hz=s.sample_rate_hz,
        vm_mv=s.vm_mv,
        command_pa=s.command_pa,
        stim=s.stim,
        complete=True,
        settings=settings,
        analysis=analysis,
        extra={
            "abf_sweep": s.number,
            "probe_ms": [e.start_ms for e in s.compiled.of_kind("probe_pulse")],
            "test_step": [
                [e.start_ms, e.duration_ms, e.amplitude_pa] for e in s.compiled.of_kind("test_step")
            ],
        },
    )


def import_abf(
    files: list[str | os.PathLike[str]] | tuple[str | os.PathLike[str], ...],
    out: str | os.PathLike[str],
    options: ImportOptions | None = None,
) -> ImportResult:
    """Turn ABF probe series into a rigctl recording folder (see the module docstring).

    Parameters
    ----------
    files
        ABF files, in any order (sweeps are ordered by their start times).
    out
        A new (or empty) folder.
    options
        What the files do not say themselves.

    Returns
    -------
    ImportResult
        The folder, the number of sweeps and the induction onset used.

    Raises
    ------
    AbfImportError
        A file is unreadable, not current clamp, has no probe, or is ABF1 gap-free; the
        folder is not written. One sentence naming the file.
    DataFolderError
        The output folder cannot be used.
    """
    opts = ImportOptions() if options is None else options
    if not files:
        raise AbfImportError("no ABF file given")
    if opts.induction_at_s is not None and opts.induction_file is not None:
        raise AbfImportError("give --induction-at or --induction-file, not both")
    read = [(Path(f), *_read(Path(f), opts)) for f in files]
    induction: list[_Sweep] = []
    ind_abf = None
    if opts.induction_file is not None:
        ind_abf, induction = _read(Path(opts.induction_file), opts, need_probe=False)
    _check_dated(read, induction)
    t0 = min(s.start for _, _, sw in read for s in sw)
    protocol_json, name = _protocol_json(opts)
    onset: float | None = opts.induction_at_s
    if induction:
        onset = (min(s.start for s in induction) - t0).total_seconds()
    header = _folder_header(read, ind_abf, opts.induction_file, name)
    writer = RecordingWriter(out, header, protocol_json=protocol_json, rig_text="", rig_json={})
    abf_dir = writer.folder / "abf"
    abf_dir.mkdir(exist_ok=True)
    for p, a, _ in read:
        (abf_dir / f"{p.stem}.txt").write_text(_header_text(a), encoding="utf-8")
    all_sweeps = [(s, "probe") for _, _, sw in read for s in sw] + [
        (s, "induction") for s in induction
    ]
    all_sweeps.sort(key=lambda x: x[0].start)
    if onset is not None:
        writer.event("induction_onset", at_s=onset)
    for index, (s, kind) in enumerate(all_sweeps):
        writer.write_sweep(_sweep_record(index, s, kind, t0, onset, header["settings"]))
    writer.finish("done")
    rec = recover(writer.folder)
    return ImportResult(rec.folder, len(rec.sweeps), tuple(str(p) for p, _, _ in read), onset)
