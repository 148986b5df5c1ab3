"""The composition root: ``run_gui`` with ``--screenshot``."""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import QSettings
from PyQt6.QtGui import QImage
from pytestqt.qtbot import QtBot

from rigctl import protocol as proto
from rigctl.app import run_gui
from rigctl.gui import MainWindow
from tests.conftest import PROTOCOLS


def test_screenshot_of_the_default_protocol(
    qtbot: QtBot, settings: QSettings, tmp_path: Path
) -> None:
    target = tmp_path / "designer.png"
    assert run_gui(screenshot=str(target), settings=settings) == 0
    assert target.read_bytes().startswith(b"\x89PNG")
    image = QImage(str(target))
    assert (image.width(), image.height()) == (1800, 1050)


def test_screenshot_of_a_file_remembers_it(
    qtbot: QtBot, settings: QSettings, tmp_path: Path
) -> None:
    target = tmp_path / "designer.png"
    path = PROTOCOLS / "theta-50-25.json"
    assert run_gui(str(path), screenshot=str(target), settings=settings) == 0
    assert target.stat().st_size > 10_000
    assert settings.value("recentFiles", [], type=list) == [str(path.resolve())]


def test_screenshot_of_a_bad_file_fails_with_one_line(
    qtbot: QtBot, settings: QSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    target = tmp_path / "designer.png"
    assert run_gui(str(bad), screenshot=str(target), settings=settings) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(str(bad)) and "not valid JSON" in err and "\n" not in err
    assert not target.exists()


def test_a_bad_file_opens_the_default_protocol_and_says_why(
    qtbot: QtBot, settings: QSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}', encoding="utf-8")
    seen: list[tuple[str, proto.Experiment, str]] = []

    def show_error(window: MainWindow, title: str, message: str) -> None:
        seen.append((title, window.experiment(), message))
        window.close()  # ends the event loop of run_gui

    monkeypatch.setattr(MainWindow, "showError", show_error)
    assert run_gui(str(bad), settings=settings) == 0
    [(title, shown, message)] = seen
    assert title == "Cannot open protocol"
    assert shown == proto.paper_condition(25, 50)
    assert message.startswith(str(bad)) and "not a rigctl experiment file" in message
