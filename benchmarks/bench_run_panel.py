"""Responsiveness of the GUI while the run panel follows a run.

Run from the repository root (offscreen Qt, no window appears)::

    .venv/bin/python benchmarks/bench_run_panel.py
    .venv/bin/python benchmarks/bench_run_panel.py --screenshots /tmp/run-panel

A 1 ms ``QTimer`` (precise) ticks on the GUI thread while a run is in progress; every gap
between two ticks is time the event loop could not serve anything else (slots, redraws,
painting, input). Reported per scenario: the tick intervals (median, 99th percentile,
maximum = the worst stall), the frame rate the event loop can always sustain
(1000 / worst stall in ms; target >= 30 fps) and the plot frames rendered per second
(the panel redraws at most once per 16 ms frame; a view renders only when it changed).

Then the **painted** scenario: the fast run again while a 60 Hz precise timer paints the
whole panel for real (``widget.grab()``, raster, offscreen) at every tick, as a screen
would; reported are the median fps (1000 / median interval between painted frames),
the median and 95th-percentile frame time, and the mean fps.

Scenarios (the panel is 1400 x 900 and shown, so every redraw is painted by the
offscreen raster engine):

1. **paced**: the simulated rig plays every sweep in real time (Vm chunks every 50 ms)
   and the runner does not wait between sweeps, so acquisition never pauses: a short
   schedule (3 baseline probes, the 6.2 s induction, 6 follow-up probes; ~16 s).
2. **fast**: the paper's whole 50-minute experiment as a dry run (151 sweeps, ~3300
   chunks as fast as the simulation goes): the flood a GUI must survive.

With ``--screenshots DIR`` a further paced run (not measured) is rendered to PNG during
the baseline, the induction and the follow-up, and two fast runs when done (one with
tight health-flag limits so that flags and warnings show).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QEventLoop, Qt, QTimer
from PyQt6.QtWidgets import QApplication

from rigctl import protocol as proto
from rigctl.engine import AnalysisSettings, ExperimentRunner, RunOptions, RunResult, RunState
from rigctl.gui.run.panel import RunConfirmation, RunPanel
from rigctl.hardware import SimRig, load_rig
from rigctl.plasticity import warm_up_kernel

TARGET_FPS = 30.0
FRAME_MS = 16
"""Period of the painted-frame timer (a 60 Hz screen)."""
RIG = load_rig()


@dataclass
class Measurement:
    """Tick intervals of the 1 ms timer during one run."""

    name: str
    duration_s: float
    intervals_ms: np.ndarray
    redraws: int
    sweeps: int

    def line(self) -> str:
        iv = self.intervals_ms
        worst = float(iv.max()) if iv.size else float("nan")
        fps = 1000.0 / worst if worst > 0 else float("inf")
        verdict = "ok" if fps >= TARGET_FPS else f"BELOW {TARGET_FPS:g} fps"
        return (
            f"{self.name:<7} {self.duration_s:6.2f} s  {self.sweeps:4d} sweeps  "
            f"ticks {iv.size:6d}  interval median {np.median(iv):5.2f} ms  "
            f"p99 {np.percentile(iv, 99):6.2f} ms  worst stall {worst:6.2f} ms  "
            f"-> >= {fps:6.1f} fps sustained ({verdict});  "
            f"plot frames rendered {self.redraws / self.duration_s:5.1f}/s"
        )


class ConfirmedPanel(RunPanel):
    """The panel with the start confirmation answered (a benchmark cannot click)."""

    def confirmStart(self, confirmation: RunConfirmation) -> bool:
        return True


def rendered(panel: RunPanel) -> int:
    """Plot frames rendered so far (a view unchanged since its last frame reuses it)."""
    p = panel.plots
    return sum(v.framesRendered() for v in (p.liveView, p.epspView, p.rinView, p.restView))


def painted_line(frames_ms: np.ndarray, duration_s: float) -> str:
    """Frames painted for real (``grab()``) during the fast dry run: fps and frame times."""
    if frames_ms.size == 0:
        return "painted: no frame"
    median = float(np.median(frames_ms))
    p95 = float(np.percentile(frames_ms, 95))
    fps = 1000.0 / median
    verdict = "ok" if fps >= 59.0 else "BELOW 60 fps"
    return (
        f"painted fast dry run (60 Hz grab() of the whole panel, {duration_s:.2f} s, "
        f"{frames_ms.size + 1} frames): median fps {fps:5.1f} ({verdict}), "
        f"frame time median {median:5.2f} ms, p95 {p95:6.2f} ms, "
        f"mean fps {(frames_ms.size + 1) / duration_s:5.1f}"
    )


def short(baseline_min: float, followup_min: float) -> proto.Experiment:
    """The paper's 25 -> 50 Hz condition with a short probe schedule (20 s interval)."""
    exp = proto.paper_condition(25, 50)
    return exp.replace(
        probes=exp.probes.replace(baseline_min=baseline_min, followup_min=followup_min)
    )


def make_panel(
    root: Path, experiment: proto.Experiment, *, paced: bool, options: RunOptions
) -> tuple[RunPanel, Callable[[], None]]:
    """A shown panel over a fresh simulated rig; returns it and a clean-up."""

    def factory(exp: proto.Experiment, folder: Path, opts: RunOptions) -> ExperimentRunner:
        return ExperimentRunner(SimRig(RIG, paced=paced, seed=4), exp, folder, opts)

    panel = ConfirmedPanel(
        factory, lambda: experiment, lambda: RIG, data_root=root, options=options
    )
    panel.resize(1400, 900)
    panel.show()

    def close() -> None:
        panel.shutdown()
        panel.close()
        panel.deleteLater()

    return panel, close


