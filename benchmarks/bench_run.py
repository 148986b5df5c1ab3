"""The fast dry run of the whole experiment (151 sweeps) including the NWB export.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_run.py   (target: <= 5 s end to end)

Run in a fresh interpreter: the end-to-end figure includes importing pynwb, which the
runner overlaps with the acquisition.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from rigctl import protocol as proto
from rigctl.engine import ExperimentRunner, RunOptions
from rigctl.engine.nwb import export_nwb
from rigctl.hardware import SimRig, load_rig


def main() -> None:
    exp = proto.load("protocols/theta-25-50.json")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = ExperimentRunner(
            SimRig(load_rig(), seed=4), exp, Path(tmp) / "rec", RunOptions(fast=True)
        ).run()
        total = time.perf_counter() - t0
        assert result.nwb_path is not None
        size = result.nwb_path.stat().st_size / 1e6
        t1 = time.perf_counter()
        export_nwb(Path(tmp) / "rec", path=Path(tmp) / "again.nwb")
        again = time.perf_counter() - t1
    print(f"dry run + NWB export, {result.sweeps} sweeps ({result.state.value}): {total:.2f} s")
    print(f"  (NWB {size:.1f} MB; the export alone, pynwb already imported: {again:.2f} s)")
    print("target: <= 5 s end to end")


if __name__ == "__main__":
    main()
