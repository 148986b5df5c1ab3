"""The Cell tab: a set-up on the simulated rig up to the recording start, on a virtual clock."""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QApplication, QTabWidget
from pytestqt.qtbot import QtBot

from rigctl import protocol as proto
from rigctl.engine import RigSession
from rigctl.engine.session import RigBusyError
from rigctl.engine.setup import ProbeOutcome, SearchSettings, SetupRecord
from rigctl.engine.setup_run import VirtualClock
from rigctl.engine.slicelog import SLICE_LOG_NAME, SliceLog
from rigctl.engine.testpulse import TestPulse, TestPulseSettings
from rigctl.gui import MainWindow
from rigctl.gui.cell.panel import HOLDER, CellPanel
from rigctl.gui.cell.views import BIG_POINT_SIZE, clock_text, probe_text
from rigctl.hardware import PreparedSweep, RigDefinition, RigError, SimRig, SweepResult
from rigctl.hardware.base import ChunkCallback
from rigctl.paths import DATA_ROOT_ENV
from tests.gui.conftest import Dialogs

TIMEOUT_MS = 20_000
SIM_RIG = Path(__file__).resolve().parents[2] / "rigctl" / "data" / "rigs" / "sim.toml"


class FlakyRig(SimRig):
    """The simulated rig, whose sweeps fail (mid-sweep, outputs driven) when told to."""

    fail = False
    calls = 0
    fail_from_call: int | None = None
    park: threading.Event | None = None  # set: the next sweep parks until abort()
    parked = threading.Event()

    def run(
        self,
        prepared: PreparedSweep,
        on_chunk: ChunkCallback | None = None,
        *,
        at_s: float | None = None,
    ) -> SweepResult:
        self.calls += 1
        if self.park is not None:
            self.output_pa = -10.0  # mid-step
            self.parked.set()
            assert self.park.wait(10.0), "nobody aborted the parked sweep"
        if self.fail or (self.fail_from_call is not None and self.calls >= self.fail_from_call):
            self.output_pa, self.output_ttl = -10.0, 1  # the step is on when the DAQ stops
            raise RigError("the DAQ stopped (buffer underflow)")
        return super().run(prepared, on_chunk, at_s=at_s)

    def abort(self) -> None:
        if self.park is not None:
            self.park.set()  # like a DAQ read woken by the task's abort
        super().abort()


class Rigs:
    def __init__(self) -> None:
        self.made: list[FlakyRig] = []

    def __call__(self, definition: RigDefinition, options: Any) -> FlakyRig:
        rig = FlakyRig(definition, seed=3)
        self.made.append(rig)
        return rig


@pytest.fixture
def rigs() -> Rigs:
    return Rigs()


@pytest.fixture
def session(rigs: Rigs) -> Iterator[RigSession]:
    s = RigSession(rigs)
    s.open_file(None)
    yield s
    s.close()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(1000.0)


def make_panel(
    qtbot: QtBot, session: RigSession, clock: VirtualClock, root: Path, **kwargs: Any
) -> CellPanel:
    panel = CellPanel(
        session,
        lambda: proto.paper_condition(25, 50),
        data_root=root,
        clock=clock.now,
        sleep=clock.sleep,
        **kwargs,
    )
    qtbot.addWidget(panel)
    return panel


@pytest.fixture
def panel(
    qtbot: QtBot, session: RigSession, clock: VirtualClock, tmp_path: Path
) -> Iterator[CellPanel]:
    p = make_panel(qtbot, session, clock, tmp_path, limit_s=3600.0)
    yield p
    p.shutdown()


def pulse_a_while(qtbot: QtBot, panel: CellPanel, frames: int = 3) -> None:
    assert panel.startTestPulse(), panel.messageText()
    start = panel.pulseView.painted
    qtbot.waitUntil(lambda: panel.pulseView.painted >= start + frames, timeout=TIMEOUT_MS)
    panel.stopTestPulse()