def run(
    app: QApplication,
    panel: RunPanel,
    *,
    measure: bool,
    paint: bool = False,
    at_state: dict[RunState, list[tuple[int, Callable[[], None]]]] | None = None,
) -> tuple[RunResult, np.ndarray, float]:
    """Start a run from the panel and process events until it ends."""
    ticks: list[float] = []
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(1)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    frames: list[float] = []

    def frame() -> None:
        # What a 60 Hz screen shows: the whole panel painted for real (raster, offscreen).
        panel.grab()
        frames.append(time.perf_counter())

    painter = QTimer()
    painter.setTimerType(Qt.TimerType.PreciseTimer)
    painter.setInterval(FRAME_MS)
    painter.timeout.connect(frame)
    loop = QEventLoop()
    results: list[RunResult] = []

    def finished(result: RunResult) -> None:
        results.append(result)
        loop.quit()

    def state(s: RunState) -> None:
        for delay_ms, action in (at_state or {}).get(s, []):
            QTimer.singleShot(delay_ms, action)

    panel.runFinished.connect(finished)
    panel.stateChanged.connect(state)
    app.processEvents()
    if measure and not paint:
        timer.start()
    if paint:
        painter.start()
    t0 = time.perf_counter()
    if not panel.start():
        raise SystemExit(f"the run did not start: {panel.statusView.message()}")
    loop.exec()
    duration = time.perf_counter() - t0
    timer.stop()
    painter.stop()
    panel.runFinished.disconnect(finished)
    panel.stateChanged.disconnect(state)
    intervals = np.diff(np.asarray(frames if paint else ticks)) * 1000.0
    return results[0], intervals, duration


def shots(app: QApplication, out: Path, root: Path) -> list[Path]:
    """Render the panel during and after runs to PNG files in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []

    def grab(panel: RunPanel, name: str) -> Callable[[], None]:
        def save() -> None:
            path = out / name
            panel.grab().save(str(path), "PNG")
            saved.append(path)

        return save

    panel, close = make_panel(
        root / "shots-paced", short(1.5, 3.0), paced=True, options=RunOptions(fast=True)
    )
    app.processEvents()  # laid out before the first grab
    grab(panel, "run_panel_ready.png")()

    def note() -> None:
        panel.addNote("bath 32 °C, ACSF 2 ml/min")

    run(
        app,
        panel,
        measure=False,
        at_state={
            RunState.BASELINE: [(1500, note), (3400, grab(panel, "run_panel_baseline.png"))],
            RunState.INDUCTION: [(3300, grab(panel, "run_panel_induction.png"))],
            RunState.FOLLOWUP: [(5600, grab(panel, "run_panel_followup.png"))],
        },
    )
    app.processEvents()
    close()

    full = proto.paper_condition(25, 50)
    panel, close = make_panel(root / "shots-fast", full, paced=False, options=RunOptions(fast=True))
    run(app, panel, measure=False)
    app.processEvents()
    grab(panel, "run_panel_done.png")()
    close()

    strict = RunOptions(fast=True, analysis=AnalysisSettings(rin_change=0.08, vm_drift_mv=0.6))
    panel, close = make_panel(root / "shots-flags", full, paced=False, options=strict)
    panel.setDataFolder(root / "shots-flags" / "cell-03")
    run(app, panel, measure=False)
    app.processEvents()
    grab(panel, "run_panel_flags.png")()
    close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshots", type=Path, default=None, help="write PNGs here")
    parser.add_argument(
        "--skip-paced", action="store_true", help="only the fast run (the paced one takes ~16 s)"
    )
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    app.setStyle("Fusion")
    # The app loads the compiled kinase kernel when idle, seconds after it opens; loading it
    # during a run holds the GIL for ~0.1-0.3 s (LLVM reading numba's cache) and stalls
    # the GUI thread once, which is the start-up cost, not the Run tab's.
    warm_up_kernel()

    with tempfile.TemporaryDirectory(prefix="rigctl-bench-") as tmp:
        root = Path(tmp)
        results: list[Measurement] = []
        options = RunOptions(fast=True, write_nwb=False)
        if not args.skip_paced:
            panel, close = make_panel(root / "paced", short(1, 2), paced=True, options=options)
            before = rendered(panel)
            result, iv, duration = run(app, panel, measure=True)
            results.append(
                Measurement("paced", duration, iv, rendered(panel) - before, result.sweeps)
            )
            close()
        full = proto.paper_condition(25, 50)
        panel, close = make_panel(root / "fast", full, paced=False, options=options)
        before = rendered(panel)
        result, iv, duration = run(app, panel, measure=True)
        results.append(Measurement("fast", duration, iv, rendered(panel) - before, result.sweeps))
        close()
        panel, close = make_panel(root / "painted", full, paced=False, options=options)
        _result, frames_ms, duration = run(app, panel, measure=True, paint=True)
        close()

        print(
            f"RunPanel 1400x900 shown offscreen; 1 ms precise QTimer on the GUI thread; "
            f"target >= {TARGET_FPS:g} fps ({1000 / TARGET_FPS:.1f} ms worst stall)"
        )
        for m in results:
            print(m.line())
        print(painted_line(frames_ms, duration))
        print(f"wall-clock times on {os.cpu_count()} CPUs")

        if args.screenshots is not None:
            for path in shots(app, args.screenshots, root):
                print(f"screenshot: {path}")


if __name__ == "__main__":
    main()
