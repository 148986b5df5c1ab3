"""Sweep review: page through a recording's sweeps, overlay and average, see what was measured.

The current sweep is drawn with the points its stored analysis measured: the baseline
window before the probe pulse (:class:`~rigctl.engine.analysis.AnalysisSettings`
``pre_window_ms``), the EPSP peak, and the 20-80 % slope fit as a line over its fit
window. Selecting several sweeps overlays them in grey with their average in black.

The widget reads a loaded :class:`~rigctl.engine.journal.Recording` (:meth:`setRecording`)
or a recording folder that may still be being written (:meth:`setFolder`, then
:meth:`refresh` whenever new sweeps may have arrived — e.g. from the Run tab's
``sweepDone`` signal or a timer; with *follow* on, the newest sweep is shown).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PyQt6.QtCore import QItemSelectionModel, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from rigctl import protocol as proto
from rigctl.engine.analysis import AnalysisSettings, analyze_probe
from rigctl.engine.journal import DataFolderError, LoadedSweep, Recording, load_recording
from rigctl.engine.measures import probe_measures
from rigctl.gui.plot_style import style_plot

__all__ = ["SweepReview", "measured_points", "probe_pulse_ms"]

FloatArray = npt.NDArray[np.float64]
_OVERLAY: Final = (120, 120, 120, 110)
_PEAK: Final = "#c62828"
_FIT: Final = "#1e88e5"
_BASE: Final = (251, 192, 45, 70)


def probe_pulse_ms(sweep: LoadedSweep, stim: npt.NDArray[Any], fs: float) -> float | None:
    """Time of a sweep's (first) probe pulse in ms, or None.

    An imported sweep's stored probe time first, else the first rising TTL edge, else the
    simulated rig's recorded pulse time.
    """
    stored = sweep.meta.get("extra", {}).get("probe_ms") or []
    if stored:
        return float(stored[0])
    s = np.asarray(stim).astype(bool)
    edges = np.flatnonzero(s[1:] & ~s[:-1]) + 1 if s.size > 1 else np.array([], dtype=int)
    if s.size and s[0]:
        edges = np.concatenate([[0], edges])
    if edges.size:
        return float(edges[0]) * 1000.0 / fs
    times = sweep.meta.get("extra", {}).get("sim_pulse_times_ms") or []
    return float(times[0]) if times else None


def _label(rec: Recording, s: LoadedSweep) -> str:
    t = rec.since_induction_s(s) / 60.0
    a = s.meta.get("analysis", {})
    when = f"{t:+.1f} min" if math.isfinite(t) else f"{float(s.meta['at_s']):.0f} s"
    text = f"#{s.index}  {s.meta['kind']}  {s.meta.get('segment', '')}  {when}"
    epsp = a.get("epsp_mv")
    if isinstance(epsp, int | float) and math.isfinite(epsp):
        text += f"  {epsp:.2f} mV"
    if not s.meta.get("complete", True):
        text += "  (cut short)"
    if a.get("flags"):
        text += "  ⚑ " + "; ".join(a["flags"])
    return text


def _compiled_probe(rec: Recording) -> proto.CompiledSweep | None:
    """The probe sweep of the recording's protocol, or None when it cannot be read."""
    try:
        return proto.compile_probe(proto.loads(rec.protocol_json(), str(rec.folder)).probes)
    except (OSError, ValueError, proto.ProtocolFileError):
        return None


def measured_points(rec: Recording, sweep: LoadedSweep, vm: FloatArray) -> dict[str, Any]:
    """A probe's measured points: its stored analysis, completed where needed.

    Where the stored analysis lacks the peak and slope-fit times (e.g. read back from NWB),
    the engine measures the sweep again with the protocol's probe; stored values win.
    """
    a = dict(sweep.meta.get("analysis") or {})
    if sweep.meta.get("kind") != "probe" or "peak_ms" in a:
        return a
    compiled = _compiled_probe(rec)
    if compiled is None or not compiled.of_kind("probe_pulse"):
        return a
    fs = float(sweep.meta["sample_rate_hz"])
    again = analyze_probe(vm, fs, compiled).as_dict() | probe_measures(vm, fs, compiled).as_dict()
    return again | a  # what was stored wins; the rest fills in