def test_the_cell_tab_drives_a_set_up_to_the_recording_start(
    qtbot: QtBot, panel: CellPanel, session: RigSession
) -> None:
    handed: list[SetupRecord] = []
    panel.setupReady.connect(handed.append)
    calibrated: list[proto.Experiment] = []
    panel.calibratedExperiment.connect(calibrated.append)
    slice_id = panel.sliceBox.newSlice()
    assert slice_id == "slice-1"
    assert panel.wholeCell()
    assert panel.cell_id is not None

    pulse_a_while(qtbot, panel)
    assert not session.busy  # the rig is given back when the test pulse stops
    for key in ("rin_mohm", "vm_mv", "tau_ms", "series_resistance_mohm"):
        assert math.isfinite(float(panel.pulseView.text(key))), key
        assert panel.pulseView.note(key) == "valid", key
    big = panel.findChild(type(panel.clockView.value), "rinValue")
    assert big is not None and big.font().pointSize() == BIG_POINT_SIZE

    assert panel.calibrate()
    qtbot.waitUntil(lambda: not panel.isBusy(), timeout=TIMEOUT_MS)
    assert calibrated and "Calibrated" in panel.messageText()

    assert panel.controls.autoCheckBox.isEnabled()  # the simulated isolator has an analog input
    panel.controls.autoCheckBox.setChecked(True)
    assert panel.startSearch(), panel.messageText()
    qtbot.waitUntil(lambda: not panel.isBusy(), timeout=TIMEOUT_MS)
    assert "in the band" in panel.messageText()
    shown = panel.searchView.annotations()
    assert shown and all(t.endswith("µA") for t in shown)
    assert len(shown) == len(panel.searchView.outcomes)

    assert panel.startRecording(), panel.messageText()
    assert len(handed) == 1
    record = handed[0]
    assert record.slice_id == slice_id and record.cell_id == panel.cell_id
    assert record.stim_intensity_ua is not None and record.epsp_mv is not None
    assert 4.0 <= record.epsp_mv <= 6.0
    assert all(v is not None for v in record.currents_pa.values()) and record.currents_pa
    assert record.test_pulse["rin_mohm"]["valid"]
    assert record.setup_s > 0 and not record.over_limit
    assert not session.busy


def test_the_main_window_carries_the_set_up_into_the_recording(
    qtbot: QtBot,
    settings: QSettings,
    dialogs: Dialogs,
    monkeypatch: pytest.MonkeyPatch,
    session: RigSession,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path / "data"))
    win = MainWindow(settings, session=session)
    dialogs.install(win, monkeypatch)
    qtbot.addWidget(win)
    exp = proto.paper_condition(25, 50)
    win.setDocument(exp.replace(probes=exp.probes.replace(baseline_min=1, followup_min=1)))
    tabs = win.centralWidget()
    assert isinstance(tabs, QTabWidget)
    names = [tabs.tabText(i) for i in range(tabs.count())]
    assert names.index("Rig") < names.index("Cell") < names.index("Run")
    cell, run = win.tabPage("Cell").widget(), win.runPanel
    assert isinstance(cell, CellPanel) and run is not None
    cell.sliceBox.setSliceId("s9")
    assert cell.wholeCell()
    pulse_a_while(qtbot, cell)
    assert cell.startRecording(), cell.messageText()
    assert tabs.currentWidget() is win.tabPage("Run")  # handed over
    monkeypatch.setattr(run, "confirmStart", lambda details: True)
    monkeypatch.setattr(run, "askDataFolder", lambda start: tmp_path / "rec")
    run.chooseDataFolder()
    assert run.start()
    qtbot.waitUntil(lambda: run.lastResult() is not None, timeout=60_000)
    header = json.loads((tmp_path / "rec" / "recording.json").read_text("utf-8"))
    setup = header["setup"]
    assert setup["slice_id"] == "s9" and setup["cell_id"] == "cell-1"
    assert setup["test_pulse"]["rin_mohm"]["valid"] and setup["setup_s"] >= 0
    with SliceLog(tmp_path / "data") as log:
        (entry,) = log.cells("s9")
        assert entry.outcome == "recorded" and entry.recording == str(tmp_path / "rec")
        assert log.status("s9").induced
    assert run.setupRecord() is None  # the next recording needs a new set-up
    cell.shutdown()
    dialogs.unsaved_answer = "discard"
    win.close()


