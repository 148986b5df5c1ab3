"""An opened protocol that is edited gets its own identity in the designer."""

from __future__ import annotations

import json
from pathlib import Path

from PyQt6.QtWidgets import QAbstractSpinBox, QLineEdit, QPlainTextEdit, QTextEdit
from pytestqt.qtbot import QtBot

from rigctl import protocol as proto
from rigctl.gui import MainWindow
from tests.conftest import PROTOCOLS
from tests.gui.conftest import Dialogs, type_into


def _edit_repeats(qtbot: QtBot, window: MainWindow, value: str) -> None:
    widget = window.editor.fieldWidget("induction.repeats")
    assert isinstance(widget, QAbstractSpinBox)
    type_into(qtbot, widget, value)


def _shown(window: MainWindow, path: str) -> str:
    widget = window.editor.fieldWidget(path)
    if isinstance(widget, QLineEdit):
        return widget.text()
    assert isinstance(widget, QPlainTextEdit | QTextEdit)
    return widget.toPlainText()


def test_editing_the_library_protocol_derives_a_new_one(qtbot: QtBot, window: MainWindow) -> None:
    original = window.experiment()
    assert original == proto.paper_condition(25, 50)
    _edit_repeats(qtbot, window, "5")
    exp = window.experiment()
    assert exp.induction.repeats == 5
    meta = exp.metadata
    assert meta.name == "Theta 25-50 Hz (modified)"
    assert meta.derived_from is not None and meta.derived_from.name == "Theta 25-50 Hz"
    assert meta.derived_from.content_hash == proto.content_hash(original)
    assert proto.content_hash(exp) != proto.content_hash(original)
    assert meta.created is not None and meta.created != original.metadata.created
    assert "Expected" not in meta.description
    assert _shown(window, "metadata.name") == meta.name  # the field shows it at once
    assert "Expected" not in _shown(window, "metadata.description")
    created = meta.created
    _edit_repeats(qtbot, window, "6")  # a second edit keeps the identity
    assert window.experiment().metadata.created == created
    assert window.experiment().metadata.name == meta.name
    window.undoStack.undo()
    window.undoStack.undo()  # back to the protocol as opened, identity included
    assert window.experiment() == original


def test_an_opened_file_edited_and_saved_names_its_source(
    qtbot: QtBot, window: MainWindow, dialogs: Dialogs, tmp_path: Path
) -> None:
    source = PROTOCOLS / "theta-50-25.json"
    assert window.openFile(source, ask=False)
    opened = proto.load(source)
    assert window.experiment() == opened  # opening alone changes nothing
    _edit_repeats(qtbot, window, "8")
    dialogs.save_path = str(tmp_path / "mine.json")
    assert window.saveAs()
    saved = json.loads((tmp_path / "mine.json").read_text(encoding="utf-8"))
    meta = saved["metadata"]
    assert meta["name"] == f"{opened.metadata.name} (modified)"
    assert meta["derived_from"] == {
        "name": opened.metadata.name,
        "content_hash": proto.content_hash(opened),
    }
    assert "Expected" not in meta["description"]
    # a protocol renamed by the user keeps the user's name
    name = window.editor.fieldWidget("metadata.name")
    assert isinstance(name, QLineEdit)
    type_into(qtbot, name, "Short windows")
    _edit_repeats(qtbot, window, "9")
    assert window.experiment().metadata.name == "Short windows"
