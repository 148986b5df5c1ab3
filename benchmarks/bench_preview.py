"""How fast the designer's preview follows an edit, and how fast an induction compiles.

Run with ``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_preview.py``.

Measured:

- edit -> preview: a valid edit made through the editor's own widget (the phase's pre
  rate), until the preview holds the new compiled waveforms (``data``), and until the
  window has also repainted (``+ paint``). One frame at 60 Hz is 16.7 ms.
- compile: ``compile_induction`` + ``waveforms`` of the paper's 25 -> 50 Hz induction at
  20 kHz (what the preview renders) and 50 kHz.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QApplication

from rigctl.gui import MainWindow
from rigctl.gui.widgets.fields import QuantityField
from rigctl.protocol import compile_induction, paper_condition

EDITS = 50
FRAME_MS = 1000.0 / 60.0


def _stats(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    median = statistics.median(ordered)
    return f"median {median:6.2f} ms   p95 {p95:6.2f} ms   max {ordered[-1]:6.2f} ms"


def _time_ms(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000.0


def bench_edit_to_preview(app: QApplication) -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "bench.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings)
        window.resize(1400, 900)
        window.show()
        app.processEvents()
        rate = window.editor.fieldWidget("induction.phases[0].pre.rate_hz")
        assert isinstance(rate, QuantityField)
        data_ms: list[float] = []
        paint_ms: list[float] = []
        rates = [20.0 + (i % 10) * 5.0 for i in range(1, EDITS + 2)]  # all valid, all changes
        rate.setValue(rates[0])  # warm-up
        app.processEvents()
        for value in rates[1:]:
            start = time.perf_counter()
            rate.setValue(value)  # what a committed typed value or an arrow step does
            assert window.preview.sweep() is not None
            mid = time.perf_counter()
            app.processEvents()  # layout and repaint of the window
            end = time.perf_counter()
            data_ms.append((mid - start) * 1000.0)
            paint_ms.append((end - start) * 1000.0)
        assert window.experiment().induction.phases[0].pre.rate_hz == rates[-1]
        window.undoStack.setClean()
        window.close()
    return data_ms, paint_ms


def bench_compile(sample_rate_hz: float, runs: int = 20) -> list[float]:
    induction = paper_condition(25, 50).induction
    return [
        _time_ms(lambda: compile_induction(induction).waveforms(sample_rate_hz))
        for _ in range(runs)
    ]


def main() -> None:
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    data_ms, paint_ms = bench_edit_to_preview(app)
    print(f"edit -> preview, {EDITS} edits of the pre rate through the editor:")
    print(f"  data          {_stats(data_ms)}")
    print(f"  data + paint  {_stats(paint_ms)}")
    verdict = "within" if statistics.median(paint_ms) < FRAME_MS else "OVER"
    print(f"  -> {verdict} one 60 Hz frame ({FRAME_MS:.1f} ms)")
    for fs in (20_000.0, 50_000.0):
        samples = compile_induction(paper_condition(25, 50).induction).n_samples(fs)
        print(f"compile full induction at {fs / 1000:g} kHz ({samples:,} samples/channel):")
        print(f"  {_stats(bench_compile(fs))}")


if __name__ == "__main__":
    main()