def test_the_five_minute_warning_on_a_fake_clock(
    qtbot: QtBot, session: RigSession, clock: VirtualClock, tmp_path: Path
) -> None:
    panel = make_panel(qtbot, session, clock, tmp_path)  # the default 5 min limit
    asked: list[list[str]] = []
    answer = [False]

    def confirm(warnings: list[str]) -> bool:
        asked.append(warnings)
        return answer[0]

    panel.confirmStart = confirm  # type: ignore[method-assign]
    assert panel.wholeCell()
    clock.t += 299.0
    panel.refresh()
    assert panel.clockView.value.text() == clock_text(299.0, 300.0)
    assert panel.clockView.warning.isHidden()
    clock.t += 2.0
    panel.refresh()
    qtbot.waitUntil(lambda: not panel.clockView.warning.isHidden(), timeout=TIMEOUT_MS)
    assert "over the 5 min limit" in panel.clockView.warning.text()

    handed: list[SetupRecord] = []
    panel.setupReady.connect(handed.append)
    assert not panel.startRecording()  # asked, and the user said no
    assert asked and "should not be used" in asked[-1][0]
    assert not handed and "not started" in panel.messageText()
    answer[0] = True
    assert panel.startRecording()
    assert handed[0].over_limit and handed[0].setup_s == pytest.approx(301.0)
    panel.shutdown()


def test_the_slice_log_warns_on_an_induced_slice(
    qtbot: QtBot, panel: CellPanel, tmp_path: Path
) -> None:
    asked: list[list[str]] = []

    def no(warnings: list[str]) -> bool:
        asked.append(warnings)
        return False

    panel.confirmStart = no  # type: ignore[method-assign]
    panel.sliceBox.setSliceId("s7")
    assert panel.wholeCell()
    first = panel.cell_id
    assert panel.startRecording() and asked == []  # nothing to ask on a fresh slice
    # The recording of the first cell started: the slice is induced from now on.
    panel.recordingStarted(type("Runner", (), {"folder": tmp_path / "rec"})())
    assert "received an induction" in panel.sliceBox.warning.text()
    assert panel.wholeCell()
    assert panel.cell_id != first
    assert not panel.startRecording()  # asked, answered no
    assert any("received an induction" in w for w in asked[-1])
    with SliceLog(tmp_path) as log:
        cells = log.cells("s7")
        assert [c.outcome for c in cells] == ["recorded", "setup"]
        assert cells[0].recording == str(tmp_path / "rec")
        assert log.status("s7").induced


def test_failed_cells_warn_to_change_the_slice(panel: CellPanel, tmp_path: Path) -> None:
    panel.sliceBox.setSliceId("s2")
    for _ in range(3):
        assert panel.wholeCell()
        panel.cellFailed("lost the seal")
    assert "3 failed set-ups" in panel.sliceBox.warning.text()
    assert "3 failed set-ups" in panel.sliceBox.status.text()


def test_a_failure_during_the_test_pulse_rests_the_outputs_and_the_tab_goes_on(
    qtbot: QtBot, panel: CellPanel, session: RigSession, rigs: Rigs
) -> None:
    rig = rigs.made[-1]
    assert panel.startTestPulse()
    qtbot.waitUntil(lambda: panel.pulseView.painted >= 1, timeout=TIMEOUT_MS)
    rig.fail = True
    qtbot.waitUntil(lambda: not panel.isBusy(), timeout=TIMEOUT_MS)
    assert rig.output_pa == 0.0 and rig.output_ttl == 0
    assert "buffer underflow" in panel.messageText()
    assert "at rest" in panel.messageText()
    assert not session.busy
    assert panel.controls.testPulseButton.text() == "Start test pulse"
    rig.fail = False
    painted = panel.pulseView.painted
    pulse_a_while(qtbot, panel)
    assert panel.pulseView.painted > painted


def test_one_user_of_the_rig_at_a_time(qtbot: QtBot, panel: CellPanel, session: RigSession) -> None:
    lease = session.lease("recording")
    assert not panel.startTestPulse()
    assert "in use by the recording" in panel.messageText()
    assert not panel.isBusy()
    lease.release()
    assert panel.startTestPulse()
    with pytest.raises(RigBusyError, match=HOLDER):
        session.lease("recording")
    panel.stopTestPulse()
    session.lease("recording").release()


