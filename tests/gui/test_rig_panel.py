"""The rig panel: the rig file, dry-run sweeps with live Vm, calibration, abort, refusals."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QLabel, QTableWidget
from pytestqt.qtbot import QtBot

from rigctl import protocol as proto
from rigctl.engine import RigOptions, RigSession, analyze_probe
from rigctl.engine.dry_run import CalibrationDone, JobAborted, JobFailed, JobOutcome, SweepDone
from rigctl.gui import MainWindow
from rigctl.gui.rig.panel import RigPanel
from rigctl.hardware import DEFAULT_RIG_PATH, Chunk, Rig, RigDefinition, RigError, SimRig, open_rig
from tests.gui.conftest import Dialogs

ROOT = Path(__file__).resolve().parents[2]
NI_RIG = ROOT / "hardware" / "ni-x-series-multiclamp700b.toml"
TIMEOUT_MS = 10_000


def with_currents(exp: proto.Experiment, current_pa: float | None) -> proto.Experiment:
    """``exp`` with every driven phase's current set to ``current_pa``."""
    phases = tuple(
        ph.replace(post=ph.post.replace(current_pa=current_pa)) for ph in exp.induction.phases
    )
    return exp.replace(induction=exp.induction.replace(phases=phases))


def currents(exp: proto.Experiment) -> list[float | None]:
    return [ph.post.current_pa for ph in exp.induction.phases]


@dataclass
class Factory:
    """Opens rigs like the session's default opener and keeps them, to look at their outputs."""

    rigs: list[Rig] = field(default_factory=list)

    def __call__(self, definition: RigDefinition, options: RigOptions) -> Rig:
        rig = open_rig(definition, paced=options.paced, seed=options.seed)
        self.rigs.append(rig)
        return rig


@dataclass
class Protocol:
    """The designer's current protocol, as the panel sees it."""

    value: proto.Experiment | None = field(default_factory=lambda: proto.paper_condition(25, 50))

    def __call__(self) -> proto.Experiment | None:
        return self.value


@pytest.fixture
def factory() -> Factory:
    return Factory()


@pytest.fixture
def session(factory: Factory) -> RigSession:
    return RigSession(factory)


@pytest.fixture
def protocol() -> Protocol:
    return Protocol()


@pytest.fixture
def panel(qtbot: QtBot, session: RigSession, protocol: Protocol) -> Iterator[RigPanel]:
    """The panel on the default (fast simulated) rig, with the paper's 25 -> 50 Hz protocol."""
    p = RigPanel(session, DEFAULT_RIG_PATH, experiment=protocol)
    qtbot.addWidget(p)
    p.resize(1300, 850)
    p.show()
    yield p
    p.shutdown()
    assert not any(t.name.startswith("rigctl ") for t in threading.enumerate())


@pytest.fixture
def chunks(panel: RigPanel) -> list[Chunk]:
    """Every chunk of Vm that reached the panel."""
    received: list[Chunk] = []
    panel.chunkReceived.connect(received.append)
    return received


def sim(session: RigSession) -> SimRig:
    rig = session.rig
    assert isinstance(rig, SimRig)
    return rig


def text(panel: RigPanel, key: str) -> str:
    """What the rig-file view shows for ``key`` (the label named ``field.<key>``)."""
    label = panel.findChild(QLabel, f"field.{key}")
    assert label is not None, key
    return label.text()


