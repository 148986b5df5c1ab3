"""The plasticity pane's rate map: total dWt over prediction x outcome rates.

The map is computed by :func:`rigctl.plasticity.preview.rate_map` on demand, on the GUI
thread (a few ms with the compiled kernel), only when something it depends on changed
(window geometry, the other phases, the cascade constants); results are cached by their
inputs. The protocol's own rates are a draggable marker: :attr:`RateMapView.markerMoved`
reports where it goes while dragged and where it is released.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, QRectF, Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import QLabel, QVBoxLayout, QWidget

from rigctl.gui.plasticity._style import AXIS_WIDTH, DASH, GREY, TIMES, html, signed
from rigctl.gui.plot_style import style_plot
from rigctl.gui.widgets.live_text import LiveText
from rigctl.plasticity import KinaseParams, kernel_backend
from rigctl.plasticity.mapping import ConditionData, MappingFit
from rigctl.plasticity.outlook import NO_CHANGE_BAND
from rigctl.plasticity.preview import rate_map
from rigctl.protocol import Experiment, Induction

__all__ = ["RATE_MAP_HZ", "RateMapView"]

FloatArray = npt.NDArray[np.float64]

RATE_MAP_HZ: Final = tuple(float(r) for r in range(5, 51))
"""Rates of the rate map (Hz): 5-50 Hz in 1 Hz steps, on both axes."""

_CACHE_SIZE = 8
_MAP_COLORMAP = "CET-D1"  # blue - white - red, perceptually uniform, diverging


def _map_key(induction: Induction, params: KinaseParams, rates: Sequence[float]) -> str:
    """What the rate map depends on, as a string.

    The map replaces the rates of the first and last phases, ``lrate`` only scales the
    weight mapping, and the model never sees the currents: those are left out, so editing
    them does not recompute the map.
    """
    data = induction.model_dump(mode="json")
    phases = data["phases"]
    for index in {0, len(phases) - 1}:
        phases[index]["pre"].pop("rate_hz", None)
        phases[index]["post"].pop("target_rate_hz", None)
    for phase in phases:
        phase["post"].pop("current_pa", None)
    constants = params.model_dump(mode="json")
    constants.pop("lrate", None)
    return json.dumps([data, constants, list(rates)], sort_keys=True)


def _ratio_of_total(fit: MappingFit, total: float, n_windows: int) -> float:
    """Predicted EPSP ratio of a total dWt spread evenly over ``n_windows`` windows."""
    return fit.ratio(np.full(max(n_windows, 1), total / max(n_windows, 1)))


def _band_levels(fit: MappingFit, n_windows: int, band: float) -> tuple[float, ...]:
    """Total dWt (windows taken as equal) whose predicted ratio is ``1 + band``, ``1 - band``."""
    levels = []
    for target, sign in ((1.0 + band, 1.0), (1.0 - band, -1.0)):
        lo, hi = 0.0, 1.0
        while (_ratio_of_total(fit, sign * hi, n_windows) - target) * sign < 0 and hi < 1e6:
            hi *= 2.0
        for _ in range(60):  # bisection: the ratio is monotone in the total
            mid = (lo + hi) / 2.0
            if (_ratio_of_total(fit, sign * mid, n_windows) - target) * sign < 0:
                lo = mid
            else:
                hi = mid
        levels.append(sign * hi)
    return tuple(levels)


def _contour_lines(
    values: FloatArray, rates: FloatArray, levels: Sequence[float]
) -> tuple[FloatArray, FloatArray]:
    """Contours of ``values`` at ``levels`` in rate coordinates, NaN-separated."""
    if min(values.shape) < 2:
        return np.zeros(0), np.zeros(0)
    step = float(rates[1] - rates[0])
    low = float(rates[0])
    xs: list[float] = []
    ys: list[float] = []
    for level in levels:
        for line in pg.functions.isocurve(values, level, connected=True):
            for x, y in line:  # pixel-centre coordinates: pixel i spans [i, i + 1]
                xs.append(low + (float(x) - 0.5) * step)
                ys.append(low + (float(y) - 0.5) * step)
            xs.append(math.nan)
            ys.append(math.nan)
    return np.asarray(xs), np.asarray(ys)


class RateMapView(QWidget):
    """Total dWt over (prediction, outcome) rates, with the protocol as a draggable marker.

    Child labels: ``mapTitle``, ``mapStatus``, ``mapHover``; the plot is a
    ``pyqtgraph.GraphicsLayoutWidget`` named ``rateMapPlot``.

    Parameters
    ----------
    rates_hz
        Increasing, evenly spaced rates (Hz) of both axes.
    conditions
        Measured conditions to mark on the map (squares).
    parent
        Parent widget.

    Signals
    -------
    markerMoved(float, float, bool)
        The marker was dragged to (prediction, outcome) rates (Hz, not snapped yet); the
        flag is ``True`` when the drag finished.
    rateMapChanged()
        A newly computed map is shown.
    """

    markerMoved = pyqtSignal(float, float, bool)  # noqa: N815 (Qt signal naming)
    rateMapChanged = pyqtSignal()  # noqa: N815 (Qt signal naming)

    def __init__(
        self,
        rates_hz: Sequence[float],
        conditions: Sequence[ConditionData],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        rates = np.asarray(rates_hz, dtype=np.float64)
        if rates.ndim != 1 or rates.size == 0 or not np.all(np.diff(rates) > 0):
            raise ValueError("map_rates_hz: give increasing, evenly spaced rates (Hz)")
        self._rates = rates
        self._induction: Induction | None = None
        self._params = KinaseParams()
        self._fit: MappingFit | None = None
        self._n_windows = 1
        self._marked: tuple[float, float] | None = None
        self._maps: OrderedDict[str, FloatArray] = OrderedDict()
        self._map_wanted: str | None = None
        self._map_shown: str | None = None
        self._map_count = 0
        self._placing = False
        self._axis_labels: tuple[str, str] | None = None
        self._map_timer = QTimer(self)  # dies with the view, unlike a bare singleShot
        self._map_timer.setSingleShot(True)
        self._map_timer.setInterval(0)
        self._map_timer.timeout.connect(self._compute_map)
        view = self._build_plot(conditions)
        self._title = LiveText("mapTitle", lines=4)
        self._status = LiveText("mapStatus", lines=2)
        self._hover = self._label("mapHover", lines=1)
        self._hover.setText("Point at the map to read a value.")
        self._hover.setStyleSheet("color:#424242;")
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(self._title)
        column.addWidget(view, 1)
        column.addWidget(self._status)
        column.addWidget(self._hover)

    @staticmethod
    def _label(name: str, *, lines: int) -> QLabel:
        """A label with room for ``lines`` lines, so new text rarely moves the map."""
        label = QLabel()
        label.setObjectName(name)
        label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        label.setMinimumHeight(lines * label.fontMetrics().lineSpacing())
        return label

    def _build_plot(self, conditions: Sequence[ConditionData]) -> pg.GraphicsLayoutWidget:
        view = pg.GraphicsLayoutWidget()
        self._view = view
        view.setObjectName("rateMapPlot")
        view.setBackground("w")
        view.ci.setContentsMargins(2, 2, 2, 2)
        view.setMinimumSize(260, 260)
        self._map = view.addPlot(row=0, col=0)
        style_plot(
            self._map,
            left="outcome rate (Hz)",
            bottom="prediction rate (Hz)",
            axis_width=AXIS_WIDTH,
        )
        self._map.setMouseEnabled(x=False, y=False)
        self._build_image()
        low, high = float(self._rates[0]), float(self._rates[-1])
        diagonal = pg.PlotDataItem(
            [low, high], [low, high], pen=pg.mkPen(GREY, width=1, style=Qt.PenStyle.DotLine)
        )
        self._map.addItem(diagonal)
        flat = pg.TextItem("flat", color="#424242", anchor=(0.5, 1.1), angle=45)
        flat.setPos(low + 0.82 * (high - low), low + 0.82 * (high - low))
        self._map.addItem(flat)
        self._map.addItem(
            pg.ScatterPlotItem(
                [c.minus_hz for c in conditions],
                [c.plus_hz for c in conditions],
                symbol="s",
                size=6,
                pen=pg.mkPen("#212121"),
                brush=pg.mkBrush(255, 255, 255, 160),
            )
        )
        self._build_marker(low)
        pad = 1.5 * self._step()
        self._map.setXRange(low - pad, high + pad, padding=0)
        self._map.setYRange(low - pad, high + pad, padding=0)
        view.scene().sigMouseMoved.connect(self._hover_map)
        return view

    def _build_image(self) -> None:
        self._image = pg.ImageItem(axisOrder="col-major")  # values[i, j]: x = i, y = j
        self._map.addItem(self._image)
        self._bar = pg.ColorBarItem(
            values=(-1.0, 1.0),
            colorMap=pg.colormap.get(_MAP_COLORMAP),
            interactive=False,
            width=14,
            pen="#555",
            colorMapMenu=False,
        )
        self._bar.setImageItem(self._image, insert_in=self._map)
        self._bar.axis.setPen(pg.mkPen("#555555"))
        self._bar.axis.setTextPen(pg.mkPen("#222222"))
        self._bar.axis.enableAutoSIPrefix(False)
        self._bar.axis.setLabel("total dWt", color="#222")
        # The no-change band, traced once per map (an IsocurveItem would retrace it on
        # every repaint, e.g. whenever the marker moves).
        self._contours = pg.PlotDataItem(
            connect="finite", pen=pg.mkPen("#212121", width=1, style=Qt.PenStyle.DashLine)
        )
        self._map.addItem(self._contours)

    def _build_marker(self, low: float) -> None:
        cross = pg.mkPen("#000000", width=1, style=Qt.PenStyle.DashLine)
        self._cross = (pg.InfiniteLine(angle=90, pen=cross), pg.InfiniteLine(angle=0, pen=cross))
        self._marker = pg.TargetItem(
            pos=(low, low),
            size=15,
            symbol="o",
            pen=pg.mkPen("#000000", width=2.5),
            brush=pg.mkBrush(None),
            hoverBrush=pg.mkBrush(255, 255, 255, 120),
            movable=True,
        )
        self._marker.setToolTip("Drag to try other rates; release to apply them to the protocol")
        self._marker.sigPositionChanged.connect(self._marker_dragged)
        self._marker.sigPositionChangeFinished.connect(self._marker_released)
        for item in (*self._cross, self._marker):
            item.setZValue(30)
            self._map.addItem(item)

    # ------------------------------------------------------------------ public API

    def ratesHz(self) -> FloatArray:
        """Rates of the map (Hz), on both axes."""
        return self._rates.copy()

    def marker(self) -> pg.TargetItem:
        """The draggable marker (its position is the protocol's rates, in Hz)."""
        return self._marker

    def markedRates(self) -> tuple[float, float] | None:
        """(prediction, outcome) presynaptic rates marked on the map (Hz)."""
        return self._marked

    def snap(self, value: float) -> float:
        """The map's rate nearest to ``value`` (Hz)."""
        rates = self._rates
        index = int(np.clip(round((value - float(rates[0])) / self._step()), 0, rates.size - 1))
        return float(rates[index])

    def values(self) -> FloatArray | None:
        """The map shown: ``[i, j]`` is the total dWt at ``rates[i]`` -> ``rates[j]`` Hz."""
        return None if self._map_shown is None else self._maps.get(self._map_shown)

    def computations(self) -> int:
        """How many maps this view has started computing."""
        return self._map_count

    def isCurrent(self) -> bool:
        """Whether the map shown is the one of the current protocol and parameters."""
        return self._map_wanted is not None and self._map_shown == self._map_wanted

    def finish(self) -> bool:
        """Show the current map now if it is still pending; return :meth:`isCurrent`."""
        self._compute_map()
        return self.isCurrent()

    def showProtocol(
        self, experiment: Experiment, params: KinaseParams, fit: MappingFit, n_windows: int
    ) -> None:
        """Mark ``experiment`` on the map and show (computing if needed) its map."""
        self._induction = experiment.induction
        self._params, self._fit, self._n_windows = params, fit, n_windows
        self._draw_marker(experiment)
        self._request_map()
        # Place the items now, not while painting (that would cost a second paint).
        self._view.scene().prepareForPaint()

    def clear(self, reason: str) -> None:
        """Show no map and no marker; ``reason`` (rich text) says why."""
        self._induction = None
        self._map_wanted = None
        self._map_shown = None
        self._marked = None
        self._image.clear()
        self._contours.setData([], [])
        for item in (self._marker, *self._cross):
            item.hide()
        self._title.setText("<b>Rate map</b>: total dWt of this protocol at other rates.")
        self._status.setText(reason)

    # ------------------------------------------------------------------ marker

    def _step(self) -> float:
        return float(self._rates[1] - self._rates[0]) if self._rates.size > 1 else 1.0

    def _draw_marker(self, experiment: Experiment) -> None:
        phases = experiment.induction.phases
        if len(phases) < 2:
            self._marked = None
            for item in (self._marker, *self._cross):
                item.hide()
        else:
            x, y = phases[0].pre.rate_hz, phases[-1].pre.rate_hz
            self._marked = (x, y)
            self._placing = True
            try:
                self._marker.setPos(x, y)
            finally:
                self._placing = False
            self._cross[0].setPos(x)
            self._cross[1].setPos(y)
            for item in (self._marker, *self._cross):
                item.show()
            labels = (
                f"{html(phases[0].name)} (first phase) rate (Hz)",
                f"{html(phases[-1].name)} (last phase) rate (Hz)",
            )
            if labels != self._axis_labels:  # a new label relays the plot out: only if new
                self._map.setLabel("bottom", labels[0])
                self._map.setLabel("left", labels[1])
                self._axis_labels = labels
        self._update_title(experiment)
        self._update_status()

    def _marker_dragged(self, item: Any) -> None:
        if not self._placing:
            point = item.pos()
            self.markerMoved.emit(point.x(), point.y(), False)

    def _marker_released(self, item: Any) -> None:
        if not self._placing:
            point = item.pos()
            self.markerMoved.emit(point.x(), point.y(), True)

    def _update_title(self, experiment: Experiment) -> None:
        notes = []
        if self._marked is not None:
            first, last = experiment.induction.phases[0], experiment.induction.phases[-1]
            x, y = self._marked
            notes.append(f"○ this protocol ({x:g} → {y:g} Hz)")
            low, high = float(self._rates[0]), float(self._rates[-1])
            if not (low <= x <= high and low <= y <= high):
                notes.append("<span style='color:#c62828;'>outside the map</span>")
            if (
                first.post.target_rate_hz != first.pre.rate_hz
                or last.post.target_rate_hz != last.pre.rate_hz
            ):
                notes.append("its post rates differ from pre: the map is a guide only")
        notes.append("□ paper conditions")
        notes.append(
            f"dashed: predicted EPSP ratio 1 ± {NO_CHANGE_BAND:.2f} (the no-change band; "
            "windows taken as equal)"
        )
        text = (
            "<b>Rate map</b>: total dWt if the first and last phases ran at other rates "
            "(pre = post, regular trains, everything else as in this protocol).<br>"
            + " · ".join(notes)
        )
        if text != self._title.text():
            self._title.setText(text)

    def _update_status(self) -> None:
        values = self.values()
        if values is None or not self.isCurrent():
            return
        rates = self._rates
        text = (
            f"{rates.size}{TIMES}{rates.size} rates, {rates[0]:g}{DASH}{rates[-1]:g} Hz; "
            f"dWt from {signed(float(values.min()), 2)} to {signed(float(values.max()), 2)}"
        )
        here = self._value_at_marker()
        if here is not None:
            text += f"; ○ on the map: <b>{signed(here)}</b>"
        self._status.setText(text)

    def _value_at_marker(self) -> float | None:
        values, marked = self.values(), self._marked
        if values is None or marked is None:
            return None
        hits = [np.flatnonzero(np.isclose(self._rates, r)) for r in marked]
        if not all(h.size for h in hits):
            return None
        return float(values[hits[0][0], hits[1][0]])

    # ------------------------------------------------------------------ the map

    def _request_map(self) -> None:
        induction = self._induction
        assert induction is not None
        if len(induction.phases) < 2:
            self._map_wanted = None
            self._map_shown = None
            self._image.clear()
            self._contours.setData([], [])
            self._status.setText(
                "No rate map: it needs a prediction and an outcome phase (two or more phases)."
            )
            return
        key = _map_key(induction, self._params, self._rates.tolist())
        self._map_wanted = key
        if key not in self._maps and kernel_backend() != "numba":
            # The numpy fallback takes tens of ms: let the headline paint first.
            self._status.setText("<i>Computing the rate map…</i>")
            self._map_timer.start()
            return
        self._compute_map()

    def _compute_map(self) -> None:
        """Compute (unless cached) and show the map wanted, if it is not shown yet."""
        key, induction = self._map_wanted, self._induction
        if key is None or induction is None or key == self._map_shown:
            return
        if key not in self._maps:
            self._map_count += 1
            try:
                values = rate_map(induction, self._rates, self._rates, self._params)
            except ValueError as exc:  # shown at the map; the GUI must carry on
                self._map_shown = None
                self._status.setText(
                    f"<span style='color:#c62828;'>No rate map: {html(str(exc))}</span>"
                )
                return
            self._maps[key] = values
            while len(self._maps) > _CACHE_SIZE:
                self._maps.popitem(last=False)
        self._maps.move_to_end(key)
        self._show_map(key)

    def _show_map(self, key: str) -> None:
        values = self._maps[key]
        self._map_shown = key
        rates, step = self._rates, self._step()
        low = float(rates[0])
        vmax = float(np.max(np.abs(values), initial=0.0)) or 1.0
        self._image.setImage(values, levels=(-vmax, vmax), autoLevels=False)
        self._image.setRect(
            QRectF(low - step / 2, low - step / 2, step * rates.size, step * rates.size)
        )
        self._bar.setLevels((-vmax, vmax))
        if self._fit is not None:
            levels = _band_levels(self._fit, self._n_windows, NO_CHANGE_BAND)
            self._contours.setData(*_contour_lines(values, rates, levels))
        self._update_status()
        self.rateMapChanged.emit()

    def _hover_map(self, pos: QPointF) -> None:
        values = self.values()
        if values is None or self._fit is None or not self._map.sceneBoundingRect().contains(pos):
            return
        point = self._map.vb.mapSceneToView(pos)
        step, low = self._step(), float(self._rates[0])
        i = round((point.x() - low) / step)
        j = round((point.y() - low) / step)
        if 0 <= i < values.shape[0] and 0 <= j < values.shape[1]:
            v = float(values[i, j])
            ratio = _ratio_of_total(self._fit, v, self._n_windows)
            self._hover.setText(
                f"Pointer: {self._rates[i]:g} → {self._rates[j]:g} Hz, total dWt "
                f"{signed(v)}, predicted EPSP ratio ≈ {ratio:.2f} (windows taken as equal)"
            )
