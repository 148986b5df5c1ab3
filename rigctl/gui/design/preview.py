"""Preview of the induction sweep exactly as the rig will output it.

The preview renders ``compile_induction(...).waveforms(20 kHz)``, the same samples the
rig sends, and draws them twice: one theta window in detail, and the whole induction
(peak-mode downsampling keeps every TTL pulse visible at any zoom). Phases are shaded
and labelled; post epochs whose current is not calibrated yet are hatched, because
0 pA will be injected there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from html import escape
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QBrush, QColor, QFont
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from rigctl.gui.plot_style import phase_color, phase_tint, plot_menu, set_range, set_title
from rigctl.gui.widgets.live_text import LiveText
from rigctl.protocol import (
    CompiledSweep,
    CompileError,
    Event,
    Experiment,
    Induction,
    Waveforms,
    compile_induction,
    live_preview_limit,
)

__all__ = ["SAMPLE_RATE_HZ", "WaveformPreview"]

SAMPLE_RATE_HZ: Final = 20_000.0
"""Rate the preview renders at: what the rig runs."""

MAX_PREVIEW_SAMPLES: Final = 6_000_000
"""Longest induction rendered sample by sample (5 min at 20 kHz); longer ones are drawn
from their events' edges, which is the same line without rendering every sample."""


_STIM_PEN = QColor(26, 35, 126)
_COMMAND_PEN = QColor(183, 28, 28)
_UNCAL = QColor(198, 40, 40)
_BOUNDARY_PEN = pg.mkPen("#777777", style=Qt.PenStyle.DashLine)
_AXIS_WIDTH = 62
_STIM_LOW = -0.05
_STIM_TOP = 1.15
#: Top of the detail stim plot: room above the pulses for the phase labels.
_LABEL_TOP = 2.6


def _span_bars(brush: QBrush | QColor, z: float) -> Any:
    """Shading of time spans as filled rectangles (see :func:`_set_spans`)."""
    bars = pg.BarGraphItem(x0=[0.0], x1=[0.0], y0=0.0, y1=0.0, brush=brush, pen=pg.mkPen(None))
    bars.setZValue(z)
    bars.hide()
    return bars


