"""Budgets for hostile-but-valid protocols: a 60-minute induction at 500 Hz.

Run from the repository root::

    .venv/bin/python benchmarks/bench_hostile.py           # show, validate, refusals
    .venv/bin/python benchmarks/bench_hostile.py --events  # also time compile_induction

Measures, in this process (wall time of ``rigctl.cli.main`` and peak resident memory from
``resource.getrusage``), on a 60-minute induction of six 10 s phases at 500 Hz (1.77
million pulses), regular and jittered:

1. ``rigctl show`` (target <= 1 s; it works from the phases, not the events);
2. ``rigctl validate`` (the exact sampling check at 20 kHz, vectorized);
3. ``rigctl compile`` refusing the 72-million-sample sweep before allocating it, and
   ``compile --rate 1e7`` of the paper protocol (62 million samples) likewise;
4. ``rigctl run`` refusing the induction before any output (``max_sweep_s``);
5. with ``--events``: ``compile_induction`` building every event (what ``predict`` and
   the GUI preview still call), for reference.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rigctl import protocol as proto  # noqa: E402
from rigctl.cli import main  # noqa: E402
from tests import hostile_corpus as hc  # noqa: E402


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(argv: list[str]) -> tuple[float, int, str]:
    out = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = main(argv)
    return time.perf_counter() - t0, status, out.getvalue().strip().splitlines()[-1][:110]


def main_() -> None:
    """Print one line per measurement: seconds, exit status, peak memory, last output line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", action="store_true", help="also time compile_induction")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    files = {
        name: hc.materialize(tmp, f"{name}.json", dict(hc.PROTOCOLS_VALID)[name])
        for name in ("long-500hz", "long-500hz-jittered")
    }
    paper = hc.materialize(tmp, "paper.json", hc.GOOD_PROTOCOL)
    print(f"{'command':<44}{'s':>7}{'exit':>6}{'peak MB':>9}  last line")
    runs: list[tuple[str, list[str]]] = []
    for name, f in files.items():
        runs += [
            (f"show {name}", ["show", str(f)]),
            (f"validate {name}", ["validate", str(f)]),
            (f"compile {name} (refused)", ["compile", str(f), "--out", str(tmp / "x.npz")]),
            (
                f"run {name} (refused)",
                ["run", str(f), "--fast", "--no-nwb", "--out", str(tmp / "r")],
            ),
        ]
    runs.append(
        (
            "compile paper --rate 1e7 (refused)",
            ["compile", str(paper), "--rate", "1e7", "--out", str(tmp / "y.npz")],
        )
    )
    for label, argv in runs:
        seconds, status, last = _timed(argv)
        print(f"{label:<44}{seconds:>7.2f}{status:>6}{_peak_mb():>9.0f}  {last}")
    if args.events:
        for name, f in files.items():
            exp = proto.load(f)
            t0 = time.perf_counter()
            sweep = proto.compile_induction(exp.induction)
            seconds = time.perf_counter() - t0
            label = f"compile_induction {name}"
            print(
                f"{label:<44}{seconds:>7.2f}{'':>6}{_peak_mb():>9.0f}  {len(sweep.events)} events"
            )


if __name__ == "__main__":
    main_()
