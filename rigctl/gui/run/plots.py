"""The run panel's plots: live Vm, normalized EPSP, input resistance and resting Vm.

* **Membrane potential** of the sweep being acquired (peak-decimated), reset per sweep.
* **Normalized EPSP** over the actual time since the induction (min): the induction at 0,
  the baseline mean ± SD shaded, 1.0 dashed, the 30-35 min summary window, and probes
  excluded for a spike marked with a cross at the top.
* **Input resistance** and **resting Vm** over the same time (x-linked), with the
  baseline mean, the health-flag limits, and flagged probes in red.

The widget only draws, when the panel says (at most once per 60 Hz frame); each item
is touched only when its points change. Nothing here touches the runner or the rig.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from rigctl.engine import AnalysisSettings
from rigctl.engine.style import TEXT_COLOR
from rigctl.gui.plot_style import style_plot
from rigctl.gui.run.data import RunHistory
from rigctl.gui.run.frames import FramedPlotWidget
from rigctl.hardware import Chunk

__all__ = ["LIVE_MIN_SPAN_MV", "RunPlots"]

FloatArray = npt.NDArray[np.float64]

_AXIS_WIDTH: Final = 62
_TEXT = TEXT_COLOR
_VM_PEN = QColor(33, 33, 33)
_BASE = QColor(120, 144, 156)
_FOLLOW = QColor(21, 101, 192)
_POINT = QColor(55, 71, 79)
_FLAG = QColor(211, 47, 47)
_SPIKE = QColor(230, 81, 0)
_INDUCTION = QColor(198, 40, 40)
_BAND = (21, 101, 192, 45)
_WINDOW = (251, 192, 45, 60)
_TITLE_SIZE = "10pt"

LIVE_MIN_SPAN_MV: Final = 10.0
"""Smallest Vm range of the live plot (noise does not fill the plot)."""


def _opaque(rgba: tuple[int, int, int, int]) -> str:
    """The colour a translucent fill takes on the white background."""
    r, g, b, a = rgba
    mix = [round(c * a / 255 + 255 * (1 - a / 255)) for c in (r, g, b)]
    return QColor(*mix).darker(115).name()


def _swatch(color: str, glyph: str) -> str:
    return f"<span style='color:{color}; font-weight:bold'>{glyph}</span>"


def _style(item: Any, *, left: str, bottom: str | None) -> None:
    # The Rin plot keeps its time ticks, though the rest Vm plot below has the label.
    style_plot(item, left=left, bottom=bottom, axis_width=_AXIS_WIDTH, bottom_values=True)
    item.showGrid(x=False, y=False)  # grid lines cost most of a repaint in software
    item.setContentsMargins(0, 0, 14, 0)  # room for the last tick label


def _view(minimum_height: int) -> Any:
    view = FramedPlotWidget()
    view.setBackground("w")
    view.setMinimumHeight(minimum_height)
    return view


def _points(color: QColor, size: float = 6.0, symbol: str = "o") -> Any:
    return pg.PlotDataItem(
        pen=None,
        symbol=symbol,
        symbolSize=size,
        symbolBrush=pg.mkBrush(color),
        symbolPen=pg.mkPen(color.darker(130)),
    )


def _hline(pen: Any) -> Any:
    line = pg.InfiniteLine(angle=0, movable=False, pen=pen)
    line.setVisible(False)
    return line


def _data(item: Any) -> tuple[FloatArray, FloatArray]:
    x, y = item.getOriginalDataset()
    if x is None or y is None:
        return np.zeros(0), np.zeros(0)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def _span(*arrays: FloatArray) -> tuple[float, float] | None:
    values = np.concatenate([a[np.isfinite(a)] for a in arrays]) if arrays else np.zeros(0)
    if values.size == 0:
        return None
    return float(values.min()), float(values.max())


PEAK_BINS: Final = 2048
"""Bins of the live trace: each is drawn as its minimum and maximum (about 2 per pixel)."""


class _Peaks:
    """The live trace decimated to the minimum and maximum of each bin, kept incrementally.

    A 6 s induction at 20 kHz has 124,000 samples; the plot is about 1,000 pixels wide.
    Each bin is reduced once, when it has filled, so a redraw costs only the new samples.
    """

    def __init__(self) -> None:
        self.reset(0, 1.0)

    def reset(self, n_total: int, sample_rate_hz: float) -> None:
        """Start a sweep of ``n_total`` samples."""
        self._bin = max(1, -(-n_total // PEAK_BINS))
        n_bins = -(-n_total // self._bin) if n_total else 0
        self._rate = sample_rate_hz
        self._x = np.repeat(np.arange(n_bins, dtype=np.float64) * self._bin, 2) / sample_rate_hz
        if self._bin > 1:  # the maximum half a bin later: the pair draws as a vertical stroke
            self._x[1::2] += 0.5 * self._bin / sample_rate_hz
        self._y = np.full(2 * n_bins, np.nan)
        self._done = 0  # bins reduced for good

    def update(self, samples: FloatArray, filled: int) -> tuple[FloatArray, FloatArray]:
        """Reduce the bins filled since the last call; returns the points to draw."""
        if self._bin == 1:
            return np.arange(filled, dtype=np.float64) / self._rate, samples[:filled]
        full = filled // self._bin
        for first, last in ((self._done, full), (full, -(-filled // self._bin))):
            if last <= first:
                continue
            block = samples[first * self._bin : min(last * self._bin, filled)]
            pad = (last - first) * self._bin - block.size
            if pad:
                block = np.concatenate([block, np.full(pad, block[-1] if block.size else np.nan)])
            block = block.reshape(last - first, self._bin)
            self._y[2 * first : 2 * last : 2] = block.min(axis=1)
            self._y[2 * first + 1 : 2 * last : 2] = block.max(axis=1)
        self._done = full
        n = 2 * -(-filled // self._bin)
        return self._x[:n], self._y[:n]


def _changed(shown: dict[int, tuple[FloatArray, FloatArray]], item: Any, x: Any, y: Any) -> bool:
    """Whether ``item`` would show other points than it does (then remember the new ones)."""
    old = shown.get(id(item))
    if old is not None and np.array_equal(old[0], x) and np.array_equal(old[1], y):
        return False
    shown[id(item)] = (np.asarray(x), np.asarray(y))
    return True


def _key_label() -> QLabel:
    key = QLabel()
    key.setTextFormat(Qt.TextFormat.RichText)
    key.setWordWrap(True)
    key.setAlignment(Qt.AlignmentFlag.AlignCenter)
    key.setStyleSheet(f"background: white; color: {_TEXT}; padding: 0 0 3px 0;")
    return key


def _health_plot(left: str, bottom: str | None) -> tuple[Any, Any, tuple[Any, ...]]:
    """A health plot: view, plot item, and its mean, low, high lines, healthy and red points."""
    view = _view(110)
    plot = view.getPlotItem()
    _style(plot, left=left, bottom=bottom)
    items = (
        _hline(pg.mkPen("#757575", style=Qt.PenStyle.DashLine)),
        _hline(pg.mkPen(_FLAG, style=Qt.PenStyle.DotLine)),
        _hline(pg.mkPen(_FLAG, style=Qt.PenStyle.DotLine)),
        _points(_POINT, 5),
        _points(_FLAG, 9),
    )
    for item in items:
        plot.addItem(item)
    return view, plot, items


class RunPlots(QWidget):
    """The four plots of a run (see the module docstring).

    Parameters
    ----------
    parent
        Parent widget.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = AnalysisSettings()
        self._x_span = (-5.5, 45.5)
        self._live = np.zeros(0)
        self._live_t = np.zeros(0)
        self._filled = 0
        self._drawn = 0
        self._live_y: tuple[float, float] | None = None
        self._live_title = ""
        self._shown: dict[int, tuple[FloatArray, FloatArray]] = {}
        self._ranges: dict[tuple[int, str], tuple[float, float]] = {}

        # live Vm
        self.liveView = _view(150)
        self._live_plot = self.liveView.getPlotItem()
        _style(self._live_plot, left="Vm (mV)", bottom="time in sweep (s)")
        self._live_curve = self._live_plot.plot(pen=pg.mkPen(_VM_PEN, width=1))
        self._live_curve.setSkipFiniteCheck(True)
        self._peaks = _Peaks()

        epsp_box = self._build_epsp()

        self.rinView, self._rin_plot, rin = _health_plot("Rin (MΩ)", None)
        self._rin_mean, self._rin_lo, self._rin_hi, self._rin_ok, self._rin_flag = rin
        self.restView, self._rest_plot, rest = _health_plot(
            "rest Vm (mV)", "time since induction (min)"
        )
        self._rest_mean, self._rest_lo, self._rest_hi, self._rest_ok, self._rest_flag = rest
        for induction_line in (self._rin_plot, self._rest_plot):
            induction_line.addItem(
                pg.InfiniteLine(pos=0.0, angle=90, movable=False, pen=pg.mkPen(_INDUCTION))
            )
        self._rin_plot.setXLink(self._epsp_plot)
        self._rest_plot.setXLink(self._epsp_plot)

        splitter = QSplitter(Qt.Orientation.Vertical)
        for view in (self.liveView, epsp_box, self.rinView, self.restView):
            splitter.addWidget(view)
        splitter.setChildrenCollapsible(False)
        for index, stretch in enumerate((3, 4, 2, 2)):
            splitter.setStretchFactor(index, stretch)
        splitter.setSizes([300, 400, 200, 200])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.reset()

    def _build_epsp(self) -> QWidget:
        self.epspView = _view(190)
        p = self.epspView.getPlotItem()
        self._epsp_plot = p
        _style(p, left="EPSP / baseline mean", bottom="time since induction (min)")
        self._band = pg.LinearRegionItem(
            values=(0.9, 1.1),
            orientation="horizontal",
            movable=False,
            brush=pg.mkBrush(*_BAND),
            pen=pg.mkPen(None),
        )
        self._band.setZValue(-20)
        self._band.setVisible(False)
        p.addItem(self._band)
        self._window = pg.LinearRegionItem(
            values=self._settings.summary_window_min,
            orientation="vertical",
            movable=False,
            brush=pg.mkBrush(*_WINDOW),
            pen=pg.mkPen(None),
        )
        self._window.setZValue(-19)
        p.addItem(self._window)
        self._unity = pg.InfiniteLine(
            pos=1.0,
            angle=0,
            movable=False,
            pen=pg.mkPen("#616161", width=1, style=Qt.PenStyle.DashLine),
        )
        p.addItem(self._unity)
        self._induction = pg.InfiniteLine(
            pos=0.0,
            angle=90,
            movable=False,
            pen=pg.mkPen(_INDUCTION, width=2),
            label="induction",
            labelOpts={
                "position": 0.95,
                "color": _INDUCTION.name(),
                "anchors": [(0, 0.5), (0, 0.5)],
                "fill": pg.mkBrush(255, 255, 255, 230),
            },
        )
        p.addItem(self._induction)
        self._epsp_base = _points(_BASE)
        self._epsp_follow = _points(_FOLLOW)
        self._epsp_spike = _points(_SPIKE, 10, "x")
        p.addItem(self._epsp_base)
        p.addItem(self._epsp_follow)
        p.addItem(self._epsp_spike)

        self._epsp_key = _key_label()
        epsp_box = QWidget()
        epsp_layout = QVBoxLayout(epsp_box)
        epsp_layout.setContentsMargins(0, 0, 0, 0)
        epsp_layout.setSpacing(0)
        epsp_layout.addWidget(self.epspView, 1)
        epsp_layout.addWidget(self._epsp_key, 0)
        return epsp_box

    # ------------------------------------------------------------------ feeding

    def reset(
        self,
        *,
        baseline_min: float = 5.0,
        followup_min: float = 45.0,
        settings: AnalysisSettings | None = None,
        manual_induction: bool = False,
    ) -> None:
        """Clear every plot for a new run of the given schedule.

        Parameters
        ----------
        baseline_min, followup_min
            The schedule: the time axes span it from the start.
        settings
            Health-flag limits and the summary window (as the runner uses them).
        manual_induction
            The onset is set by hand: the induction line reads "pending" until it is.
        """
        self._settings = AnalysisSettings() if settings is None else settings
        self._x_span = (-baseline_min - 0.5, followup_min + 0.5)
        self._live = np.zeros(0)
        self._live_t = np.zeros(0)
        self._filled = 0
        self._drawn = 0
        self._live_y = None
        self._live_curve.setData(np.zeros(0), np.zeros(0))
        self._peaks.reset(0, 1.0)
        self._shown.clear()
        self._ranges.clear()
        self._live_plot.setXRange(0.0, 1.0, padding=0.01)
        self._live_plot.setYRange(-80.0, -50.0, padding=0)
        self._set_live_title("Membrane potential · waiting for the first sweep")
        empty = np.zeros(0)
        for item in (
            self._epsp_base,
            self._epsp_follow,
            self._epsp_spike,
            self._rin_ok,
            self._rin_flag,
            self._rest_ok,
            self._rest_flag,
        ):
            item.setData(empty, empty)
        self._band.setVisible(False)
        lines = (self._rin_mean, self._rin_lo, self._rin_hi)
        for line in (*lines, self._rest_mean, self._rest_lo, self._rest_hi):
            line.setVisible(False)
        self._window.setRegion(self._settings.summary_window_min)
        self._set_onset_known(not manual_induction)
        self._epsp_plot.setXRange(*self._x_span, padding=0)
        self._epsp_plot.setYRange(0.0, 2.0, padding=0.02)
        self._set_titles()
        self._rin_plot.setYRange(100.0, 200.0, padding=0)
        self._rest_plot.setYRange(-75.0, -55.0, padding=0)

    def _set_titles(self) -> None:
        """Titles and the EPSP key, which state the run's analysis settings."""
        lo, hi = self._settings.summary_window_min
        self._epsp_plot.setTitle(
            "Normalized EPSP (probe EPSP ÷ baseline mean)", color=_TEXT, size=_TITLE_SIZE
        )
        self._epsp_key.setText(
            f"{_swatch(_BASE.name(), '●')} baseline probe &nbsp;&nbsp; "
            f"{_swatch(_FOLLOW.name(), '●')} after induction &nbsp;&nbsp; "
            f"{_swatch(_SPIKE.name(), '×')} spike in probe (excluded, at the top) &nbsp;&nbsp; "  # noqa: RUF001
            f"{_swatch(_opaque(_BAND), '■')} baseline mean ± SD &nbsp;&nbsp; "
            f"{_swatch(_opaque(_WINDOW), '■')} summary window {lo:g}–{hi:g} min &nbsp;&nbsp; "  # noqa: RUF001
            f"{_swatch(_INDUCTION.name(), '|')} induction"
        )
        self._rin_plot.setTitle(
            f"Input resistance (red: flagged, beyond ±{self._settings.rin_change:.0%} of the "
            "baseline mean)",
            color=_TEXT,
            size=_TITLE_SIZE,
        )
        self._rest_plot.setTitle(
            f"Resting Vm (red: flagged, beyond ±{self._settings.vm_drift_mv:g} mV of the "
            "baseline mean)",
            color=_TEXT,
            size=_TITLE_SIZE,
        )

    def startSweep(self, n_total: int, sample_rate_hz: float, title: str) -> None:
        """Begin the live trace of a new sweep of ``n_total`` samples.

        A sweep as long as the last one keeps its Vm range (the trace does not jump
        from sweep to sweep); another kind of sweep starts a new range.
        """
        if n_total != self._live.size:
            self._live_y = None
            self._live_t = np.arange(n_total, dtype=np.float64) / sample_rate_hz
            self._live_plot.setXRange(0.0, n_total / sample_rate_hz, padding=0.01)
        self._live = np.full(n_total, np.nan)
        self._filled = 0
        self._drawn = 0
        self._peaks.reset(n_total, sample_rate_hz)
        self._live_curve.setData(np.zeros(0), np.zeros(0))
        self._set_live_title(f"Membrane potential · {title}")

    def addChunk(self, chunk: Chunk) -> None:
        """Put one chunk of the current sweep into the live trace (drawn later)."""
        if chunk.n_total != self._live.size:
            return
        self._live[chunk.start : chunk.stop] = chunk.vm_mv
        self._filled = max(self._filled, chunk.stop)

    def setLiveTitle(self, title: str) -> None:
        """Describe the sweep shown (e.g. when it has ended)."""
        self._set_live_title(f"Membrane potential · {title}")

    # ------------------------------------------------------------------ drawing

    def drawLive(self) -> None:
        """Draw the live trace as far as it has arrived.

        The Vm axis spans at least :data:`LIVE_MIN_SPAN_MV` and only grows during a
        sweep, so the trace does not rescale at every chunk.
        """
        n = self._filled
        if n == self._drawn:
            return
        x, y = self._peaks.update(self._live, n)
        self._live_curve.setData(x, y)
        new = self._live[self._drawn : n]
        self._drawn = n
        new = new[np.isfinite(new)]
        if new.size == 0:
            return
        lo, hi = float(new.min()), float(new.max())
        if self._live_y is None:
            mid = 0.5 * (lo + hi)
            half = max(0.5 * LIVE_MIN_SPAN_MV, 0.5 * (hi - lo) + 1.0)
            self._live_y = (mid - half, mid + half)
        elif lo >= self._live_y[0] and hi <= self._live_y[1]:
            return
        else:
            self._live_y = (min(self._live_y[0], lo - 1.0), max(self._live_y[1], hi + 1.0))
        self._live_plot.setYRange(*self._live_y, padding=0)

    def drawHistory(self, history: RunHistory) -> None:
        """Draw the EPSP, input resistance and resting Vm of every probe so far.

        Only the items whose points or ranges changed are touched: a new follow-up probe
        updates three point sets, not every item of three plots.
        """
        t = history.times_min()
        base = history.is_baseline()
        norm = history.normalized()
        ok = np.isfinite(norm) & np.isfinite(t)
        self._points(self._epsp_base, t[ok & base], norm[ok & base])
        self._points(self._epsp_follow, t[ok & ~base], norm[ok & ~base])
        stats = history.baseline()
        sd = stats.normalized_sd
        if math.isfinite(sd):
            self._band.setRegion((1.0 - sd, 1.0 + sd))
        self._band.setVisible(math.isfinite(sd))
        self._set_onset_known(history.onset_known)
        x_lo, x_hi = self._x_span
        span = _span(t)
        if span is not None:
            x_lo = min(x_lo, span[0] - 0.5)
            x_hi = max(x_hi, span[1] + 0.5)
        self._range(self._epsp_plot, "x", x_lo, x_hi, padding=0.0)
        y = _span(norm[ok])
        lo = min(0.0, y[0] - 0.1) if y else 0.0
        hi = max(2.0, y[1] + 0.1) if y else 2.0
        self._range(self._epsp_plot, "y", lo, hi, padding=0.02)
        # Probes with a spike: excluded, marked at the top of the plot (their "EPSP" is
        # an action potential, many times the scale).
        spiked = history.excluded() & np.isfinite(t)
        self._points(self._epsp_spike, t[spiked], np.full(int(spiked.sum()), hi))

        rin_flag, rest_flag = history.flagged()
        self._draw_health(
            t,
            history.rin_mohm(),
            rin_flag,
            stats.rin_mean_mohm,
            stats.rin_mean_mohm * self._settings.rin_change,
            self._rin_plot,
            (self._rin_ok, self._rin_flag, self._rin_mean, self._rin_lo, self._rin_hi),
        )
        self._draw_health(
            t,
            history.rest_mv(),
            rest_flag,
            stats.rest_mean_mv,
            self._settings.vm_drift_mv,
            self._rest_plot,
            (self._rest_ok, self._rest_flag, self._rest_mean, self._rest_lo, self._rest_hi),
        )

    def _points(self, item: Any, x: FloatArray, y: FloatArray) -> None:
        if _changed(self._shown, item, x, y):
            item.setData(x, y)

    def _range(self, plot: Any, axis: str, lo: float, hi: float, *, padding: float) -> None:
        key = (id(plot), axis)
        if self._ranges.get(key) == (lo, hi):
            return
        self._ranges[key] = (lo, hi)
        if axis == "x":
            plot.setXRange(lo, hi, padding=padding)
        else:
            plot.setYRange(lo, hi, padding=padding)

    def _draw_health(
        self,
        t: FloatArray,
        values: FloatArray,
        flagged: npt.NDArray[np.bool_],
        mean: float,
        limit: float,
        plot: Any,
        items: tuple[Any, Any, Any, Any, Any],
    ) -> None:
        ok_item, flag_item, mean_line, lo_line, hi_line = items
        finite = np.isfinite(values) & np.isfinite(t)
        self._points(ok_item, t[finite & ~flagged], values[finite & ~flagged])
        self._points(flag_item, t[finite & flagged], values[finite & flagged])
        known = math.isfinite(mean) and math.isfinite(limit)
        for line, pos in ((mean_line, mean), (lo_line, mean - limit), (hi_line, mean + limit)):
            line.setVisible(known)
            if known and line.value() != pos:
                line.setValue(pos)
        limits = np.array([mean - limit, mean + limit]) if known else np.zeros(0)
        span = _span(values[finite], limits)
        if span is not None:
            pad = max(0.05 * (span[1] - span[0]), 0.5)
            self._range(plot, "y", span[0] - pad, span[1] + pad, padding=0.0)

    def _set_onset_known(self, known: bool) -> None:
        self._induction.label.setFormat("induction" if known else "induction (pending)")
        style = Qt.PenStyle.SolidLine if known else Qt.PenStyle.DashLine
        self._induction.setPen(pg.mkPen(_INDUCTION, width=2, style=style))

    def _set_live_title(self, title: str) -> None:
        self._live_title = title
        self._live_plot.setTitle(title, color=_TEXT, size=_TITLE_SIZE)

    # ------------------------------------------------------------------ reading back

    def liveTitle(self) -> str:
        """The title of the live plot."""
        return self._live_title

    def liveData(self) -> tuple[FloatArray, FloatArray]:
        """The live sweep as received so far: time in the sweep (s) and Vm (mV).

        The plot draws it decimated (the minimum and maximum of each of
        :data:`PEAK_BINS` bins); this is every sample.
        """
        n = self._filled
        return self._live_t[:n].copy(), self._live[:n].copy()

    def excludedData(self) -> tuple[FloatArray, FloatArray]:
        """Probes excluded for a spike, as marked: time since induction (min), marker height."""
        return _data(self._epsp_spike)

    def epspData(self) -> tuple[FloatArray, FloatArray]:
        """Every EPSP point plotted: time since induction (min) and normalized EPSP."""
        bx, by = _data(self._epsp_base)
        fx, fy = _data(self._epsp_follow)
        return np.concatenate([bx, fx]), np.concatenate([by, fy])

    def baselineBand(self) -> tuple[float, float] | None:
        """The shaded baseline mean ± SD (normalized), ``None`` while not shown."""
        if not self._band.isVisible():
            return None
        lo, hi = self._band.getRegion()
        return float(lo), float(hi)

    def inductionLabel(self) -> str:
        """The label of the induction line."""
        return str(self._induction.label.format)

    def rinData(self, *, flagged: bool = False) -> tuple[FloatArray, FloatArray]:
        """Input resistance points (MΩ), the healthy ones or the flagged ones."""
        return _data(self._rin_flag if flagged else self._rin_ok)

    def restData(self, *, flagged: bool = False) -> tuple[FloatArray, FloatArray]:
        """Resting Vm points (mV), the healthy ones or the flagged ones."""
        return _data(self._rest_flag if flagged else self._rest_ok)
