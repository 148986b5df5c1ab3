"""The calibration views of the Rig tab: the calibrated currents, and the f-I curve."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import QGroupBox, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from rigctl.engine.dry_run import CalibrationDone
from rigctl.gui.plot_style import style_plot
from rigctl.gui.rig._widgets import (
    AXIS_WIDTH,
    DASH,
    MISS,
    OK,
    cell,
    fit_rows,
    phase_cell,
    table,
    verdict,
    wrapping_label,
)

__all__ = ["CurrentsView", "FICurveView"]

_FI_PEN = QColor(21, 101, 192)
_EMPTY_NOTE = (
    "Calibrate to find the current that makes each phase fire at its target rate "
    "on this rig (stimulation stays off)."
)


def _current_text(value: float | None) -> str:
    return "not set" if value is None else f"{value:g}"


class CurrentsView(QGroupBox):
    """The calibrated current of every phase, and *Apply currents*.

    The table is named ``currentsTable`` (phase, target, before, calibrated, achieved,
    result) and the note beside the button ``calibrationNote``.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Calibrated currents", parent)
        self.table = table(
            ("Phase", "Target (Hz)", "Before (pA)", "Calibrated (pA)", "Achieved (Hz)", "Result"),
            "currentsTable",
        )
        self.applyButton = QPushButton("Apply currents")
        self.applyButton.setObjectName("applyCurrents")
        self.applyButton.setToolTip(
            "Put the calibrated currents into the protocol (one undoable edit)"
        )
        self.note = wrapping_label(lines=2, name="calibrationNote")
        row = QHBoxLayout()
        row.addWidget(self.note, 1)
        row.addWidget(self.applyButton, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(row)
        self.showCalibration(None)

    def setNote(self, text: str, *, error: bool = False) -> None:
        """Say something under the table (in red for an ``error``)."""
        self.note.setText(text)
        self.note.setStyleSheet(f"color: {MISS.name()};" if error else "")

    def showCalibration(self, done: CalibrationDone | None) -> None:
        """Fill the table from a calibration (``None``: none yet)."""
        if done is None:
            self.table.setRowCount(0)
            fit_rows(self.table)
            self.setNote(_EMPTY_NOTE)
            return
        cal = done.calibration
        before = {p.name: p.post.current_pa for p in done.experiment.induction.phases}
        after = cal.currents()
        rates = {r.phase: r for r in cal.rates}
        phases = cal.experiment.induction.phases
        self.table.setRowCount(len(phases))
        for row, phase in enumerate(phases):
            rate = rates.get(phase.name)
            ok = rate is None or rate.ok
            color = None if ok else MISS
            cells = (
                phase_cell(phase.name, row, color),
                cell(f"{phase.post.target_rate_hz:g}", color=color),
                cell(_current_text(before.get(phase.name)), color=color),
                cell(_current_text(after.get(phase.name)), color=color, bold=True),
                cell(DASH if rate is None else f"{rate.achieved_hz:.1f}", color=color),
                cell("" if rate is None else verdict(rate), color=OK if ok else MISS, bold=not ok),
            )
            for column, item in enumerate(cells):
                self.table.setItem(row, column, item)
        fit_rows(self.table)
        self.setNote(
            f"★ on the f–I curve: the calibrated currents with the rates they gave in the "  # noqa: RUF001
            f"protocol's own pattern ({cal.iterations} iteration(s), stimulation off)."
        )


class FICurveView(QGroupBox):
    """The f-I curve a calibration measured, with the currents it found as stars.

    The plot is named ``fiPlot``; its first data item is the curve, the second the stars.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Calibration", parent)
        view = pg.PlotWidget()
        view.setObjectName("fiPlot")
        view.setBackground("w")
        view.setMinimumSize(300, 220)
        self._plot = view.getPlotItem()
        style_plot(
            self._plot, left="firing rate (Hz)", bottom="step current (pA)", axis_width=AXIS_WIDTH
        )
        self._plot.setTitle("f–I curve (100 ms steps)", color="#222", size="9pt")  # noqa: RUF001
        self._curve = self._plot.plot(
            pen=pg.mkPen(_FI_PEN, width=1.5), symbol="o", symbolSize=5, symbolBrush=_FI_PEN
        )
        self._found = pg.ScatterPlotItem(
            size=13, symbol="star", pen=pg.mkPen("#222"), brush=pg.mkBrush(251, 140, 0)
        )
        self._plot.addItem(self._found)
        self._empty = pg.TextItem("no calibration yet", color="#888", anchor=(0.5, 0.5))
        self._plot.addItem(self._empty)
        self._targets: list[Any] = []
        layout = QVBoxLayout(self)
        layout.addWidget(view)
        self.showCalibration(None, 600.0)

    def showCalibration(self, done: CalibrationDone | None, max_command_pa: float) -> None:
        """Plot a calibration's f-I curve (``None``: an empty plot up to the limit)."""
        for line in self._targets:
            self._plot.removeItem(line)
        self._targets = []
        if done is None:
            self._curve.setData(np.zeros(0), np.zeros(0))
            self._found.setData([], [])
            self._plot.setXRange(0.0, max_command_pa, padding=0.02)
            self._plot.setYRange(0.0, 60.0, padding=0.02)
            self._empty.setPos(max_command_pa / 2.0, 30.0)
            self._empty.setVisible(True)
            return
        cal = done.calibration
        self._curve.setData(np.asarray(cal.curve.currents_pa), np.asarray(cal.curve.rates_hz))
        self._empty.setVisible(False)
        self._plot.enableAutoRange()
        after = cal.currents()
        rates = {r.phase: r for r in cal.rates}
        xs: list[float] = []
        ys: list[float] = []
        for phase in cal.experiment.induction.phases:
            target = phase.post.target_rate_hz
            if target > 0:
                self._add_target(f"{phase.name} {target:g} Hz", target)
            current, rate = after.get(phase.name), rates.get(phase.name)
            if current is not None and rate is not None:
                xs.append(current)
                ys.append(rate.achieved_hz)
        self._found.setData(xs, ys)

    def _add_target(self, label: str, rate_hz: float) -> None:
        line = pg.InfiniteLine(
            pos=rate_hz,
            angle=0,
            pen=pg.mkPen("#9e9e9e", style=Qt.PenStyle.DashLine),
            label=label,
            labelOpts={"position": 0.98, "color": "#555", "anchors": [(1, 1), (1, 1)]},
        )
        self._plot.addItem(line)
        self._targets.append(line)
