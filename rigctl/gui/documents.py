"""The open protocol as a document: undoable edits, files, recent files, unsaved changes.

:class:`DocumentWindow` is the main window's base: it owns the experiment editor, the
undo history and the file of the protocol, and asks every question about them through
overridable methods (:meth:`~DocumentWindow.askUnsavedChanges`,
:meth:`~DocumentWindow.askOpenPath`, :meth:`~DocumentWindow.askSavePath`,
:meth:`~DocumentWindow.showError`), so tests and scripts answer without a modal dialog.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from PyQt6.QtCore import QSettings, pyqtSignal
from PyQt6.QtGui import QAction, QUndoCommand, QUndoStack
from PyQt6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox, QStatusBar, QWidget

from rigctl.gui.design.editor import ExperimentEditor
from rigctl.gui.settings import MAX_RECENT, AppSettings
from rigctl.protocol import Experiment, ProtocolFileError, load, paper_condition, save

__all__ = ["DocumentWindow", "RecentFilesMenu", "UnsavedAnswer"]

UnsavedAnswer = Literal["save", "discard", "cancel"]
"""What to do with unsaved changes."""

_FILTER = "rigctl protocols (*.json);;All files (*)"
_APP_TITLE = "rigctl protocol designer"


class _EditCommand(QUndoCommand):
    """One valid edit: the whole experiment before and after it."""

    _ID = 1

    def __init__(
        self,
        apply: Callable[[Experiment], None],
        before: Experiment,
        after: Experiment,
        merge_key: str | None,
        text: str,
    ) -> None:
        super().__init__(text)
        self._apply = apply
        self.before = before
        self.after = after
        self.merge_key = merge_key
        self._pushed = False

    def redo(self) -> None:
        if self._pushed:
            self._apply(self.after)
        self._pushed = True  # the first redo is the edit the user just made

    def undo(self) -> None:
        self._apply(self.before)

    def id(self) -> int:
        return self._ID if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand | None) -> bool:
        if not isinstance(other, _EditCommand) or other.merge_key != self.merge_key:
            return False
        self.after = other.after
        self.setObsolete(self.after == self.before)
        return True


class RecentFilesMenu(QMenu):
    """*Open Recent*: one fixed action per recent file (never deleted while in use).

    Parameters
    ----------
    parent
        The window (owner of the actions).
    """

    fileChosen = pyqtSignal(str)  # noqa: N815 (Qt signal naming)
    """A recent file was picked (its path)."""
    clearChosen = pyqtSignal()  # noqa: N815 (Qt signal naming)
    """*Clear Menu* was picked."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__("Open &Recent", parent)
        self._files: list[QAction] = []
        for i in range(MAX_RECENT):
            recent = QAction(parent)
            recent.triggered.connect(lambda _checked=False, i=i: self._open(i))
            self.addAction(recent)
            self._files.append(recent)
        self.addSeparator()
        self._clear = QAction("Clear Menu", parent)
        self._clear.triggered.connect(lambda _checked=False: self.clearChosen.emit())
        self.addAction(self._clear)

    def setFiles(self, files: list[str]) -> None:
        """Show ``files`` (most recent first; those beyond the menu's size are not shown)."""
        for i, action in enumerate(self._files):
            entry = files[i] if i < len(files) else ""
            action.setVisible(bool(entry))
            action.setData(entry or None)
            action.setText(f"&{i + 1} {Path(entry).name}" if entry else "")
            action.setToolTip(entry)
            action.setStatusTip(entry)
        self._clear.setEnabled(bool(files))

    def _open(self, index: int) -> None:
        entry = self._files[index].data()
        if entry:
            self.fileChosen.emit(str(entry))