class SweepReview(QWidget):
    """Page through sweeps; overlay/average a selection; measured points on the trace."""

    currentChanged = pyqtSignal(int)  # noqa: N815 (Qt signal naming)
    """Emitted with the shown sweep's position after paging or selecting."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rec: Recording | None = None
        self._folder: Path | None = None
        self._settings = AnalysisSettings()
        self._list = QListWidget()
        self._list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self._list.itemSelectionChanged.connect(self._draw)
        self._prev = QPushButton("◀ Previous")
        self._next = QPushButton("Next ▶")
        self._prev.clicked.connect(self.previous)
        self._next.clicked.connect(self.next)
        self._average = QCheckBox("Average selected")
        self._average.setChecked(True)
        self._average.toggled.connect(self._draw)
        self._follow = QCheckBox("Follow newest")
        self._info = QLabel("")
        self._info.setWordWrap(True)
        self._plot = pg.PlotWidget()
        self._plot.setBackground("w")
        style_plot(
            self._plot.getPlotItem(), left="Vm (mV)", bottom="Time in sweep (ms)", axis_width=56
        )
        self._build()
        self.overlay_curves: list[Any] = []
        self.average_curve: Any = None
        self.markers: dict[str, Any] = {}

    def _build(self) -> None:
        buttons = QHBoxLayout()
        for w in (self._prev, self._next, self._average, self._follow):
            buttons.addWidget(w)
        buttons.addStretch(1)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addLayout(buttons)
        rl.addWidget(self._plot, 1)
        rl.addWidget(self._info)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self._list)
        split.addWidget(right)
        split.setStretchFactor(1, 3)
        split.setSizes([260, 700])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)

    # ------------------------------------------------------------------ sources

    def setRecording(self, rec: Recording | None) -> None:
        """Show a loaded recording (None clears); the first sweep is selected."""
        self._folder = None if rec is None else rec.folder
        self._show(rec, keep=None)

    def setFolder(self, folder: str | os.PathLike[str]) -> None:
        """Show a recording folder that may still be growing (call :meth:`refresh` later).

        A folder that is not (yet) a recording shows one sentence, never raises.
        """
        self._folder = Path(folder)
        self._show(None, keep=None)
        self.refresh()

    def refresh(self) -> None:
        """Reread the folder given to :meth:`setFolder` (new sweeps appear; selection kept)."""
        if self._folder is None or self._folder.suffix.lower() == ".nwb":
            return
        keep = self.selectedPositions()
        try:
            rec = load_recording(self._folder)
        except DataFolderError as exc:
            self._info.setText(str(exc))
            return
        self._show(rec, keep=None if self._follow.isChecked() else keep)

    def setFollow(self, on: bool) -> None:
        """Show the newest sweep after every :meth:`refresh`."""
        self._follow.setChecked(on)

    def _show(self, rec: Recording | None, keep: list[int] | None) -> None:
        self._rec = rec
        self._list.blockSignals(True)
        self._list.clear()
        for s in () if rec is None else rec.sweeps:
            self._list.addItem(QListWidgetItem(_label(rec, s)))  # type: ignore[arg-type]
        self._list.blockSignals(False)
        n = self._list.count()
        if not n:
            self._draw()
            return
        wanted = [i for i in (keep or []) if i < n] or [
            0 if keep is None and not self._follow.isChecked() else n - 1
        ]
        self.selectPositions(wanted)

    # ------------------------------------------------------------------ paging

    def sweepCount(self) -> int:
        """Number of sweeps listed."""
        return self._list.count()

    def selectedPositions(self) -> list[int]:
        """Positions (in the list) of the selected sweeps, in order."""
        return sorted(self._list.row(i) for i in self._list.selectedItems())

    def currentPosition(self) -> int:
        """Position of the sweep shown with its measured points (-1 when none)."""
        sel = self.selectedPositions()
        return sel[-1] if sel else -1

    def selectPositions(self, positions: list[int]) -> None:
        """Select sweeps by position (several: overlay and average)."""
        self._list.blockSignals(True)
        self._list.clearSelection()
        for p in positions:
            item = self._list.item(p)
            if item is not None:
                item.setSelected(True)
        if positions:
            self._list.setCurrentRow(positions[-1], QItemSelectionModel.SelectionFlag.NoUpdate)
        self._list.blockSignals(False)
        self._draw()

    def next(self) -> None:
        """Show the next sweep alone."""
        self._step(+1)

    def previous(self) -> None:
        """Show the previous sweep alone."""
        self._step(-1)

    def _step(self, by: int) -> None:
        n = self._list.count()
        if n:
            cur = self.currentPosition()
            self.selectPositions([min(n - 1, max(0, cur + by))])

    # ------------------------------------------------------------------ drawing

    def _draw(self) -> None:
        plot = self._plot.getPlotItem()
        plot.clear()
        self.overlay_curves = []
        self.average_curve = None
        self.markers = {}
        rec = self._rec
        sel = self.selectedPositions()
        if rec is None or not sel:
            self._info.setText("" if rec is None else "No sweep selected.")
            return
        traces: list[FloatArray] = []
        fs = 1.0
        for p in sel:
            sw = rec.sweeps[p]
            fs = float(sw.meta["sample_rate_hz"])
            vm = np.asarray(sw.arrays()["vm_mv"], dtype=np.float64)
            traces.append(vm)
            if len(sel) > 1:
                t = np.arange(vm.size) * 1000.0 / fs
                self.overlay_curves.append(plot.plot(t, vm, pen=pg.mkPen(_OVERLAY, width=1)))
        if len(sel) > 1 and self._average.isChecked():
            n = min(v.size for v in traces)
            avg = np.mean([v[:n] for v in traces], axis=0)
            t = np.arange(n) * 1000.0 / fs
            self.average_curve = plot.plot(t, avg, pen=pg.mkPen("#111", width=1.6))
        cur = rec.sweeps[sel[-1]]
        arrays = cur.arrays()
        vm = np.asarray(arrays["vm_mv"], dtype=np.float64)
        if len(sel) == 1:
            t = np.arange(vm.size) * 1000.0 / fs
            plot.plot(t, vm, pen=pg.mkPen("#212121", width=1.2))
        pulse = probe_pulse_ms(cur, arrays["stim"], float(cur.meta["sample_rate_hz"]))
        self._mark(cur, vm, pulse, measured_points(rec, cur, vm))
        self._info.setText(
            _label(rec, cur) + (f"   ({len(sel)} sweeps overlaid)" if len(sel) > 1 else "")
        )
        self.currentChanged.emit(sel[-1])

    def _mark(
        self, sweep: LoadedSweep, vm: FloatArray, pulse: float | None, a: dict[str, Any]
    ) -> None:
        """The measured points of one sweep: baseline window, peak, slope fit."""
        plot = self._plot.getPlotItem()
        fs = float(sweep.meta["sample_rate_hz"])
        base = float(a.get("baseline_mv", math.nan))
        if pulse is not None:
            lo, hi = pulse - self._settings.pre_window_ms, pulse - 0.5
            region = pg.LinearRegionItem((lo, hi), movable=False, brush=_BASE, pen=pg.mkPen(None))
            plot.addItem(region)
            self.markers["baseline"] = region
            if math.isfinite(base):
                line = plot.plot([lo, hi], [base, base], pen=pg.mkPen("#b28704", width=2))
                self.markers["baseline_level"] = line
            plot.addItem(pg.InfiniteLine(pulse, angle=90, pen=pg.mkPen("#9e9e9e", dash=[2, 2])))
            plot.setXRange(max(0.0, pulse - 60.0), pulse + 90.0, padding=0)
        peak_ms = float(a.get("peak_ms", math.nan))
        epsp = float(a.get("epsp_mv", math.nan))
        if math.isfinite(peak_ms) and math.isfinite(base) and math.isfinite(epsp):
            self.markers["peak"] = plot.plot(
                [peak_ms],
                [base + epsp],
                pen=None,
                symbol="o",
                symbolSize=9,
                symbolBrush=_PEAK,
                symbolPen="w",
            )
        r0 = float(a.get("rise_start_ms", math.nan))
        r1 = float(a.get("rise_stop_ms", math.nan))
        slope = float(a.get("slope_mv_per_ms", math.nan))
        i0, i1 = (
            round(r0 * fs / 1000.0) if math.isfinite(r0) else 0,
            (round(r1 * fs / 1000.0) + 1 if math.isfinite(r1) else 0),
        )
        if math.isfinite(slope) and 0 <= i0 < i1 <= vm.size:
            # The least-squares line passes through the mean of the fitted samples.
            tm = (np.arange(i0, i1) * 1000.0 / fs).mean()
            vmean = float(vm[i0:i1].mean())
            xs = np.array([r0 - 0.5, r1 + 0.5])
            ys = vmean + slope * (xs - tm)
            self.markers["slope_fit"] = plot.plot(xs, ys, pen=pg.mkPen(_FIT, width=2.5))