def test_the_intensity_entry_is_checked_against_the_isolator(
    qtbot: QtBot, panel: CellPanel
) -> None:
    panel.controls.intensityEdit.setText("900")
    assert panel.intensityUa() is None
    assert "0-500 µA" in panel.controls.intensityMessage.text()
    assert "max_intensity_ua" in panel.controls.intensityMessage.text()
    panel.controls.intensityEdit.setText("lots")
    assert "not a number" in panel.controls.intensityMessage.text()
    panel.controls.autoCheckBox.setChecked(False)
    assert not panel.startSearch()
    assert "front-panel intensity" in panel.messageText()
    panel.controls.intensityEdit.setText("100")
    assert panel.intensityUa() == 100.0 and panel.controls.intensityMessage.text() == ""
    assert panel.startSearch()
    qtbot.waitUntil(lambda: not panel.isBusy(), timeout=TIMEOUT_MS)
    outcomes = panel.searchView.outcomes
    assert outcomes and {o.intensity_ua for o in outcomes} == {100.0}
    assert {o.intensity_entry for o in outcomes} == {"manual"}


def test_a_search_stops_between_probes(qtbot: QtBot, session: RigSession, tmp_path: Path) -> None:
    # Real time: the 20 s wait between probes is interrupted by Stop.
    panel = CellPanel(
        session,
        lambda: proto.paper_condition(25, 50),
        data_root=tmp_path,
        search=SearchSettings(target_mv=30.0, tolerance_mv=1.0),
    )
    qtbot.addWidget(panel)
    panel.controls.intensityEdit.setText("50")
    assert panel.startSearch()
    qtbot.waitUntil(lambda: len(panel.searchView.outcomes) == 1, timeout=TIMEOUT_MS)
    panel.stopSearch()
    qtbot.waitUntil(lambda: not panel.isBusy(), timeout=5_000)
    assert "stopped" in panel.messageText()
    assert not session.busy
    panel.shutdown()


def test_closing_the_session_mid_pulse_rests_the_outputs(
    qtbot: QtBot, panel: CellPanel, session: RigSession, rigs: Rigs
) -> None:
    rig = rigs.made[-1]
    rig.park = threading.Event()
    assert panel.startTestPulse()
    assert rig.parked.wait(10.0)  # a pulse is in flight, its step on
    assert session.close() is None  # aborts the holder, waits for the rig, closes it
    assert rig.output_pa == 0.0 and rig.output_ttl == 0
    qtbot.waitUntil(lambda: not panel.isBusy(), timeout=TIMEOUT_MS)
    assert "at rest" in panel.messageText()
    assert not panel.startTestPulse()
    assert "no rig is open" in panel.messageText()


def test_a_failed_probe_ends_the_search_at_rest(
    qtbot: QtBot, panel: CellPanel, session: RigSession, rigs: Rigs
) -> None:
    rig = rigs.made[-1]
    rig.fail_from_call = rig.calls + 2  # the second probe fails mid-sweep
    panel.controls.autoCheckBox.setChecked(True)
    assert panel.startSearch()
    qtbot.waitUntil(lambda: not panel.isBusy(), timeout=TIMEOUT_MS)
    assert "EPSP search failed" in panel.messageText()
    assert "buffer underflow" in panel.messageText()
    assert rig.output_pa == 0.0 and rig.output_ttl == 0
    assert len(panel.searchView.outcomes) == 1
    assert not session.busy
    rig.fail_from_call = None
    pulse_a_while(qtbot, panel)  # the tab is still usable


def test_a_slice_log_from_a_newer_rigctl_is_one_sentence(
    qtbot: QtBot, session: RigSession, clock: VirtualClock, tmp_path: Path
) -> None:
    db = sqlite3.connect(tmp_path / SLICE_LOG_NAME)
    db.execute("PRAGMA user_version = 99")
    db.close()
    panel = make_panel(qtbot, session, clock, tmp_path)
    panel.sliceBox.setSliceId("s1")
    assert "newer rigctl" in panel.sliceBox.warning.text()
    assert panel.wholeCell()  # the set-up goes on without the log
    assert panel.cell_id is None
    panel.shutdown()


