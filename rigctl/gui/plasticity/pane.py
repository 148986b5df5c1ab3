"""Plasticity preview: what the kinase rule predicts a protocol does to the synapse, and why.

The pane sits beside the waveform preview and shows, for the protocol being edited:

- the **headline**: the predicted EPSP ratio from the mapping fitted to the paper's data,
  with its ± 1 SD interval (the fit's standard error and the spread over jittered and
  quasi-regular spike trains) and the direction called from it by
  :func:`rigctl.plasticity.outlook.call_direction` (LTP / LTD only when the interval clears
  the paper's no-change band); beside it the raw total dWt, the uncalibrated Axon weight,
  and the paper's measured value when the protocol is one of its conditions;
- the **comparators** on the same spikes: Hebbian coincidence and the rate-CHL target;
- the **cascade** (ca, CaM, CaP, CaD) over one theta window and over the whole induction,
  with the readouts and the dWt of every window;
- a **rate map** of the total dWt over prediction x outcome rates, with this protocol
  marked. It is computed on demand on the GUI thread (a few ms with the compiled kernel),
  only when something it depends on (window geometry, the other phases, the cascade
  constants) changed. Dragging the marker previews other rates live and, on release, asks
  for them as an edit (:attr:`PlasticityPane.ratesPicked`);
- what the model gets wrong: flat protocols show an **onset bias** with the Axon
  defaults; the pane says so and offers onset compensation (DScale 1.05) as an explicit
  control, never changing the defaults by itself.

Everything is recomputed synchronously on every edit (see
``benchmarks/bench_plasticity_pane.py`` for the times).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, QRectF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QFont
from PyQt6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from rigctl.gui.design.preview import PHASE_COLORS
from rigctl.gui.plasticity.params_dialog import KinaseParamsDialog
from rigctl.gui.plot_style import style_plot
from rigctl.plasticity import (
    ONSET_COMPENSATED_D_SCALE,
    KinaseParams,
    kernel_backend,
    set_kernel_loading,
)
from rigctl.plasticity.mapping import (
    ConditionData,
    Dataset,
    MappingFit,
    fit_mapping,
    match_paper_condition,
    paper_dataset,
)
from rigctl.plasticity.outlook import (
    NO_CHANGE_BAND,
    EpspOutlook,
    direction_rule,
    epsp_outlook,
)
from rigctl.plasticity.preview import (
    DIRECTION_THRESHOLD_DWT,
    Prediction,
    TrainOptions,
    predict,
    rate_map,
)
from rigctl.protocol import CompiledSweep, Experiment, Induction, compile_induction

__all__ = [
    "BIAS_NOTE_MIN_DWT",
    "DIRECTION_COLORS",
    "RATE_MAP_HZ",
    "PlasticityPane",
    "is_flat",
    "with_rates",
]

FloatArray = npt.NDArray[np.float64]

RATE_MAP_HZ: Final = tuple(float(r) for r in range(5, 51))
"""Rates of the rate map (Hz): 5-50 Hz in 1 Hz steps, on both axes."""

BIAS_NOTE_MIN_DWT: Final = 0.2 * DIRECTION_THRESHOLD_DWT
"""|total dWt| of a flat protocol from which the onset-bias note is shown."""

DIRECTION_COLORS: Final = {
    "LTP": "#c62828",
    "LTD": "#1565c0",
    "no change": "#616161",
    "no clear change": "#616161",
}
"""Colour of each direction; the rate map and the cascade use the same (red = LTP side)."""

_CA = QColor("#9e9e9e")
_CAM = QColor("#8e24aa")
_CAP = QColor(DIRECTION_COLORS["LTP"])
_CAD = QColor(DIRECTION_COLORS["LTD"])
_DWT = QColor("#212121")
_GREY = "#616161"
_AXIS_WIDTH = 58
_CACHE_SIZE = 8
_MINUS = "\u2212"
_TIMES = "\u00d7"
_DASH = "\u2013"
_MAP_COLORMAP = "CET-D1"  # blue - white - red, perceptually uniform, diverging


# ---------------------------------------------------------------------------- helpers


def is_flat(induction: Induction) -> bool:
    """Whether the prediction (first) and outcome (last) phases run at the same rates.

    Parameters
    ----------
    induction
        The protocol's induction.

    Returns
    -------
    bool
        ``True`` for two or more phases whose first and last phase share both the
        presynaptic rate and the postsynaptic target rate (e.g. 25 -> 25 Hz).
    """
    if len(induction.phases) < 2:
        return False
    first, last = induction.phases[0], induction.phases[-1]
    return (
        first.pre.rate_hz == last.pre.rate_hz
        and first.post.target_rate_hz == last.post.target_rate_hz
    )


def with_rates(experiment: Experiment, minus_hz: float, plus_hz: float) -> Experiment:
    """``experiment`` with its first and last phases at these rates (pre and post together).

    Parameters
    ----------
    experiment
        A protocol with two or more phases.
    minus_hz, plus_hz
        Prediction-phase and outcome-phase rates (Hz).

    Returns
    -------
    Experiment
        The edited protocol (validated).
    """
    phases = list(experiment.induction.phases)
    for index, rate in ((0, minus_hz), (len(phases) - 1, plus_hz)):
        phase = phases[index]
        phases[index] = phase.replace(
            pre=phase.pre.replace(rate_hz=rate), post=phase.post.replace(target_rate_hz=rate)
        )
    result: Experiment = experiment.replace(
        induction=experiment.induction.replace(phases=tuple(phases))
    )
    return result


def _signed(value: float, digits: int = 3) -> str:
    """``+2.144``, or a typographic minus for negative values."""
    return f"{value:+.{digits}f}".replace("-", _MINUS)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(html: str) -> str:
    text = re.sub(r"<br\s*/?>", "\n", html)
    text = re.sub(r"<[^>]+>", "", text)
    return (
        text.replace("&nbsp;", " ")
        .replace("&#9473;", "\u2501")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
    )


def _swatch(color: QColor, text: str) -> str:
    return f"<span style='color:{color.name()};'>&#9473;&#9473;</span>&nbsp;{text}"


def _grey(text: str) -> str:
    return f"<span style='color:{_GREY};'>{text}</span>"


def _phase_color(index: int, alpha: int) -> QColor:
    r, g, b = PHASE_COLORS[index % len(PHASE_COLORS)]
    return QColor(r, g, b, alpha)


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


def _title(item: Any, html: str) -> None:
    """Set a plot title (only when it changed: a new title relays the plot out)."""
    if getattr(item, "_rigctl_title", None) != html:
        item.setTitle(html, size="9pt", color="#222")
        item._rigctl_title = html


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
                region.setBrush(pg.mkBrush(_phase_color(index, 40)))
            self.index = index
        if name != self.name:
            self.label.setHtml(f"<span style='color:#333;'>{_html(name)}</span>")
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


# ---------------------------------------------------------------------------- the pane


class PlasticityPane(QWidget):
    """The kinase-rule plasticity preview of one protocol.

    Call :meth:`setExperiment` after every valid edit (with the compiled induction when
    it is at hand, e.g. shared with the waveform preview). Nothing is recomputed when
    neither the induction, the parameters nor the train options changed. The rate map is
    computed on demand for the protocol shown, on the GUI thread (a few ms with the compiled
    kernel), and only when its inputs changed (it ignores the varied rates, the currents and
    ``lrate``); results are cached by their inputs. Dragging the marker on the map previews
    those rates live and, on release, emits :attr:`ratesPicked` with the edited protocol.

    Parameters
    ----------
    parent
        Parent widget.
    params
        Cascade constants to start with (default: Axon v2 defaults).
    train_options
        Spike trains fed to the model (default: regular, the compiled pulses).
    dataset
        Measured outcomes the EPSP-ratio mapping is fitted to and compared with
        (default: the paper's dataset shipped with rigctl).
    map_rates_hz
        Evenly spaced rates of the rate map (Hz), for both phases (default 5-50 Hz).

    Signals
    -------
    predictionChanged(Prediction)
        A new prediction is shown (new protocol, parameters or train options).
    paramsChanged(KinaseParams)
        The cascade constants changed (dialog, onset-compensation box or :meth:`setParams`).
    trainOptionsChanged(TrainOptions)
        The train options changed (dialog or :meth:`setTrainOptions`).
    rateMapChanged()
        A newly computed rate map is shown.
    ratesPicked(Experiment)
        The marker was dragged to new rates and released: the protocol with those rates
        (prediction and outcome phases, pre and post together), to apply as an edit.
    """

    predictionChanged = pyqtSignal(object)  # noqa: N815 (Qt signal naming)
    paramsChanged = pyqtSignal(object)  # noqa: N815 (Qt signal naming)
    trainOptionsChanged = pyqtSignal(object)  # noqa: N815 (Qt signal naming)
    rateMapChanged = pyqtSignal()  # noqa: N815 (Qt signal naming)
    ratesPicked = pyqtSignal(object)  # noqa: N815 (Qt signal naming)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        params: KinaseParams | None = None,
        train_options: TrainOptions | None = None,
        dataset: Dataset | None = None,
        map_rates_hz: Sequence[float] = RATE_MAP_HZ,
    ) -> None:
        super().__init__(parent)
        set_kernel_loading("idle")  # numba loads when the GUI is idle, not during previews
        rates = np.asarray(map_rates_hz, dtype=np.float64)
        if rates.ndim != 1 or rates.size == 0 or not np.all(np.diff(rates) > 0):
            raise ValueError("map_rates_hz: give increasing, evenly spaced rates (Hz)")
        self._rates = rates
        self._params = KinaseParams() if params is None else params
        self._options = TrainOptions() if train_options is None else train_options
        self._dataset = paper_dataset() if dataset is None else dataset
        self._experiment: Experiment | None = None
        self._sweep: CompiledSweep | None = None
        self._prediction: Prediction | None = None
        self._alternative: Prediction | None = None
        self._ratio: float | None = None
        self._outlook: EpspOutlook | None = None
        self._measured: ConditionData | None = None
        self._fits: OrderedDict[KinaseParams, MappingFit] = OrderedDict()
        self._last_update_ms = 0.0
        self._dialog: KinaseParamsDialog | None = None
        self._marked: tuple[float, float] | None = None

        # Rate map: computed on demand, cached by what it depends on.
        self._maps: OrderedDict[str, FloatArray] = OrderedDict()
        self._map_wanted: str | None = None
        self._map_shown: str | None = None
        self._map_count = 0
        self._placing = False
        self._map_timer = QTimer(self)  # dies with the pane, unlike a bare singleShot
        self._map_timer.setSingleShot(True)
        self._map_timer.setInterval(0)
        self._map_timer.timeout.connect(self._compute_map)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 4, 6, 6)
        outer.setSpacing(4)
        outer.addLayout(self._build_headline())
        outer.addWidget(self._build_comparators())
        outer.addWidget(self._build_note())
        outer.addLayout(self._build_controls())
        plots = QHBoxLayout()
        plots.addLayout(self._build_cascade(), 11)
        plots.addLayout(self._build_map(), 9)
        outer.addLayout(plots, 1)
        self._show_settings()

    # ------------------------------------------------------------------ building

    def _build_headline(self) -> QVBoxLayout:
        self._direction = QLabel()
        self._direction.setObjectName("direction")
        big = QFont(self.font())
        big.setPointSizeF(big.pointSizeF() * 1.5)
        big.setBold(True)
        self._direction.setFont(big)
        self._direction.setToolTip(direction_rule())
        self._big_pt = round(big.pointSizeF() * 0.8, 1)
        self._dwt = QLabel()
        self._dwt.setObjectName("totalDwt")
        self._ratios = QLabel()
        self._ratios.setObjectName("ratios")
        for label in (self._dwt, self._ratios):
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top = QHBoxLayout()
        top.addWidget(self._direction, 0, Qt.AlignmentFlag.AlignVCenter)
        top.addWidget(self._dwt, 1)
        column = QVBoxLayout()
        column.setSpacing(2)
        column.addLayout(top)
        column.addWidget(self._ratios)
        return column

    def _build_comparators(self) -> QFrame:
        frame = QFrame()
        frame.setObjectName("comparators")
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        grid = QGridLayout(frame)
        grid.setContentsMargins(8, 4, 8, 4)
        grid.setHorizontalSpacing(18)
        grid.setVerticalSpacing(1)
        columns = (
            (
                "cmpKinase",
                "Kinase rule (temporal derivative)",
                f"sign of CaP {_MINUS} CaD at the end of each window",
            ),
            (
                "cmpHebbian",
                "Hebbian coincidence ∫ca dt",
                "ignores order: cannot tell 25 → 50 Hz from 50 → 25 Hz",
            ),
            (
                "cmpChl",
                f"Rate CHL target n{_TIMES}(x⁺y⁺ {_MINUS} x⁻y⁻)",
                "outcome minus prediction rates, in kHz²",
            ),
        )
        self._cmp_values: list[QLabel] = []
        for col, (name, head, note) in enumerate(columns):
            value = QLabel()
            value.setObjectName(name)
            caption = QLabel(note)
            caption.setWordWrap(True)
            caption.setStyleSheet(f"color:{_GREY};")
            grid.addWidget(QLabel(f"<b>{head}</b>"), 0, col)
            grid.addWidget(value, 1, col)
            grid.addWidget(caption, 2, col)
            grid.setColumnStretch(col, 1)
            self._cmp_values.append(value)
        return frame

    def _build_note(self) -> QLabel:
        self._note = QLabel()
        self._note.setObjectName("biasNote")
        self._note.setWordWrap(True)
        self._note.setTextFormat(Qt.TextFormat.RichText)
        self._note.setStyleSheet(
            "QLabel { background:#fff8e1; border:1px solid #ffb300; border-radius:3px;"
            " padding:3px 6px; color:#3e2723; }"
        )
        self._note.hide()
        return self._note

    def _build_controls(self) -> QHBoxLayout:
        self._onset = QCheckBox(f"Onset compensation (DScale {ONSET_COMPENSATED_D_SCALE:g})")
        self._onset.setObjectName("onsetCompensation")
        self._onset.setToolTip(
            f"<p>Weights CaD by {ONSET_COMPENSATED_D_SCALE:g} instead of 1 in the readout "
            "(the older Axon value). With gaps between windows every window starts from "
            "rest and CaP rises ahead of CaD, which reads as LTP even when the rates do not "
            "change; this offsets that bias. Off = Axon v2 defaults.</p>"
        )
        self._onset.toggled.connect(self.setOnsetCompensation)
        button = QPushButton("Parameters…")
        button.setObjectName("parametersButton")
        button.setToolTip("Edit the cascade constants and the spike trains")
        button.clicked.connect(self.openParametersDialog)
        self._settings = QLabel()
        self._settings.setObjectName("settingsSummary")
        self._settings.setWordWrap(True)
        self._settings.setStyleSheet("color:#424242;")
        row = QHBoxLayout()
        row.addWidget(self._onset)
        row.addWidget(button)
        row.addWidget(self._settings, 1)
        return row

    def _build_cascade(self) -> QVBoxLayout:
        view = pg.GraphicsLayoutWidget()
        view.setBackground("w")
        view.ci.setSpacing(2)
        view.ci.setContentsMargins(2, 2, 6, 2)
        view.setMinimumSize(360, 420)  # four stacked plots stay legible
        self._traces = view
        self._win = view.addPlot(row=0, col=0)
        self._win_dwt = view.addPlot(row=1, col=0)
        self._all = view.addPlot(row=2, col=0)
        self._all_dwt = view.addPlot(row=3, col=0)
        style_plot(self._win, left="Ca (a.u.)", bottom=None, axis_width=_AXIS_WIDTH)
        style_plot(
            self._win_dwt, left="dWt", bottom="time from window onset (ms)", axis_width=_AXIS_WIDTH
        )
        style_plot(self._all, left="Ca (a.u.)", bottom=None, axis_width=_AXIS_WIDTH)
        style_plot(
            self._all_dwt,
            left="dWt",
            bottom="time in the induction sweep (s)",
            axis_width=_AXIS_WIDTH,
        )
        self._win_dwt.setXLink(self._win)
        self._all_dwt.setXLink(self._all)
        for item in (self._win, self._win_dwt, self._all, self._all_dwt):
            item.setMouseEnabled(x=True, y=False)
            item.vb.setDefaultPadding(0.02)
        for row, stretch in enumerate((5, 3, 4, 3)):
            view.ci.layout.setRowStretchFactor(row, stretch)
        _title(self._win_dwt, f"dWt = PScale·CaP {_MINUS} DScale·CaD if read then")
        _title(self._all, "<b>Whole induction</b> (○ readouts)")

        # One window: the cascade, and the dWt a readout would give at each moment.
        self._win_curves: dict[str, Any] = {}
        for name, color, width in (
            ("ca", _CA, 1.0),
            ("cam", _CAM, 1.0),
            ("cap", _CAP, 2.0),
            ("cad", _CAD, 2.0),
        ):
            curve = self._win.plot(pen=pg.mkPen(color, width=width))
            # Thick pens as one path: much faster than line segments on raster backends.
            curve.curve.setSegmentedLineMode("off")
            self._win_curves[name] = curve
        self._win_dwt_curve = self._win_dwt.plot(pen=pg.mkPen(_DWT, width=1.5))
        self._win_dwt_curve.curve.setSegmentedLineMode("off")
        self._win_fills = [
            pg.PlotCurveItem(pen=pg.mkPen(None), brush=pg.mkBrush(color), fillLevel=0.0)
            for color in ((198, 40, 40, 60), (21, 101, 192, 60))
        ]
        for fill in self._win_fills:
            fill.setZValue(-5)
            self._win_dwt.addItem(fill)
        self._win_dwt.addItem(pg.InfiniteLine(0.0, angle=0, pen=pg.mkPen("#9e9e9e")))
        self._win_dot = pg.ScatterPlotItem(size=9, pen=pg.mkPen("k"), brush="w")
        self._win_dot.setZValue(20)
        self._win_dwt.addItem(self._win_dot)
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

        # The whole induction: CaP and CaD with the readouts, and the dWt of each window.
        self._all_cap = self._all.plot(pen=pg.mkPen(_CAP, width=1))
        self._all_cad = self._all.plot(pen=pg.mkPen(_CAD, width=1))
        for curve in (self._all_cap, self._all_cad):
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
        self._all_dots = pg.ScatterPlotItem(size=6, pen=pg.mkPen("#111"), brush="w")
        self._all_dots.setZValue(20)
        self._all.addItem(self._all_dots)
        self._all_bars = pg.BarGraphItem(x=[0.0], height=[0.0], width=0.1)
        self._all_dwt.addItem(self._all_bars)
        self._all_dwt.addItem(pg.InfiniteLine(0.0, angle=0, pen=pg.mkPen("#9e9e9e")))

        legend = QLabel(
            "<b>Cascade</b>&nbsp; "
            + " &nbsp;".join(
                (
                    _swatch(_CA, "ca"),
                    _swatch(_CAM, "CaM"),
                    _swatch(_CAP, "CaP (CaMKII, LTP side)"),
                    _swatch(_CAD, "CaD (DAPK1, LTD side)"),
                )
            )
        )
        legend.setObjectName("cascadeLegend")
        legend.setWordWrap(True)
        legend.setToolTip(
            "Calcium units are arbitrary (the rule only compares CaP with CaD); the cascade "
            "runs in 1 ms steps. Each window is read at its end: CaP above CaD gives LTP, "
            "below gives LTD."
        )
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
        column = QVBoxLayout()
        column.setSpacing(2)
        column.addLayout(header)
        column.addWidget(view, 1)
        return column

    def _build_map(self) -> QVBoxLayout:
        view = pg.GraphicsLayoutWidget()
        view.setBackground("w")
        view.ci.setContentsMargins(2, 2, 2, 2)
        view.setMinimumSize(260, 260)
        self._map_view = view
        self._map = view.addPlot(row=0, col=0)
        style_plot(
            self._map,
            left="outcome rate (Hz)",
            bottom="prediction rate (Hz)",
            axis_width=_AXIS_WIDTH,
        )
        self._map.setMouseEnabled(x=False, y=False)
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
        low, high = float(self._rates[0]), float(self._rates[-1])
        self._map.addItem(
            pg.PlotDataItem(
                [low, high],
                [low, high],
                pen=pg.mkPen(_GREY, width=1, style=Qt.PenStyle.DotLine),
            )
        )
        flat = pg.TextItem("flat", color="#424242", anchor=(0.5, 1.1), angle=45)
        flat.setPos(low + 0.82 * (high - low), low + 0.82 * (high - low))
        self._map.addItem(flat)
        self._map.addItem(
            pg.ScatterPlotItem(
                [c.minus_hz for c in self._dataset.conditions],
                [c.plus_hz for c in self._dataset.conditions],
                symbol="s",
                size=6,
                pen=pg.mkPen("#212121"),
                brush=pg.mkBrush(255, 255, 255, 160),
            )
        )
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
        pad = 1.5 * self._step()
        self._map.setXRange(low - pad, high + pad, padding=0)
        self._map.setYRange(low - pad, high + pad, padding=0)
        view.scene().sigMouseMoved.connect(self._hover_map)

        self._map_title = QLabel()
        self._map_title.setObjectName("mapTitle")
        self._map_title.setWordWrap(True)
        self._map_title.setTextFormat(Qt.TextFormat.RichText)
        self._map_status = QLabel()
        self._map_status.setObjectName("mapStatus")
        self._map_status.setWordWrap(True)
        self._map_status.setTextFormat(Qt.TextFormat.RichText)
        self._map_hover = QLabel("Point at the map to read a value.")
        self._map_hover.setObjectName("mapHover")
        self._map_hover.setStyleSheet("color:#424242;")
        column = QVBoxLayout()
        column.setSpacing(2)
        column.addWidget(self._map_title)
        column.addWidget(view, 1)
        column.addWidget(self._map_status)
        column.addWidget(self._map_hover)
        return column

    # ------------------------------------------------------------------ public API

    def setExperiment(self, experiment: Experiment, sweep: CompiledSweep | None = None) -> None:
        """Predict and show what ``experiment``'s induction does to the synapse.

        Parameters
        ----------
        experiment
            The protocol (valid, as the editor emits it).
        sweep
            Its compiled induction, if already compiled (e.g. shared with the waveform
            preview); compiled here otherwise.
        """
        unchanged = (
            self._experiment is not None
            and self._prediction is not None
            and experiment.induction == self._experiment.induction
            and (sweep is None or sweep is self._sweep)
        )
        self._experiment = experiment
        if unchanged:
            return  # metadata or probes: nothing the model sees
        self._sweep = sweep
        self._recompute()

    def experiment(self) -> Experiment | None:
        """The experiment shown (``None`` before the first one)."""
        return self._experiment

    def params(self) -> KinaseParams:
        """The cascade constants in use."""
        return self._params

    def setParams(self, params: KinaseParams) -> None:
        """Use ``params`` and recompute (emits :attr:`paramsChanged` if they changed)."""
        self._apply(params, self._options)

    def trainOptions(self) -> TrainOptions:
        """The spike trains fed to the model."""
        return self._options

    def setTrainOptions(self, options: TrainOptions) -> None:
        """Use ``options`` and recompute (emits :attr:`trainOptionsChanged` if changed)."""
        self._apply(self._params, options)

    def onsetCompensation(self) -> bool:
        """Whether ``d_scale`` is the onset-compensated value (1.05)."""
        return math.isclose(self._params.d_scale, ONSET_COMPENSATED_D_SCALE)

    def setOnsetCompensation(self, on: bool) -> None:
        """Set ``d_scale`` to 1.05 (on) or back to the Axon v2 default, 1 (off)."""
        if on != self.onsetCompensation():
            d_scale = ONSET_COMPENSATED_D_SCALE if on else KinaseParams().d_scale
            self.setParams(self._params.replace(d_scale=d_scale))

    def prediction(self) -> Prediction | None:
        """The prediction shown (``None`` before the first protocol or after an error)."""
        return self._prediction

    def predictedRatio(self) -> float | None:
        """EPSP ratio of the prediction, with the mapping fitted to the dataset."""
        return self._ratio

    def mappingFit(self) -> MappingFit:
        """The dWt -> EPSP-ratio mapping fitted to the dataset with the current parameters."""
        return self._fit(self._params)

    def measured(self) -> ConditionData | None:
        """The dataset's measurement, when the protocol is one of its conditions."""
        return self._measured

    def headlineText(self) -> str:
        """The headline (direction, dWt, ratios) as plain text."""
        return _plain("\n".join((self._direction.text(), self._dwt.text(), self._ratios.text())))

    def comparatorTexts(self) -> tuple[str, str, str]:
        """The kinase, Hebbian and rate-CHL values as shown (plain text)."""
        kinase, hebbian, chl = (_plain(v.text()) for v in self._cmp_values)
        return kinase, hebbian, chl

    def biasNote(self) -> str:
        """The onset-bias note as plain text (``""`` when it is not shown)."""
        return "" if self._note.isHidden() else _plain(self._note.text())

    def lastUpdateMs(self) -> float:
        """Wall time (ms) of the last recompute of the headline and traces."""
        return self._last_update_ms

    def windowIndex(self) -> int:
        """Which theta window the detail plots show (0-based)."""
        return self._window_spin.value() - 1

    def setWindowIndex(self, index: int) -> None:
        """Show theta window ``index`` (0-based) in the detail plots."""
        self._window_spin.setValue(index + 1)

    def mapRatesHz(self) -> FloatArray:
        """Rates of the rate map (Hz), on both axes."""
        return self._rates.copy()

    def rateMap(self) -> FloatArray | None:
        """The map shown: ``[i, j]`` is the total dWt at ``rates[i]`` -> ``rates[j]`` Hz."""
        return None if self._map_shown is None else self._maps.get(self._map_shown)

    def mapMarker(self) -> tuple[float, float] | None:
        """(prediction, outcome) presynaptic rates marked on the map (Hz)."""
        return self._marked

    def mapComputations(self) -> int:
        """How many rate maps this pane has started computing."""
        return self._map_count

    def isMapCurrent(self) -> bool:
        """Whether the map shown is the one of the current protocol and parameters."""
        return self._map_wanted is not None and self._map_shown == self._map_wanted

    def waitForMap(self, timeout_s: float = 10.0) -> bool:
        """Show the current rate map now if it is still pending (for scripts and tests).

        With the compiled kernel the map is computed at once; with the numpy fallback it
        follows the headline in the next event-loop turn. ``timeout_s`` is unused.

        Returns
        -------
        bool
            Whether the current map is shown.
        """
        del timeout_s
        self._compute_map()
        return self.isMapCurrent()

    def outlook(self) -> EpspOutlook | None:
        """The headline: predicted EPSP ratio, its interval and the direction called from it."""
        return self._outlook

    def dragMarkerTo(self, minus_hz: float, plus_hz: float, *, finished: bool = True) -> None:
        """Move the map's marker to these rates, as a drag does (snapped to the map's grid).

        The prediction, headline and marker follow at once; when ``finished``,
        :attr:`ratesPicked` is emitted with the protocol at those rates.
        """
        self._marker_moved(minus_hz, plus_hz, finished=finished)

    def openParametersDialog(self) -> KinaseParamsDialog:
        """Open the parameters dialog (window-modal, non-blocking) and return it.

        OK applies its parameters and train options; Cancel leaves them as they were.
        """
        if self._dialog is None:
            self._dialog = KinaseParamsDialog(parent=self)
            self._dialog.accepted.connect(self._dialog_accepted)
        self._dialog.setValue((self._params, self._options))
        self._dialog.open()
        return self._dialog

    # ------------------------------------------------------------------ computing

    def _apply(self, params: KinaseParams, options: TrainOptions) -> None:
        new_params, new_options = params != self._params, options != self._options
        if not (new_params or new_options):
            return
        self._params, self._options = params, options
        self._show_settings()
        if new_params:
            self.paramsChanged.emit(params)
        if new_options:
            self.trainOptionsChanged.emit(options)
        self._recompute()

    def _dialog_accepted(self) -> None:
        assert self._dialog is not None
        self._apply(*self._dialog.value())

    def _fit(self, params: KinaseParams) -> MappingFit:
        key = params.replace(lrate=KinaseParams().lrate)  # the fit finds its own lrate
        fit = self._fits.get(key)
        if fit is None:
            fit = fit_mapping(self._dataset, key)
            self._fits[key] = fit
            while len(self._fits) > _CACHE_SIZE:
                self._fits.popitem(last=False)
        return fit

    def _recompute(self) -> None:
        experiment = self._experiment
        if experiment is None:
            return
        start = time.perf_counter()
        induction = experiment.induction
        try:
            if self._sweep is None:
                self._sweep = compile_induction(induction)
            # Random trains need the phases' onsets and lags: give predict the experiment.
            source = self._sweep if self._options.timing == "regular" else experiment
            prediction = predict(source, self._params, trains=self._options)
            alternative = None
            if is_flat(induction):
                other = 1.0 if self.onsetCompensation() else ONSET_COMPENSATED_D_SCALE
                alternative = predict(
                    source, self._params.replace(d_scale=other), trains=self._options
                )
        except ValueError as exc:
            self._show_error(str(exc))
            return
        fit = self._fit(self._params)
        try:
            outlook = epsp_outlook(prediction, fit, experiment, sweep=self._sweep)
        except ValueError as exc:
            self._show_error(str(exc))
            return
        self._prediction, self._alternative = prediction, alternative
        self._outlook = outlook
        self._ratio = outlook.ratio
        match = match_paper_condition(experiment)
        self._measured = self._dataset.find(*match) if match is not None else None
        self._draw_headline()
        self._draw_note()
        self._draw_protocol()
        self._window_spin.blockSignals(True)
        self._window_spin.setRange(1, max(1, prediction.n_windows))
        self._window_spin.blockSignals(False)
        self._window_of.setText(f"of {prediction.n_windows}")
        self._draw_window()
        self._draw_marker()
        self._request_map()
        self._last_update_ms = (time.perf_counter() - start) * 1000.0
        self.predictionChanged.emit(prediction)

    # ------------------------------------------------------------------ headline

    def _show_error(self, message: str) -> None:
        self._prediction = None
        self._outlook = None
        self._direction.setText("—")
        self._direction.setStyleSheet("color:#c62828;")
        self._dwt.setText(f"<span style='color:#c62828;'>No prediction: {_html(message)}</span>")
        self._ratios.setText("")
        for value in self._cmp_values:
            value.setText("—")
        self._note.hide()

    def _draw_headline(self) -> None:
        p, o = self._prediction, self._outlook
        assert p is not None and o is not None
        color = DIRECTION_COLORS[o.direction]
        self._direction.setText(o.direction)
        if self._direction.styleSheet() != f"color:{color};":
            self._direction.setStyleSheet(f"color:{color};")
        spread = ""
        if p.seed_totals.size > 1:
            spread = f" ± {p.total_sd:.3f} " + _grey(f"(SD over {p.seed_totals.size} seeds)")
        self._dwt.setText(
            f"<span style='font-size:{self._big_pt:g}pt;'>Predicted EPSP ratio "
            f"<b style='color:{color};'>{o.ratio:.2f}</b></span> "
            f"[{o.low:.2f}{_DASH}{o.high:.2f}] "
            + _grey(f"(± 1 SD: fit {o.sd_fit:.2f}, spike timing {o.sd_timing:.2f})")
            + f"<br>raw total dWt <b>{_signed(p.total)}</b>{spread} over {p.n_windows} windows "
            + _grey(f"(no clear change while the interval is within 1 ± {o.band:.2f})")
        )
        self._dwt.setToolTip(f"<p>{_html(o.rule)}.</p><p>Mapping: {_html(o.basis)}.</p>")

        fit = self._fit(self._params)
        parts = [
            _grey(f"mapping fitted to {_html(fit.dataset)}, χ² {fit.chi2:.2f} on {fit.dof} dof")
        ]
        if self._measured is not None:
            m = self._measured
            parts.append(
                f"measured in the paper ({m.minus_hz:g} → {m.plus_hz:g} Hz): "
                f"<b>{m.mean:.2f} ± {m.sem:.2f}</b> (n = {m.n})"
            )
        parts.append(
            f"Axon weight <b>{p.weight_ratio:.2f}</b> "
            + _grey(f"(uncalibrated, lrate {self._params.lrate:g})")
        )
        self._ratios.setText(" &nbsp;·&nbsp; ".join(parts))
        self._ratios.setToolTip(
            f"<p><b>Predicted EPSP ratio</b>: {_html(fit.basis)}. The fit includes the "
            "paper's conditions themselves, so for them it is not an independent test. "
            "Its interval is ± 1 SD: the fitted learning rate's standard error and the "
            "spread over jittered and quasi-regular spike trains.</p>"
            "<p><b>Axon weight</b>: Axon's soft-bounded sigmoid weight update at the "
            "learning rate in the parameters, not fitted to any measurement: read it as a "
            "direction and a rough size.</p>"
        )

        raw = DIRECTION_COLORS[p.direction]
        self._cmp_values[0].setText(
            f"<b style='color:{raw};'>{_signed(p.total)}</b> dWt → {p.direction} "
            + _grey(f"(|dWt| < {DIRECTION_THRESHOLD_DWT:g}: no change)")
        )
        self._cmp_values[1].setText(f"<b>{p.hebbian:,.0f}</b> Ca units·ms (always ≥ 0)")
        chl_direction = p.chl_direction
        chl = _signed(p.chl, 4) if p.chl != 0 else "0"
        self._cmp_values[2].setText(
            f"<b style='color:{DIRECTION_COLORS[chl_direction]};'>{chl}</b> kHz² → {chl_direction}"
        )

    def _draw_note(self) -> None:
        p, alt, experiment = self._prediction, self._alternative, self._experiment
        assert p is not None and experiment is not None
        if alt is None or abs(p.total) < BIAS_NOTE_MIN_DWT:
            self._note.hide()
            return
        induction = experiment.induction
        first, last = induction.phases[0], induction.phases[-1]
        if self.onsetCompensation():
            now = f"with onset compensation (DScale {self._params.d_scale:g})"
            other = f"Without it (DScale 1): {_signed(alt.total)}"
        else:
            now = f"with DScale {self._params.d_scale:g}"
            other = (
                f"With onset compensation (DScale {ONSET_COMPENSATED_D_SCALE:g}): "
                f"{_signed(alt.total)}"
            )
        if p.total > 0:
            why = (
                "the model's onset bias: each window starts from rest after the gap and "
                "CaP rises ahead of CaD"
            )
        else:
            why = "CaD weighted more than the onset bias needs (over-compensation)"
        self._note.setText(
            f"<b>Flat protocol ({first.pre.rate_hz:g} → {last.pre.rate_hz:g} Hz):</b> "
            f"{_signed(p.total)} {now} is {why}, not a rate change. {other}."
        )
        self._note.setToolTip(
            "<p>With the Axon v2 defaults and quiet gaps between windows "
            f"({induction.gap_ms:g} ms here), every window starts with the cascade at rest. "
            "CaP (CaMKII) follows the calcium faster than CaD (DAPK1), so at the readout "
            "CaP is still ahead and the window reads as potentiation even when the "
            "prediction and outcome rates are equal. The bias grows with the rate squared. "
            "In back-to-back windows (no gap, Axon's own regime) flat protocols settle "
            "near zero.</p><p>Onset compensation weights CaD by "
            f"{ONSET_COMPENSATED_D_SCALE:g} in the readout (the older Axon value).</p>"
        )
        self._note.show()

    def _show_settings(self) -> None:
        defaults = KinaseParams()
        changed = [
            f"{name} {getattr(self._params, name):g}"
            for name in KinaseParams.model_fields
            if getattr(self._params, name) != getattr(defaults, name)
        ]
        params = (
            "<b style='color:#e65100;'>changed:</b> " + ", ".join(changed)
            if changed
            else "Axon v2 defaults"
        )
        o = self._options
        if o.timing == "regular":
            trains = "regular trains (the compiled pulses)"
        elif o.timing == "jittered":
            trains = f"jittered ±{o.jitter_ms:g} ms, mean of {o.n_seeds} seeds"
        else:
            trains = f"quasi-regular (Axon) trains, mean of {o.n_seeds} seeds"
        self._settings.setText(f"Parameters: {params} · {trains}")
        self._onset.blockSignals(True)
        self._onset.setChecked(self.onsetCompensation())
        self._onset.blockSignals(False)

    # ------------------------------------------------------------------ traces

    def _draw_window(self) -> None:
        p, experiment, sweep = self._prediction, self._experiment, self._sweep
        if p is None or experiment is None or sweep is None:
            return
        tr = p.traces
        w = min(self.windowIndex(), p.n_windows - 1)
        start = float(p.window_starts_ms[w])
        length = p.window_ms
        dt = tr.params.dt_ms
        lo = max(0, math.floor((start - 0.1 * length) / dt))
        hi = min(tr.n_steps, math.ceil((start + 1.3 * length) / dt))
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
        self._win_value.setText(f"readout {_signed(value)}")
        self._win_value.setPos(readout, value)

        peak = float(np.max(tr.ca[lo:hi], initial=0.0)) or 1.0
        names = [phase.name for phase in experiment.induction.phases]
        spans = [(s.name, float(s.start), float(s.stop)) for s in sweep.phases if s.window == w]
        while len(self._bands) < len(spans):
            self._bands.append(_PhaseBand(self._win, self._win_dwt))
        for band, (name, a, b) in zip(self._bands, spans, strict=False):
            index = names.index(name) if name in names else 0
            band.show(name, index, a - start, b - start, label_y=peak * 1.12)
        for band in self._bands[len(spans) :]:
            band.hide()
        for line in self._win_lines:
            line.setPos(readout)
        self._win_mark.setPos(readout, peak * 1.12)
        self._win.setYRange(0.0, peak * 1.25, padding=0)
        if t.size:
            self._win.setXRange(float(t[0]), float(t[-1]))
        span = float(np.max(np.abs(dwt), initial=0.0)) or 0.1
        self._win_dwt.setYRange(-1.15 * span, 1.15 * span, padding=0)
        seed = f", seed 1 of {p.seed_totals.size}" if p.seed_totals.size > 1 else ""
        _title(self._win, f"<b>Theta window {w + 1}</b> of {p.n_windows}{seed}")

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
        if t_s.size:
            self._all.setXRange(0.0, float(t_s[-1]), padding=0.01)
        span = float(np.max(np.abs(per), initial=0.0)) or 0.1
        self._all_dwt.setYRange(-1.15 * span, 1.15 * span, padding=0)
        _title(self._all_dwt, f"dWt per window (sum {_signed(p.total)})")

    # ------------------------------------------------------------------ rate map

    def _step(self) -> float:
        return float(self._rates[1] - self._rates[0]) if self._rates.size > 1 else 1.0

    def _draw_marker(self) -> None:
        experiment = self._experiment
        assert experiment is not None
        phases = experiment.induction.phases
        if len(phases) < 2:
            self._marked = None
            self._marker.hide()
            for line in self._cross:
                line.hide()
        else:
            x, y = phases[0].pre.rate_hz, phases[-1].pre.rate_hz
            self._marked = (x, y)
            self._placing = True
            try:
                self._marker.setPos(x, y)
            finally:
                self._placing = False
            self._marker.show()
            self._cross[0].setPos(x)
            self._cross[1].setPos(y)
            for line in self._cross:
                line.show()
            self._map.setLabel("bottom", f"{_html(phases[0].name)} (first phase) rate (Hz)")
            self._map.setLabel("left", f"{_html(phases[-1].name)} (last phase) rate (Hz)")
        self._update_map_title()
        self._update_map_status()

    def _snap(self, value: float) -> float:
        rates = self._rates
        index = int(np.clip(round((value - float(rates[0])) / self._step()), 0, rates.size - 1))
        return float(rates[index])

    def _marker_dragged(self, item: Any) -> None:
        if self._placing:
            return
        point = item.pos()
        self._marker_moved(point.x(), point.y(), finished=False)

    def _marker_released(self, item: Any) -> None:
        if self._placing:
            return
        point = item.pos()
        self._marker_moved(point.x(), point.y(), finished=True)

    def _marker_moved(self, minus_hz: float, plus_hz: float, *, finished: bool) -> None:
        """Preview the protocol at the marker's (snapped) rates; apply them on release."""
        experiment = self._experiment
        if experiment is None or len(experiment.induction.phases) < 2:
            return
        x, y = self._snap(minus_hz), self._snap(plus_hz)
        moved = with_rates(experiment, x, y)
        if moved.induction != experiment.induction:
            self.setExperiment(moved)
        else:
            self._draw_marker()  # snap back onto the grid
        if finished:
            self.ratesPicked.emit(moved)

    def _update_map_title(self) -> None:
        notes = []
        experiment, marked = self._experiment, self._marked
        if experiment is not None and marked is not None:
            first, last = experiment.induction.phases[0], experiment.induction.phases[-1]
            x, y = marked
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
        self._map_title.setText(
            "<b>Rate map</b>: total dWt if the first and last phases ran at other rates "
            "(pre = post, regular trains, everything else as in this protocol).<br>"
            + " · ".join(notes)
        )

    def _update_map_status(self) -> None:
        values = self.rateMap()
        if values is None or not self.isMapCurrent():
            return
        rates = self._rates
        text = (
            f"{rates.size}{_TIMES}{rates.size} rates, {rates[0]:g}{_DASH}{rates[-1]:g} Hz; "
            f"dWt from {_signed(float(values.min()), 2)} to {_signed(float(values.max()), 2)}"
        )
        here = self._map_value_at_marker()
        if here is not None:
            text += f"; ○ on the map: <b>{_signed(here)}</b>"
        self._map_status.setText(text)

    def _map_value_at_marker(self) -> float | None:
        values, marked = self.rateMap(), self._marked
        if values is None or marked is None:
            return None
        hits = [np.flatnonzero(np.isclose(self._rates, r)) for r in marked]
        if not all(h.size for h in hits):
            return None
        return float(values[hits[0][0], hits[1][0]])

    def _request_map(self) -> None:
        experiment = self._experiment
        assert experiment is not None
        induction = experiment.induction
        if len(induction.phases) < 2:
            self._map_wanted = None
            self._map_shown = None
            self._image.clear()
            self._contours.setData([], [])
            self._map_status.setText(
                "No rate map: it needs a prediction and an outcome phase (two or more phases)."
            )
            return
        key = _map_key(induction, self._params, self._rates.tolist())
        self._map_wanted = key
        if key not in self._maps and kernel_backend() != "numba":
            # The numpy fallback takes tens of ms: let the headline paint first.
            self._map_status.setText("<i>Computing the rate map…</i>")
            self._map_timer.start()
            return
        self._compute_map()

    def _compute_map(self) -> None:
        """Compute (unless cached) and show the map wanted, if it is not shown yet."""
        key, experiment = self._map_wanted, self._experiment
        if key is None or experiment is None or key == self._map_shown:
            return
        induction = experiment.induction
        if key not in self._maps:
            self._map_count += 1
            try:
                values = rate_map(induction, self._rates, self._rates, self._params)
            except ValueError as exc:  # shown at the map; the GUI must carry on
                self._map_shown = None
                self._map_status.setText(
                    f"<span style='color:#c62828;'>No rate map: {_html(str(exc))}</span>"
                )
                return
            self._maps[key] = values
            while len(self._maps) > _CACHE_SIZE:
                self._maps.popitem(last=False)
        self._maps.move_to_end(key)
        if key != self._map_shown:
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
        p = self._prediction
        n_windows = p.n_windows if p is not None else 1
        levels = _band_levels(self._fit(self._params), n_windows, NO_CHANGE_BAND)
        self._contours.setData(*_contour_lines(values, rates, levels))
        self._update_map_status()
        self.rateMapChanged.emit()

    def _hover_map(self, pos: QPointF) -> None:
        values = self.rateMap()
        if values is None or not self._map.sceneBoundingRect().contains(pos):
            return
        point = self._map.vb.mapSceneToView(pos)
        step, low = self._step(), float(self._rates[0])
        i = round((point.x() - low) / step)
        j = round((point.y() - low) / step)
        if 0 <= i < values.shape[0] and 0 <= j < values.shape[1]:
            v = float(values[i, j])
            p = self._prediction
            n_windows = p.n_windows if p is not None else 1
            ratio = _ratio_of_total(self._fit(self._params), v, n_windows)
            self._map_hover.setText(
                f"Pointer: {self._rates[i]:g} → {self._rates[j]:g} Hz, total dWt "
                f"{_signed(v)}, predicted EPSP ratio ≈ {ratio:.2f} (windows taken as equal)"
            )
