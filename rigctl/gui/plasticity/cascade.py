"""The plasticity pane's cascade plots: one theta window in detail, and the whole induction.

The plot items are made once and updated in place (``setData``, ranges set explicitly),
so an edit repaints each plot once and never rebuilds it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtGui import QBrush, QColor, QPen
from PyQt6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from rigctl.gui.plasticity._style import (
    AXIS_WIDTH,
    DIRECTION_COLORS,
    MINUS,
    html,
    signed,
    swatch,
)
from rigctl.gui.plot_style import (
    envelope,
    phase_tint,
    set_range,
    set_title,
    steady_limit,
    style_plot,
)
from rigctl.plasticity.preview import Prediction
from rigctl.protocol import CompiledSweep, Experiment

__all__ = ["CascadeView"]

_CA = QColor("#9e9e9e")
_CAM = QColor("#8e24aa")
_CAP = QColor(DIRECTION_COLORS["LTP"])
_CAD = QColor(DIRECTION_COLORS["LTD"])
_DWT = QColor("#212121")
_LEGEND_TIP = (
    "Calcium units are arbitrary (the rule only compares CaP with CaD); the cascade "
    "runs in 1 ms steps. Each window is read at its end: CaP above CaD gives LTP, "
    "below gives LTD."
)


class _PhaseBand:
    """Shading of one phase in the two window plots, with its name (reused across updates)."""

    def __init__(self, upper: Any, lower: Any) -> None:
        self.regions = [
            pg.LinearRegionItem((0.0, 1.0), movable=False, pen=pg.mkPen(None)) for _ in range(2)
        ]
        for region, plot in zip(self.regions, (upper, lower), strict=True):
            region.setZValue(-10)
            plot.addItem(region)
        self.label = pg.TextItem(anchor=(0.5, 0.0))
        upper.addItem(self.label)
        self.name: str | None = None
        self.index = -1

    def show(self, name: str, index: int, a: float, b: float, *, label_y: float) -> None:
        if index != self.index:
            for region in self.regions:
                region.setBrush(pg.mkBrush(phase_tint(index, 40)))
            self.index = index
        if name != self.name:
            self.label.setHtml(f"<span style='color:#333;'>{html(name)}</span>")
            self.name = name
        for region in self.regions:
            region.setRegion((a, b))
            region.show()
        self.label.setPos((a + b) / 2, label_y)
        self.label.show()

    def hide(self) -> None:
        for region in self.regions:
            region.hide()
        self.label.hide()


class _Dots:
    """Open circles of a fixed size in pixels at data points (the readouts).

    Plain ellipse items that ignore the view's scaling: Qt paints them without calling
    into Python, several times cheaper than a scatter plot item for a few dozen points.
    """

    def __init__(self, plot: Any, size: float, color: QColor) -> None:
        self._plot = plot
        self._size = size
        self._pen = QPen(color, 1.0)
        self._pen.setCosmetic(True)
        self._items: list[QGraphicsEllipseItem] = []

    def setData(self, xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray) -> None:
        """Show a dot at each ``(x, y)`` (data units); no others."""
        r = self._size / 2.0
        while len(self._items) < len(xs):
            dot = QGraphicsEllipseItem(-r, -r, 2 * r, 2 * r)
            dot.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
            dot.setPen(self._pen)
            dot.setBrush(QBrush(QColor("#ffffff")))
            dot.setZValue(20)
            self._plot.addItem(dot, ignoreBounds=True)
            self._items.append(dot)
        for i, dot in enumerate(self._items):
            if i < len(xs):
                dot.setPos(float(xs[i]), float(ys[i]))
            dot.setVisible(i < len(xs))


def _line(plot: Any, color: QColor, width: float) -> Any:
    # A bare curve: a few hundred points need none of PlotDataItem's transforms.
    curve = pg.PlotCurveItem(pen=pg.mkPen(color, width=width))
    # Thick pens as one path: much faster than line segments on raster backends.
    curve.setSegmentedLineMode("off")
    plot.addItem(curve)
    return curve


class CascadeView(QWidget):
    """ca, CaM, CaP and CaD over one theta window and over the whole induction.

    Child widgets: ``windowIndex`` (spin box, 1-based), ``cascadeLegend``, and the plots
    in a ``pyqtgraph.GraphicsLayoutWidget`` (object name ``cascadePlots``).

    Parameters
    ----------
    parent
        Parent widget.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._prediction: Prediction | None = None
        self._experiment: Experiment | None = None
        self._sweep: CompiledSweep | None = None
        self._limits: dict[str, float] = {}
        view = pg.GraphicsLayoutWidget()
        self._view = view
        view.setObjectName("cascadePlots")
        view.setBackground("w")
        view.ci.setSpacing(2)
        view.ci.setContentsMargins(2, 2, 6, 2)
        view.setMinimumSize(360, 340)  # four stacked plots stay legible (85 px each)
        self._win = view.addPlot(row=0, col=0)
        self._win_dwt = view.addPlot(row=1, col=0)
        self._all = view.addPlot(row=2, col=0)
        self._all_dwt = view.addPlot(row=3, col=0)
        self._style_plots()
        for row, stretch in enumerate((5, 3, 4, 3)):
            view.ci.layout.setRowStretchFactor(row, stretch)
        self._build_window_items()
        self._build_induction_items()
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addLayout(self._build_header())
        column.addWidget(view, 1)

    # ------------------------------------------------------------------ building

    def _style_plots(self) -> None:
        style_plot(self._win, left="Ca (a.u.)", bottom=None, axis_width=AXIS_WIDTH)
        style_plot(
            self._win_dwt, left="dWt", bottom="time from window onset (ms)", axis_width=AXIS_WIDTH
        )
        style_plot(self._all, left="Ca (a.u.)", bottom=None, axis_width=AXIS_WIDTH)
        style_plot(
            self._all_dwt,
            left="dWt",
            bottom="time in the induction sweep (s)",
            axis_width=AXIS_WIDTH,
        )
        self._win_dwt.setXLink(self._win)
        self._all_dwt.setXLink(self._all)
        for item in (self._win, self._win_dwt, self._all, self._all_dwt):
            item.setMouseEnabled(x=True, y=False)
            item.vb.setDefaultPadding(0.02)
            item.vb.disableAutoRange()  # ranges are set with the data: one paint per edit
        set_title(self._win_dwt, f"dWt = PScale·CaP {MINUS} DScale·CaD if read then")
        set_title(self._all, "<b>Whole induction</b> (○ readouts)")
        # A fixed title: the sum is the headline's raw total dWt, and a title that changed
        # with every edit would relay the four plots out each time.
        set_title(self._all_dwt, "dWt per window (\u03a3 = raw total dWt)")

    def _build_window_items(self) -> None:
        """One window: the cascade, and the dWt a readout would give at each moment."""
        self._win_curves = {
            "ca": _line(self._win, _CA, 1.0),
            "cam": _line(self._win, _CAM, 1.0),
            "cap": _line(self._win, _CAP, 2.0),
            "cad": _line(self._win, _CAD, 2.0),
        }
        self._win_dwt_curve = _line(self._win_dwt, _DWT, 1.5)
        self._win_fills = [
            pg.PlotCurveItem(pen=pg.mkPen(None), brush=pg.mkBrush(color), fillLevel=0.0)
            for color in ((198, 40, 40, 60), (21, 101, 192, 60))
        ]
        for fill in self._win_fills:
            fill.setZValue(-5)
            self._win_dwt.addItem(fill)
        self._win_dwt.addItem(pg.InfiniteLine(0.0, angle=0, pen=pg.mkPen("#9e9e9e")))
        self._win_dot = _Dots(self._win_dwt, 9.0, QColor("#000000"))
        self._win_value = pg.TextItem(
            anchor=(1.08, 0.5), color="#111", fill=pg.mkBrush(255, 255, 255, 210)
        )
        self._win_value.setZValue(25)
        self._win_dwt.addItem(self._win_value)
        readout_pen = pg.mkPen("#000000", width=1.5)
        self._win_lines = [pg.InfiniteLine(0.0, angle=90, pen=readout_pen) for _ in range(2)]
        self._win.addItem(self._win_lines[0])
        self._win_dwt.addItem(self._win_lines[1])
        self._win_mark = pg.TextItem("readout", color="#000", anchor=(-0.05, 0.0))
        self._win.addItem(self._win_mark)
        self._bands: list[_PhaseBand] = []

    def _build_induction_items(self) -> None:
        """The whole induction: CaP and CaD with the readouts, and each window's dWt."""
        self._all_cap = self._all.plot(pen=pg.mkPen(_CAP, width=1))
        self._all_cad = self._all.plot(pen=pg.mkPen(_CAD, width=1))
        for curve in (self._all_cap, self._all_cad):
            envelope(curve)
        self._all_dots = _Dots(self._all, 6.0, QColor("#111111"))
        self._all_bars = pg.BarGraphItem(x=[0.0], height=[0.0], width=0.1)
        self._all_dwt.addItem(self._all_bars)
        self._all_dwt.addItem(pg.InfiniteLine(0.0, angle=0, pen=pg.mkPen("#9e9e9e")))

    def _build_header(self) -> QHBoxLayout:
        legend = QLabel(
            "<b>Cascade</b>&nbsp; "
            + " &nbsp;".join(
                (
                    swatch(_CA, "ca"),
                    swatch(_CAM, "CaM"),
                    swatch(_CAP, "CaP (CaMKII, LTP side)"),
                    swatch(_CAD, "CaD (DAPK1, LTD side)"),
                )
            )
        )
        legend.setObjectName("cascadeLegend")
        legend.setWordWrap(True)
        legend.setToolTip(_LEGEND_TIP)
        self._window_spin = QSpinBox()
        self._window_spin.setObjectName("windowIndex")
        self._window_spin.setPrefix("window ")
        self._window_spin.setRange(1, 1)
        self._window_spin.setToolTip("Which theta window the upper two plots show")
        self._window_spin.valueChanged.connect(self._draw_window)
        self._window_of = QLabel()
        header = QHBoxLayout()
        header.addWidget(legend, 1)
        header.addWidget(self._window_spin)
        header.addWidget(self._window_of)
        return header

    # ------------------------------------------------------------------ public API

    def windowIndex(self) -> int:
        """Which theta window the detail plots show (0-based)."""
        return self._window_spin.value() - 1

    def setWindowIndex(self, index: int) -> None:
        """Show theta window ``index`` (0-based) in the detail plots."""
        self._window_spin.setValue(index + 1)

    def showPrediction(
        self, prediction: Prediction, experiment: Experiment, sweep: CompiledSweep
    ) -> None:
        """Draw ``prediction`` of ``experiment`` (compiled as ``sweep``)."""
        self._prediction, self._experiment, self._sweep = prediction, experiment, sweep
        self._draw_protocol()
        if self._window_spin.maximum() != max(1, prediction.n_windows):
            self._window_spin.blockSignals(True)
            self._window_spin.setRange(1, max(1, prediction.n_windows))
            self._window_spin.blockSignals(False)
        self._window_of.setText(f"of {prediction.n_windows}")
        self._draw_window()

    def _settle(self) -> None:
        """Place the items for the new ranges now, not while painting.

        pyqtgraph updates view transforms (and the text items that follow them) when the
        scene is about to paint; changes made then dirty the scene again and cost a second
        paint of the whole view. Preparing right after drawing leaves nothing to change.
        """
        self._view.scene().prepareForPaint()

    # ------------------------------------------------------------------ drawing

    def _limit(self, key: str, needed: float) -> float:
        """The upper y limit of plot ``key`` for data reaching ``needed`` (see steady_limit)."""
        limit = steady_limit(self._limits.get(key), needed)
        self._limits[key] = limit
        return limit

    def clear(self) -> None:
        """Draw nothing (no prediction to show)."""
        self._prediction = None
        empty = np.zeros(0)
        for curve in (*self._win_curves.values(), self._win_dwt_curve, *self._win_fills):
            curve.setData(empty, empty)
        for curve in (self._all_cap, self._all_cad):
            curve.setData(empty, empty)
        self._win_dot.setData([], [])
        self._all_dots.setData([], [])
        self._all_bars.setOpts(x=[0.0], height=[0.0], width=0.1)
        for band in self._bands:
            band.hide()
        for item in (self._win_value, self._win_mark, *self._win_lines):
            item.hide()

    def _draw_window(self) -> None:
        p, sweep = self._prediction, self._sweep
        if p is None or sweep is None:
            return
        tr = p.traces
        w = min(self.windowIndex(), p.n_windows - 1)
        start = float(p.window_starts_ms[w])
        dt = tr.params.dt_ms
        lo = max(0, math.floor((start - 0.1 * p.window_ms) / dt))
        hi = min(tr.n_steps, math.ceil((start + 1.3 * p.window_ms) / dt))
        t = (np.arange(lo, hi) + 1) * dt - start  # the value after step n is at its end
        for name, curve in self._win_curves.items():
            curve.setData(t, getattr(tr, name)[lo:hi])
        dwt = tr.dwt[lo:hi]
        self._win_dwt_curve.setData(t, dwt)
        self._win_fills[0].setData(t, np.maximum(dwt, 0.0))
        self._win_fills[1].setData(t, np.minimum(dwt, 0.0))
        readout = float(p.readout_ms[w]) - start
        value = float(p.result.per_window[w])
        self._win_dot.setData([readout], [value])
        for item in (self._win_value, self._win_mark, *self._win_lines):
            item.show()
        self._win_value.setText(f"readout {signed(value)}")
        self._win_value.setPos(readout, value)
        peak = float(np.max(tr.ca[lo:hi], initial=0.0)) or 1.0
        # Ranges that change only when the data outgrows them (the axes keep their ticks).
        top = self._limit("win", 1.25 * peak)
        self._draw_bands(w, start, label_y=0.9 * top)
        for line in self._win_lines:
            line.setPos(readout)
        self._win_mark.setPos(readout, 0.9 * top)
        x_range = (float(t[0]), float(t[-1])) if t.size else (0.0, 1.0)
        set_range(self._win, x_range, (0.0, top))
        span = self._limit("win_dwt", 1.15 * (float(np.max(np.abs(dwt), initial=0.0)) or 0.1))
        set_range(self._win_dwt, None, (-span, span))
        seed = f", seed 1 of {p.seed_totals.size}" if p.seed_totals.size > 1 else ""
        set_title(self._win, f"<b>Theta window {w + 1}</b> of {p.n_windows}{seed}")
        self._settle()

    def _draw_bands(self, w: int, start: float, *, label_y: float) -> None:
        assert self._experiment is not None and self._sweep is not None
        names = [phase.name for phase in self._experiment.induction.phases]
        spans = [
            (s.name, float(s.start), float(s.stop)) for s in self._sweep.phases if s.window == w
        ]
        while len(self._bands) < len(spans):
            self._bands.append(_PhaseBand(self._win, self._win_dwt))
        for band, (name, a, b) in zip(self._bands, spans, strict=False):
            index = names.index(name) if name in names else 0
            band.show(name, index, a - start, b - start, label_y=label_y)
        for band in self._bands[len(spans) :]:
            band.hide()

    def _draw_protocol(self) -> None:
        p = self._prediction
        assert p is not None
        tr = p.traces
        t_s = (np.arange(tr.n_steps) + 1) * tr.params.dt_ms / 1000.0
        self._all_cap.setData(t_s, tr.cap)
        self._all_cad.setData(t_s, tr.cad)
        steps = p.result.readout_steps
        inside = steps < tr.n_steps
        read_s = p.readout_ms / 1000.0
        self._all_dots.setData(
            np.concatenate([read_s[inside], read_s[inside]]),
            np.concatenate([tr.cap[steps[inside]], tr.cad[steps[inside]]]),
        )
        per = np.asarray(p.per_window, dtype=np.float64)
        ltp, ltd = pg.mkBrush(DIRECTION_COLORS["LTP"]), pg.mkBrush(DIRECTION_COLORS["LTD"])
        self._all_bars.setOpts(
            x=read_s - p.window_ms / 2000.0,
            height=per,
            width=max(p.window_ms / 1000.0 * 0.8, 0.002),
            brushes=[ltp if v >= 0 else ltd for v in per],
            pen=None,
        )
        top = max(float(np.max(tr.cap, initial=0.0)), float(np.max(tr.cad, initial=0.0)))
        end = float(t_s[-1]) if t_s.size else 1.0
        set_range(
            self._all, (-0.01 * end, 1.01 * end), (0.0, self._limit("all", 1.05 * top or 1.0))
        )
        span = self._limit("all_dwt", 1.15 * (float(np.max(np.abs(per), initial=0.0)) or 0.1))
        set_range(self._all_dwt, None, (-span, span))
