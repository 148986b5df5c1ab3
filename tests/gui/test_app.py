"""The composition root: ``run_gui`` with ``--screenshot``."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from PyQt6.QtCore import QSettings, QSize, QTimer
from PyQt6.QtGui import QGuiApplication, QImage
from PyQt6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from rigctl import protocol as proto
from rigctl.app import run_gui
from rigctl.data import resolve_rig
from rigctl.gui import MainWindow
from rigctl.gui.layout import fit_size
from rigctl.gui.rig.panel import RigPanel
from rigctl.gui.settings import AppSettings
from rigctl.paths import DATA_ROOT_ENV
from tests.conftest import PROTOCOLS


def test_screenshot_of_the_default_protocol(
    qtbot: QtBot, settings: QSettings, tmp_path: Path
) -> None:
    target = tmp_path / "designer.png"
    assert run_gui(screenshot=str(target), settings=settings) == 0
    assert target.read_bytes().startswith(b"\x89PNG")
    image = QImage(str(target))
    screen = QGuiApplication.primaryScreen()
    assert screen is not None  # the first opening fits the screen (the offscreen one here)
    assert QSize(image.width(), image.height()) == fit_size(screen.availableGeometry().size())


def test_screenshots_of_every_tab_at_a_given_size(
    qtbot: QtBot, settings: QSettings, tmp_path: Path
) -> None:
    pattern = str(tmp_path / "shot-{tab}.png")
    assert run_gui(screenshot=pattern, settings=settings, size=(1280, 800)) == 0
    names = sorted(p.name for p in tmp_path.glob("shot-*.png"))
    tabs = ["cell", "protocol", "results", "rig", "run"]
    assert names == [f"shot-{tab}.png" for tab in tabs]
    for name in names:
        image = QImage(str(tmp_path / name))
        assert (image.width(), image.height()) == (1280, 800)
    assert AppSettings(settings).windowGeometry() is None  # the user's layout is kept


def test_event_loops_still_run_after_a_screenshot(
    qtbot: QtBot, settings: QSettings, tmp_path: Path
) -> None:
    # The screenshot closes the window (Qt then posts a Quit event) and ends the loop;
    # a Quit event left behind would make every later event loop return at once, and a
    # run started afterwards in the same process would never report its result.
    assert run_gui(screenshot=str(tmp_path / "a.png"), settings=settings) == 0
    app = QApplication.instance()
    assert app is not None
    app.processEvents()  # delivers whatever the screenshot left queued
    timer = QTimer()
    timer.setSingleShot(True)
    with qtbot.waitSignal(timer.timeout, timeout=5000):
        timer.start(50)
    started = time.monotonic()
    qtbot.wait(100)
    assert time.monotonic() - started >= 0.09


def test_the_rig_file_and_data_folder_are_remembered(
    qtbot: QtBot, settings: QSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)
    rig = tmp_path / "my-rig.toml"
    rig.write_bytes(resolve_rig("sim").read_bytes())
    folder = tmp_path / "data"
    folder.mkdir()
    remembered = AppSettings(settings)
    remembered.setRigFile(rig)
    remembered.setDataFolder(folder)
    opened: list[Path] = []
    set_rig_file = RigPanel.setRigFile

    def record(panel: RigPanel, path: str | os.PathLike[str]) -> bool:
        opened.append(Path(path))
        return set_rig_file(panel, path)

    monkeypatch.setattr(RigPanel, "setRigFile", record)
    proposed: list[Path] = []

    def close_soon(window: MainWindow) -> None:
        run = window.runPanel
        assert run is not None
        proposed.append(run.newDataFolder())
        window.close()

    monkeypatch.setattr(MainWindow, "showAbout", close_soon)
    QTimer.singleShot(0, lambda: _main_window().showAbout())
    assert run_gui(settings=settings) == 0
    assert opened == [rig]
    assert remembered.rigFile() == rig  # opened again, so still the one to open next
    [data_folder] = proposed
    assert data_folder.parent == folder


def _main_window() -> MainWindow:
    [window] = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
    return window


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