def plotted(panel: RigPanel, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The first data item of the plot named ``name``: x and y."""
    view = panel.findChild(pg.PlotWidget, name)
    assert view is not None
    x, y = view.getPlotItem().listDataItems()[0].getOriginalDataset()
    if x is None or y is None:
        return np.zeros(0), np.zeros(0)
    return np.asarray(x), np.asarray(y)


def table(panel: RigPanel, name: str) -> list[list[str]]:
    t = panel.findChild(QTableWidget, name)
    assert t is not None
    return [
        [t.item(row, col).text() for col in range(t.columnCount())]  # type: ignore[union-attr]
        for row in range(t.rowCount())
    ]


def finish(qtbot: QtBot, panel: RigPanel, start: Callable[[], object]) -> JobOutcome:
    """Start a job and wait until it has ended; return its outcome."""
    with qtbot.waitSignal(panel.jobFinished, timeout=TIMEOUT_MS) as blocker:
        start()
    assert not panel.isRunning()
    outcome: JobOutcome = blocker.args[0]
    return outcome


def rig_file(tmp_path: Path, name: str, **replace: str) -> Path:
    """A copy of the simulated rig file with some lines replaced."""
    text = DEFAULT_RIG_PATH.read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the rig file


def test_shows_the_simulated_rig(panel: RigPanel, session: RigSession, factory: Factory) -> None:
    assert session.path == DEFAULT_RIG_PATH
    assert session.rig is factory.rigs[0]
    assert panel.state() == "idle"
    assert panel.statusText() == "Idle · Simulated CA1 rig ready"
    assert text(panel, "name") == "Simulated CA1 rig"
    assert text(panel, "backend") == "simulated CA1 neuron"
    assert text(panel, "device") == "SimDev1"
    assert text(panel, "sample_rate") == "20 kHz"
    command = text(panel, "channels.command")
    assert "SimDev1/ao0" in command and "400 pA/V" in command and "±10 V" in command
    stim = text(panel, "channels.stim")
    assert "SimDev1/port0/line0" in stim and "TTL" in stim
    vm = text(panel, "channels.vm")
    assert "SimDev1/ai0" in vm and "10 mV/mV × gain 2 = 20 mV/mV" in vm  # noqa: RUF001
    assert "±5 V (±250 mV)" in vm
    assert text(panel, "amplifier.mode") == "I-Clamp"
    assert text(panel, "amplifier.primary_gain") == "× 2"  # noqa: RUF001
    assert text(panel, "stimulator.amplitude").startswith("100 µA")
    limits = {
        label.objectName(): label.text()
        for label in panel.findChildren(QLabel)
        if label.objectName().startswith("field.limits.")
    }
    assert limits == {
        "field.limits.max_command_pa": "600 pA",
        "field.limits.max_stim_rate_hz": "100 Hz",
        "field.limits.min_interpulse_ms": "5 ms",
        "field.limits.max_pulse_width_us": "500 µs",
        "field.limits.max_sweep_s": "120 s",
        "field.limits.max_duty_cycle": "5 %",
    }
    for button in (panel.calibrateButton, panel.probeButton, panel.inductionButton):
        assert button.isEnabled()
    assert not panel.abortButton.isEnabled()
    assert not panel.applyButton.isEnabled()
    assert panel.pacedCheckBox.isVisibleTo(panel) and not panel.pacedCheckBox.isChecked()


def test_a_malformed_rig_file_keeps_the_previous_rig(
    qtbot: QtBot,
    panel: RigPanel,
    session: RigSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rig = sim(session)
    bad = rig_file(tmp_path, "bad.toml", **{"max_command_pa = 600.0": "max_command_pa = -5"})
    monkeypatch.setattr(panel, "askRigPath", lambda: str(bad))
    panel.chooseButton.click()
    assert panel.state() == "error"
    message = panel.statusText()
    assert message.startswith(str(bad)) and "max_command_pa" in message and "\n" not in message
    assert message.endswith("(still using sim.toml)")
    assert session.rig is rig and session.path == DEFAULT_RIG_PATH
    assert text(panel, "limits.max_command_pa") == "600 pA"

    garbage = tmp_path / "garbage.toml"
    garbage.write_text("name = [", encoding="utf-8")
    assert not panel.setRigFile(garbage)
    assert "not valid TOML" in panel.statusText() and "\n" not in panel.statusText()
    assert session.rig is rig and text(panel, "name") == "Simulated CA1 rig"
    # the old rig still runs
    outcome = finish(qtbot, panel, panel.probeButton.click)
    assert isinstance(outcome, SweepDone) and panel.state() == "idle"


def test_a_new_rig_file_closes_the_previous_rig(
    panel: RigPanel, session: RigSession, factory: Factory, tmp_path: Path
) -> None:
    old = sim(session)
    path = rig_file(
        tmp_path,
        "other.toml",
        **{
            'name = "Simulated CA1 rig"': 'name = "Rig B"',
            "max_command_pa = 600.0": "max_command_pa = 450",
        },
    )
    panel.pacedCheckBox.setChecked(True)
    assert old.paced and session.options.paced
    assert panel.setRigFile(path)
    assert panel.state() == "idle" and panel.statusText() == "Idle · Rig B ready"
    assert text(panel, "limits.max_command_pa") == "450 pA"
    new = sim(session)
    assert new is factory.rigs[-1] and new is not old and new.paced  # the option is kept
    assert panel.pacedCheckBox.isChecked()
    assert old.outputs_at_rest
    with pytest.raises(RuntimeError, match="closed"):
        old.run(old.prepare(proto.compile_experiment(proto.paper_condition(25, 50)).probe))


@pytest.mark.parametrize(
    "failure",
    [RigError("the NI-DAQmx driver is not installed"), ImportError("No module named 'nidaqmx'")],
    ids=["RigError", "ImportError"],
)
def test_a_rig_that_cannot_be_opened_is_reported(
    qtbot: QtBot, protocol: Protocol, failure: Exception
) -> None:
    def opener(definition: RigDefinition, options: RigOptions) -> Rig:
        raise failure

    session = RigSession(opener)
    panel = RigPanel(session, NI_RIG, experiment=protocol)
    qtbot.addWidget(panel)
    assert session.rig is None and panel.state() == "error"
    assert panel.statusText().startswith(f"{NI_RIG.name}: ")
    assert str(failure) in panel.statusText()
    assert text(panel, "backend") == "NI-DAQmx (National Instruments)"
    assert text(panel, "channels.vm").startswith("<b>Dev1/ai0</b>")
    assert not panel.calibrateButton.isEnabled() and not panel.inductionButton.isEnabled()
    assert not panel.pacedCheckBox.isVisibleTo(panel)
    assert panel.chooseButton.isEnabled()
    assert panel.setRigFile(DEFAULT_RIG_PATH) is True  # the opener fails again: still no rig
    assert session.rig is None
    panel.shutdown()


def test_the_ni_rig_without_its_driver_is_a_message(qtbot: QtBot, protocol: Protocol) -> None:
    session = RigSession()
    panel = RigPanel(session, NI_RIG, experiment=protocol)
    qtbot.addWidget(panel)
    if session.rig is not None:  # pragma: no cover - a machine with an NI board
        panel.shutdown()
        pytest.skip("NI-DAQmx and a device are present")
    assert panel.state() == "error" and panel.statusText().startswith(NI_RIG.name)
    assert "\n" not in panel.statusText()
    panel.shutdown()


def test_a_rig_lent_elsewhere_is_refused_with_its_holder(
    panel: RigPanel, session: RigSession, tmp_path: Path
) -> None:
    lease = session.lease("recording")
    assert not panel.calibrate()
    assert panel.state() == "error" and not panel.isRunning()
    busy = "the rig is in use by the recording: wait for it to finish or abort it before you "
    assert panel.statusText() == busy + "start the calibration"
    assert not panel.setRigFile(rig_file(tmp_path, "other.toml"))
    assert panel.statusText() == busy + "change the rig"
    assert text(panel, "name") == "Simulated CA1 rig"
    lease.release()
    assert panel.runSweep("probe")  # given back: the panel can use it again


# --------------------------------------------------------------------------- sweeps


def test_probe_then_induction_sweep_on_the_fast_sim(
    qtbot: QtBot, panel: RigPanel, session: RigSession, chunks: list[Chunk]
) -> None:
    outcome = finish(qtbot, panel, panel.probeButton.click)
    assert isinstance(outcome, SweepDone) and outcome.which == "probe"
    assert len(chunks) == 21  # 20,001 samples in 1000-sample chunks, each a signal
    t, vm = plotted(panel, "vmPlot")
    assert t.size == vm.size == 20_001
    assert -70 < float(np.median(vm)) < -60
    probe = outcome.probe
    assert probe is not None and probe.epsp_mv is not None
    assert 2 < probe.epsp_mv < 10
    assert probe.input_resistance_mohm is not None
    assert 100 < probe.input_resistance_mohm < 200
    # the Rig tab shows the engine's probe analysis, the one a recording uses
    result = outcome.result
    engine = analyze_probe(result.vm_mv, result.sample_rate_hz, outcome.sweep)
    assert probe.epsp_mv == engine.epsp_mv and probe.input_resistance_mohm == engine.rin_mohm
    summary = panel.findChild(QLabel, "sweepSummary")
    assert summary is not None and f"EPSP {engine.epsp_mv:.2f} mV" in summary.text()
    assert table(panel, "ratesTable") == []
    assert panel.statusText() == "Idle · probe sweep done"

    chunks.clear()
    outcome = finish(qtbot, panel, panel.inductionButton.click)
    assert isinstance(outcome, SweepDone) and outcome.which == "induction"
    assert len(chunks) == 125  # 124,001 samples in 1000-sample chunks
    t, vm = plotted(panel, "vmPlot")
    assert t.size == 124_001 and float(vm.max()) > 0  # it fired
    assert [r.phase for r in outcome.rates] == ["prediction", "outcome"]
    assert all(r.ok for r in outcome.rates)
    assert [(r[0], r[1], r[4]) for r in table(panel, "ratesTable")] == [
        ("prediction", "25", "ok"),
        ("outcome", "50", "ok"),
    ]
    assert panel.state() == "idle"
    assert panel.statusText().endswith("every phase within 10 % of its target rate")
    assert sim(session).outputs_at_rest and not session.busy


def test_a_missed_rate_is_flagged(qtbot: QtBot, panel: RigPanel, protocol: Protocol) -> None:
    protocol.value = with_currents(proto.paper_condition(25, 50), 100.0)  # too weak to fire
    outcome = finish(qtbot, panel, lambda: panel.runSweep("induction"))
    assert isinstance(outcome, SweepDone)
    assert not any(r.ok for r in outcome.rates)
    rates = panel.findChild(QTableWidget, "ratesTable")
    assert rates is not None
    result = rates.item(0, 4)
    assert result is not None and result.text().startswith("MISS")
    assert result.foreground().color().red() > 150
    assert "2 phase(s) missed" in panel.statusText()


def test_a_protocol_over_the_limits_is_refused(
    qtbot: QtBot, panel: RigPanel, session: RigSession, protocol: Protocol, chunks: list[Chunk]
) -> None:
    protocol.value = with_currents(proto.paper_condition(25, 50), 2000.0)
    outcome = finish(qtbot, panel, panel.inductionButton.click)
    assert isinstance(outcome, JobFailed) and outcome.limit == "max_command_pa"
    assert panel.state() == "error"
    message = panel.statusText()
    assert message == (
        "induction: the command reaches 2000 pA, over the rig's limit max_command_pa = 600 pA"
    )
    assert chunks == [] and plotted(panel, "vmPlot")[0].size == 0  # nothing was output
    name = panel.findChild(QLabel, "fieldName.limits.max_command_pa")
    assert name is not None and "font-weight: bold" in name.styleSheet()  # the limit is marked
    assert sim(session).outputs_at_rest
    assert panel.inductionButton.isEnabled()  # fix the protocol and try again
    protocol.value = proto.paper_condition(25, 50)
    assert isinstance(finish(qtbot, panel, panel.inductionButton.click), SweepDone)
    assert panel.state() == "idle" and name.styleSheet() == ""


def test_abort_a_paced_sweep(
    qtbot: QtBot, panel: RigPanel, session: RigSession, chunks: list[Chunk]
) -> None:
    panel.pacedCheckBox.setChecked(True)
    rig = sim(session)
    assert rig.paced
    assert panel.runSweep("induction")  # 6.2 s in real time
    assert panel.state() == "sweeping" and panel.isRunning()
    assert session.holder == "induction sweep"
    assert not panel.calibrateButton.isEnabled() and not panel.chooseButton.isEnabled()
    assert not panel.pacedCheckBox.isEnabled()
    qtbot.waitUntil(lambda: len(chunks) >= 2, timeout=TIMEOUT_MS)
    assert panel.statusText().startswith("Running induction sweep… ")
    assert panel.abortButton.isEnabled()
    with qtbot.waitSignal(panel.jobFinished, timeout=TIMEOUT_MS) as blocker:
        panel.abortButton.click()
    outcome = blocker.args[0]
    assert isinstance(outcome, JobAborted)
    assert panel.state() == "idle" and not panel.isRunning() and not session.busy
    assert panel.statusText().startswith("Idle · induction sweep aborted after ")
    assert panel.statusText().endswith("outputs at rest")
    assert rig.outputs_at_rest and not rig.running
    result = outcome.result
    assert result is not None and not result.complete and result.n_samples < 124_001
    assert not panel.abortButton.isEnabled() and panel.inductionButton.isEnabled()


def test_abort_a_paced_calibration(
    qtbot: QtBot, panel: RigPanel, session: RigSession, chunks: list[Chunk]
) -> None:
    panel.pacedCheckBox.setChecked(True)
    assert panel.calibrate()
    assert panel.state() == "calibrating" and session.holder == "calibration"
    qtbot.waitUntil(lambda: len(chunks) >= 1, timeout=TIMEOUT_MS)
    assert panel.statusText().startswith("Running calibration… sweep 1: calibration 0 pA")
    outcome = finish(qtbot, panel, panel.abort)
    assert isinstance(outcome, JobAborted)
    assert panel.state() == "idle" and table(panel, "currentsTable") == []
    assert not panel.applyButton.isEnabled()
    assert sim(session).outputs_at_rest


def test_shutdown_while_running_stops_and_closes(
    qtbot: QtBot, panel: RigPanel, session: RigSession, chunks: list[Chunk]
) -> None:
    panel.pacedCheckBox.setChecked(True)
    rig = sim(session)
    panel.runSweep("induction")
    qtbot.waitUntil(lambda: len(chunks) >= 1, timeout=TIMEOUT_MS)
    panel.shutdown()
    assert not panel.isRunning() and session.rig is None and not session.busy
    assert rig.outputs_at_rest and not rig.running
    with pytest.raises(RuntimeError, match="closed"):
        rig.run(rig.prepare(proto.compile_experiment(proto.paper_condition(25, 50)).probe))
    assert not panel.calibrateButton.isEnabled() and not panel.chooseButton.isEnabled()


# --------------------------------------------------------------------------- calibration


def test_calibrate_then_apply_the_currents(
    qtbot: QtBot, panel: RigPanel, protocol: Protocol
) -> None:
    start = with_currents(proto.paper_condition(25, 50), 100.0)
    protocol.value = start
    outcome = finish(qtbot, panel, panel.calibrateButton.click)
    assert isinstance(outcome, CalibrationDone) and outcome.experiment == start
    x, y = plotted(panel, "fiPlot")
    assert x.size == y.size == 25 and x[0] == 0 and x[-1] == 600  # 0 to the limit, 25 pA steps
    assert 50 < float(y.max()) < 60  # saturates near 55 Hz
    assert outcome.calibration.ok
    rows = table(panel, "currentsTable")
    assert len(rows) == 2 and rows[0][2] == "100"
    assert panel.applyButton.isEnabled()
    assert panel.statusText().startswith("Idle · calibration done in ")

    with qtbot.waitSignal(panel.calibratedExperiment, timeout=1000) as blocker:
        panel.applyButton.click()
    applied: proto.Experiment = blocker.args[0]
    low, high = currents(applied)
    assert low is not None and high is not None
    assert 130 < low < 200 and 220 < high < 300 and low < high
    assert currents(applied) != currents(start)
    assert with_currents(applied, 100.0) == start  # nothing else changed
    assert not panel.applyButton.isEnabled()


def test_apply_is_refused_after_the_induction_was_edited(
    qtbot: QtBot, panel: RigPanel, protocol: Protocol
) -> None:
    protocol.value = with_currents(proto.paper_condition(25, 50), None)  # not calibrated yet
    finish(qtbot, panel, panel.calibrate)
    assert panel.applyButton.isEnabled()
    exp = protocol.value
    assert exp is not None
    protocol.value = exp.replace(induction=exp.induction.replace(repeats=5))
    emitted: list[object] = []
    panel.calibratedExperiment.connect(emitted.append)
    assert panel.applyCurrents() is None
    assert emitted == [] and not panel.applyButton.isEnabled()
    note = panel.findChild(QLabel, "calibrationNote")
    assert note is not None and note.text().endswith("calibrate again.")


# --------------------------------------------------------------------------- in the main window


@pytest.fixture
def rig_window(
    qtbot: QtBot,
    settings: QSettings,
    dialogs: Dialogs,
    session: RigSession,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[MainWindow]:
    """The designer window with its rig tab on the fast simulated rig."""
    win = MainWindow(settings, session=session)
    dialogs.install(win, monkeypatch)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    dialogs.unsaved_answer = "discard"


def test_the_window_calibrates_its_protocol_as_one_undoable_edit(
    qtbot: QtBot, rig_window: MainWindow, session: RigSession, dialogs: Dialogs
) -> None:
    win = rig_window
    panel = win.rigPanel
    assert panel is not None
    win.showRigPanel()
    start = with_currents(proto.paper_condition(25, 50), 100.0)
    win.setDocument(start)
    assert not win.isWindowModified()

    finish(qtbot, panel, panel.calibrate)
    with qtbot.waitSignal(panel.calibratedExperiment, timeout=1000):
        panel.applyButton.click()
    low, high = currents(win.experiment())
    assert low is not None and high is not None and 130 < low < 200 and 220 < high < 300
    assert win.isWindowModified()
    assert win.undoStack.count() == 1
    assert win.undoStack.undoText() == "Apply calibrated currents"

    win.undoAction.trigger()
    assert win.experiment() == start and not win.isWindowModified()
    win.redoAction.trigger()
    assert currents(win.experiment()) == [low, high]

    # the window's protocol is what the rig runs
    outcome = finish(qtbot, panel, panel.inductionButton.click)
    assert isinstance(outcome, SweepDone) and outcome.experiment == win.experiment()
    assert all(r.ok for r in outcome.rates)

    rig = sim(session)
    dialogs.unsaved_answer = "discard"
    assert win.close()
    assert session.rig is None and rig.outputs_at_rest
    with pytest.raises(RuntimeError, match="closed"):
        rig.run(rig.prepare(proto.compile_experiment(start).probe))


def test_closing_is_refused_keeps_the_rig_open(rig_window: MainWindow, session: RigSession) -> None:
    win = rig_window
    panel = win.rigPanel
    assert panel is not None
    win.applyExperiment(with_currents(win.experiment(), 150.0), "edit")
    assert win.isWindowModified()
    assert not win.close()  # the unsaved-changes prompt says cancel
    assert session.rig is not None and panel.calibrateButton.isEnabled()
