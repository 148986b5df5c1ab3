"""GUI test fixtures: offscreen Qt, temporary settings, and no modal dialog ever."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest
from PyQt6.QtCore import QSettings, Qt
from PyQt6.QtWidgets import QAbstractSpinBox, QFileDialog, QLineEdit, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from rigctl.gui import ExperimentEditor, MainWindow, QuitAnswer, UnsavedAnswer
from rigctl.protocol import paper_condition


def _no_dialog(*args: Any, **kwargs: Any) -> NoReturn:
    raise AssertionError("a modal dialog was opened during a test")


@pytest.fixture(autouse=True)
def no_modal_dialogs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail (instead of hanging) if anything opens a modal dialog."""
    for name in ("question", "critical", "warning", "information", "exec"):
        monkeypatch.setattr(QMessageBox, name, _no_dialog)
    for name in ("getOpenFileName", "getSaveFileName", "exec"):
        monkeypatch.setattr(QFileDialog, name, _no_dialog)


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    """Settings in a temporary INI file (never the user's)."""
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@dataclass
class Dialogs:
    """Scripted answers to the window's questions, and a record of what it said."""

    unsaved_answer: UnsavedAnswer = "cancel"
    quit_answer: QuitAnswer = "abort"
    quit_prompts: int = 0
    open_path: str | None = None
    save_path: str | None = None
    prompts: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)

    def install(self, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
        def ask_unsaved() -> UnsavedAnswer:
            self.prompts += 1
            return self.unsaved_answer

        def ask_quit() -> QuitAnswer:
            self.quit_prompts += 1
            return self.quit_answer

        monkeypatch.setattr(window, "askUnsavedChanges", ask_unsaved)
        monkeypatch.setattr(window, "askQuitDuringRun", ask_quit)
        monkeypatch.setattr(window, "askOpenPath", lambda: self.open_path)
        monkeypatch.setattr(window, "askSavePath", lambda: self.save_path)
        monkeypatch.setattr(window, "showError", lambda t, m: self.errors.append((t, m)))


@pytest.fixture
def dialogs() -> Dialogs:
    return Dialogs()


@pytest.fixture
def window(
    qtbot: QtBot, settings: QSettings, dialogs: Dialogs, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MainWindow]:
    """The designer window with the paper's 25 -> 50 Hz condition, shown offscreen."""
    win = MainWindow(settings)
    dialogs.install(win, monkeypatch)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    dialogs.unsaved_answer = "discard"  # let pytest-qt close it


@pytest.fixture
def editor(qtbot: QtBot) -> ExperimentEditor:
    """An editor showing the paper's 25 -> 50 Hz condition."""
    ed = ExperimentEditor(paper_condition(25, 50))
    qtbot.addWidget(ed)
    return ed


def keys(qtbot: QtBot, widget: QWidget, text: str) -> None:
    """Type ``text`` into ``widget`` (a typed wrapper of pytest-qt's ``keyClicks``)."""
    qtbot.keyClicks(widget, text)  # type: ignore[no-untyped-call]


def key(qtbot: QtBot, widget: QWidget, which: Qt.Key) -> None:
    """Press and release one key on ``widget``."""
    qtbot.keyClick(widget, which)  # type: ignore[no-untyped-call]


def type_into(qtbot: QtBot, widget: QAbstractSpinBox | QLineEdit, text: str) -> None:
    """Replace the text of ``widget`` by typing ``text``, then press Enter."""
    widget.setFocus()
    widget.selectAll()
    if text:
        keys(qtbot, widget, text)
    else:
        key(qtbot, widget, Qt.Key.Key_Backspace)
    key(qtbot, widget, Qt.Key.Key_Return)
