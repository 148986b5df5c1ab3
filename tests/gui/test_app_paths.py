"""``rigctl gui --rig FILE`` and the data root reach the window the composition root builds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PyQt6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from rigctl import app
from rigctl.cli import main
from rigctl.data import rig_path
from rigctl.gui import MainWindow


def _record_windows(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path | None, Path | None]]:
    seen: list[tuple[Path | None, Path | None]] = []

    def make(*args: object, **kwargs: object) -> MainWindow:
        window = MainWindow(*args, **kwargs)  # type: ignore[arg-type]
        assert window.rigPanel is not None and window.runPanel is not None
        seen.append((window.rigPanel.rigPath(), window.runPanel.dataFolder()))
        return window

    monkeypatch.setattr(app, "MainWindow", make)
    return seen


def test_gui_opens_the_rig_and_data_root_it_is_given(
    qtbot: QtBot, settings: QSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _record_windows(monkeypatch)
    rig = tmp_path / "my-rig.toml"
    shutil.copy(rig_path("sim"), rig)
    shot = tmp_path / "shot.png"
    assert (
        app.run_gui(
            screenshot=str(shot), settings=settings, rig=str(rig), data_root=str(tmp_path / "d")
        )
        == 0
    )
    [(opened, folder)] = seen
    assert opened == rig
    assert folder is not None and folder.parent == tmp_path / "d" / "recordings"
    assert folder.name.startswith("theta-25-50-hz-") and not folder.exists()


def test_gui_command_passes_rig_name_and_data_root(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _record_windows(monkeypatch)
    monkeypatch.setenv("RIGCTL_DATA_ROOT", str(tmp_path / "env"))
    monkeypatch.setattr(
        app, "QSettings", lambda: QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    )
    shot = str(tmp_path / "shot.png")
    assert main(["gui", "--rig", "sim", "--screenshot", shot]) == 0
    assert main(["--data-root", str(tmp_path / "opt"), "gui", "--screenshot", shot]) == 0
    [(rig1, folder1), (rig2, folder2)] = seen
    assert rig1 == rig2 == rig_path("sim")
    assert folder1 is not None and folder1.parent == tmp_path / "env" / "recordings"
    assert folder2 is not None and folder2.parent == tmp_path / "opt" / "recordings"
