"""The run panel: start after confirmation, live plots, controls, notes, refusals, threads."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel, QListWidget, QWidget
from pytestqt.qtbot import QtBot

from rigctl import protocol as proto
from rigctl.engine import (
    AnalysisSettings,
    ExperimentRunner,
    RigOptions,
    RigSession,
    RunOptions,
    RunResult,
    RunState,
    RunStatus,
    load_recording,
)
from rigctl.engine.setup import SetupRecord
from rigctl.gui.run.bridge import LiveChunks, RunBridge
from rigctl.gui.run.panel import RunConfirmation, RunPanel
from rigctl.hardware import Chunk, Rig, RigDefinition, RigError, SimRig, load_rig
from tests.engine.rigs import GatedRig, short

TIMEOUT_MS = 20_000
RIG = load_rig()
SHORT = short(proto.paper_condition(25, 50))  # 3 baseline probes, induction, 6 follow-up


@dataclass
class Factory:
    """Builds runners like the composition root, over a fast simulated or a gated rig."""

    gated: bool = False
    fail: Exception | None = None
    rigs: list[Rig] = field(default_factory=list)
    runners: list[ExperimentRunner] = field(default_factory=list)

    def __call__(
        self, experiment: proto.Experiment, folder: Path, options: RunOptions
    ) -> ExperimentRunner:
        if self.fail is not None:
            raise self.fail
        rig: Rig = GatedRig() if self.gated else SimRig(RIG, seed=4)
        runner = ExperimentRunner(rig, experiment, folder, options, rig_text="# test rig\n")
        self.rigs.append(rig)
        self.runners.append(runner)
        return runner

    def gate(self) -> GatedRig:
        rig = self.rigs[-1]
        assert isinstance(rig, GatedRig)
        return rig


@dataclass
class Confirm:
    """Answers the start confirmation and keeps what was shown."""

    answer: bool = True
    shown: list[RunConfirmation] = field(default_factory=list)

    def __call__(self, confirmation: RunConfirmation) -> bool:
        self.shown.append(confirmation)
        return self.answer


@dataclass
class Sources:
    """The designer's experiment and the rig's definition, as the panel sees them."""

    experiment: proto.Experiment | None = SHORT
    rig: RigDefinition | None = RIG

    def get_experiment(self) -> proto.Experiment | None:
        return self.experiment

    def get_rig(self) -> RigDefinition | None:
        return self.rig


@pytest.fixture
def factory() -> Factory:
    return Factory()


@pytest.fixture
def confirm() -> Confirm:
    return Confirm()


@pytest.fixture
def sources() -> Sources:
    return Sources()


@pytest.fixture
def panel(
    qtbot: QtBot,
    tmp_path: Path,
    factory: Factory,
    confirm: Confirm,
    sources: Sources,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[RunPanel]:
    p = RunPanel(
        factory,
        sources.get_experiment,
        sources.get_rig,
        data_root=tmp_path / "data",
        options=RunOptions(write_nwb=False),
    )
    monkeypatch.setattr(p, "confirmStart", confirm)
    monkeypatch.setattr(p, "askDataFolder", lambda start: None)
    monkeypatch.setattr(p, "confirmAbort", lambda: True)
    qtbot.addWidget(p)
    p.resize(1400, 900)
    p.show()
    yield p
    p.shutdown()
    # The run's threads end with it (the kinase model's one-off compile may still go on).
    alive = [
        t.name
        for t in threading.enumerate()
        if t.name.startswith("rigctl-") and t.name != "rigctl-kinase-compile"
    ]
    assert not alive, alive


def text(widget: QWidget, name: str) -> str:
    """The text of the label called ``name`` (reached through Qt, as a user reads it)."""
    label = widget.findChild(QLabel, name)
    assert label is not None, name
    return label.text()


def rows(widget: QListWidget) -> list[str]:
    return [item.text() for i in range(widget.count()) if (item := widget.item(i)) is not None]


def run_to_end(qtbot: QtBot, panel: RunPanel) -> RunResult:
    with qtbot.waitSignal(panel.runFinished, timeout=TIMEOUT_MS) as blocker:
        panel.startButton.click()
    result: RunResult = blocker.args[0]
    assert not panel.isRunning()
    return result


def started(rig: GatedRig, n: int = 1) -> None:
    """Wait until ``n`` more sweeps have started on the gated rig."""
    for _ in range(n):
        assert rig.started.acquire(timeout=5)


def wait_state(qtbot: QtBot, panel: RunPanel, state: RunState) -> None:
    qtbot.waitUntil(lambda: panel.state() == state, timeout=TIMEOUT_MS)


# --------------------------------------------------------------------------- whole runs


def test_a_fast_run_fills_the_plots_and_the_data_folder(
    qtbot: QtBot, panel: RunPanel, sources: Sources, confirm: Confirm
) -> None:
    sources.experiment = proto.paper_condition(25, 50)  # the whole 50 min, dry run
    assert panel.fastCheckBox.isVisibleTo(panel) and panel.fastCheckBox.isChecked()
    assert panel.statusView.stateLabel.text() == "Ready"
    result = run_to_end(qtbot, panel)

    assert result.state == RunState.DONE and result.sweeps == 151
    assert len(confirm.shown) == 1 and confirm.shown[0].fast
    assert panel.state() == RunState.DONE and panel.statusView.stateLabel.text() == "Done"
    # the data folder has every sweep
    rec = load_recording(result.folder)
    assert rec.status == "done" and len(rec.sweeps) == 151 and not rec.damaged
    n_probes = len(list(rec.probes()))
    assert n_probes == 150
    # one EPSP point per probe, the baseline before the induction at 0
    x, y = panel.plots.epspData()
    assert x.size == y.size == n_probes
    assert (x < 0).sum() == 15 and np.all(np.isfinite(y))
    assert panel.plots.inductionLabel() == "induction"
    band = panel.plots.baselineBand()
    assert band is not None and band[0] < 1.0 < band[1]
    rin_ok, _ = panel.plots.rinData()
    rin_bad, _ = panel.plots.rinData(flagged=True)
    assert rin_ok.size + rin_bad.size == n_probes
    rest_ok, _ = panel.plots.restData()
    rest_bad, _ = panel.plots.restData(flagged=True)
    assert rest_ok.size + rest_bad.size == n_probes
    # the live trace holds the whole last sweep (a 1 s probe at 20 kHz)
    t, vm = panel.plots.liveData()
    last = rec.sweeps[-1]
    assert t.size == vm.size == last.meta["n_samples"] > 19_000
    np.testing.assert_allclose(vm, last.arrays()["vm_mv"], atol=1e-4)  # stored as float32
    assert "sweep 151 of 151" in panel.plots.liveTitle()
    # the summary and the folder
    summary = text(panel, "runSummary")
    assert "30–35 min after induction" in summary  # noqa: RUF001
    assert "LTP" in summary and "151 sweeps saved" in summary
    assert panel.resultView.isVisibleTo(panel)
    assert panel.copyFolderPath() == str(result.folder)
    status = panel.status()
    assert status is not None and status.sweeps_done == status.sweeps_planned == 151
    assert panel.statusView.progressBar.value() == panel.statusView.progressBar.maximum() == 151
    # ready for the next run, in a new folder
    assert panel.startButton.isEnabled() and not panel.abortButton.isEnabled()
    assert not panel.pauseButton.isEnabled() and not panel.stopButton.isEnabled()
    next_folder = panel.dataFolder()
    assert next_folder is not None and next_folder != result.folder and not next_folder.exists()
    assert panel.plots.epspView.framesRendered() >= 1  # painted for real


def test_health_flags_are_listed_and_marked_red(
    qtbot: QtBot, tmp_path: Path, factory: Factory, sources: Sources, confirm: Confirm
) -> None:
    strict = AnalysisSettings(rin_change=0.02, vm_drift_mv=0.2)  # flags every few probes
    p = RunPanel(
        factory,
        sources.get_experiment,
        sources.get_rig,
        data_root=tmp_path,
        options=RunOptions(write_nwb=False, analysis=strict),
    )
    p.confirmStart = confirm  # type: ignore[method-assign]
    qtbot.addWidget(p)
    try:
        result = run_to_end(qtbot, p)
        assert result.state == RunState.DONE
        flagged = p.monitor.history().flagged_count()
        assert flagged > 0
        warnings = rows(p.warningsView.warningsList)
        assert any("input resistance" in w or "resting Vm" in w for w in warnings)
        assert p.warningsView.warningsList.count() == len(warnings)
        red_rin = p.plots.rinData(flagged=True)[0].size
        red_rest = p.plots.restData(flagged=True)[0].size
        assert red_rin + red_rest >= flagged
    finally:
        p.shutdown()


# --------------------------------------------------------------------------- confirmation


def test_the_rig_and_its_gains_are_confirmed_and_cancel_does_not_start(
    panel: RunPanel, factory: Factory, confirm: Confirm
) -> None:
    confirm.answer = False
    assert not panel.start()
    assert not factory.runners and not panel.isRunning()
    assert "cancelled" in text(panel, "runMessage") and panel.startButton.isEnabled()
    shown = confirm.shown[0]
    rows = dict(shown.rows())
    assert rows["Rig"] == "Simulated CA1 rig"
    assert rows["Amplifier"].endswith("mode I-Clamp")
    assert rows["Primary gain"].startswith("× 2")  # noqa: RUF001
    assert "20 mV/mV" in rows["Primary gain"]
    assert rows["Command scaling"] == "400 pA/V"
    assert "100 µA" in rows["Stimulator"]
    assert rows["Backend"].startswith("simulated CA1 neuron")
    assert rows["Data folder"] == str(panel.dataFolder())
    assert shown.concerns() == []
    # the dialog itself (not shown: tests never block) says the same
    box = panel.confirmationBox(shown)
    assert "400 pA/V" in box.informativeText() and "I-Clamp" in box.informativeText()


def test_the_confirmation_flags_a_rig_not_in_current_clamp(
    panel: RunPanel, sources: Sources, confirm: Confirm
) -> None:
    confirm.answer = False
    amplifier = RIG.amplifier.model_copy(update={"mode": "V-Clamp", "primary_gain": 5.0})
    stimulator = RIG.stimulator.model_copy(update={"amplitude_ua": None})
    sources.rig = RIG.model_copy(update={"amplifier": amplifier, "stimulator": stimulator})
    panel.startButton.click()
    shown = confirm.shown[-1]
    assert dict(shown.rows())["Primary gain"].startswith("× 5")  # noqa: RUF001
    concerns = " ".join(shown.concerns())
    assert "V-Clamp" in concerns and "amplitude is not recorded" in concerns
    assert "Check: " in shown.text()


def test_a_rig_that_is_not_simulated_offers_no_dry_run(
    panel: RunPanel, sources: Sources, confirm: Confirm
) -> None:
    confirm.answer = False
    sources.rig = RIG.model_copy(update={"backend": "nidaq"})
    panel.start()
    assert not panel.fastCheckBox.isVisibleTo(panel)
    assert not confirm.shown[-1].fast  # even though the (hidden) box is still checked


# --------------------------------------------------------------------------- controls


def test_pause_and_resume(qtbot: QtBot, panel: RunPanel, factory: Factory) -> None:
    factory.gated = True
    assert panel.start()
    rig = factory.gate()
    started(rig)  # sweep 1 in flight
    wait_state(qtbot, panel, RunState.BASELINE)
    assert panel.pauseButton.isEnabled() and panel.pauseButton.text() == "Pause"
    panel.pauseButton.click()
    assert panel.pauseButton.text() == "Resume" and "Pausing" in text(panel, "runMessage")
    rig.release(1)  # the sweep in flight finishes...
    wait_state(qtbot, panel, RunState.PAUSED)
    assert not rig.started.acquire(timeout=0.3)  # ...and no new sweep starts
    assert panel.statusView.stateLabel.text() == "Paused"
    panel.pauseButton.click()  # Resume
    started(rig)  # sweep 2 in flight
    wait_state(qtbot, panel, RunState.BASELINE)
    assert panel.pauseButton.text() == "Pause"
    with qtbot.waitSignal(panel.runFinished, timeout=TIMEOUT_MS) as blocker:
        panel.stopButton.click()
        assert not panel.stopButton.isEnabled()
        rig.release(1)  # stop lets the sweep in flight finish
    result: RunResult = blocker.args[0]
    assert result.state == RunState.STOPPED and result.sweeps == 2
    assert panel.state() == RunState.STOPPED and "Stopped" in text(panel, "runSummary")
    assert rig.inner.outputs_at_rest
    assert load_recording(result.folder).status == "stopped"


def test_abort_cuts_the_sweep_and_rests_the_outputs(
    qtbot: QtBot, panel: RunPanel, factory: Factory
) -> None:
    factory.gated = True
    assert panel.start()
    rig = factory.gate()
    rig.release(2)
    started(rig, 3)  # two done, the third in flight
    qtbot.waitUntil(lambda: len(panel.monitor.history()) == 2, timeout=TIMEOUT_MS)
    assert rig.outputs_active
    with qtbot.waitSignal(panel.runFinished, timeout=TIMEOUT_MS) as blocker:
        panel.abortButton.click()
    result: RunResult = blocker.args[0]
    assert result.state == RunState.ABORTED
    assert panel.state() == RunState.ABORTED and panel.statusView.stateLabel.text() == "Aborted"
    assert not rig.outputs_active and rig.inner.outputs_at_rest
    rec = load_recording(result.folder)
    assert rec.status == "aborted" and len(rec.sweeps) == 2  # the cut sweep is not kept
    assert "Aborted" in text(panel, "runSummary")
    assert panel.plots.liveTitle().endswith("aborted")
    assert not panel.abortButton.isEnabled() and panel.startButton.isEnabled()


def test_notes_and_extension_reach_the_runner_and_the_journal(
    qtbot: QtBot, panel: RunPanel, factory: Factory
) -> None:
    factory.gated = True
    assert not panel.notesView.noteButton.isEnabled()  # no run: nowhere to keep a note
    assert panel.start()
    rig = factory.gate()
    started(rig)
    wait_state(qtbot, panel, RunState.BASELINE)
    assert panel.notesView.noteButton.isEnabled()
    qtbot.keyClicks(panel.notesView.noteEdit, "bath at 32 C")  # type: ignore[no-untyped-call]
    panel.notesView.noteButton.click()
    assert panel.notesView.noteEdit.text() == ""
    assert panel.addNote("  seal 2 GOhm  ")
    assert not panel.addNote("   ")
    assert [row.split("  ", 1)[1] for row in rows(panel.notesView.notesList)] == [
        "bath at 32 C",
        "seal 2 GOhm",
    ]
    assert panel.notesView.notesList.count() == 2

    before = factory.runners[0].status().sweeps_planned
    panel.statusView.extendButton.click()
    status = panel.status()
    assert isinstance(status, RunStatus) and status.sweeps_planned == before + 15  # 5 min / 20 s
    assert "15 more probes" in text(panel, "runMessage")

    with qtbot.waitSignal(panel.runFinished, timeout=TIMEOUT_MS) as blocker:
        panel.stopButton.click()
        rig.release(1)
    result: RunResult = blocker.args[0]
    rec = load_recording(result.folder)
    assert [n["text"] for n in rec.notes] == ["bath at 32 C", "seal 2 GOhm"]
    assert not panel.addNote("too late") and not panel.notesView.noteButton.isEnabled()


def test_manual_induction(
    qtbot: QtBot, panel: RunPanel, factory: Factory, sources: Sources
) -> None:
    factory.gated = True
    sources.experiment = short(proto.paper_condition(25, 50), baseline_min=1, followup_min=1)
    assert not panel.statusView.inductionButton.isVisibleTo(panel)
    panel.manualCheckBox.setChecked(True)
    assert panel.statusView.inductionButton.isVisibleTo(panel)
    assert panel.start()
    rig = factory.gate()
    rig.release(4)
    started(rig, 5)  # four done (one past the planned baseline), the fifth in flight
    qtbot.waitUntil(lambda: len(panel.monitor.history()) == 4, timeout=TIMEOUT_MS)
    assert panel.state() == RunState.BASELINE and panel.statusView.inductionButton.isEnabled()
    qtbot.waitUntil(lambda: panel.plots.epspData()[0].size == 4, timeout=TIMEOUT_MS)
    assert panel.plots.inductionLabel() == "induction (pending)"
    assert np.all(panel.plots.epspData()[0] < 0)  # before the earliest possible onset
    with qtbot.waitSignal(panel.runFinished, timeout=TIMEOUT_MS) as blocker:
        panel.statusView.inductionButton.click()
        assert not panel.statusView.inductionButton.isEnabled()
        rig.release(100)
    result: RunResult = blocker.args[0]
    assert result.state == RunState.DONE
    rec = load_recording(result.folder)
    segments = [s.meta["segment"] for s in rec.sweeps]
    assert segments.count("baseline") == 5 and segments.count("induction") == 1
    assert segments.count("followup") == 3
    assert rec.induction_at_s == 5 * 20.0
    x, _ = panel.plots.epspData()
    assert x.size == 8 and (x < 0).sum() == 5
    assert panel.plots.inductionLabel() == "induction"
    rates = [line.text() for line in panel.findChildren(QLabel, "runInductionRate")]
    assert rates and rates[0].startswith("prediction 25 Hz: ")
    assert all("spikes per window" in r and r.endswith(("✓", "✗ missed")) for r in rates)


# --------------------------------------------------------------------------- refusals


def test_a_non_empty_folder_is_refused_with_the_reason(
    qtbot: QtBot, panel: RunPanel, factory: Factory, tmp_path: Path
) -> None:
    factory.gated = True
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "old.txt").write_text("keep me", encoding="utf-8")
    panel.setDataFolder(busy)
    result = run_to_end(qtbot, panel)
    assert result.state == RunState.FAILED and result.sweeps == 0
    assert text(panel, "runMessage").startswith("Not started: ")
    assert "not empty" in text(panel, "runMessage")
    assert panel.statusView.stateLabel.text() == "Not started"
    assert factory.gate().runs == 0
    assert (busy / "old.txt").read_text(encoding="utf-8") == "keep me"
    assert panel.dataFolder() == busy  # kept, so the user sees which folder was refused
    assert not panel.resultView.isVisibleTo(panel) and panel.startButton.isEnabled()


def test_nothing_to_run_and_a_failing_factory_are_reported(
    panel: RunPanel, factory: Factory, sources: Sources
) -> None:
    sources.experiment = None
    assert not panel.start()
    assert "no valid protocol" in text(panel, "runMessage")
    sources.experiment = SHORT
    sources.rig = None
    assert not panel.start()
    assert "No rig is open" in text(panel, "runMessage")
    sources.rig = RIG
    factory.fail = RigError("NI-DAQmx is not installed")
    assert not panel.start()
    assert text(panel, "runMessage") == "Cannot start: NI-DAQmx is not installed"
    assert not panel.isRunning() and panel.startButton.isEnabled()


def test_the_data_folder_can_be_chosen_or_made_new(
    panel: RunPanel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = panel.dataFolder()
    assert first is not None and first.parent == tmp_path / "data" and not first.exists()
    chosen = tmp_path / "cells" / "cell-07"
    monkeypatch.setattr(panel, "askDataFolder", lambda start: chosen)
    panel.folderView.chooseFolderButton.click()
    assert panel.dataFolder() == chosen
    panel.folderView.newFolderButton.click()
    fresh = panel.dataFolder()
    assert fresh is not None and fresh.parent == tmp_path / "cells" and fresh != chosen
    monkeypatch.setattr(panel, "askDataFolder", lambda start: None)
    assert not panel.chooseDataFolder() and panel.dataFolder() == fresh


# --------------------------------------------------------------------------- threading


def test_the_bridge_queues_and_coalesces_reports(qtbot: QtBot, tmp_path: Path) -> None:
    runner = ExperimentRunner(SimRig(RIG, seed=1), SHORT, tmp_path / "rec")
    bridge = RunBridge(runner)
    gui = threading.get_ident()
    taken: list[LiveChunks] = []
    progress: list[RunStatus] = []
    threads: list[int] = []

    def on_chunks(b: RunBridge) -> None:
        threads.append(threading.get_ident())
        live = b.takeChunks()
        if live is not None:
            taken.append(live)

    def on_progress(b: RunBridge) -> None:
        status = b.takeProgress()
        if status is not None:
            progress.append(status)

    queued = Qt.ConnectionType.QueuedConnection
    bridge.chunksReady.connect(on_chunks, queued)  # type: ignore[call-arg]
    bridge.progressReady.connect(on_progress, queued)  # type: ignore[call-arg]
    bridge.attach()
    n = 1000

    def worker(first: int) -> None:
        for k in range(100):
            runner.chunk.emit(Chunk(first + k * 10, np.zeros(10), 20_000.0, n))
        for _ in range(50):
            runner.progress.emit(runner.status())

    thread = threading.Thread(target=worker, args=(0,))
    thread.start()
    thread.join()
    assert not taken and not progress  # nothing ran on the worker's thread
    qtbot.wait(20)
    assert len(taken) == 1 and len(taken[0].chunks) == 100 and taken[0].new_sweep
    assert taken[0].sweep_number == 1 and taken[0].n_total == n
    assert len(progress) == 1
    assert set(threads) == {gui}
    bridge.detach()
    thread = threading.Thread(target=worker, args=(0,))
    thread.start()
    thread.join()
    qtbot.wait(20)
    assert len(taken) == 1 and bridge.takeChunks() is None  # detached: nothing arrives


def test_shutdown_aborts_a_run_in_progress(qtbot: QtBot, panel: RunPanel, factory: Factory) -> None:
    factory.gated = True
    assert panel.start()
    rig = factory.gate()
    started(rig)
    panel.shutdown()  # e.g. the window closes mid-run
    runner = factory.runners[0]
    assert runner.state == RunState.ABORTED
    assert not rig.outputs_active and rig.inner.outputs_at_rest
    assert not panel.isRunning() and not panel.startButton.isEnabled()
    assert not panel.start()


def test_a_runner_that_cannot_start_gives_the_rig_back(
    qtbot: QtBot, tmp_path: Path, confirm: Confirm, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = RigSession(options=RigOptions(seed=4))
    assert session.open(RIG) is None
    built: list[ExperimentRunner] = []

    def factory(exp: proto.Experiment, folder: Path, options: RunOptions) -> ExperimentRunner:
        runner = session.runner(exp, folder, options)
        built.append(runner)
        if len(built) == 1:  # e.g. no thread can be started

            def refuse() -> None:
                raise RuntimeError("can't start new thread")

            monkeypatch.setattr(runner, "start", refuse)
        return runner

    p = RunPanel(
        factory,
        lambda: SHORT,
        lambda: session.definition,
        data_root=tmp_path,
        options=RunOptions(write_nwb=False),
    )
    p.confirmStart = confirm  # type: ignore[method-assign]
    qtbot.addWidget(p)
    try:
        assert not p.start()
        assert text(p, "runMessage") == "Cannot start: can't start new thread"
        assert not session.busy and not p.isRunning()  # the recording lease was given back
        result = run_to_end(qtbot, p)  # and the next start gets the rig
        assert result.state == RunState.DONE and not session.busy
    finally:
        p.shutdown()
        session.close()


def test_the_cells_set_up_record_is_confirmed_and_carried_into_the_run(
    qtbot: QtBot, panel: RunPanel, factory: Factory, confirm: Confirm
) -> None:
    record = SetupRecord(
        setup_s=212.0,
        limit_s=300.0,
        over_limit=False,
        stim_intensity_ua=40.0,
        epsp_mv=4.2,
        slice_id="slice-2",
        cell_id="cell-7",
    )
    confirm.answer = False
    assert not panel.start()
    assert dict(confirm.shown[-1].rows())["Set-up"] == "none carried into the recording"
    panel.setSetupRecord(record)
    assert panel.setupRecord() is record
    assert not panel.start()
    shown = dict(confirm.shown[-1].rows())["Set-up"]
    assert shown.startswith("slice-2, cell-7: ") and "epsp_mv 4.2" in shown
    confirm.answer = True
    result = run_to_end(qtbot, panel)
    assert result.state == RunState.DONE
    assert factory.runners[-1].options.setup is record
    header = json.loads((result.folder / "recording.json").read_text(encoding="utf-8"))
    assert header["setup"]["cell_id"] == "cell-7"
    panel.setSetupRecord(None)
    assert panel.setupRecord() is None


def test_nothing_is_drawn_while_the_tab_is_hidden(
    qtbot: QtBot, tmp_path: Path, factory: Factory, sources: Sources, confirm: Confirm
) -> None:
    factory.gated = True
    p = RunPanel(
        factory,
        sources.get_experiment,
        sources.get_rig,
        data_root=tmp_path,
        options=RunOptions(write_nwb=False),
    )
    p.confirmStart = confirm  # type: ignore[method-assign]
    qtbot.addWidget(p)
    try:
        assert p.start() and not p.isVisible()  # e.g. the Protocol tab is shown
        rig = factory.gate()
        rig.release(2)
        started(rig, 3)
        qtbot.waitUntil(lambda: len(p.monitor.history()) == 2, timeout=TIMEOUT_MS)
        p.monitor.frame()
        assert p.plots.epspData()[0].size == 0  # hidden: not drawn
        p.show()  # the Run tab comes into view: what arrived is drawn at once
        qtbot.waitUntil(lambda: p.plots.epspData()[0].size == 2, timeout=TIMEOUT_MS)
    finally:
        p.shutdown()
