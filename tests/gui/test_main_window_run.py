"""The Run tab of the main window: a recording of the window's protocol on the rig tab's rig."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from rigctl import protocol as proto
from rigctl.engine import RigSession, RunState, load_recording
from rigctl.gui import MainWindow
from rigctl.hardware import SimRig
from tests.gui.conftest import Dialogs


@pytest.fixture
def session() -> RigSession:
    return RigSession()


@pytest.fixture
def run_window(
    qtbot: QtBot,
    settings: QSettings,
    dialogs: Dialogs,
    monkeypatch: pytest.MonkeyPatch,
    session: RigSession,
) -> Iterator[MainWindow]:
    win = MainWindow(settings, session=session)
    dialogs.install(win, monkeypatch)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    dialogs.unsaved_answer = "discard"
    win.close()


def test_a_fast_recording_from_the_run_tab(
    qtbot: QtBot,
    run_window: MainWindow,
    session: RigSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    win = run_window
    run = win.runPanel
    rig_tab = win.rigPanel
    assert run is not None and rig_tab is not None
    exp = proto.paper_condition(50, 25)
    win.setDocument(exp.replace(probes=exp.probes.replace(baseline_min=1, followup_min=2)))
    confirmations: list[object] = []

    def confirm(details: object) -> bool:
        confirmations.append(details)
        return True

    monkeypatch.setattr(run, "confirmStart", confirm)
    monkeypatch.setattr(run, "askDataFolder", lambda start: tmp_path / "rec")
    run.chooseDataFolder()
    run.start()
    qtbot.waitUntil(lambda: not rig_tab.isEnabled(), timeout=10_000)  # the rig has one user
    qtbot.waitUntil(lambda: run.lastResult() is not None, timeout=30_000)
    result = run.lastResult()
    assert result is not None and result.state == RunState.DONE
    assert confirmations and rig_tab.isEnabled()
    rec = load_recording(tmp_path / "rec")
    assert len(rec.sweeps) == 3 + 1 + 6
    assert proto.loads(rec.protocol_json()).induction == exp.induction
    rig = session.rig
    assert isinstance(rig, SimRig) and rig.outputs_at_rest and not session.busy


def test_the_run_tab_is_refused_while_the_rig_tab_has_the_rig(
    run_window: MainWindow,
    session: RigSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = run_window.runPanel
    assert run is not None
    monkeypatch.setattr(run, "confirmStart", lambda details: True)
    monkeypatch.setattr(run, "askDataFolder", lambda start: tmp_path / "rec")
    run.chooseDataFolder()
    lease = session.lease("induction sweep")  # what the Rig tab holds during a dry run
    assert not run.start()
    message = run.findChild(QLabel, "runMessage")
    assert message is not None and message.text() == (
        "Cannot start: the rig is in use by the induction sweep: wait for it to finish or "
        "abort it before you start the recording"
    )
    assert not run.isRunning() and not (tmp_path / "rec").exists()
    assert session.holder == "induction sweep"
    lease.release()


def test_the_rig_tab_fits_a_1080_line_screen_without_scrolling(
    qtbot: QtBot, run_window: MainWindow
) -> None:
    # The live trace asks for little and takes what the tables leave: at 1920x1080 (a
    # window of 1920x1000 inside the desktop's bars) the whole tab shows at once.
    run_window.resize(1920, 1000)
    run_window.selectTab("Rig")
    page = run_window.tabPage("Rig")
    viewport = page.viewport()
    assert viewport is not None
    qtbot.waitUntil(lambda: run_window.width() == 1920 and viewport.height() > 800)
    bar = page.verticalScrollBar()
    assert bar is not None
    qtbot.waitUntil(lambda: bar.maximum() == 0, timeout=2000)