def test_a_manual_isolator_offers_no_auto_search(
    qtbot: QtBot, session: RigSession, clock: VirtualClock, tmp_path: Path
) -> None:
    text = SIM_RIG.read_text(encoding="utf-8")
    manual = tmp_path / "manual.toml"
    manual.write_text(text.replace('intensity = "analog"', 'intensity = "manual"'), "utf-8")
    session.open_file(manual)
    panel = make_panel(qtbot, session, clock, tmp_path)
    panel.show()
    assert not panel.controls.autoCheckBox.isEnabled()
    panel.controls.intensityEdit.setText("80")
    assert panel.startSearch()
    qtbot.waitUntil(lambda: not panel.isBusy(), timeout=TIMEOUT_MS)
    assert {o.intensity_entry for o in panel.searchView.outcomes} == {"manual"}
    panel.shutdown()


@pytest.mark.parametrize(
    ("epsp", "spike", "advice"),
    [
        (5.2, False, "in the band"),
        (2.0, False, "raise the intensity"),
        (7.5, False, "lower the intensity"),
        (5.0, True, "a spike in the probe"),
    ],
)
def test_each_probe_says_what_to_do_next(epsp: float, spike: bool, advice: str) -> None:
    s = SearchSettings()
    outcome = ProbeOutcome(
        index=2,
        at_s=0.0,
        intensity_ua=80.0,
        intensity_entry="manual",
        epsp_mv=epsp,
        spike=spike,
        rin_mohm=150.0,
        rest_mv=-65.0,
        in_band=s.in_band(epsp) and not spike,
    )
    text = probe_text(outcome, s)
    assert text.startswith(f"Probe 3: {epsp:.2f} mV at 80 µA") and advice in text


def test_stop_during_a_pulse_keeps_the_rig_until_that_sweep_ends(
    qtbot: QtBot,
    panel: CellPanel,
    session: RigSession,
    rigs: Rigs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rig = rigs.made[-1]
    go = threading.Event()
    stop_asked = threading.Event()
    seen: list[bool] = []
    original = TestPulse.stop

    def stop(self: TestPulse, timeout: float | None = 5.0) -> None:
        stop_asked.set()
        original(self, timeout)

    def release_the_sweep() -> None:  # parks until Stop is pressed, then lets the sweep end
        assert stop_asked.wait(10.0)
        seen.append(session.busy)  # the sweep still plays: nobody else may have the rig
        go.set()

    monkeypatch.setattr(TestPulse, "stop", stop)
    assert panel.startTestPulse()
    qtbot.waitUntil(lambda: panel.pulseView.painted >= 1, timeout=TIMEOUT_MS)
    rig.park = go
    rig.parked.clear()
    assert rig.parked.wait(10.0)
    panel.refresh()  # draws what arrived before the park
    painted = panel.pulseView.painted
    helper = threading.Thread(target=release_the_sweep)
    helper.start()
    panel.stopTestPulse()  # returns when the parked sweep has ended
    helper.join(10.0)
    assert seen == [True]
    assert not session.busy and rig.output_pa == 0.0 and rig.output_ttl == 0
    QApplication.processEvents()  # the stopped pulse's report, queued before: not drawn
    panel.refresh()
    assert panel.pulseView.painted == painted
    assert panel.messageText() == "Test pulse stopped."


def test_a_test_pulse_over_the_rig_limit_is_refused_before_any_output(
    qtbot: QtBot, session: RigSession, clock: VirtualClock, tmp_path: Path, rigs: Rigs
) -> None:
    panel = make_panel(qtbot, session, clock, tmp_path, pulse=TestPulseSettings(amplitude_pa=-900))
    rig = rigs.made[-1]
    assert not panel.startTestPulse()
    assert panel.messageText().startswith("Test pulse refused:")
    assert "600" in panel.messageText()  # the rig file's max_command_pa
    assert rig.calls == 0 and not session.busy and not panel.isBusy()
    panel.shutdown()
