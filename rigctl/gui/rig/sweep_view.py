"""The sweep views of the Rig tab: live membrane potential, and the rates of the last sweep."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QSize, QTimer
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import QGroupBox, QVBoxLayout, QWidget

from rigctl.engine.current_calibration import PhaseRate
from rigctl.engine.dry_run import SweepDone, SweepStarted
from rigctl.gui.plot_style import PHASE_COLORS, envelope, style_plot
from rigctl.gui.rig._widgets import (
    AXIS_WIDTH,
    MISS,
    OK,
    TOLERANCE,
    cell,
    fit_rows,
    phase_cell,
    table,
    verdict,
    wrapping_label,
)
from rigctl.hardware import Chunk, SweepResult

__all__ = ["LiveVmView", "RatesView"]

_REDRAW_MS: Final = 40
_VM_PEN = QColor(33, 33, 33)


class LiveVmView(QWidget):
    """The membrane potential of the sweep being played, drawn at most every 40 ms.

    The plot is named ``vmPlot``; its one data item holds the trace shown.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        view = pg.PlotWidget()
        view.setObjectName("vmPlot")
        view.setBackground("w")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(view)
        self._plot = view.getPlotItem()
        style_plot(self._plot, left="Vm (mV)", bottom="time (s)", axis_width=AXIS_WIDTH)
        self._curve = self._plot.plot(pen=pg.mkPen(_VM_PEN, width=1))
        envelope(self._curve)
        self.setMinimumHeight(220)
        self._regions: list[Any] = []
        self._live = np.zeros(0)
        self._filled = 0
        self._fs = 1.0
        self.label = ""
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(_REDRAW_MS)
        self._redraw.timeout.connect(self._draw)
        self.clear("")

    def sizeHint(self) -> QSize:  # noqa: D102 (Qt override)
        # Ask for little: the Rig tab's splitter gives the trace whatever the tables leave,
        # and a tall request made the whole tab scroll even on a 1080-line screen.
        return QSize(super().sizeHint().width(), 300)

    @property
    def acquired(self) -> int:
        """Samples received of the sweep being played."""
        return self._filled

    def clear(self, title: str) -> None:
        """No trace; the title says what comes."""
        self._redraw.stop()
        self._clear_regions()
        self._live = np.zeros(0)
        self._filled = 0
        self.label = ""
        self._curve.setData(np.zeros(0), np.zeros(0))
        self._plot.setXRange(0.0, 1.0, padding=0.01)
        self._plot.setYRange(-80.0, 40.0, padding=0.0)
        self.setTitle(title)

    def setTitle(self, what: str) -> None:
        """Title the plot ``Membrane potential · what``."""
        text = f"Membrane potential · {what}" if what else "Membrane potential"
        self._plot.setTitle(text, color="#222", size="10pt")

    def start(self, info: SweepStarted) -> None:
        """A sweep starts: an empty trace as long as the sweep."""
        self._clear_regions()
        self._live = np.zeros(info.n_samples)
        self._filled = 0
        self._fs = info.sample_rate_hz
        self.label = info.label
        self._curve.setData(np.zeros(0), np.zeros(0))
        self._plot.setXRange(0.0, info.duration_s, padding=0.01)
        self._plot.enableAutoRange(axis="y")
        self.setTitle(f"{info.label} (live)")

    def add(self, piece: Chunk) -> bool:
        """Put a chunk into the trace (redrawn soon); ``False`` if it is not this sweep's."""
        if piece.n_total != self._live.size:
            return False
        self._live[piece.start : piece.stop] = piece.vm_mv
        self._filled = max(self._filled, piece.stop)
        if not self._redraw.isActive():
            self._redraw.start()
        return True

    def finish(self) -> None:
        """Draw what arrived now (the sweep ended)."""
        self._redraw.stop()
        self._draw()

    def stop(self) -> None:
        """Stop redrawing (the panel shuts down)."""
        self._redraw.stop()

    def showResult(self, result: SweepResult) -> None:
        """Show a whole acquired sweep."""
        self._curve.setData(result.t_s, result.vm_mv)

    def shadePhases(self, done: SweepDone) -> None:
        """Shade every phase of an induction sweep in its colour."""
        self._clear_regions()
        order: list[str] = []
        for span in done.sweep.phases:
            if span.name not in order:
                order.append(span.name)
        for span in done.sweep.phases:
            r, g, b = PHASE_COLORS[order.index(span.name) % len(PHASE_COLORS)]
            region = pg.LinearRegionItem(
                values=(float(span.start) / 1000.0, float(span.stop) / 1000.0),
                movable=False,
                brush=pg.mkBrush(r, g, b, 45),
                pen=pg.mkPen(None),
            )
            region.setZValue(-10)
            self._plot.addItem(region)
            self._regions.append(region)

    def _draw(self) -> None:
        n = self._filled
        self._curve.setData(np.arange(n, dtype=np.float64) / self._fs, self._live[:n])

    def _clear_regions(self) -> None:
        for region in self._regions:
            self._plot.removeItem(region)
        self._regions = []


