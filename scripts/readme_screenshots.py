"""The README's screenshots: the real window, each tab doing its job on the simulated rig.

Run under a display (or Xvfb)::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/readme_screenshots.py

It opens the app at 1600x1000 with throw-away settings and data folders and writes
``resources/screenshots/{designer,rig,cell,run,results}.png``: the designer with the
25→50 Hz protocol, the Rig tab after an induction sweep, the Cell tab after a test pulse
and an EPSP search, the Run tab after a fast dry run, and the Results tab on a small
simulated study (2 cells per condition). Everything goes through the widgets' public API.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "resources" / "screenshots"
SIZE = (1600, 1000)


def main() -> int:
    """Take the screenshots; 0 on success."""
    scratch = Path(tempfile.mkdtemp(prefix="rigctl-shots-"))
    os.environ.update(
        RIGCTL_DATA_ROOT=str(scratch / "data"),
        RIGCTL_LOG_DIR=str(scratch / "log"),
        XDG_CONFIG_HOME=str(scratch / "config"),
    )
    from PyQt6.QtCore import QSettings
    from PyQt6.QtWidgets import QApplication

    from rigctl import protocol as proto
    from rigctl.engine import RigSession
    from rigctl.engine.study import run_study
    from rigctl.gui import MainWindow

    app = QApplication(sys.argv[:1])
    settings = QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat)
    session = RigSession()
    window = MainWindow(settings, session=session)
    window.setLayoutRemembered(False)
    window.resize(*SIZE)
    window.show()

    def wait(done: Callable[[], bool], timeout_s: float = 120.0) -> None:
        end = time.monotonic() + timeout_s
        while not done():
            app.processEvents()
            if time.monotonic() > end:
                raise TimeoutError("the window did not get there in time")
            time.sleep(0.01)
        for _ in range(20):  # let the last repaints land
            app.processEvents()
            time.sleep(0.01)

    def shot(name: str) -> None:
        OUT.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(OUT / f"{name}.png"))
        print(OUT / f"{name}.png")

    wait(lambda: True)
    shot("designer")

    window.selectTab("Rig")
    rig = window.rigPanel
    assert rig is not None
    assert rig.runSweep("induction")
    wait(lambda: not rig.isRunning())
    shot("rig")

    window.selectTab("Cell")
    cell = window.tabPage("Cell").widget()
    from rigctl.gui.cell.panel import CellPanel

    assert isinstance(cell, CellPanel)
    cell.sliceBox.setSliceId("slice-1")
    assert cell.wholeCell()
    assert cell.startTestPulse()
    deadline = time.monotonic() + 2.0
    wait(lambda: time.monotonic() > deadline)
    cell.stopTestPulse()
    wait(lambda: not cell.isBusy())
    shot("cell")

    window.selectTab("Run")
    run = window.runPanel
    assert run is not None
    run.confirmStart = lambda _c: True  # type: ignore[method-assign]
    run.setDataFolder(scratch / "recording")
    assert run.start()
    wait(lambda: run.lastResult() is not None, timeout_s=300)
    shot("run")

    study = scratch / "study"
    short = proto.ProbeSchedule(baseline_min=5, followup_min=35)
    run_study(None, study, 2, probes=short, seed=3)
    window.selectTab("Results")
    results = window.tabPage("Results").widget()
    from rigctl.gui.results import ResultsPanel

    assert isinstance(results, ResultsPanel)
    assert results.openPaths([study])
    wait(lambda: not results.busy() and results.result() is not None, timeout_s=300)
    shot("results")

    cell.shutdown()
    window.close()
    session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
