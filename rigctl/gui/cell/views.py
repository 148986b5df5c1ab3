"""The views of the Cell tab: the live test pulse, the EPSP search and the set-up clock.

The views only draw; the panel (:mod:`rigctl.gui.cell.panel`) drives the rig. The test
pulse view keeps the newest pulse and paints it when asked (:meth:`PulseView.paint`), so a
burst of pulses never queues up more paints than the screen shows.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor, QFont
from PyQt6.QtWidgets import QGridLayout, QGroupBox, QLabel, QVBoxLayout, QWidget

from rigctl.engine.setup import ProbeOutcome, SearchSettings
from rigctl.engine.testpulse import Estimate, TestPulseResult
from rigctl.gui.plot_style import envelope, style_plot
from rigctl.hardware import RigDefinition, RigError
from rigctl.hardware.intensity import check_intensity

__all__ = [
    "BIG_POINT_SIZE",
    "ClockView",
    "PulseView",
    "SearchView",
    "clock_text",
    "parse_intensity",
    "probe_text",
]

BIG_POINT_SIZE: Final = 30
"""Point size of the numbers read from the rig chair (Rin, Vm, tau_m, Rs, the clock)."""
_AXIS_WIDTH: Final = 56
_TRACE = QColor(33, 33, 33)
_INVALID = QColor(150, 150, 150)
_WARN = QColor(198, 40, 40)
_BAND = QColor(67, 160, 71, 50)
_POINT = QColor(30, 136, 229)

# key of TestPulseResult, title, unit, decimals
_NUMBERS: Final = (
    ("rin_mohm", "Rin", "MΩ", 0),
    ("vm_mv", "Vm", "mV", 1),
    ("tau_ms", "τm", "ms", 1),
    ("series_resistance_mohm", "Rs", "MΩ", 1),
)


def _big_label(name: str) -> QLabel:
    label = QLabel("—")
    label.setObjectName(name)
    font = QFont(label.font())
    font.setPointSize(BIG_POINT_SIZE)
    font.setBold(True)
    label.setFont(font)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


def _plot(name: str, left: str, bottom: str) -> tuple[pg.PlotWidget, Any]:
    widget = pg.PlotWidget()
    widget.setObjectName(name)
    widget.setBackground("w")
    item = widget.getPlotItem()
    style_plot(item, left=left, bottom=bottom, axis_width=_AXIS_WIDTH)
    return widget, item


def _estimate_text(est: Estimate, decimals: int) -> str:
    return f"{est.value:.{decimals}f}" if math.isfinite(est.value) else "—"


class PulseView(QGroupBox):
    """The last test pulse: its trace and Rin, Vm, τm, Rs in big figures with validity.

    Each number is a label named ``<key>Value`` (e.g. ``rinValue``) with a smaller label
    ``<key>Note`` under it: "valid" or why the estimate cannot be trusted (then the figure
    is grey). The plot is named ``pulsePlot``.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Test pulse", parent)
        plot, self._plot = _plot("pulsePlot", "Vm (mV)", "time (ms)")
        self._curve = self._plot.plot(pen=pg.mkPen(_TRACE, width=1))
        envelope(self._curve)
        self._values: dict[str, QLabel] = {}
        self._notes: dict[str, QLabel] = {}
        grid = QGridLayout()
        for col, (key, title, unit, _) in enumerate(_NUMBERS):
            head = QLabel(f"{title} ({unit})")
            head.setAlignment(Qt.AlignmentFlag.AlignCenter)
            value = _big_label(f"{_camel(key)}Value")
            note = QLabel("")
            note.setObjectName(f"{_camel(key)}Note")
            note.setAlignment(Qt.AlignmentFlag.AlignCenter)
            note.setWordWrap(True)
            grid.addWidget(head, 0, col)
            grid.addWidget(value, 1, col)
            grid.addWidget(note, 2, col)
            self._values[key], self._notes[key] = value, note
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(plot, 1)
        plot.setMinimumHeight(200)
        self._pending: tuple[TestPulseResult, npt.NDArray[np.float64], float] | None = None
        self.painted = 0
        self.last: TestPulseResult | None = None

    def show_pulse(
        self, result: TestPulseResult, vm_mv: npt.ArrayLike, sample_rate_hz: float
    ) -> None:
        """Keep ``result`` and its trace to be drawn at the next :meth:`paint`."""
        self._pending = (result, np.asarray(vm_mv, dtype=np.float64), float(sample_rate_hz))

    @property
    def dirty(self) -> bool:
        """Whether a pulse waits to be drawn."""
        return self._pending is not None

    def paint(self) -> bool:
        """Draw the newest pulse (if any came since the last paint); whether it drew."""
        pending, self._pending = self._pending, None
        if pending is None:
            return False
        result, vm, fs = pending
        t_ms = np.arange(vm.size, dtype=np.float64) * (1000.0 / fs)
        self._curve.setData(t_ms, vm)
        for key, _, _, decimals in _NUMBERS:
            est: Estimate = getattr(result, key)
            label = self._values[key]
            label.setText(_estimate_text(est, decimals))
            colour = _TRACE if est.valid else _INVALID
            label.setStyleSheet(f"color: {colour.name()}")
            self._notes[key].setText("valid" if est.valid else est.note)
        self.last = result
        self.painted += 1
        return True

    def text(self, key: str) -> str:
        """The figure shown for ``key`` (``"rin_mohm"``, ...)."""
        return self._values[key].text()

    def note(self, key: str) -> str:
        """The validity shown under ``key``."""
        return self._notes[key].text()