class RatesView(QGroupBox):
    """What the last sweep achieved: a sentence, and the rate of every phase.

    The table is named ``ratesTable`` (phase, target, achieved, spikes, result), the
    sentence ``sweepSummary`` and the note under the table ``ratesNote``.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Last sweep: achieved rate per phase", parent)
        self.table = table(
            ("Phase", "Target (Hz)", "Achieved (Hz)", "Spikes", "Result"), "ratesTable"
        )
        self.summary = wrapping_label(lines=2, name="sweepSummary")
        self.note = wrapping_label(lines=2, name="ratesNote")
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addWidget(self.note)
        self.showRates(None)

    def showRates(self, rates: Sequence[PhaseRate] | None) -> None:
        """Fill the table (``None``: no sweep yet)."""
        rows = tuple(rates or ())
        self.table.setRowCount(len(rows))
        for row, rate in enumerate(rows):
            color = None if rate.ok else MISS
            cells = (
                phase_cell(rate.phase, row, color),
                cell(f"{rate.target_hz:g}", color=color),
                cell(f"{rate.achieved_hz:.1f}", color=color, bold=not rate.ok),
                cell(f"{rate.n_spikes} in {rate.n_windows} windows", color=color),
                cell(verdict(rate), color=OK if rate.ok else MISS, bold=not rate.ok),
            )
            for column, item in enumerate(cells):
                self.table.setItem(row, column, item)
        fit_rows(self.table)
        if rates is None:
            self.summary.setText("No sweep yet.")
            self.note.setText("Run an induction sweep to see the achieved rate of each phase.")
        else:
            self.note.setText(
                "Rates from inter-spike intervals (Vm crossing −20 mV); a phase more than "  # noqa: RUF001
                f"{TOLERANCE} off its target is flagged in red."
            )

    def showDone(self, done: SweepDone) -> str:
        """Show a sweep played to its end; return the verdict for the status line."""
        result = done.result
        what = f"{done.which} sweep of “{done.experiment.metadata.name}”"
        what = f"{what[0].upper()}{what[1:]} ({result.n_samples / result.sample_rate_hz:.2f} s)"
        if done.which == "induction":
            self.showRates(done.rates)
            missed = [r for r in done.rates if not r.ok]
            verdict_text = (
                f"every phase within {TOLERANCE} of its target rate"
                if not missed
                else f"{len(missed)} phase(s) missed the target rate by more than {TOLERANCE}"
            )
            self.summary.setText(f"{what}: {verdict_text}.")
            return f"induction sweep done: {verdict_text}"
        self.showRates(None)
        line = done.probe.line() if done.probe is not None else ""
        self.summary.setText(f"{what}: {line}.")
        self.note.setText("A probe sweep has no theta phases: no rates to check.")
        return "probe sweep done"
