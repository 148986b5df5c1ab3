"""Export a recording's probe sweeps as an Axon Text File (ATF) that Clampfit opens.

The file is Clampfit's episodic ATF 1.0: a header with ``SweepStartTimesMS`` (each sweep's
start after the first, ms), then one time column (s) and one Vm column (mV) per probe
sweep. Sweeps are cut to the shortest probe sweep so the table is rectangular. Written to a
temporary name and renamed, so an existing file is replaced only by a complete one.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from rigctl.engine.journal import DataFolderError, load_recording
from rigctl.protocol import write_atomic

__all__ = ["ATF_FILENAME", "AtfExportError", "export_atf"]

ATF_FILENAME = "recording.atf"


class AtfExportError(DataFolderError):
    """The recording cannot be written as ATF; ``str()`` is one sentence."""


def export_atf(folder: str | os.PathLike[str], path: str | os.PathLike[str] | None = None) -> Path:
    """Write the probe sweeps of a recording folder as ATF.

    Parameters
    ----------
    folder
        A rigctl recording folder (also an imported ABF folder).
    path
        Output file; default ``folder / "recording.atf"``.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    AtfExportError
        Not a recording, no probe sweep, sweeps at different sample rates, or not writable.
    """
    try:
        rec = load_recording(folder)
    except DataFolderError as exc:
        raise AtfExportError(str(exc)) from None
    probes = list(rec.probes())
    if not probes:
        raise AtfExportError(f"{rec.folder}: the recording has no probe sweep to export")
    rates = {float(s.meta["sample_rate_hz"]) for s in probes}
    if len(rates) > 1:
        raise AtfExportError(
            f"{rec.folder}: the probe sweeps have different sample rates "
            f"({', '.join(f'{r:g}' for r in sorted(rates))} Hz); ATF needs one"
        )
    fs = rates.pop()
    traces = [np.asarray(s.arrays()["vm_mv"], dtype=np.float64) for s in probes]
    n = min(t.size for t in traces)
    at0 = float(probes[0].meta["at_s"])
    starts = ",".join(f"{(float(s.meta['at_s']) - at0) * 1000.0:.3f}" for s in probes)
    header = [
        '"AcquisitionMode=Episodic Stimulation"',
        '"Comment=rigctl recording ' + rec.folder.name.replace('"', "'") + '"',
        f'"YTop={max(float(t[:n].max()) for t in traces):.3f}"',
        f'"YBottom={min(float(t[:n].min()) for t in traces):.3f}"',
        '"SyncTimeUnits=1"',
        f'"SweepStartTimesMS={starts}"',
        '"SignalsExported=Vm"',
        '"Signals="\t' + "\t".join('"Vm"' for _ in probes),
    ]
    out = io.StringIO()
    out.write("ATF\t1.0\n")
    out.write(f"{len(header)}\t{len(probes) + 1}\n")
    out.write("\n".join(header) + "\n")
    out.write('"Time (s)"\t' + "\t".join(f'"Trace #{i + 1} (mV)"' for i in range(len(probes))))
    out.write("\n")
    table = np.column_stack([np.arange(n) / fs] + [t[:n] for t in traces])
    np.savetxt(out, table, fmt=["%.9g"] + ["%.5f"] * len(probes), delimiter="\t")
    target = rec.folder / ATF_FILENAME if path is None else Path(path)
    try:
        write_atomic(target, out.getvalue().encode("ascii"))
    except OSError as exc:
        raise AtfExportError(
            f"{target}: cannot write the ATF file ({exc.strerror or exc})"
        ) from None
    return target
