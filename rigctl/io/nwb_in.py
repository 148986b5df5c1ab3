"""Read a current-clamp icephys NWB file as a recording: rigctl's own or anyone else's.

Every row of the file's ``IntracellularRecordingsTable`` whose response is a
``CurrentClampSeries`` becomes a sweep at its series' ``starting_time``. For rigctl's own
files the ``sweep`` and ``analysis`` categories give the kind, the segment, the time since
induction and the analysis as run, and ``NWBFile.protocol`` the protocol (so the condition
is the same as the folder's). For other files each response is analysed with the engine's
probe analysis; the probe time comes from a TTL-like stimulus series of the same sweep
(0/1 data in ``/stimulus``) or from ``probe_at_ms``, the test step from the command series;
sweeps of a sequential recording whose ``stimulus_type`` names the induction are the
induction (their first start is the onset), else ``induction_at_s`` gives it.

The arrays are read into memory, so the returned :class:`NwbRecording` does not keep the
file open; its sweeps' :meth:`~NwbSweep.arrays` return them like a folder's sweeps do.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rigctl.engine.analysis import analyze_probe
from rigctl.engine.journal import DataFolderError, LoadedSweep, Recording
from rigctl.engine.measures import probe_measures
from rigctl.io.abf import ImportOptions, _compiled, _pulses_ms

__all__ = ["NwbReadError", "NwbRecording", "NwbSweep", "read_nwb"]

_RIGCTL_ANALYSIS = (
    "epsp_mv",
    "baseline_mv",
    "rest_mv",
    "rin_mohm",
    "normalized_epsp",
    "slope_mv_per_ms",
    "ppr",
)


class NwbReadError(DataFolderError):
    """The NWB file cannot be read as a current-clamp recording; one sentence."""


@dataclass(frozen=True, eq=False)
class NwbSweep(LoadedSweep):
    """A sweep read from an NWB file; the arrays are held in memory."""

    data: dict[str, npt.NDArray[Any]] = field(default_factory=dict)

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """``vm_mv``, ``command_pa`` and ``stim`` as read from the file."""
        return dict(self.data)


@dataclass(frozen=True)
class NwbRecording(Recording):
    """A recording read from an NWB file (``folder`` is the file's path)."""

    protocol_text: str = ""

    def protocol_json(self) -> str:
        """The protocol embedded in the file (rigctl's files), else an empty string."""
        return self.protocol_text


def _si(series: Any, unit_to: float) -> npt.NDArray[np.float64]:
    data = np.asarray(series.data[:], dtype=np.float64)
    conv = float(getattr(series, "conversion", 1.0) or 1.0)
    off = float(getattr(series, "offset", 0.0) or 0.0)
    return np.asarray((data * conv + off) / unit_to, dtype=np.float64)


def _rate(series: Any, path: Path) -> float:
    rate = getattr(series, "rate", None)
    if rate is None or not float(rate) > 0:
        raise NwbReadError(f"{path}: series {series.name!r} has no sampling rate")
    return float(rate)


def _ttl_for(nwbfile: Any, start: float, n: int) -> npt.NDArray[np.uint8] | None:
    """A 0/1 stimulus series of this sweep (same start, same length), if the file has one."""
    for ts in nwbfile.stimulus.values():
        if type(ts).__name__ != "TimeSeries" or getattr(ts, "starting_time", None) is None:
            continue
        if abs(float(ts.starting_time) - start) > 1e-6 or len(ts.data) != n:
            continue
        d = np.asarray(ts.data[:], dtype=np.float64)
        levels = np.unique(d)
        if d.size and levels.size <= 2 and levels[0] == 0:  # a 0 / high two-level line
            return (d > 0).astype(np.uint8)
    return None


def _category(table: Any, name: str) -> Any:
    try:
        return table.category_tables.get(name)
    except AttributeError:
        return None


def _induction_rows(nwbfile: Any) -> set[int]:
    """Rows of the recordings table in sequential recordings labelled as induction."""
    rows: set[int] = set()
    seq = nwbfile.icephys_sequential_recordings
    if seq is None:
        return rows
    simultaneous = nwbfile.icephys_simultaneous_recordings["recordings"]
    for i in range(len(seq)):
        if "induction" not in str(seq["stimulus_type"][i]).lower():
            continue
        sims = seq["simultaneous_recordings"][i]  # a DataFrame indexed by row id
        for j in np.asarray(sims.index.values):
            rows.update(int(r) for r in np.asarray(simultaneous[int(j)].index.values))
    return rows


def read_nwb(path: str | os.PathLike[str], options: ImportOptions | None = None) -> NwbRecording:
    """Read a current-clamp icephys NWB file as a recording (see the module docstring).

    Parameters
    ----------
    path
        The ``.nwb`` file.
    options
        For files that are not rigctl's: ``probe_at_ms`` (and ``paired_interval_ms``) when
        the file holds no TTL series, ``step_at_ms``/``step_pa``, ``induction_at_s``.

    Raises
    ------
    NwbReadError
        Not an NWB file, no IntracellularRecordingsTable, no current-clamp response, or no
        probe time for a file without rigctl's analysis. One sentence naming the file.
    """
    p = Path(path)
    opts = ImportOptions() if options is None else options
    if not p.is_file():
        raise NwbReadError(f"{p}: no such file")
    from pynwb import NWBHDF5IO  # type: ignore[import-untyped, unused-ignore]

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with NWBHDF5IO(str(p), "r", load_namespaces=True) as io:
                return _read(io.read(), p, opts)
    except NwbReadError:
        raise
    except Exception as exc:  # h5py/hdmf raise many types on foreign or damaged files
        raise NwbReadError(f"{p}: not a readable NWB file ({type(exc).__name__}: {exc})") from None


def _row_data(
    nwbfile: Any, responses: Any, stimuli: Any, row: int, p: Path
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], Any, float, float] | None:
    """One row's Vm (mV), command (pA), TTL, rate and start (s); None if not current clamp."""
    ref = responses[row]
    series = ref.timeseries
    if type(series).__name__ != "CurrentClampSeries":
        return None
    fs = _rate(series, p)
    vm = _si(series, 1e-3)[ref.idx_start : ref.idx_start + ref.count]
    start = float(series.starting_time or 0.0) + ref.idx_start / fs
    cmd = np.zeros(vm.size)
    sref = stimuli[row]
    if sref is not None and getattr(sref, "timeseries", None) is not None and sref.count > 0:
        c = _si(sref.timeseries, 1e-12)[sref.idx_start : sref.idx_start + sref.count]
        cmd = c if c.size == vm.size else cmd
    stim = _ttl_for(nwbfile, float(series.starting_time or 0.0), vm.size)
    return vm, cmd, stim, fs, start


