"""The main window: the protocol designer and its previews, the rig tabs, menus, closing.

The document (undo, files, recent files) is its base, :mod:`rigctl.gui.documents`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from PyQt6.QtCore import QSettings, QSize, Qt, QTimer
from PyQt6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent
from PyQt6.QtWidgets import QMessageBox, QScrollArea, QSplitter, QTabWidget, QToolBar, QWidget

from rigctl.engine import RigSession, RunOptions
from rigctl.gui.about import AboutDialog, about_text
from rigctl.gui.cell.panel import CellPanel
from rigctl.gui.design.picker import PaperConditionPicker
from rigctl.gui.design.preview import WaveformPreview
from rigctl.gui.documents import DocumentWindow, UnsavedAnswer
from rigctl.gui.layout import WindowLayout
from rigctl.gui.layout import page as page_area
from rigctl.gui.plasticity.pane import PlasticityPane
from rigctl.gui.results import ResultsPanel
from rigctl.gui.rig.panel import RigPanel
from rigctl.gui.run.panel import RunPanel
from rigctl.gui.settings import MAX_RECENT
from rigctl.gui.widgets.dialogs import ask_choice
from rigctl.gui.widgets.scroll import scrolling
from rigctl.gui.widgets.steady import SteadyFrame
from rigctl.hardware import DEFAULT_RIG_PATH
from rigctl.protocol import Experiment, paper_condition

__all__ = ["MAX_RECENT", "MainWindow", "QuitAnswer", "UnsavedAnswer"]

QuitAnswer = Literal["keep", "stop", "abort"]
"""What to do with a recording in progress when the window is closed: keep recording
(the window stays open), stop after the sweep in flight (then close), or abort now."""

_EDITOR_MIN_HEIGHT = 250
"""The editor never gets less (two phase rows and the window line show); on a short
screen the whole Protocol page scrolls instead."""
_PREVIEWS_MIN_HEIGHT = 640
"""Nor do the previews (the plasticity pane's plots keep their axes and captions)."""


class _FittingScrollArea(QScrollArea):
    """A scroll area that asks for the whole height of its widget (scrolls only if short)."""

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(hint.width(), min(self.sizeHint().height(), _EDITOR_MIN_HEIGHT))

    def sizeHint(self) -> QSize:
        widget = self.widget()
        hint = super().sizeHint()
        if widget is None:
            return hint
        return QSize(hint.width(), widget.sizeHint().height() + 2 * self.frameWidth())


class MainWindow(DocumentWindow):
    """Design a protocol: edit it, see what the rig will output, keep it in a file.

    Parameters
    ----------
    settings
        What the window remembers (:class:`~rigctl.gui.settings.AppSettings`: recent
        files, the rig file, the data and protocol folders, the analysis settings, the
        layout); tests pass a temporary INI file.
    experiment
        Protocol shown first (default: the paper's 25 → 50 Hz condition).
    parent
        Parent widget.
    session
        The owner of the rig (:class:`~rigctl.engine.RigSession`); with it the window has
        a *Rig* tab (:class:`~rigctl.gui.rig.panel.RigPanel`) and a *Run* tab, which use
        the rig through the session.
    rig_path
        The rig file the rig tab opens first (default: the simulated rig).
    data_root
        Where the Run tab proposes new data folders (default: the recordings folder of
        :func:`rigctl.paths.data_root`).

    Notes
    -----
    The tabs are listed in one place, :meth:`_tab_pages`; each is shown in a scroll
    area of its own, and the window's size and splitters are kept by
    :class:`~rigctl.gui.layout.WindowLayout`.

    Every question to the user goes through one method (:meth:`askUnsavedChanges`,
    :meth:`askQuitDuringRun`, :meth:`askOpenPath`, :meth:`askSavePath`,
    :meth:`showError`), so tests and scripts can answer it without a modal dialog.
    """

    def __init__(
        self,
        settings: QSettings,
        experiment: Experiment | None = None,
        parent: QWidget | None = None,
        *,
        session: RigSession | None = None,
        rig_path: str | os.PathLike[str] = DEFAULT_RIG_PATH,
        data_root: Path | None = None,
    ) -> None:
        super().__init__(settings, experiment, parent)
        self._preview = WaveformPreview()
        self._plasticity = PlasticityPane()
        self._picker = PaperConditionPicker()

        self._session = session
        self._rig_panel: RigPanel | None = None
        self._run_panel: RunPanel | None = None
        self._cell_panel: CellPanel | None = None
        self._results_panel: ResultsPanel | None = None
        self._close_after_run = False
        self._about: AboutDialog | None = None
        self._recordings = data_root
        self._restored = False
        self._keep_layout = True
        self._design_page = self._build_design_page()
        if session is not None:
            self._build_rig_pages(session, rig_path, data_root)
        self._tabs = QTabWidget()
        self._pages: dict[str, QScrollArea] = {}
        self._build_tabs()

        self._build_actions()
        toolbar = QToolBar("Paper conditions")
        toolbar.setObjectName("paperConditions")
        toolbar.setMovable(False)
        toolbar.addWidget(self._picker)
        self.addToolBar(toolbar)
        self.setStatusBar(self._status)

        self._editor.valueChanged.connect(self._on_value_changed)
        self._editor.problemsChanged.connect(self._on_problems)
        self._picker.conditionPicked.connect(self.loadPaperCondition)
        # Rates dragged on the plasticity rate map come back as one undoable edit.
        self._plasticity.ratesPicked.connect(
            lambda exp: self.applyExperiment(exp, "Set rates from the rate map")
        )
        self._show(self._shown)
        self._update_title()
        self._layout = WindowLayout(self, self._settings)
        self._layout.restoreWindow()

    def _build_tabs(self) -> None:
        self._tabs.setDocumentMode(True)
        for title, page in self._tab_pages():
            self._pages[title] = page_area(page)
            self._tabs.addTab(self._pages[title], title)
            # Every splitter's position is remembered: unnamed ones get a name by place.
            for i, splitter in enumerate(page.findChildren(QSplitter)):
                if not splitter.objectName():
                    splitter.setObjectName(f"{title.lower()}-{i}")
        self._tabs.tabBar().setVisible(len(self._pages) > 1)  # type: ignore[union-attr]
        self.setCentralWidget(self._tabs)

    def _tab_pages(self) -> list[tuple[str, QWidget]]:
        """Every tab of the window, in order, as ``(title, content)``: add a tab here.

        Each content is shown in a scroll area of its own (so a small screen scrolls
        instead of squeezing or clipping it); the tab bar is hidden when there is one.
        """
        pages: list[tuple[str, QWidget]] = [("Protocol", self._design_page)]
        if self._rig_panel is not None:
            pages.append(("Rig", self._rig_panel))
        if self._cell_panel is not None:
            pages.append(("Cell", self._cell_panel))
        if self._run_panel is not None:
            pages.append(("Run", self._run_panel))
        if self._results_panel is not None:
            pages.append(("Results", self._results_panel))
        return pages

    def _build_design_page(self) -> QWidget:
        scroll = scrolling(self._editor, _FittingScrollArea())
        # What will be sent to the rig, and what it should do to the synapse, side by side.
        previews = QSplitter(Qt.Orientation.Horizontal)
        previews.setObjectName("previews")
        # Their labels change on every edit; the frames keep that from relaying out the page.
        previews.addWidget(SteadyFrame(self._preview))
        previews.addWidget(SteadyFrame(self._plasticity))
        previews.setStretchFactor(0, 1)
        previews.setStretchFactor(1, 1)
        previews.setChildrenCollapsible(False)
        previews.setMinimumHeight(_PREVIEWS_MIN_HEIGHT)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("designer")
        splitter.addWidget(scroll)
        splitter.addWidget(previews)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        previews.setSizes([900, 900])
        splitter.setChildrenCollapsible(False)
        return splitter

    def _build_rig_pages(
        self, session: RigSession, rig_path: str | os.PathLike[str], data_root: Path | None
    ) -> None:
        self._rig_panel = RigPanel(session, rig_path, experiment=self.experiment)
        self._rig_panel.calibratedExperiment.connect(self._on_calibrated)
        # The rig file opened last is the one the app opens next time.
        self._rig_panel.rigChanged.connect(lambda _d: self._settings.setRigFile(session.path))
        self._run_panel = RunPanel(
            session.runner,
            self.experiment,
            lambda: session.definition,
            data_root=data_root,
            options=RunOptions(analysis=self._settings.analysisSettings()),
        )
        # One user of the rig at a time: the Rig tab rests while a recording runs.
        self._run_panel.runStarted.connect(lambda _r: self._set_rig_tab_enabled(False))
        self._run_panel.runStarted.connect(self._remember_data_folder)
        self._run_panel.runFinished.connect(lambda _r: self._set_rig_tab_enabled(True))
        self._run_panel.runFinished.connect(self._on_run_finished)
        # The Cell tab: set-up before the baseline, handed to the Run tab.
        self._cell_panel = cell = CellPanel(session, self.experiment)
        run = self._run_panel
        cell.calibratedExperiment.connect(self._on_calibrated)
        cell.setupReady.connect(run.setSetupRecord)
        cell.setupReady.connect(lambda _r: self.selectTab("Run"))
        run.runStarted.connect(cell.recordingStarted)
        # One set-up, one recording: the next run does not carry it again.
        run.runStarted.connect(lambda _r: run.setSetupRecord(None))
        self._results_panel = ResultsPanel()

    def _remember_data_folder(self, _runner: object) -> None:
        folder = self._run_panel.dataFolder() if self._run_panel is not None else None
        if folder is not None:
            self._settings.setDataFolder(folder.parent)

    # ------------------------------------------------------------------ parts

    @property
    def preview(self) -> WaveformPreview:
        """The waveform preview."""
        return self._preview

    @property
    def plasticityPane(self) -> PlasticityPane:
        """The plasticity (kinase model) preview beside the waveforms."""
        return self._plasticity

    @property
    def picker(self) -> PaperConditionPicker:
        """The paper condition picker."""
        return self._picker

    @property
    def rigPanel(self) -> RigPanel | None:
        """The rig tab (``None`` when the window was built without a rig session)."""
        return self._rig_panel

    @property
    def runPanel(self) -> RunPanel | None:
        """The run tab (``None`` when the window was built without a rig session)."""
        return self._run_panel

    def _set_rig_tab_enabled(self, enabled: bool) -> None:
        if self._rig_panel is not None:
            self._rig_panel.setEnabled(enabled)

    def restOutputs(self) -> None:
        """Put the rig's outputs at rest now (after an error in code that drives the rig).

        A recording in progress is aborted (its runner rests the outputs and marks the
        record aborted), a Rig-tab sweep or calibration is aborted, and an idle open rig
        gets ``safe_state()``.
        """
        run, rig_tab = self._run_panel, self._rig_panel
        if run is not None and run.isRunning():
            run.abort()
        elif rig_tab is not None and rig_tab.isRunning():
            rig_tab.abort()
        elif self._cell_panel is not None and self._cell_panel.isBusy():
            self._cell_panel.shutdown()  # its lease ends with the outputs at rest
        elif self._session is not None and (rig := self._session.rig) is not None:
            rig.safe_state()

    def showRigPanel(self) -> None:
        """Bring the rig tab to the front (if there is one)."""
        if self._rig_panel is not None:
            self.selectTab("Rig")

    def tabTitles(self) -> list[str]:
        """The titles of the tabs, in order."""
        return list(self._pages)

    def selectTab(self, title: str) -> None:
        """Bring the tab called ``title`` to the front (``KeyError`` if there is none)."""
        self._tabs.setCurrentWidget(self._pages[title])

    def tabPage(self, title: str) -> QScrollArea:
        """The scroll area that holds the tab called ``title``."""
        return self._pages[title]

    def _on_calibrated(self, experiment: Experiment) -> None:
        self.applyExperiment(experiment, "Apply calibrated currents")

    # ------------------------------------------------------------------ questions (overridable)

    def askQuitDuringRun(self) -> QuitAnswer:
        """Ask what to do with the recording in progress before the window closes."""
        answers: list[tuple[QuitAnswer, str, QMessageBox.ButtonRole]] = [
            ("keep", "Keep recording", QMessageBox.ButtonRole.RejectRole),
            ("stop", "Stop after this sweep", QMessageBox.ButtonRole.AcceptRole),
            ("abort", "Abort now", QMessageBox.ButtonRole.DestructiveRole),
        ]
        return ask_choice(
            self,
            "A recording is in progress",
            "A recording is in progress. Close rigctl?",
            "Stop after this sweep keeps a complete record and closes when it ends; "
            "Abort now cuts the sweep in flight and marks the recording aborted.",
            answers,
            safe="keep",
        )

    def loadPaperCondition(self, minus_hz: float, plus_hz: float) -> bool:
        """Replace the protocol by a paper condition, after the unsaved-changes prompt."""
        if not self.maybeSave():
            self._picker.setCurrent(self._editor.value())
            return False
        self._load_document(paper_condition(minus_hz, plus_hz), None)
        self.showStatus(f"Paper condition {minus_hz:g} → {plus_hz:g} Hz", 4000)
        return True

    # ------------------------------------------------------------------ internals

    def _build_actions(self) -> None:
        def action(
            text: str, slot: Callable[[], object], key: QKeySequence.StandardKey | None = None
        ) -> QAction:
            act = QAction(text, self)
            if key is not None:
                act.setShortcut(QKeySequence(key))
            act.triggered.connect(lambda _checked=False: slot())
            return act

        keys = QKeySequence.StandardKey
        self.newAction = action("&New", self.newProtocol, keys.New)
        self.openAction = action("&Open…", self.open, keys.Open)
        self.saveAction = action("&Save", self.save, keys.Save)
        self.saveAsAction = action("Save &As…", self.saveAs, keys.SaveAs)
        self.quitAction = action("&Quit", self.close, keys.Quit)
        undo = self._undo.createUndoAction(self, "&Undo")
        redo = self._undo.createRedoAction(self, "&Redo")
        assert undo is not None and redo is not None
        self.undoAction: QAction = undo
        self.redoAction: QAction = redo
        self.undoAction.setShortcut(QKeySequence(keys.Undo))
        self.redoAction.setShortcut(QKeySequence(keys.Redo))
        self.resetLayoutAction = action("&Reset Layout", self.resetLayout)
        self.resetLayoutAction.setStatusTip("Window size and panes as on first opening")
        self.aboutAction = action("&About rigctl", self.showAbout)
        self.aboutAction.setMenuRole(QAction.MenuRole.AboutRole)
        self._build_menus()

    def _build_menus(self) -> None:
        bar = self.menuBar()
        assert bar is not None
        file_menu = bar.addMenu("&File")
        assert file_menu is not None
        file_menu.addAction(self.newAction)
        file_menu.addAction(self.openAction)
        file_menu.addMenu(self._recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.saveAction)
        file_menu.addAction(self.saveAsAction)
        file_menu.addSeparator()
        file_menu.addAction(self.quitAction)
        edit_menu = bar.addMenu("&Edit")
        assert edit_menu is not None
        edit_menu.addAction(self.undoAction)
        edit_menu.addAction(self.redoAction)
        view_menu = bar.addMenu("&View")
        assert view_menu is not None
        view_menu.addAction(self.resetLayoutAction)
        help_menu = bar.addMenu("&Help")
        assert help_menu is not None
        help_menu.addAction(self.aboutAction)

    def _show(self, experiment: Experiment) -> None:
        self._preview.setExperiment(experiment)
        # The same compiled events feed both previews: what is predicted is what runs.
        self._plasticity.setExperiment(experiment, self._preview.sweep())
        self._picker.setCurrent(experiment)

    def closeEvent(self, a0: QCloseEvent | None) -> None:
        """Ask about a recording in progress and unsaved changes before closing.

        A recording in progress is kept (the window stays), stopped after the sweep in
        flight (the window closes when the run has ended), or aborted now, as
        :meth:`askQuitDuringRun` answers.
        """
        if a0 is None:
            return
        run = self._run_panel
        if run is not None and run.isRunning():
            answer = self.askQuitDuringRun()
            if answer == "keep":
                self._close_after_run = False
                a0.ignore()
                return
            if answer == "stop" and run.isRunning():
                self._close_after_run = True
                run.stop()
                self.showStatus("Closing after the sweep in flight: the run is stopping…")
                a0.ignore()
                return
        if self.maybeSave():
            a0.accept()
            if self._keep_layout:
                self.saveLayout()
            if self._run_panel is not None:
                self._run_panel.shutdown()  # a run still going is aborted, outputs at rest
            if self._cell_panel is not None:
                self._cell_panel.shutdown()  # test pulse or search stopped, outputs at rest
            if self._rig_panel is not None:
                self._rig_panel.shutdown()  # outputs at rest, rig closed
        else:
            self._close_after_run = False
            a0.ignore()

    # ------------------------------------------------------------------ window layout

    def showEvent(self, a0: QShowEvent | None) -> None:
        """On the first showing, note the default pane sizes, then restore the saved ones."""
        super().showEvent(a0)
        if not self._restored:
            self._restored = True
            QTimer.singleShot(0, self._layout.restoreSplitters)  # once laid out

    def saveLayout(self) -> None:
        """Remember the window geometry, tool bar state and splitter positions."""
        self._layout.save()

    def setLayoutRemembered(self, remembered: bool) -> None:
        """Whether closing the window saves its layout (not for a screenshot, say)."""
        self._keep_layout = remembered

    def resetLayout(self) -> None:
        """Forget the saved layout: first-opening size for this screen, default panes."""
        self._layout.reset()
        self.showStatus("Layout reset", 4000)

    # ------------------------------------------------------------------ about

    def aboutText(self) -> str:
        """The text of Help ▸ About (see :func:`rigctl.gui.about.about_text`)."""
        return about_text(recordings=self._recordings, settings_file=self._settings.fileName())

    def showAbout(self) -> AboutDialog:
        """Open Help ▸ About (non-modal; one box, raised if already open)."""
        if self._about is None:
            self._about = AboutDialog(self.aboutText(), self)
        self._about.show()
        self._about.raise_()
        return self._about

    def _on_run_finished(self, _result: object) -> None:
        if self._close_after_run:
            self._close_after_run = False
            QTimer.singleShot(0, self.close)  # after the panel has shown the result
