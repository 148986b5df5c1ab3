"""The Results tab's figures (pyqtgraph), drawn like the paper's Figure 6.

* :class:`GroupFigure`: A, the normalized EPSP over time per condition (mean ± SEM across
  cells in one-minute bins, induction at 0, the summary window shaded, a dashed line at 1);
  B, bars of the summary-window means ± SEM with every cell as a point, n under each bar
  and the Holm-corrected test against 1 marked above it.
* :class:`RecordingFigure`: one recording's normalized EPSP and slope over time with the
  induction marked, and its input resistance and resting Vm, flagged probes in red, cut
  sweeps and skipped probes marked.

Colours are the engine figure's (:mod:`rigctl.engine.group`), so the PDF and the tab agree.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np
import pyqtgraph as pg
from PyQt6.QtGui import QColor, QFont

from rigctl.engine.group import PAPER_ORDER, GroupSummary
from rigctl.engine.stats import ConditionTests
from rigctl.gui.plot_style import style_plot
from rigctl.gui.results.model import RecordingTrace

__all__ = ["GroupFigure", "RecordingFigure", "condition_color"]

_PAPER_COLORS: Final = ("#8c8c8c", "#c0392b", "#2471a3", "#2b2b2b")
_OTHER_COLORS: Final = ("#e67e22", "#27ae60", "#8e44ad", "#16a085", "#b7950b", "#6d4c41")
_AXIS_WIDTH: Final = 56
_FLAG: Final = "#d32f2f"
_INDUCTION: Final = "#c62828"


def condition_color(condition: str, index: int) -> QColor:
    """The colour of a condition (the paper's four fixed, others by position)."""
    if condition in PAPER_ORDER:
        return QColor(_PAPER_COLORS[PAPER_ORDER.index(condition)])
    return QColor(_OTHER_COLORS[index % len(_OTHER_COLORS)])


def _alpha(color: QColor, a: int) -> QColor:
    c = QColor(color)
    c.setAlpha(a)
    return c


def _stars(p: float) -> str:
    if not math.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "n.s."


def _panel_letter(item: Any, letter: str) -> None:
    item.setTitle(f"<b>{letter}</b>", justify="left", size="12pt", color="#111")


class _Figure(pg.GraphicsLayoutWidget):  # type: ignore[misc]
    """A figure of the Results tab: white, never squeezed below a readable height."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.setMinimumHeight(260)


class GroupFigure(_Figure):
    """Group time course (A) and summary bars (B) of a :class:`GroupSummary`."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.time = self.addPlot(row=0, col=0)
        self.bars = self.addPlot(row=0, col=1)
        self.ci.layout.setColumnStretchFactor(0, 2)
        self.ci.layout.setColumnStretchFactor(1, 1)
        for item, left, bottom in (
            (self.time, "Normalized EPSP amplitude", "Time from induction (min)"),
            (self.bars, "Normalized EPSP (window)", "Prediction→outcome (Hz)"),
        ):
            style_plot(item, left=left, bottom=bottom, axis_width=_AXIS_WIDTH)
            item.setMouseEnabled(x=False, y=False)
        _panel_letter(self.time, "A")
        _panel_letter(self.bars, "B")
        self.legend = self.time.addLegend(offset=(8, 4), labelTextColor="#222", labelTextSize="8pt")
        self.summary: GroupSummary | None = None

    def clear_all(self) -> None:
        """Empty both panels."""
        self.time.clear()
        self.bars.clear()
        self.legend.clear()
        self.summary = None

    def show_summary(self, summary: GroupSummary, tests: ConditionTests | None = None) -> None:
        """Draw a summary; ``tests`` (Holm-corrected) gives the marks above the bars."""
        self.clear_all()
        self.summary = summary
        lo, hi = summary.window_min
        self.bars.setLabel("left", f"Normalized EPSP ({lo:g}\N{EN DASH}{hi:g} min)", color="#222")
        self._draw_time(summary)
        holm = {t.condition: t.p_holm for t in tests.tests} if tests is not None else {}
        self._draw_bars(summary, holm)

    def _draw_time(self, summary: GroupSummary) -> None:
        lo, hi = summary.window_min
        p = self.time
        none = pg.mkPen(None)
        p.addItem(pg.LinearRegionItem((lo, hi), movable=False, brush=(0, 0, 0, 18), pen=none))
        p.addItem(pg.InfiniteLine(1.0, angle=0, pen=pg.mkPen("#777", dash=[4, 3])))
        p.addItem(pg.InfiniteLine(0.0, angle=90, pen=pg.mkPen(_INDUCTION, width=1, dash=[2, 2])))
        y_lo, y_hi, x_lo, x_hi = 0.6, 1.5, min(-1.0, lo), hi
        for i, c in enumerate(summary.conditions):
            tc = summary.time_course(c.condition)
            x = np.asarray(tc.centers_min)
            m = np.asarray(tc.mean)
            s = np.nan_to_num(np.asarray(tc.sem), nan=0.0)
            if not x.size:
                continue
            col = condition_color(c.condition, i)
            upper = pg.PlotCurveItem(x, m + s, pen=none)
            lower = pg.PlotCurveItem(x, m - s, pen=none)
            p.addItem(pg.FillBetweenItem(upper, lower, brush=_alpha(col, 50)))
            p.plot(
                x,
                m,
                pen=pg.mkPen(col, width=1.6),
                symbol="o",
                symbolSize=5,
                symbolBrush=col,
                symbolPen=None,
                name=f"{c.label} (n={c.n})",
            )
            y_lo, y_hi = min(y_lo, float(np.nanmin(m - s))), max(y_hi, float(np.nanmax(m + s)))
            x_lo, x_hi = min(x_lo, float(x.min())), max(x_hi, float(x.max()))
        p.setXRange(x_lo - 0.5, x_hi + 0.5, padding=0)
        p.setYRange(y_lo - 0.05, y_hi + 0.1, padding=0)
        label = pg.TextItem("induction", color=_INDUCTION, anchor=(0, 0))
        label.setFont(QFont("", 8))
        p.addItem(label)
        label.setPos(0.05, y_hi + 0.1)
        window = pg.TextItem(f"{lo:g}\N{EN DASH}{hi:g} min", color="#555", anchor=(0.5, 1))
        window.setFont(QFont("", 8))
        p.addItem(window)
        window.setPos((lo + hi) / 2, y_lo - 0.05)

    def _draw_bars(self, summary: GroupSummary, holm: dict[str, float]) -> None:
        p = self.bars
        rng = np.random.default_rng(0)
        top = 1.0
        ticks = []
        for i, c in enumerate(summary.conditions):
            col = condition_color(c.condition, i)
            p.addItem(
                pg.BarGraphItem(
                    x=[i], height=[c.mean], width=0.62, brush=_alpha(col, 70), pen=pg.mkPen(col)
                )
            )
            sem = c.sem if math.isfinite(c.sem) else 0.0
            if c.n > 1:
                p.addItem(
                    pg.ErrorBarItem(
                        x=np.array([i]),
                        y=np.array([c.mean]),
                        height=np.array([2 * sem]),
                        beam=0.22,
                        pen=pg.mkPen(col, width=1.6),
                    )
                )
            xs = i + rng.uniform(-0.16, 0.16, len(c.values))
            p.plot(
                xs,
                list(c.values),
                pen=None,
                symbol="o",
                symbolSize=6,
                symbolBrush=col,
                symbolPen=pg.mkPen("w", width=0.6),
            )
            top = max(top, max(c.values, default=c.mean), c.mean + sem)
            ticks.append((i, c.label.replace(" Hz", "")))
            for text, y, anchor in (
                (f"n={c.n}", 0.0, (0.5, 1.0)),
                (_stars(holm.get(c.condition, c.p)), max(max(c.values), c.mean + sem), (0.5, 1)),
            ):
                item = pg.TextItem(text, color="#333", anchor=anchor)
                item.setFont(QFont("", 8))
                item.setPos(i, y)
                p.addItem(item)
        p.addItem(pg.InfiniteLine(1.0, angle=0, pen=pg.mkPen("#777", dash=[4, 3])))
        p.getAxis("bottom").setTicks([ticks])
        p.setXRange(-0.6, len(ticks) - 0.4, padding=0)
        p.setYRange(0.0, top * 1.2, padding=0)


class RecordingFigure(_Figure):
    """One recording: normalized EPSP and slope (top), Rin and resting Vm (below)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.epsp = self.addPlot(row=0, col=0)
        self.rin = self.addPlot(row=1, col=0)
        self.rest = self.addPlot(row=2, col=0)
        self.ci.layout.setRowStretchFactor(0, 3)
        style_plot(self.epsp, left="Normalized", bottom=None, axis_width=_AXIS_WIDTH)
        style_plot(self.rin, left="Rin (MΩ)", bottom=None, axis_width=_AXIS_WIDTH)
        style_plot(
            self.rest, left="Vm (mV)", bottom="Time from induction (min)", axis_width=_AXIS_WIDTH
        )
        for item in (self.rin, self.rest):
            item.setXLink(self.epsp)
        self.legend = self.epsp.addLegend(offset=(8, 4), labelTextColor="#222", labelTextSize="8pt")
        self.trace: RecordingTrace | None = None

    def show_trace(self, trace: RecordingTrace | None) -> None:
        """Draw a recording's time course (None clears)."""
        for item in (self.epsp, self.rin, self.rest):
            item.clear()
        self.legend.clear()
        self.trace = trace
        if trace is None:
            self.epsp.setTitle("")
            return
        self.epsp.setTitle(f"{trace.name} — {trace.label}", size="9pt", color="#222")
        t = np.asarray(trace.times_min)
        flagged = np.asarray(trace.flagged, dtype=bool)
        self.epsp.addItem(pg.InfiniteLine(1.0, angle=0, pen=pg.mkPen("#777", dash=[4, 3])))
        self.epsp.plot(
            t,
            np.asarray(trace.epsp),
            pen=None,
            symbol="o",
            symbolSize=5,
            symbolBrush="#263238",
            symbolPen=None,
            name="EPSP amplitude",
        )
        self.epsp.plot(
            t,
            np.asarray(trace.slope),
            pen=None,
            symbol="t",
            symbolSize=6,
            symbolBrush="#1e88e5",
            symbolPen=None,
            name="EPSP slope (20\N{EN DASH}80 %)",
        )
        for item, values in ((self.rin, trace.rin_mohm), (self.rest, trace.rest_mv)):
            v = np.asarray(values)
            item.plot(
                t,
                v,
                pen=pg.mkPen("#90a4ae"),
                symbol="o",
                symbolSize=4,
                symbolBrush="#37474f",
                symbolPen=None,
            )
            if flagged.any():
                item.plot(
                    t[flagged],
                    v[flagged],
                    pen=None,
                    symbol="o",
                    symbolSize=6,
                    symbolBrush=_FLAG,
                    symbolPen=None,
                )
        self._mark_events(trace)

    def _mark_events(self, trace: RecordingTrace) -> None:
        """The induction, cut sweeps and skipped probes as vertical lines on every plot."""
        for item in (self.epsp, self.rin, self.rest):
            for x in trace.induction_min:
                item.addItem(pg.InfiniteLine(x, angle=90, pen=pg.mkPen(_INDUCTION, width=2)))
            for x in trace.incomplete_min:
                item.addItem(pg.InfiniteLine(x, angle=90, pen=pg.mkPen(_FLAG, dash=[2, 2])))
            for x in trace.skipped_min:
                item.addItem(pg.InfiniteLine(x, angle=90, pen=pg.mkPen("#ffa000", dash=[1, 3])))
