"""Ctrl-C on ``rigctl run`` in a real process: stop, then abort; a valid folder, no traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rigctl.cli.recordings import EXIT_ABORTED, EXIT_STOPPED, RUN_EPILOG
from tests.conftest import PROTOCOLS, ROOT

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def start(out: Path, *extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "rigctl", "run", str(PROTOCOLS / "theta-25-50.json")]
    return subprocess.Popen(
        [*cmd, "--out", str(out), "--no-nwb", *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_event(out: Path, proc: subprocess.Popen[str], test: object) -> None:
    """Poll the journal until an event satisfies ``test`` (the run is then at that point)."""
    deadline = time.monotonic() + 60
    journal = out / "journal.jsonl"
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if journal.exists():
            for line in journal.read_text().splitlines():
                try:
                    ev = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if test(ev):  # type: ignore[operator]
                    return
        time.sleep(0.01)  # polling a file another process writes (not a race in the code)
    pytest.fail("the run never reached the expected point")


def test_one_ctrl_c_stops_after_the_sweep_in_flight(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    proc = start(out)
    wait_for_event(out, proc, lambda ev: ev.get("event") == "sweep" and ev.get("index") == 0)
    proc.send_signal(signal.SIGINT)  # the runner waits 20 s for the next probe: stop now
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_STOPPED, stderr
    assert "Traceback" not in stderr and "stopping after the sweep in flight" in stderr
    header = json.loads((out / "recording.json").read_text())
    assert header["status"] == "stopped" and header["n_sweeps"] == 1
    assert "stopped, 1 sweeps" in stdout


def test_sigterm_stops_like_ctrl_c(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    proc = start(out)
    wait_for_event(out, proc, lambda ev: ev.get("event") == "sweep")
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_STOPPED and "Traceback" not in stderr
    assert json.loads((out / "recording.json").read_text())["status"] == "stopped"


def test_a_second_ctrl_c_aborts_now(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    proc = start(out, "--calibrate", "always")  # calibration sweeps play in real time
    wait_for_event(out, proc, lambda ev: ev.get("state") == "calibrating")
    proc.send_signal(signal.SIGINT)
    assert proc.stderr is not None
    while "stopping after the sweep in flight" not in proc.stderr.readline():
        assert proc.poll() is None
    proc.send_signal(signal.SIGINT)  # the calibration sweep is still in flight: cut it
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_ABORTED, stderr
    assert "Traceback" not in stderr and "aborting now" in stderr
    header = json.loads((out / "recording.json").read_text())
    assert header["status"] == "aborted"


def test_the_exit_codes_are_documented() -> None:
    for code in ("0  done", "1  failed", "2  usage", "3  stopped", "4  aborted"):
        assert code in RUN_EPILOG
    readme = (ROOT / "README.md").read_text()
    assert "`3` stopped early by the user" in readme and "`4` aborted" in readme