def _camel(key: str) -> str:
    """``rin_mohm`` -> ``rin``; ``series_resistance_mohm`` -> ``rs`` (object names)."""
    return {"series_resistance_mohm": "rs"}.get(key, key.split("_")[0])


class SearchView(QGroupBox):
    """EPSP amplitude per search probe against the target band, intensity annotated.

    The plot is named ``searchPlot``; probes with a spike are drawn in red.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("EPSP search", parent)
        plot, self._plot = _plot("searchPlot", "EPSP (mV)", "probe")
        self._band = pg.LinearRegionItem(
            orientation="horizontal", movable=False, brush=pg.mkBrush(_BAND), pen=pg.mkPen(None)
        )
        self._plot.addItem(self._band)
        self._points = pg.ScatterPlotItem(size=11)
        self._plot.addItem(self._points)
        self._labels: list[Any] = []
        self.outcomes: list[ProbeOutcome] = []
        layout = QVBoxLayout(self)
        layout.addWidget(plot)
        plot.setMinimumHeight(180)
        self.set_band(SearchSettings())

    def set_band(self, settings: SearchSettings) -> None:
        """Show the target band of ``settings``."""
        lo = settings.target_mv - settings.tolerance_mv
        hi = settings.target_mv + settings.tolerance_mv
        self._band.setRegion((lo, hi))
        self.band = (lo, hi)

    def clear(self) -> None:
        """No probes."""
        for label in self._labels:
            self._plot.removeItem(label)
        self._labels.clear()
        self.outcomes.clear()
        self._points.setData([], [])

    def add(self, outcome: ProbeOutcome) -> None:
        """Add one probe: its EPSP, its intensity as a label above it."""
        self.outcomes.append(outcome)
        brushes = [pg.mkBrush(_WARN if o.spike else _POINT) for o in self.outcomes]
        x = [float(o.index + 1) for o in self.outcomes]
        y = [o.epsp_mv for o in self.outcomes]
        self._points.setData(x, y, brush=brushes)
        label = pg.TextItem(f"{outcome.intensity_ua:g} µA", color=_TRACE, anchor=(0.5, 1.2))
        label.setPos(float(outcome.index + 1), outcome.epsp_mv)
        self._plot.addItem(label)
        self._labels.append(label)

    def annotations(self) -> list[str]:
        """The intensity labels shown, in probe order."""
        return [str(label.toPlainText()) for label in self._labels]


def clock_text(elapsed_s: float, limit_s: float) -> str:
    """``"m:ss / m:ss"``: elapsed set-up time against the limit."""

    def mmss(s: float) -> str:
        whole = int(max(0.0, s))
        return f"{whole // 60}:{whole % 60:02d}"

    return f"{mmss(elapsed_s)} / {mmss(limit_s)}"


class ClockView(QGroupBox):
    """The set-up clock since "whole-cell", and the warning once it is over the limit.

    The time is the label ``clockValue``; the warning is ``clockWarning`` (hidden until
    the limit is passed).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Set-up clock", parent)
        self.value = _big_label("clockValue")
        self.warning = QLabel("")
        self.warning.setObjectName("clockWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(f"color: {_WARN.name()}; font-weight: bold")
        self.warning.setVisible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.value)
        layout.addWidget(self.warning)
        self.show_time(None, 300.0)

    def show_time(self, elapsed_s: float | None, limit_s: float) -> None:
        """Show the elapsed time (``None``: not started) against the limit."""
        if elapsed_s is None:
            self.value.setText("not started")
            self.value.setStyleSheet("")
            return
        self.value.setText(clock_text(elapsed_s, limit_s))
        over = elapsed_s > limit_s
        self.value.setStyleSheet(f"color: {_WARN.name()}" if over else "")

    def show_warning(self, text: str) -> None:
        """Show ``text`` in red (empty: hide the warning)."""
        self.warning.setText(text)
        self.warning.setVisible(bool(text))


def parse_intensity(text: str, definition: RigDefinition | None) -> tuple[float | None, str]:
    """The isolator intensity typed (µA) if valid, else ``None`` and one sentence why.

    Empty text is no entry (and no complaint); the range is the rig file's
    (:func:`rigctl.hardware.intensity.check_intensity`).
    """
    entry = text.strip()
    if not entry:
        return None, ""
    try:
        value = float(entry.replace(",", "."))
    except ValueError:
        return None, f"The intensity {entry!r} is not a number: type the front-panel value in µA."
    if definition is None:
        return None, "No rig is open to check the intensity against."
    try:
        return check_intensity(definition, value), ""
    except RigError as exc:
        sentence = str(exc)
        return None, f"{sentence[:1].upper()}{sentence[1:]}."


def probe_text(outcome: ProbeOutcome, settings: SearchSettings) -> str:
    """One line on a search probe: its EPSP and intensity, and what to do next."""
    head = f"Probe {outcome.index + 1}: {outcome.epsp_mv:.2f} mV at {outcome.intensity_ua:g} µA"
    if outcome.spike:
        return f"{head}, a spike in the probe: lower the intensity."
    if outcome.in_band:
        return f"{head}: in the band."
    if outcome.epsp_mv < settings.target_mv:
        return f"{head}: below the band, raise the intensity."
    return f"{head}: above the band, lower the intensity."