def hold_steps(
    t: npt.NDArray[np.float64], y: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The samples ``y`` at times ``t`` as a zero-order-hold polyline.

    Only the samples where the output changes are kept, each as a vertical edge, so the
    line is exactly what the DAC holds between samples, with far fewer points (an
    induction of 124,001 samples has a few hundred edges) and no sub-pixel slanted
    edges for the renderer to thin out.
    """
    if y.size == 0:
        return np.zeros(0), np.zeros(0)
    values = np.asarray(y, dtype=np.float64)
    change = np.flatnonzero(values[1:] != values[:-1]) + 1
    xs = np.empty(2 * change.size + 2)
    ys = np.empty(2 * change.size + 2)
    xs[0], ys[0] = t[0], values[0]
    xs[1:-1:2], ys[1:-1:2] = t[change], values[change - 1]
    xs[2:-1:2], ys[2:-1:2] = t[change], values[change]
    xs[-1], ys[-1] = t[-1], values[-1]
    return xs, ys


def _format_charge(pc: float) -> str:
    return f"{pc / 1000:.3g} nC" if abs(pc) >= 1000 else f"{pc:.3g} pC"


def _format_duration(ms: float) -> str:
    if ms >= 120_000:
        return f"{ms / 60_000:.3g} min"
    return f"{ms / 1000:.3g} s" if ms >= 1000 else f"{ms:g} ms"


def _set_spans(bars: Any, spans: npt.NDArray[np.float64], low: float, high: float) -> None:
    """Shade ``spans`` (``(start, stop)`` rows) from ``low`` to ``high``; nothing if shown.

    Rectangles, not a filled step curve: an opaque axis-aligned rectangle is copied
    into the image, a filled path is rasterised. Most edits leave the shading as it was,
    and then it is neither rebuilt nor repainted.
    """
    shown = getattr(bars, "_rigctl_spans", None)
    if shown is not None and shown[1:] == (low, high) and np.array_equal(shown[0], spans):
        return
    bars._rigctl_spans = (spans, low, high)
    if spans.size == 0:
        bars.hide()
        return
    bars.setOpts(x0=spans[:, 0], x1=spans[:, 1], y0=low, y1=high)
    bars.show()


class _Plot:
    """One trace of the preview with its phase shading and uncalibrated hatching."""

    def __init__(self, item: Any, *, y_label: str, pen: QColor) -> None:
        self.item = item
        plot_menu(item)
        item.setMouseEnabled(x=True, y=False)
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen("#555555"))
            axis.setTextPen(pg.mkPen("#222222"))
            axis.enableAutoSIPrefix(False)
        item.getAxis("left").setWidth(_AXIS_WIDTH)
        item.setLabel("left", y_label)
        item.vb.setDefaultPadding(0.0)
        self.fills: list[Any] = []
        self.uncal = _span_bars(QBrush(_UNCAL, Qt.BrushStyle.BDiagPattern), -5)
        item.addItem(self.uncal)
        self.curve = pg.PlotDataItem(pen=pg.mkPen(pen, width=1))
        self.curve.setZValue(10)
        item.addItem(self.curve)
        self._pools: dict[str, list[Any]] = {}

    def set_fills(
        self, spans_by_phase: list[npt.NDArray[np.float64]], low: float, high: float
    ) -> None:
        while len(self.fills) < len(spans_by_phase):
            index = len(self.fills)
            fill = _span_bars(phase_tint(index, 38), -10)
            self.item.addItem(fill)
            self.fills.append(fill)
        while len(self.fills) > len(spans_by_phase):
            self.item.removeItem(self.fills.pop())
        for fill, spans in zip(self.fills, spans_by_phase, strict=True):
            _set_spans(fill, spans, low, high)

    def set_uncalibrated(self, spans: npt.NDArray[np.float64], low: float, high: float) -> None:
        _set_spans(self.uncal, spans, low, high)

    def items(self, kind: str, count: int, make: Callable[[], Any]) -> list[Any]:
        """``count`` visible items of one kind, reused from earlier draws (others hidden)."""
        pool = self._pools.setdefault(kind, [])
        while len(pool) < count:
            pool.append(make())
            self.item.addItem(pool[-1])
        for i, item in enumerate(pool):
            item.setVisible(i < count)
        return pool[:count]


class WaveformPreview(QWidget):
    """Stimulation TTL and command current of the induction, as the rig will output them.

    The top row shows one theta window in detail, the bottom row the whole induction.
    Both draw the samples of ``compile_induction(...).waveforms(20 kHz)`` as the
    zero-order hold the DAC outputs (see :func:`hold_steps`). Call
    :meth:`setExperiment` (or :meth:`setInduction`) after every valid edit; nothing is
    recompiled when the induction did not change.

    Parameters
    ----------
    parent
        Parent widget.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._induction: Induction | None = None
        self._sweep: CompiledSweep | None = None
        self._wave: Waveforms | None = None
        empty = np.zeros(0)
        self._stim_ms: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] = (empty, empty)
        self._cmd_ms: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] = (empty, empty)
        self._phase_ms: list[npt.NDArray[np.float64]] = []
        self._t_ms: npt.NDArray[np.float64] = np.zeros(0)
        self._error: str | None = None
        self._uncal_ms: npt.NDArray[np.float64] = np.zeros((0, 2))
        self._cmd_range = (0.0, 1.0)

        self._summary = LiveText("previewSummary", lines=2)

        self._window_spin = QSpinBox()
        self._window_spin.setRange(1, 1)
        self._window_spin.setPrefix("window ")
        self._window_spin.setToolTip("Which theta window the detail plot shows")
        self._window_spin.valueChanged.connect(self._draw_window)
        self._window_of = QLabel()

        self._view = self._build_plots()

        header = QHBoxLayout()
        header.addWidget(self._summary, 1)
        header.addWidget(self._window_spin, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self._window_of, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 6)
        layout.addLayout(header)
        layout.addWidget(self._view, 1)

    def _build_plots(self) -> pg.GraphicsLayoutWidget:
        """The four plots: one window (left) and the whole induction (right), stim over command."""
        view = pg.GraphicsLayoutWidget()
        self._view = view  # the plot helper below adds to it
        self._view.setBackground("w")
        self._view.ci.setSpacing(4)
        self._view.ci.setContentsMargins(4, 4, 8, 4)

        def plot(row: int, col: int, label: str, pen: QColor) -> _Plot:
            return _Plot(self._view.addPlot(row=row, col=col), y_label=label, pen=pen)

        self._win_stim = plot(0, 0, "stim (TTL)", _STIM_PEN)
        self._win_cmd = plot(1, 0, "command (pA)", _COMMAND_PEN)
        self._all_stim = plot(0, 1, "stim (TTL)", _STIM_PEN)
        self._all_cmd = plot(1, 1, "command (pA)", _COMMAND_PEN)
        for stim, cmd, unit in (
            (self._win_stim, self._win_cmd, "ms"),
            (self._all_stim, self._all_cmd, "s"),
        ):
            cmd.item.setXLink(stim.item)
            stim.item.hideAxis("bottom")
            cmd.item.setLabel("bottom", f"time ({unit})")
            stim.item.getAxis("left").setTicks([[(0.0, "0"), (1.0, "1")], []])
        self._win_stim.item.setYRange(_STIM_LOW, _LABEL_TOP, padding=0)
        self._all_stim.item.setYRange(_STIM_LOW, _STIM_TOP, padding=0)
        # The whole induction may hold thousands of pulses: keep it fast at any zoom.
        for whole in (self._all_stim, self._all_cmd):
            whole.curve.setDownsampling(auto=True, method="peak")
        # The detail plots hold the whole induction too: draw only what is in view.
        for each in (self._win_stim, self._win_cmd, self._all_stim, self._all_cmd):
            each.curve.setClipToView(True)
        grid = self._view.ci.layout
        grid.setColumnStretchFactor(0, 2)
        grid.setColumnStretchFactor(1, 3)
        grid.setRowStretchFactor(0, 1)
        grid.setRowStretchFactor(1, 1)
        return view

    # ------------------------------------------------------------------ public API

    def setExperiment(self, experiment: Experiment) -> None:
        """Show the induction of ``experiment``."""
        self.setInduction(experiment.induction)

    def setInduction(self, induction: Induction) -> None:
        """Compile and draw ``induction`` (nothing to do if it is the one shown)."""
        if induction == self._induction:
            return
        limit = live_preview_limit(induction)
        if limit is not None:
            self._show_limit(induction, limit)
            return
        sweep = compile_induction(induction)
        wave: Waveforms | None = None
        self._error = None
        if sweep.n_samples(SAMPLE_RATE_HZ) <= MAX_PREVIEW_SAMPLES:
            try:
                wave = sweep.waveforms(SAMPLE_RATE_HZ)
            except CompileError as exc:  # valid protocol the rig cannot sample at this rate
                self._error = str(exc)
        self._induction, self._sweep, self._wave = induction, sweep, wave
        if wave is not None:
            if self._t_ms.size != wave.n_samples:
                self._t_ms = np.arange(wave.n_samples, dtype=np.float64) * (1000.0 / SAMPLE_RATE_HZ)
            self._stim_ms = hold_steps(self._t_ms, wave.stim)
            self._cmd_ms = hold_steps(self._t_ms, wave.command_pa)
        elif self._error is None:
            self._stim_ms = _event_steps(sweep.of_kind("pre_pulse"), sweep.duration_ms)
            self._cmd_ms = _event_steps(sweep.of_kind("post_epoch"), sweep.duration_ms)
        else:
            self._stim_ms = self._cmd_ms = (np.zeros(0), np.zeros(0))
        self._phase_ms = self._phase_spans_ms()
        uncal = [e for e in sweep.of_kind("post_epoch") if not e.calibrated]
        self._uncal_ms = np.array(
            [(e.start_ms, e.stop_ms) for e in uncal], dtype=np.float64
        ).reshape(-1, 2)
        self._cmd_range = self._command_range()
        if self._window_spin.maximum() != induction.repeats:
            self._window_spin.blockSignals(True)
            self._window_spin.setRange(1, induction.repeats)
            self._window_spin.blockSignals(False)
        self._window_of.setText(f"of {induction.repeats}")
        self._summary.setText(self._summary_html())
        self._draw_induction()
        self._draw_window()

    def sweep(self) -> CompiledSweep | None:
        """The compiled induction shown (``None`` before the first one, or if too large)."""
        return self._sweep

    def _show_limit(self, induction: Induction, limit: str) -> None:
        """Too large to preview as it is edited: say why and draw nothing (no compile)."""
        self._induction, self._sweep, self._wave, self._error = induction, None, None, None
        empty = (np.zeros(0), np.zeros(0))
        self._stim_ms = self._cmd_ms = empty
        self._phase_ms = []
        self._uncal_ms = np.zeros((0, 2))
        for plot in (self._win_stim, self._win_cmd, self._all_stim, self._all_cmd):
            plot.curve.setData(*empty)
            plot.set_fills([], 0.0, 1.0)
            plot.set_uncalibrated(self._uncal_ms, 0.0, 1.0)
            for kind in ("boundary", "label", "uncalibrated"):
                plot.items(kind, 0, lambda: None)  # hides what was drawn before
        set_title(self._all_stim.item, "Whole induction: not drawn", size="10pt")
        set_title(self._win_stim.item, "Theta window: not drawn", size="10pt")
        self._summary.setText(
            f"<span style='color:#c62828;'><b>Not previewed:</b> {escape(limit)}.</span> "
            "The protocol can still be saved, checked (<i>rigctl validate</i>) and "
            "predicted (<i>rigctl predict</i>)."
        )

    def waveforms(self) -> Waveforms | None:
        """The waveforms drawn (``None`` if the sweep is too long or cannot be rendered)."""
        return self._wave

    def renderError(self) -> str | None:
        """Why the induction cannot be rendered at :data:`SAMPLE_RATE_HZ` (``None``: it can)."""
        return self._error

    def plottedStim(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Time (s) and level of the stimulation line in the whole-induction plot."""
        return _data_of(self._all_stim.curve)

    def plottedCommand(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Time (s) and current (pA) of the command line in the whole-induction plot."""
        return _data_of(self._all_cmd.curve)

    def uncalibratedSpans(self) -> list[tuple[float, float]]:
        """``(start, stop)`` in ms of the post epochs drawn as uncalibrated (hatched)."""
        return [(float(a), float(b)) for a, b in self._uncal_ms]

    def windowIndex(self) -> int:
        """Which theta window the detail plot shows (0-based)."""
        return self._window_spin.value() - 1

    def setWindowIndex(self, index: int) -> None:
        """Show theta window ``index`` (0-based) in the detail plot."""
        self._window_spin.setValue(index + 1)

    # ------------------------------------------------------------------ drawing

    def _command_range(self) -> tuple[float, float]:
        assert self._induction is not None
        amps = [p.post.current_pa or 0.0 for p in self._induction.phases] + [0.0]
        low, high = min(amps), max(amps)
        span = high - low or 100.0
        high = max(high, low + span)
        return low - 0.08 * span, high + 0.15 * span

    def _phase_spans_ms(self) -> list[npt.NDArray[np.float64]]:
        assert self._sweep is not None and self._induction is not None
        names = [p.name for p in self._induction.phases]
        by_name: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
        for span in self._sweep.phases:
            by_name[span.name].append((float(span.start), float(span.stop)))
        return [np.array(by_name[n], dtype=np.float64).reshape(-1, 2) for n in names]

    def _draw_induction(self) -> None:
        sweep, induction = self._sweep, self._induction
        assert sweep is not None and induction is not None
        low, high = self._cmd_range
        self._all_stim.curve.setData(self._stim_ms[0] / 1000.0, self._stim_ms[1])
        self._all_cmd.curve.setData(self._cmd_ms[0] / 1000.0, self._cmd_ms[1])
        spans_s = [s / 1000.0 for s in self._phase_ms]
        self._all_stim.set_fills(spans_s, _STIM_LOW, _STIM_TOP)
        self._all_cmd.set_fills(spans_s, low, high)
        self._all_cmd.set_uncalibrated(self._uncal_ms / 1000.0, low, high)
        set_range(self._all_cmd.item, y=(low, high))
        set_range(self._all_stim.item, x=(0.0, sweep.duration_ms / 1000.0), padding=0.01)
        # Short lines: a long title would make the plots wider than a narrow window.
        lines = [
            f"Whole induction, {_format_duration(sweep.duration_ms)}",
            f"{induction.repeats} × {induction.effective_window_ms:g} ms windows, "  # noqa: RUF001
            f"{induction.gap_ms:g} ms gaps",
        ]
        if self._error is not None:
            lines.append("<span style='color:#c62828;'>(cannot be rendered, see above)</span>")
        elif self._wave is None:
            lines.append("(drawn from the events: too long to render every sample)")
        if self._uncal_ms.size:
            lines.append(
                f"<span style='color:{_UNCAL.name()};'>hatched: not calibrated, "
                "0 pA will be injected</span>"
            )
        title = "<br>".join(lines)
        set_title(self._all_stim.item, title, size="10pt")

    def _draw_window(self) -> None:
        sweep, induction = self._sweep, self._induction
        if sweep is None or induction is None:
            return
        w = min(self.windowIndex(), len(sweep.window_starts) - 1)
        start = float(sweep.window_starts[w])
        length = induction.effective_window_ms
        margin = 0.05 * length
        low, high = self._cmd_range
        self._win_stim.curve.setData(self._stim_ms[0] - start, self._stim_ms[1])
        self._win_cmd.curve.setData(self._cmd_ms[0] - start, self._cmd_ms[1])
        spans = [
            _within(s, start - margin, start + length + margin) - start for s in self._phase_ms
        ]
        uncal = _within(self._uncal_ms, start, start + length) - start
        self._win_stim.set_fills(spans, _STIM_LOW, _LABEL_TOP)
        self._win_cmd.set_fills(spans, low, high)
        self._win_cmd.set_uncalibrated(uncal, low, high)
        set_range(self._win_cmd.item, y=(low, high))
        set_range(self._win_stim.item, x=(-margin, length + margin))
        set_title(
            self._win_stim.item,
            f"Theta window {w + 1} of {induction.repeats}<br>starts at {start / 1000:g} s",
            size="10pt",
        )
        boundaries = [float(s[0, 0]) for s in spans if s.size] + [length]
        for plot in (self._win_stim, self._win_cmd):
            lines = plot.items("boundary", len(boundaries), _boundary_line)
            for line, x in zip(lines, boundaries, strict=True):
                line.setValue(x)
        shown = [(p, s[0]) for p, s in zip(induction.phases, spans, strict=True) if s.size]
        labels = self._win_stim.items("label", len(shown), _phase_label)
        for label, (phase, (a, b)) in zip(labels, shown, strict=True):
            text = (
                f"<div style='text-align:center; color:#111;'><b>{escape(phase.name)}</b>"
                f"<br>pre {phase.pre.rate_hz:g} Hz<br>post {phase.post.target_rate_hz:g} Hz</div>"
            )
            if getattr(label, "_rigctl_html", None) != text:  # a new layout and repaint
                label.setHtml(text)
                label._rigctl_html = text
            label.setPos((a + b) / 2.0, _LABEL_TOP)
        notes = self._win_cmd.items("uncalibrated", len(uncal), _uncalibrated_note)
        for note, (a, b) in zip(notes, uncal, strict=True):
            note.setPos((a + b) / 2.0, high)

    # ------------------------------------------------------------------ summary

    def _summary_html(self) -> str:
        sweep, induction = self._sweep, self._induction
        assert sweep is not None and induction is not None
        pulses = Counter(e.phase for e in sweep.of_kind("pre_pulse"))
        parts = []
        for i, phase in enumerate(induction.phases):
            per_window = pulses.get(phase.name, 0) / induction.repeats
            if phase.post.target_rate_hz == 0:
                post = "no post drive"
            elif phase.post.current_pa is None:
                post = (
                    f"post {phase.post.target_rate_hz:g} Hz "
                    "<span style='color:#c62828;'><b>uncalibrated</b></span>"
                )
            else:
                post = f"post {phase.post.target_rate_hz:g} Hz at {phase.post.current_pa:g} pA"
            parts.append(
                f"<span style='background:{phase_color(i).name()};'>&nbsp;&nbsp;&nbsp;</span>"
                f"&nbsp;<b>{escape(phase.name)}</b> {phase.duration_ms:g} ms: "
                f"{per_window:g} pulse{'' if per_window == 1 else 's'} at "
                f"{phase.pre.rate_hz:g} Hz, {post}"
            )
        total = (
            f"<b>{sum(pulses.values())} pulses</b> in a "
            f"<b>{_format_duration(sweep.duration_ms)}</b> sweep ({induction.repeats} windows), "
            f"injected charge <b>{_format_charge(sweep.injected_charge_pc())}</b>, "
            f"{sweep.n_samples(SAMPLE_RATE_HZ):,} samples at {SAMPLE_RATE_HZ / 1000:g} kHz"
        )
        legend = " &nbsp;&nbsp; ".join(parts)
        if self._error is not None:
            total = (
                f"<span style='color:#c62828;'><b>Cannot be rendered at "
                f"{SAMPLE_RATE_HZ / 1000:g} kHz:</b> {escape(self._error)}</span>"
            )
        return total + "<br>" + legend


def _boundary_line() -> Any:
    return pg.InfiniteLine(0.0, angle=90, pen=_BOUNDARY_PEN, movable=False)


def _phase_label() -> Any:
    return pg.TextItem(anchor=(0.5, 0.0))


def _uncalibrated_note() -> Any:
    note = pg.TextItem("uncalibrated", color=_UNCAL, anchor=(0.5, 0.0))
    bold = QFont()
    bold.setBold(True)
    note.setFont(bold)
    return note


def _within(spans: npt.NDArray[np.float64], start: float, stop: float) -> npt.NDArray[np.float64]:
    """The ``(n, 2)`` spans that overlap ``[start, stop]``."""
    return spans[(spans[:, 1] > start) & (spans[:, 0] < stop)]


def _data_of(curve: Any) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    x, y = curve.xData, curve.yData
    if x is None or y is None:
        return np.zeros(0), np.zeros(0)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def _event_steps(
    events: Iterable[Event], duration_ms: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The hold polyline of rectangular events (pulses: level 1; epochs: their current)."""
    rows = [
        (e.start_ms, e.stop_ms, 1.0 if e.kind.endswith("pulse") else e.amplitude_pa) for e in events
    ]
    if not rows:
        return np.array([0.0, duration_ms]), np.zeros(2)
    start, stop, level = np.array(rows, dtype=np.float64).T
    zero = np.zeros_like(start)
    xs = np.column_stack([start, start, stop, stop]).reshape(-1)
    ys = np.column_stack([zero, level, level, zero]).reshape(-1)
    return np.concatenate([[0.0], xs, [duration_ms]]), np.concatenate([[0.0], ys, [0.0]])