def _own_meta(meta: dict[str, Any], sweep_cat: Any, analysis_cat: Any, row: int) -> float:
    """Fill ``meta`` from a rigctl file's own categories; the row's time since induction (s)."""
    meta["kind"] = str(sweep_cat["kind"][row])
    meta["segment"] = str(sweep_cat["segment"][row])
    meta["complete"] = bool(sweep_cat["complete"][row])
    names = [n for n in _RIGCTL_ANALYSIS if n in analysis_cat.colnames]
    a = {n: float(analysis_cat[n][row]) for n in names}
    flags = str(analysis_cat["flags"][row])
    meta["analysis"] = {**a, "flags": [f for f in flags.split("; ") if f]}
    if meta["kind"] != "probe":
        meta["analysis"] = {}
    return float(sweep_cat["since_induction_s"][row])


def _segments(sweeps: list[NwbSweep], onset: float | None) -> float | None:
    """Sort the sweeps, find the induction onset if unknown, and name missing segments."""
    sweeps.sort(key=lambda s: float(s.meta["at_s"]))
    if onset is None:
        ind = [float(s.meta["at_s"]) for s in sweeps if s.meta["kind"] == "induction"]
        onset = ind[0] if ind else None
    for s in sweeps:
        if not s.meta["segment"]:
            kind = s.meta["kind"]
            s.meta["segment"] = (
                kind
                if kind == "induction" or onset is None
                else "baseline"
                if float(s.meta["at_s"]) < onset
                else "followup"
            )
    return onset


