"""The Results tab: recordings from anywhere, grouped by condition, with the paper's figure.

Open recording folders (or folders of them), ``.nwb`` files and imported ABF folders
(:meth:`ResultsPanel.openPaths`; "Import ABF…" runs :func:`rigctl.io.abf.import_abf` and
opens the result). Reading happens in a worker thread with a progress bar; what cannot be
read is one sentence in the tab.

Left, the recordings grouped by condition key (the induction's content, shown with the
protocol names); unticking one excludes it with a reason saved beside it
(:mod:`rigctl.gui.results.model`), and the statistics are computed again. Right, three
pages: **Groups** (Figure 6: time course and bars, and the statistics table), **Recording**
(one recording's EPSP and slope, Rin and Vm, flags, cut and skipped sweeps) and **Sweeps**
(:class:`~rigctl.gui.results.sweeps.SweepReview`).

Every question to the user goes through one method (:meth:`askOpenFolder`,
:meth:`askOpenNwb`, :meth:`askImportAbf`, :meth:`askExcludeReason`, :meth:`askSavePath`)
so tests and scripts answer without a modal dialog.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QRect, Qt, pyqtSignal
from PyQt6.QtGui import QPainter
from PyQt6.QtSvg import QSvgGenerator
from PyQt6.QtWidgets import (
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QGraphicsView,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from rigctl.engine.figure import write_figure
from rigctl.engine.group import GroupError, condition_label
from rigctl.engine.journal import Recording
from rigctl.engine.summary import condition_of
from rigctl.gui.results.figure import GroupFigure, RecordingFigure
from rigctl.gui.results.import_dialog import AbfRequest, ImportAbfDialog
from rigctl.gui.results.loader import Loader
from rigctl.gui.results.model import (
    LoadedSet,
    load_paths,
    read_exclusion,
    recording_trace,
    summarize_set,
    write_exclusion,
)
from rigctl.gui.results.sweeps import SweepReview
from rigctl.gui.results.table import StatisticsTable, write_csv
from rigctl.io.abf import import_abf
from rigctl.io.results import ResultsSummary

__all__ = ["FIGURE_FORMATS", "ResultsPanel"]

FIGURE_FORMATS = (".png", ".svg", ".pdf")
"""Figure export formats: PNG/SVG from the tab's plots, PDF from the engine's figure."""

_SOURCE = Qt.ItemDataRole.UserRole


class ResultsPanel(QWidget):
    """The Results tab (see the module docstring)."""

    loaded = pyqtSignal()
    """Emitted when a set of recordings has been read and shown (or failed to be)."""
    statisticsChanged = pyqtSignal()  # noqa: N815 (Qt signal naming)
    """Emitted after the statistics were computed again (open, exclude, include, window)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._recordings: list[Recording] = []
        self._unreadable: list[tuple[str, str]] = []
        self._exclusions: dict[str, str] = {}
        self._result: ResultsSummary | None = None
        self._loader = Loader(self)
        self._loader.progressed.connect(self._on_progress)
        self._loader.failed.connect(self._on_failed)
        self.groupFigure = GroupFigure()
        self.recordingFigure = RecordingFigure()
        self.sweepReview = SweepReview()
        self.statisticsTable = StatisticsTable()
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Recording", "Included", "Reason"])
        self.tree.itemChanged.connect(self._on_item_changed)
        self.tree.currentItemChanged.connect(self._on_current)
        self._message = QLabel("Open recording folders, .nwb files or imported ABF folders.")
        self._message.setWordWrap(True)
        self._progress = QProgressBar()
        self._progress.setVisible(False)
        self._notes = QLabel("")
        self._notes.setWordWrap(True)
        self._notes.setAlignment(Qt.AlignmentFlag.AlignTop)
        self._lo = QDoubleSpinBox()
        self._hi = QDoubleSpinBox()
        for box, v in ((self._lo, 30.0), (self._hi, 35.0)):
            box.setRange(-600.0, 600.0)
            box.setDecimals(1)
            box.setSuffix(" min")
            box.setValue(v)
            box.editingFinished.connect(self._recompute)
        self.pages = QTabWidget()
        self._build()

    # ------------------------------------------------------------------ layout

    def _button(self, text: str, slot: Callable[[], object]) -> QPushButton:
        b = QPushButton(text)
        b.clicked.connect(lambda _=False: slot())
        return b

    def _build(self) -> None:
        bar = QHBoxLayout()
        for text, slot in (
            ("Open folder…", self.openFolder),
            ("Open NWB…", self.openNwb),
            ("Import ABF…", self.importAbfDialog),
            ("Export figure…", self.exportFigureDialog),
            ("Export table…", self.exportTableDialog),
        ):
            bar.addWidget(self._button(text, slot))
        bar.addSpacing(16)
        bar.addWidget(QLabel("Summary window"))
        bar.addWidget(self._lo)
        bar.addWidget(QLabel("to"))
        bar.addWidget(self._hi)
        bar.addStretch(1)
        bar.addWidget(self._progress)
        caption = QLabel(
            "<b>A</b> Normalized EPSP, mean ± SEM across cells in 1-min bins; induction at 0, "
            "summary window shaded. <b>B</b> Window mean ± SEM, each cell a dot; marks: "
            "one-sample t-test against 1, Holm-corrected over the conditions "
            "(* p &lt; 0.05, ** p &lt; 0.01, *** p &lt; 0.001)."
        )
        caption.setWordWrap(True)
        figure = QWidget()
        fl = QVBoxLayout(figure)
        fl.setContentsMargins(0, 0, 0, 0)
        fl.addWidget(self.groupFigure, 1)
        fl.addWidget(caption)
        groups = QSplitter(Qt.Orientation.Vertical)
        groups.addWidget(figure)
        groups.addWidget(self.statisticsTable)
        groups.setSizes([560, 260])
        one = QSplitter(Qt.Orientation.Vertical)
        one.addWidget(self.recordingFigure)
        one.addWidget(self._notes)
        one.setSizes([600, 120])
        self.pages.addTab(groups, "Groups")
        self.pages.addTab(one, "Recording")
        self.pages.addTab(self.sweepReview, "Sweeps")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.tree)
        split.addWidget(self.pages)
        split.setStretchFactor(1, 1)
        split.setSizes([380, 1300])
        lay = QVBoxLayout(self)
        lay.addLayout(bar)
        lay.addWidget(self._message)
        lay.addWidget(split, 1)

    # ------------------------------------------------------------------ questions

    def askOpenFolder(self) -> str | None:
        """A folder to open (a recording or a folder of them), or None."""
        return QFileDialog.getExistingDirectory(self, "Open recordings") or None

    def askOpenNwb(self) -> list[str]:
        """NWB files to open (empty: cancelled)."""
        names, _ = QFileDialog.getOpenFileNames(self, "Open NWB", "", "NWB files (*.nwb)")
        return list(names)

    def askImportAbf(self) -> AbfRequest | None:
        """What to import (the options dialog), or None."""
        dialog = ImportAbfDialog(self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.request()

    def askExcludeReason(self, name: str) -> str | None:
        """Why a recording is excluded (None: keep it included)."""
        text, ok = QInputDialog.getText(self, "Exclude recording", f"Why exclude {name}?")
        return text if ok else None

    def askSavePath(self, title: str, filters: str) -> str | None:
        """A file to write, or None."""
        name, _ = QFileDialog.getSaveFileName(self, title, "", filters)
        return name or None

    # ------------------------------------------------------------------ state

    def message(self) -> str:
        """The sentence shown above the plots (errors, what was loaded)."""
        return self._message.text()

    def recordings(self) -> list[Recording]:
        """The recordings read, in order."""
        return list(self._recordings)

    def exclusions(self) -> dict[str, str]:
        """Excluded recordings (source path -> reason)."""
        return dict(self._exclusions)

    def result(self) -> ResultsSummary | None:
        """The statistics of the included recordings (None when there are none)."""
        return self._result

    def busy(self) -> bool:
        """Whether recordings are being read."""
        return self._loader.busy()

    def setWindow(self, lo: float, hi: float) -> None:
        """Set the summary window (min after induction) and compute the statistics again."""
        self._lo.setValue(lo)
        self._hi.setValue(hi)
        self._recompute()

    # ------------------------------------------------------------------ opening

    def openFolder(self) -> None:
        """Ask for a folder and open it."""
        path = self.askOpenFolder()
        if path:
            self.openPaths([path])

    def openNwb(self) -> None:
        """Ask for NWB files and open them."""
        paths = self.askOpenNwb()
        if paths:
            self.openPaths(paths)

    def openPaths(self, paths: Sequence[str | os.PathLike[str]], *, add: bool = False) -> bool:
        """Read recordings in the worker thread; :attr:`loaded` fires when shown.

        ``add`` keeps the recordings already open. False when a read is still running.
        """
        targets = list(paths)
        self._keep = add

        def job(progress: Callable[[int, int], None]) -> LoadedSet:
            return load_paths(targets, progress=progress)

        return self._start(job, f"Reading {len(targets)} path(s)…")

    def importAbfDialog(self) -> None:
        """Ask for ABF files and options, import them, and open the new folder."""
        try:
            request = self.askImportAbf()
        except ValueError as exc:
            self._say(str(exc))
            return
        if request is not None:
            self.importAbf(request)

    def importAbf(self, request: AbfRequest) -> bool:
        """Import ABF files in the worker thread, then show the new recording (added)."""
        self._keep = True

        def job(progress: Callable[[int, int], None]) -> LoadedSet:
            progress(0, 2)
            result = import_abf(list(request.files), request.out, request.options)
            progress(1, 2)
            return load_paths([result.folder])

        return self._start(job, f"Importing {len(request.files)} ABF file(s)…")

    def _start(self, job: Callable[[Callable[[int, int], None]], Any], text: str) -> bool:
        if self._loader.busy():
            self._say("Still reading the previous recordings; try again when it has finished.")
            return False
        with contextlib.suppress(TypeError):
            self._loader.finished_ok.disconnect()
        self._loader.finished_ok.connect(self._on_loaded)
        self._progress.setRange(0, 0)
        self._progress.setVisible(True)
        self._say(text)
        self._loader.start(job)
        return True

    def _on_progress(self, done: int, total: int) -> None:
        self._progress.setRange(0, max(total, 1))
        self._progress.setValue(done)

    def _on_failed(self, text: str) -> None:
        self._progress.setVisible(False)
        self._say(text)
        self.loaded.emit()

    def _on_loaded(self, loaded: LoadedSet) -> None:
        self._progress.setVisible(False)
        if not self._keep:
            self._recordings, self._unreadable = [], []
        known = {str(r.folder) for r in self._recordings}
        self._recordings += [r for r in loaded.recordings if str(r.folder) not in known]
        self._unreadable += list(loaded.unreadable)
        self._exclusions = {
            str(r.folder): reason
            for r in self._recordings
            if (reason := read_exclusion(r.folder)) is not None
        }
        self._fill_tree()
        self._recompute()
        self.loaded.emit()

    def _say(self, text: str) -> None:
        self._message.setText(text)

    # ------------------------------------------------------------------ the tree

    def _fill_tree(self) -> None:
        self.tree.blockSignals(True)
        self.tree.clear()
        by_condition: dict[str, list[Recording]] = {}
        for rec in self._recordings:
            by_condition.setdefault(condition_of(rec), []).append(rec)
        for cond, recs in by_condition.items():
            names = sorted({str(r.header.get("protocol_name", "")) for r in recs} - {""})
            top = QTreeWidgetItem(
                [
                    f"{condition_label(cond)}  ({', '.join(names)})"
                    if names
                    else condition_label(cond)
                ]
            )
            top.setToolTip(0, cond)
            self.tree.addTopLevelItem(top)
            for rec in recs:
                key = str(rec.folder)
                item = QTreeWidgetItem([_short(rec), "", self._exclusions.get(key, "")])
                item.setData(0, _SOURCE, key)
                item.setToolTip(0, key)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                included = key not in self._exclusions
                item.setCheckState(
                    1, Qt.CheckState.Checked if included else Qt.CheckState.Unchecked
                )
                top.addChild(item)
            top.setExpanded(True)
        for source, reason in self._unreadable:
            item = QTreeWidgetItem([Path(source).name, "unreadable", reason])
            item.setToolTip(2, reason)
            self.tree.addTopLevelItem(item)
        self.tree.resizeColumnToContents(0)
        self.tree.blockSignals(False)

    def _item_of(self, source: str) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            for j in range(top.childCount() if top is not None else 0):
                child = top.child(j) if top is not None else None
                if child is not None and child.data(0, _SOURCE) == source:
                    return child
        return None

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        source = item.data(0, _SOURCE)
        if column != 1 or source is None:
            return
        if item.checkState(1) == Qt.CheckState.Checked:
            self.includeRecording(source)
            return
        reason = self.askExcludeReason(item.text(0))
        if reason is None:
            self.tree.blockSignals(True)
            item.setCheckState(1, Qt.CheckState.Checked)
            self.tree.blockSignals(False)
            return
        self.excludeRecording(source, reason)

    def excludeRecording(self, source: str | os.PathLike[str], reason: str) -> bool:
        """Exclude a recording with a reason, save it beside the recording, recompute."""
        return self._set_exclusion(str(source), reason.strip() or "excluded")

    def includeRecording(self, source: str | os.PathLike[str]) -> bool:
        """Include a recording again (its exclusion file is removed), recompute."""
        return self._set_exclusion(str(source), None)

    def _set_exclusion(self, source: str, reason: str | None) -> bool:
        try:
            write_exclusion(source, reason)
        except OSError as exc:
            self._say(f"{source}: the exclusion could not be saved ({exc.strerror or exc}).")
            self._fill_tree()
            return False
        if reason is None:
            self._exclusions.pop(source, None)
        else:
            self._exclusions[source] = reason
        item = self._item_of(source)
        if item is not None:
            self.tree.blockSignals(True)
            item.setCheckState(1, Qt.CheckState.Unchecked if reason else Qt.CheckState.Checked)
            item.setText(2, reason or "")
            self.tree.blockSignals(False)
        self._recompute()
        return True

    def _on_current(self, item: QTreeWidgetItem | None, _previous: object) -> None:
        source = None if item is None else item.data(0, _SOURCE)
        rec = next((r for r in self._recordings if str(r.folder) == source), None)
        self.showRecording(rec)

    def showRecording(self, rec: Recording | None) -> None:
        """Show one recording on the Recording and Sweeps pages."""
        trace = None if rec is None else recording_trace(rec)
        self.recordingFigure.show_trace(trace)
        self._notes.setText("" if trace is None else "\n".join(trace.notes))
        self.sweepReview.setRecording(rec)

    # ------------------------------------------------------------------ statistics

    def _recompute(self) -> None:
        self._result = None
        if not self._recordings:
            self.groupFigure.clear_all()
            self.statisticsTable.show_result(None)
            if self._unreadable:
                self._say(
                    "; ".join(
                        f"{s}: {r}" if not r.startswith(s) else r for s, r in self._unreadable
                    )
                )
            return
        window = (self._lo.value(), self._hi.value())
        try:
            self._result = summarize_set(
                self._recordings, self._exclusions, unreadable=self._unreadable, window_min=window
            )
        except GroupError as exc:
            self.groupFigure.clear_all()
            self.statisticsTable.show_result(None)
            self._say(str(exc))
            self.statisticsChanged.emit()
            return
        groups = self._result.groups
        self.groupFigure.show_summary(groups, self._result.tests)
        self.statisticsTable.show_result(self._result)
        left = len(groups.excluded)
        self._say(
            f"{len(groups.cells)} recording(s) in {len(groups.conditions)} condition(s)"
            + (f"; {left} left out (see the list)" if left else "")
            + "."
        )
        self.statisticsChanged.emit()

    # ------------------------------------------------------------------ export

    def exportFigure(self, path: str | os.PathLike[str]) -> Path:
        """Write the group figure: PNG/SVG as shown, PDF with the engine's figure writer.

        Raises
        ------
        ValueError
            Nothing to export, or an unknown suffix.
        OSError
            The file cannot be written.
        """
        out = Path(path)
        suffix = out.suffix.lower()
        if suffix not in FIGURE_FORMATS:
            raise ValueError(f"{out.name}: the figure is written as {', '.join(FIGURE_FORMATS)}")
        if self._result is None:
            raise ValueError("no statistics to export yet: open recordings first")
        if suffix == ".pdf":
            return write_figure(self._result.groups, out)
        if suffix == ".svg":
            _write_svg(self.groupFigure, out)
        else:
            from pyqtgraph.exporters import ImageExporter

            exporter = ImageExporter(self.groupFigure.ci)
            exporter.parameters()["width"] = max(1600, int(self.groupFigure.width()) * 2)
            exporter.export(str(out))
        if not out.is_file():
            raise OSError(f"{out}: the figure was not written")
        return out

    def exportTable(self, path: str | os.PathLike[str]) -> Path:
        """Write the statistics table as CSV (``ValueError`` when there is none)."""
        if self._result is None:
            raise ValueError("no statistics to export yet: open recordings first")
        return write_csv(self._result, path)

    def exportFigureDialog(self) -> None:
        """Ask for a file and export the figure; problems are one sentence in the tab."""
        name = self.askSavePath("Export figure", "PNG (*.png);;SVG (*.svg);;PDF (*.pdf)")
        if name:
            self._export(self.exportFigure, name)

    def exportTableDialog(self) -> None:
        """Ask for a file and export the statistics table as CSV."""
        name = self.askSavePath("Export table", "CSV (*.csv)")
        if name:
            self._export(self.exportTable, name)

    def _export(self, fn: Callable[[str], Path], name: str) -> None:
        try:
            out = fn(name)
        except (ValueError, OSError) as exc:
            self._say(
                str(exc)
                if isinstance(exc, ValueError)
                else f"{name}: could not be written ({exc.strerror or exc})."
            )
            return
        self._say(f"Wrote {out}.")

    def shutdown(self) -> None:
        """Wait for a running read (call before the window closes)."""
        self._loader.wait()


def _write_svg(view: QGraphicsView, out: Path) -> None:
    """Render a plot view as vector SVG with Qt's own generator.

    (pyqtgraph 0.14's SVG exporter fails on the paths Qt 6.11 writes.)
    """
    gen = QSvgGenerator()
    gen.setFileName(str(out))
    size = view.viewport().size()  # type: ignore[union-attr]
    gen.setSize(size)
    gen.setViewBox(QRect(0, 0, size.width(), size.height()))
    gen.setTitle("rigctl results")
    painter = QPainter()
    if not painter.begin(gen):
        raise OSError(f"{out}: cannot be written")
    try:
        view.render(painter)
    finally:
        painter.end()


def _short(rec: Recording) -> str:
    parent = rec.folder.parent.name
    return f"{parent}/{rec.folder.name}" if parent else rec.folder.name