class DocumentWindow(QMainWindow):
    """A main window holding one protocol document: edits, undo, file, recent files.

    Parameters
    ----------
    settings
        What the window remembers (recent files, folders).
    experiment
        Protocol shown first (default: the paper's 25 → 50 Hz condition).
    parent
        Parent widget.

    Notes
    -----
    A subclass shows the experiment in its views by overriding :meth:`_show`, and
    connects the editor's ``valueChanged`` to :meth:`_on_value_changed`.
    """

    def __init__(
        self, settings: QSettings, experiment: Experiment | None, parent: QWidget | None
    ) -> None:
        super().__init__(parent)
        self._settings = AppSettings(settings)
        self._path: Path | None = None
        self._applying = False
        self._undo = QUndoStack(self)
        self._undo.cleanChanged.connect(self._on_clean_changed)
        first = experiment if experiment is not None else paper_condition(25, 50)
        self._editor = ExperimentEditor(first)
        self._editor.setOrigin(first)  # from the library: edits give it a new identity
        self._shown = self._editor.value()
        self._status = QStatusBar()
        self._recent_menu = RecentFilesMenu(self)
        self._recent_menu.fileChosen.connect(self.openFile)
        self._recent_menu.clearChosen.connect(self.clearRecentFiles)
        self._fill_recent_menu()

    def _show(self, experiment: Experiment) -> None:
        """Show ``experiment`` in the window's views (the subclass's previews)."""

    # ------------------------------------------------------------------ document

    @property
    def editor(self) -> ExperimentEditor:
        """The experiment editor."""
        return self._editor

    @property
    def undoStack(self) -> QUndoStack:
        """The undo history of the open protocol."""
        return self._undo

    @property
    def appSettings(self) -> AppSettings:
        """What the window remembers (recent files, rig file, folders, layout)."""
        return self._settings

    @property
    def recentMenu(self) -> QMenu:
        """The *Open Recent* menu."""
        return self._recent_menu

    def showStatus(self, message: str, timeout_ms: int = 0) -> None:
        """Show ``message`` in the status bar (for ``timeout_ms``; 0: until replaced)."""
        if message:
            self._status.showMessage(message, timeout_ms)
        else:
            self._status.clearMessage()

    def currentPath(self) -> Path | None:
        """The file of the open protocol (``None`` if never saved)."""
        return self._path

    def experiment(self) -> Experiment:
        """The protocol shown (the last valid one)."""
        return self._editor.value()

    def applyExperiment(self, experiment: Experiment, text: str) -> None:
        """Show ``experiment`` as one undoable edit named ``text`` (e.g. calibrated currents).

        The document becomes modified; *Undo* goes back to the protocol before it.
        """
        self._editor.commitPending()
        before = self._shown
        if experiment == before:
            return
        self._apply(experiment)
        self._undo.push(_EditCommand(self._apply, before, self._shown, None, text))
        self.showStatus(text, 4000)

    # ------------------------------------------------------------------ questions (overridable)

    def askUnsavedChanges(self) -> UnsavedAnswer:
        """Ask whether to save the changes before they are lost."""
        name = self._display_name()
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            f"Save the changes to {name} first?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return "save"
        if answer == QMessageBox.StandardButton.Discard:
            return "discard"
        return "cancel"

    def askOpenPath(self) -> str | None:
        """Ask which protocol file to open (``None``: cancelled)."""
        path, _ = QFileDialog.getOpenFileName(self, "Open protocol", self._start_dir(), _FILTER)
        return path or None

    def askSavePath(self) -> str | None:
        """Ask where to save the protocol (``None``: cancelled)."""
        suggested = self._path or Path(self._start_dir(saving=True)) / self._suggested_name()
        path, _ = QFileDialog.getSaveFileName(self, "Save protocol as", str(suggested), _FILTER)
        if path and not Path(path).suffix:
            path += ".json"
        return path or None

    def showError(self, title: str, message: str) -> None:
        """Tell the user something went wrong (one sentence)."""
        QMessageBox.critical(self, title, message)

    # ------------------------------------------------------------------ file commands

    def newProtocol(self) -> bool:
        """Start over from the paper's 25 → 50 Hz condition, after the unsaved-changes prompt."""
        if not self.maybeSave():
            return False
        self._load_document(paper_condition(25, 50), None)
        self.showStatus("New protocol (paper condition 25 → 50 Hz)", 4000)
        return True

    def open(self) -> bool:
        """Ask for a file and open it (after the unsaved-changes prompt)."""
        if not self.maybeSave():
            return False
        path = self.askOpenPath()
        return path is not None and self.openFile(path, ask=False)

    def openFile(self, path: str | os.PathLike[str], *, ask: bool = True) -> bool:
        """Open the protocol in ``path``.

        A file that cannot be used is reported with :meth:`showError`, and the current
        protocol stays as it is.

        Parameters
        ----------
        path
            Protocol file to open.
        ask
            Ask about unsaved changes first.

        Returns
        -------
        bool
            Whether the file was opened.
        """
        if ask and not self.maybeSave():
            return False
        try:
            experiment = load(path)
        except ProtocolFileError as exc:
            if not Path(path).exists():
                self._forget_recent(Path(path))
            self.showStatus(f"Could not open {Path(path).name}", 6000)
            self.showError("Cannot open protocol", str(exc))
            return False
        self.setDocument(experiment, Path(path))
        self.showStatus(f"Opened {path}", 4000)
        return True

    def setDocument(self, experiment: Experiment, path: Path | None = None) -> None:
        """Show ``experiment`` as a fresh document, read from ``path`` (no prompt).

        The undo history is cleared and ``path`` (if any) becomes the most recent file.
        """
        self._load_document(experiment, path)
        if path is not None:
            self._remember_recent(path)

    def save(self) -> bool:
        """Save to the current file (ask for one if there is none)."""
        self._editor.commitPending()
        if self._path is None:
            return self.saveAs()
        return self._write(self._path)

    def saveAs(self) -> bool:
        """Ask for a file and save the protocol there."""
        self._editor.commitPending()
        if not self._check_savable():
            return False
        path = self.askSavePath()
        if path is None:
            return False
        if not self._write(Path(path)):
            return False
        self._path = Path(path)
        self._remember_recent(self._path)
        self._update_title()
        return True

    def maybeSave(self) -> bool:
        """Ask about unsaved changes; ``True`` if it is fine to replace the protocol."""
        self._editor.commitPending()
        if not self.isWindowModified():
            return True
        answer = self.askUnsavedChanges()
        if answer == "save":
            return self.save()
        return answer == "discard"

    # ------------------------------------------------------------------ recent files

    def recentFiles(self) -> list[str]:
        """Recently opened or saved files, most recent first."""
        return self._settings.recentFiles()

    def clearRecentFiles(self) -> None:
        """Forget the recent files."""
        self._set_recent([])

    def _set_recent(self, paths: list[str]) -> None:
        self._settings.setRecentFiles(paths)
        self._fill_recent_menu()

    def _remember_recent(self, path: Path) -> None:
        entry = str(path.resolve())
        self._settings.setProtocolFolder(path.resolve().parent)
        self._set_recent([entry, *[p for p in self.recentFiles() if p != entry]])

    def _forget_recent(self, path: Path) -> None:
        entry = str(path.resolve())
        self._set_recent([p for p in self.recentFiles() if p != entry])

    def _fill_recent_menu(self) -> None:
        self._recent_menu.setFiles(self.recentFiles())

    def _on_value_changed(self, experiment: Experiment) -> None:
        if self._applying:
            return  # _apply shows it
        self._show(experiment)
        edit = self._editor.lastEdit()
        before, self._shown = self._shown, experiment
        self._undo.push(_EditCommand(self._apply, before, experiment, edit.mergeKey, edit.label))

    def _apply(self, experiment: Experiment) -> None:
        """Show ``experiment`` without recording an edit (undo, redo, loading)."""
        self._applying = True
        try:
            self._editor.setValue(experiment)
        finally:
            self._applying = False
        self._shown = self._editor.value()
        self._show(self._shown)

    def _on_clean_changed(self, clean: bool) -> None:
        self.setWindowModified(not clean)

    def _on_problems(self, problems: list[object]) -> None:
        if problems:
            self.showStatus(
                f"{len(problems)} problem(s): the preview shows the last valid protocol"
            )
        else:
            self.showStatus("")

    def _load_document(self, experiment: Experiment, path: Path | None) -> None:
        self._editor.setOrigin(None)
        self._apply(experiment)
        self._editor.setOrigin(self._editor.value())  # edits give it a new identity
        self._undo.clear()  # also makes the stack clean
        self._path = path
        self.setWindowModified(False)
        self._update_title()

    def _check_savable(self) -> bool:
        problems = self._editor.problems()
        if not problems:
            return True
        first = problems[0]
        where = self._editor.describe(first.path) if first.path else "The protocol"
        self.showError(
            "Cannot save yet",
            f"{where}: {first.message}. Fix the fields marked in red before saving.",
        )
        return False

    def _write(self, path: Path) -> bool:
        if not self._check_savable():
            return False
        try:
            save(self._editor.value(), path)
        except OSError as exc:
            self.showError("Cannot save protocol", f"{path}: {exc.strerror or exc}")
            return False
        self._undo.setClean()
        self.setWindowModified(False)
        self.showStatus(f"Saved {path}", 4000)
        return True

    def _display_name(self) -> str:
        return self._path.name if self._path is not None else "Untitled"

    def _suggested_name(self) -> str:
        name = self._editor.value().metadata.name
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name.lower()).strip("-")
        return f"{safe or 'protocol'}.json"

    def _start_dir(self, *, saving: bool = False) -> str:
        if self._path is not None and self._path.parent.is_dir():
            return str(self._path.parent)
        folder = self._settings.saveFolder() if saving else self._settings.openFolder()
        return str(folder)

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self._display_name()}[*] — {_APP_TITLE}")
