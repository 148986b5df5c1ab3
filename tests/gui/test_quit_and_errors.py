"""Closing the window during a recording, confirming Abort, and unhandled exceptions."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PyQt6.QtCore import QSettings, QTimer
from pytestqt.qtbot import QtBot

from rigctl import protocol as proto
from rigctl.engine import RigSession, RunResult, RunState, load_recording
from rigctl.engine.session import RigOptions
from rigctl.gui import MainWindow
from rigctl.gui.errors import ErrorReporter, in_acquisition_path
from rigctl.hardware import RigDefinition, load_rig
from rigctl.logs import setup_logging
from tests.engine.rigs import GatedRig, short
from tests.gui.conftest import Dialogs

TIMEOUT_MS = 20_000


@dataclass
class GatedRigs:
    """The rig factory of the window: every rig it opens is gated by the test."""

    rigs: list[GatedRig] = field(default_factory=list)

    def __call__(self, _definition: RigDefinition, _options: RigOptions) -> GatedRig:
        rig = GatedRig()
        self.rigs.append(rig)
        return rig

    def started(self) -> GatedRig:
        """Wait until the next sweep has started; the rig it runs on."""
        rig = self.rigs[-1]
        assert rig.started.acquire(timeout=5)
        return rig


@pytest.fixture
def rigs() -> GatedRigs:
    return GatedRigs()


@pytest.fixture
def win(
    qtbot: QtBot,
    settings: QSettings,
    dialogs: Dialogs,
    rigs: GatedRigs,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[MainWindow]:
    session = RigSession(rigs)
    window = MainWindow(settings, session=session)
    dialogs.install(window, monkeypatch)
    qtbot.addWidget(window)
    window.setDocument(short(proto.paper_condition(25, 50)))
    run = window.runPanel
    assert run is not None
    monkeypatch.setattr(run, "confirmStart", lambda _c: True)
    monkeypatch.setattr(run, "askDataFolder", lambda _start: tmp_path / "rec")
    run.chooseDataFolder()
    window.show()
    qtbot.waitExposed(window)
    yield window
    dialogs.quit_answer = "abort"
    dialogs.unsaved_answer = "discard"
    window.close()
    for rig in rigs.rigs:
        rig.release(100)
    session.close()
    alive = [t.name for t in threading.enumerate() if t.name.startswith(("rigctl-r", "rigctl-w"))]
    assert alive in ([], ["rigctl-rate-map"]), alive


def _start(win: MainWindow, rigs: GatedRigs) -> GatedRig:
    run = win.runPanel
    assert run is not None and run.start()
    return rigs.started()


# --------------------------------------------------------------------- close prompt


def test_closing_without_a_recording_does_not_ask(win: MainWindow, dialogs: Dialogs) -> None:
    assert win.close()
    assert dialogs.quit_prompts == 0


def test_close_keep_recording_leaves_the_run_going(
    win: MainWindow, dialogs: Dialogs, rigs: GatedRigs
) -> None:
    rig = _start(win, rigs)
    dialogs.quit_answer = "keep"
    assert not win.close()
    assert dialogs.quit_prompts == 1 and win.isVisible()
    run = win.runPanel
    assert run is not None and run.isRunning() and rig.outputs_active


def test_close_stop_after_this_sweep_finishes_it_then_closes(
    qtbot: QtBot, win: MainWindow, dialogs: Dialogs, rigs: GatedRigs
) -> None:
    rig = _start(win, rigs)
    run = win.runPanel
    assert run is not None
    dialogs.quit_answer = "stop"
    dialogs.unsaved_answer = "discard"
    with qtbot.waitSignal(run.runFinished, timeout=TIMEOUT_MS) as blocker:
        assert not win.close()  # not yet: the sweep in flight finishes first
        assert win.isVisible() and dialogs.quit_prompts == 1
        rig.release(1)
    result: RunResult = blocker.args[0]
    assert result.state == RunState.STOPPED and result.sweeps == 1
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=TIMEOUT_MS)
    assert load_recording(result.folder).status == "stopped"
    assert not rig.outputs_active and rig.inner.outputs_at_rest


def test_quit_abort_now_cuts_the_sweep(win: MainWindow, dialogs: Dialogs, rigs: GatedRigs) -> None:
    rig = _start(win, rigs)
    run = win.runPanel
    assert run is not None
    dialogs.quit_answer = "abort"
    dialogs.unsaved_answer = "discard"
    win.quitAction.trigger()
    assert not win.isVisible() and dialogs.quit_prompts == 1
    assert not rig.outputs_active and rig.inner.outputs_at_rest
    rec = load_recording(run.dataFolder() or Path())
    assert rec.status == "aborted"


# --------------------------------------------------------------------- abort confirm


def test_abort_button_asks_first(
    qtbot: QtBot, win: MainWindow, rigs: GatedRigs, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = _start(win, rigs)
    run = win.runPanel
    assert run is not None
    answers: list[bool] = [False, True]
    asked: list[bool] = []

    def confirm() -> bool:
        asked.append(True)
        return answers.pop(0)

    monkeypatch.setattr(run, "confirmAbort", confirm)
    run.abortButton.click()  # "Keep recording"
    assert len(asked) == 1 and run.isRunning() and run.abortButton.isEnabled()
    assert rig.outputs_active
    with qtbot.waitSignal(run.runFinished, timeout=TIMEOUT_MS) as blocker:
        run.abortButton.click()  # "Abort now"
    assert len(asked) == 2
    assert blocker.args[0].state == RunState.ABORTED
    assert not rig.outputs_active


# --------------------------------------------------------------------- exceptions


@pytest.fixture
def reporter(
    win: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ErrorReporter]:
    monkeypatch.setenv("RIGCTL_LOG_DIR", str(tmp_path / "logs"))
    setup_logging()
    hooks = (sys.excepthook, threading.excepthook)
    rep = ErrorReporter(win, rest_outputs=win.restOutputs)
    rep.install()
    yield rep
    rep.uninstall()
    assert (sys.excepthook, threading.excepthook) == hooks
    box = rep.messageBox()
    if box is not None:
        box.close()


def _log_text(tmp_path: Path) -> str:
    for handler in logging.getLogger("rigctl").handlers:
        handler.flush()
    return (tmp_path / "logs" / "rigctl.log").read_text(encoding="utf-8")


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_slot_is_logged_shown_and_the_app_keeps_running(
    qtbot: QtBot, win: MainWindow, reporter: ErrorReporter, tmp_path: Path
) -> None:
    def broken_slot() -> None:
        raise RuntimeError("a bug in a slot")

    with qtbot.waitSignal(reporter.reported, timeout=TIMEOUT_MS) as blocker:
        QTimer.singleShot(0, broken_slot)
    assert blocker.args == ["RuntimeError: a bug in a slot", False]  # not acquisition
    text = _log_text(tmp_path)
    assert "Traceback" in text and "RuntimeError: a bug in a slot" in text
    assert "broken_slot" in text
    box = reporter.messageBox()
    assert box is not None and box.isVisible() and not box.isModal()
    assert "a bug in a slot" in box.text()
    # the event loop goes on: the window still works
    fired: list[bool] = []
    QTimer.singleShot(0, lambda: fired.append(True))
    qtbot.waitUntil(lambda: bool(fired), timeout=TIMEOUT_MS)
    assert win.isVisible() and reporter.errorCount() == 1


@pytest.mark.qt_no_exception_capture
def test_an_error_in_an_acquisition_thread_puts_the_outputs_at_rest(
    qtbot: QtBot, win: MainWindow, reporter: ErrorReporter, rigs: GatedRigs, tmp_path: Path
) -> None:
    rig = _start(win, rigs)
    run = win.runPanel
    assert run is not None

    def fail() -> None:
        raise ValueError("the DAQ said no")

    worker = threading.Thread(target=fail, name="rigctl-runner-helper")
    with (
        qtbot.waitSignal(run.runFinished, timeout=TIMEOUT_MS) as finished,
        qtbot.waitSignal(reporter.reported, timeout=TIMEOUT_MS) as blocker,
    ):
        worker.start()
        worker.join()
    assert blocker.args == ["ValueError: the DAQ said no", True]
    assert finished.args[0].state == RunState.ABORTED
    assert not rig.outputs_active and rig.inner.outputs_at_rest
    assert "in thread rigctl-runner-helper" in _log_text(tmp_path)
    box = reporter.messageBox()
    assert box is not None and "put at rest" in box.informativeText()


def test_idle_rig_gets_safe_state(win: MainWindow, rigs: GatedRigs) -> None:
    win.restOutputs()
    assert rigs.rigs and rigs.rigs[-1].safe_calls >= 1


def test_acquisition_path_is_recognized_from_the_traceback() -> None:
    try:
        load_rig("/no/such/rig.toml")
    except Exception as exc:
        assert in_acquisition_path(exc.__traceback__)
    try:
        raise KeyError("plain")
    except KeyError as exc:
        assert not in_acquisition_path(exc.__traceback__)
        assert in_acquisition_path(exc.__traceback__, "rigctl-writer")