def _read(nwbfile: Any, p: Path, opts: ImportOptions) -> NwbRecording:
    table = nwbfile.intracellular_recordings
    if table is None or len(table) == 0:
        raise NwbReadError(f"{p}: the file has no IntracellularRecordingsTable rows")
    responses = table["responses"]["response"]
    stimuli = table["stimuli"]["stimulus"]
    sweep_cat = _category(table, "sweep")
    analysis_cat = _category(table, "analysis")
    own = sweep_cat is not None and analysis_cat is not None
    induction_rows = set() if own else _induction_rows(nwbfile)
    sweeps: list[NwbSweep] = []
    onset: float | None = opts.induction_at_s
    for row in range(len(table)):
        got = _row_data(nwbfile, responses, stimuli, row, p)
        if got is None:
            continue
        vm, cmd, stim, fs, start = got
        meta: dict[str, Any] = {
            "index": len(sweeps),
            "kind": "probe",
            "segment": "",
            "at_s": start,
            "sample_rate_hz": fs,
            "n_samples": int(vm.size),
            "complete": True,
            "settings": {},
            "extra": {"nwb_row": row, "series": str(responses[row].timeseries.name)},
        }
        if own:
            since = _own_meta(meta, sweep_cat, analysis_cat, row)
            if math.isfinite(since) and onset is None:
                onset = start - since
        elif row in induction_rows:
            meta["kind"] = "induction"
            meta["analysis"] = {}
        else:
            meta["analysis"] = _analyse(p, row, vm, cmd, stim, fs, opts)
        data: dict[str, npt.NDArray[Any]] = {
            "vm_mv": vm,
            "command_pa": cmd,
            "stim": np.zeros(vm.size, np.uint8) if stim is None else stim,
        }
        sweeps.append(NwbSweep(path=p, meta=meta, data=data))
    if not sweeps:
        raise NwbReadError(f"{p}: no row of the recordings table is a CurrentClampSeries")
    onset = _segments(sweeps, onset)
    return NwbRecording(
        folder=p,
        header={"protocol_name": _condition(nwbfile, p), "source": {"format": "nwb"}},
        sweeps=tuple(sweeps),
        notes=(),
        status="done",
        induction_at_s=onset,
        protocol_text=str(nwbfile.protocol or "") if own else "",
    )


def _condition(nwbfile: Any, p: Path) -> str:
    cond = nwbfile.icephys_experimental_conditions
    if cond is not None and len(cond) and "condition" in cond.colnames:
        return str(cond["condition"][0])
    return p.stem


def _analyse(
    p: Path,
    row: int,
    vm: npt.NDArray[np.float64],
    cmd: npt.NDArray[np.float64],
    stim: npt.NDArray[np.uint8] | None,
    fs: float,
    opts: ImportOptions,
) -> dict[str, Any]:
    if opts.probe_at_ms is None and (stim is None or not _pulses_ms(stim, fs)):
        raise NwbReadError(
            f"{p}: row {row} has no rigctl analysis and no TTL stimulus series; give the "
            "probe time (probe_at_ms)"
        )
    ttl = np.zeros(vm.size, np.uint8) if stim is None else stim
    compiled = _compiled(p, row, fs, ttl, cmd, opts)
    out: dict[str, Any] = analyze_probe(vm, fs, compiled).as_dict()
    out.update(probe_measures(vm, fs, compiled).as_dict())
    out["flags"] = []
    return out
