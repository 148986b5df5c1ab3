"""Speed of whole experiments on the simulated rig, of the NWB export, and of a study.

Run: .venv/bin/python benchmarks/bench_study.py [cells_per_condition]  (default 6)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from rigctl import protocol as proto
from rigctl.engine import ExperimentRunner, RunOptions, RunState
from rigctl.engine.nwb import export_nwb
from rigctl.engine.study import StudyProgress, run_study
from rigctl.hardware import SimRig, load_rig


def one_experiment(tmp: Path) -> None:
    exp = proto.load("protocols/theta-25-50.json")
    folder = tmp / "one"
    t0 = time.perf_counter()
    result = ExperimentRunner(
        SimRig(load_rig(), seed=1), exp, folder, RunOptions(fast=True, write_nwb=True)
    ).run()
    total = time.perf_counter() - t0
    assert result.state == RunState.DONE and result.nwb_path is not None
    t1 = time.perf_counter()
    export_nwb(folder, path=tmp / "again.nwb")
    export = time.perf_counter() - t1
    size = result.nwb_path.stat().st_size / 1e6
    print(
        f"one 50-min experiment ({result.sweeps} sweeps), fast, with NWB export: {total:.2f} s "
        f"(of which the NWB export about {export:.2f} s; {size:.1f} MB) -> "
        f"{50 * 60 / total:.0f}x faster than real time"
    )


def study(tmp: Path, cells: int) -> None:
    last = [time.perf_counter()]
    per_cell: list[float] = []

    def tick(p: StudyProgress) -> None:
        now = time.perf_counter()
        if p.cell:
            per_cell.append(now - last[0])
        last[0] = now

    t0 = time.perf_counter()
    s = run_study(None, tmp / "study", cells, seed=0, progress=tick)
    total = time.perf_counter() - t0
    print(
        f"study of {cells} cells x {len(s.conditions)} conditions (full 50-min experiments, "
        f"calibrated per cell, no NWB): {total:.1f} s, {sum(per_cell) / len(per_cell):.2f} s per "
        f"cell; summary and figure {total - sum(per_cell):.2f} s"
    )
    print(s.report())


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    with tempfile.TemporaryDirectory() as d:
        one_experiment(Path(d))
        study(Path(d), n)
