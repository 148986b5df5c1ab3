"""``rigctl gui --rig FILE`` and the data root reach the window the composition root builds.

The windows are closed as soon as they are built (ending ``run_gui``'s event loop) rather
than through ``--screenshot``: on main, a screenshot run followed by
``tests/gui/test_main_window_run.py`` leaves that test's fast run without a result.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PyQt6.QtCore import QSettings, QTimer
from pytestqt.qtbot import QtBot

from rigctl import app
from rigctl.cli import main
from rigctl.data import rig_path
from rigctl.engine import RigSession
from rigctl.gui import MainWindow


def _record_windows(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path | None, Path | None]]:
    seen: list[tuple[Path | None, Path | None]] = []

    def make(*args: object, **kwargs: object) -> MainWindow:
        window = MainWindow(*args, **kwargs)  # type: ignore[arg-type]
        assert window.rigPanel is not None and window.runPanel is not None
        session = kwargs["session"]
        assert isinstance(session, RigSession)
        seen.append((session.path, window.runPanel.dataFolder()))
        QTimer.singleShot(0, window.close)  # ends run_gui's event loop
        return window

    monkeypatch.setattr(app, "MainWindow", make)
    return seen


def test_gui_opens_the_rig_and_data_root_it_is_given(
    qtbot: QtBot, settings: QSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _record_windows(monkeypatch)
    rig = tmp_path / "my-rig.toml"
    shutil.copy(rig_path("sim"), rig)
    assert app.run_gui(settings=settings, rig=str(rig), data_root=str(tmp_path / "d")) == 0
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
    assert main(["gui", "--rig", "sim"]) == 0
    assert main(["--data-root", str(tmp_path / "opt")]) == 0  # no command: the app
    [(rig1, folder1), (rig2, folder2)] = seen
    assert rig1 == rig2 == rig_path("sim")
    assert folder1 is not None and folder1.parent == tmp_path / "env" / "recordings"
    assert folder2 is not None and folder2.parent == tmp_path / "opt" / "recordings"
