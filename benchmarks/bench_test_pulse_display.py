"""Can the Cell tab show the test pulse at >= 30 frames/s while it pulses at 10/s?

Run from the repository root (offscreen, paints for real into a pixmap)::

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_test_pulse_display.py

Measures:

1. the cost of one frame of the whole Cell tab (1400 x 900 px): a new pulse's trace and
   figures set, then ``QWidget.grab()`` paints every child (plots included) -- the
   median and 95th percentile frame time and the frame rate they allow, with a new pulse
   every third frame (10 pulses/s at 30 frames/s);
2. live: the Cell tab's own test pulse on the simulated rig paced in real time at
   10 pulses/s for a few seconds, a timer grabbing the tab every 33 ms; achieved
   frames/s and pulses shown/s (the target: >= 30 frames/s and 10 pulses/s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

from rigctl import protocol as proto
from rigctl.engine import RigOptions, RigSession
from rigctl.engine.testpulse import TestPulse, TestPulseSettings, analyze_test_pulse
from rigctl.gui.cell.panel import CellPanel
from rigctl.hardware import SimRig, load_rig

SIZE = (1400, 900)


def _panel(session: RigSession, root: Path) -> CellPanel:
    panel = CellPanel(session, lambda: proto.paper_condition(25, 50), data_root=root)
    panel.resize(*SIZE)
    panel.show()
    return panel


def bench_frames(app: QApplication, frames: int, root: Path) -> tuple[float, float]:
    """Median and 95th percentile time (s) of one painted frame of the Cell tab."""
    rig = SimRig(load_rig(), seed=1)
    tp = TestPulse(rig, TestPulseSettings())
    sweeps = [rig.run(tp.prepared) for _ in range(20)]
    pulses = [(analyze_test_pulse(s.vm_mv, s.sample_rate_hz, tp.settings), s) for s in sweeps]
    session = RigSession()
    session.open_file(None)
    panel = _panel(session, root)
    app.processEvents()
    times = []
    for i in range(frames):
        t0 = time.perf_counter()
        if i % 3 == 0:
            result, sweep = pulses[(i // 3) % len(pulses)]
            panel.pulseView.show_pulse(result, sweep.vm_mv, sweep.sample_rate_hz)
        panel.refresh()
        image = panel.grab()
        app.processEvents()
        times.append(time.perf_counter() - t0)
        assert not image.isNull()
    panel.shutdown()
    session.close()
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def bench_live(app: QApplication, seconds: float, root: Path) -> tuple[float, float]:
    """Frames/s painted and pulses/s shown with the tab's real test pulse at 10 Hz."""
    session = RigSession(options=RigOptions(paced=True, seed=1))
    session.open_file(None)
    panel = _panel(session, root)
    grabbed = [0]

    def frame() -> None:
        panel.grab()
        grabbed[0] += 1

    timer = QTimer()
    timer.setInterval(33)
    timer.timeout.connect(frame)
    assert panel.startTestPulse(), panel.messageText()
    painted0 = panel.pulseView.painted
    timer.start()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        app.processEvents()
        time.sleep(0.001)
    elapsed = time.perf_counter() - t0
    timer.stop()
    pulses = panel.pulseView.painted - painted0
    panel.stopTestPulse()
    panel.shutdown()
    session.close()
    return grabbed[0] / elapsed, pulses / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        median, p95 = bench_frames(app, args.frames, root)
        print(
            f"one frame of the Cell tab ({SIZE[0]}x{SIZE[1]}, grab): median "
            f"{median * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms -> {1 / median:.0f} frames/s "
            f"(p95: {1 / p95:.0f}; target >= 30)"
        )
        fps, pps = bench_live(app, args.seconds, root)
        print(
            f"live, paced sim at 10 pulses/s for {args.seconds:g} s: {fps:.1f} frames/s "
            f"painted, {pps:.1f} pulses/s shown (targets >= 30 and 10)"
        )


if __name__ == "__main__":
    main()
