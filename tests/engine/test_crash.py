"""kill -9 at random moments: every completed sweep is recovered."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rigctl.engine import load_recording, recover
from tests.conftest import ROOT

SCRIPT = """
import sys, time
from rigctl import protocol as proto
from rigctl.engine import ExperimentRunner, RunOptions
from tests.engine.rigs import WrappedRig

class SlowRig(WrappedRig):
    def run(self, prepared, on_chunk=None, *, at_s=None):
        time.sleep(0.004)
        return super().run(prepared, on_chunk, at_s=at_s)

exp = proto.load("protocols/theta-25-50.json")
print("ready", flush=True)
ExperimentRunner(SlowRig(seed=5), exp, sys.argv[1], RunOptions(fast=True, write_nwb=False)).run()
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_minus_nine_keeps_every_completed_sweep(tmp_path: Path, seed: int) -> None:
    folder = tmp_path / "rec"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(folder)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(random.Random(seed).uniform(0.2, 0.9))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    before = load_recording(folder)
    assert before.status == "interrupted"
    n = len(before.sweeps)
    assert n > 0, "killed before the first sweep: lengthen the wait"
    # Sweeps were written in order and atomically: no gap, no half file.
    assert [s.index for s in before.sweeps] == list(range(n))
    assert not [d for d in before.damaged if d.endswith(".npz")]
    journaled = [e for e in before.events if e.get("event") == "sweep"]
    assert n - 1 <= len(journaled) <= n  # the journal line follows the file
    rec = recover(folder)
    assert len(rec.sweeps) == n
    for s in rec.sweeps:
        assert s.arrays()["vm_mv"].size == s.meta["n_samples"]
    assert (folder / "analysis.csv").read_text().count("\n") == n + 1
