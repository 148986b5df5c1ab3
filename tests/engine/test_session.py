"""The rig session: one owner of the open rig, lending it to one user at a time."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from rigctl import protocol as proto
from rigctl.engine import RunOptions, RunState, load_recording
from rigctl.engine.dry_run import JobAborted, JobOutcome, SweepDone, sweep_work
from rigctl.engine.session import (
    NoRigError,
    RigBusyError,
    RigOpenError,
    RigOptions,
    RigSession,
    opened,
)
from rigctl.hardware import (
    DEFAULT_RIG_PATH,
    PacedRig,
    Rig,
    RigDefinition,
    RigError,
    RigFileError,
    SimRig,
    StatefulRig,
    load_rig,
)
from tests.engine.rigs import GatedRig, WrappedRig, short

PROBE = proto.compile_experiment(proto.paper_condition(25, 50)).probe


class Opened:
    """An opener that keeps what it opened (``make`` builds each rig)."""

    def __init__(self, make: type[WrappedRig] = WrappedRig) -> None:
        self.make = make
        self.rigs: list[WrappedRig] = []
        self.options: list[RigOptions] = []

    def __call__(self, definition: RigDefinition, options: RigOptions) -> Rig:
        self.options.append(options)
        rig = self.make()
        self.rigs.append(rig)
        return rig


def sim(session: RigSession) -> SimRig:
    rig = session.rig
    assert isinstance(rig, SimRig)
    return rig


def test_opens_the_default_rig_file_with_its_text() -> None:
    session = RigSession()
    assert session.rig is None and not session.busy and session.holder is None
    assert session.open_file() is None
    assert session.path == DEFAULT_RIG_PATH.resolve()
    assert session.definition == load_rig()
    assert session.rig_text == DEFAULT_RIG_PATH.read_text(encoding="utf-8")
    assert isinstance(session.rig, PacedRig) and isinstance(session.rig, StatefulRig)
    assert session.can_pace
    assert session.close() is None and session.rig is None
    assert session.close() is None  # idempotent


def test_a_second_lease_is_refused_while_busy(tmp_path: Path) -> None:
    session = RigSession()
    session.open_file()
    lease = session.lease("calibration")
    assert session.busy and session.holder == "calibration"
    busy = "the rig is in use by the calibration: wait for it to finish or abort it before you "
    with pytest.raises(RigBusyError, match=busy + "start the recording"):
        session.runner(proto.paper_condition(25, 50), tmp_path / "rec")
    with pytest.raises(RigBusyError, match=busy + "start the probe sweep"):
        session.lease("probe sweep")
    with pytest.raises(RigBusyError, match=busy + "change the rig"):
        session.open_file()
    with pytest.raises(RigBusyError, match=busy + "change the pacing"):
        session.set_paced(True)
    assert not (tmp_path / "rec").exists()
    lease.release()
    lease.release()  # idempotent
    assert not session.busy and lease.released
    with session.lease("probe sweep") as rig:
        assert rig is session.rig and session.holder == "probe sweep"
    assert not session.busy
    session.close()


def test_no_rig_no_lease() -> None:
    session = RigSession()
    with pytest.raises(NoRigError, match="no rig is open"):
        session.lease("calibration")


def test_a_lease_ended_by_an_error_puts_the_outputs_at_rest() -> None:
    opener = Opened()
    session = RigSession(opener)
    session.open_file()
    rig = opener.rigs[0]
    with pytest.raises(ZeroDivisionError), session.lease("calibration"):
        rig.inner.output_pa = 150.0  # a step was being output when the error came
        _ = 1 / 0
    assert rig.inner.outputs_at_rest and rig.safe_calls == 1
    assert not session.busy
    with session.lease("probe sweep"):
        pass
    assert rig.safe_calls == 1  # a lease that ends well leaves the rig to its user
    session.close()


def test_close_while_a_job_has_the_rig_aborts_it_and_closes() -> None:
    opener = Opened(GatedRig)
    session = RigSession(opener)
    session.open_file()
    rig = opener.rigs[0]
    assert isinstance(rig, GatedRig)
    ended: list[JobOutcome] = []
    job = session.dry_run_job(
        sweep_work("probe", proto.paper_condition(25, 50)),
        name="probe sweep",
        on_started=lambda info: None,
        on_chunk=lambda chunk: None,
        on_ended=ended.append,
    )
    assert session.holder == "probe sweep"
    job.start()
    assert rig.started.acquire(timeout=5.0)  # the sweep is playing (held at the gate)
    assert session.close() is None
    assert job.join(5.0)
    assert [type(o) for o in ended] == [JobAborted]
    assert not session.busy and session.rig is None
    assert rig.inner.outputs_at_rest and not rig.outputs_active
    with pytest.raises(RuntimeError, match="closed"):
        rig.inner.run(rig.inner.prepare(PROBE))


def test_close_gives_up_on_a_holder_that_never_returns_the_rig() -> None:
    opener = Opened()
    session = RigSession(opener)
    session.open_file()
    lease = session.lease("set-up")
    aborted = threading.Event()
    lease.on_abort(aborted.set)
    problem = session.close(timeout_s=0.01)
    assert aborted.is_set()
    assert problem == "the set-up did not stop within 0.01 s"
    assert session.rig is None and not session.busy
    assert opener.rigs[0].inner.outputs_at_rest
    lease.release()  # late: harmless


def test_a_job_releases_the_rig_before_it_reports() -> None:
    session = RigSession()
    session.open_file()
    busy_when_ended: list[bool] = []
    outcomes: list[JobOutcome] = []

    def ended(outcome: JobOutcome) -> None:
        busy_when_ended.append(session.busy)
        outcomes.append(outcome)

    job = session.dry_run_job(
        sweep_work("probe", proto.paper_condition(25, 50)),
        name="probe sweep",
        on_started=lambda info: None,
        on_chunk=lambda chunk: None,
        on_ended=ended,
    )
    job.start()
    assert job.join(10.0)
    assert busy_when_ended == [False] and isinstance(outcomes[0], SweepDone)
    session.close()


def test_a_recording_holds_the_rig_until_it_ends(tmp_path: Path) -> None:
    session = RigSession(options=RigOptions(seed=3))
    session.open_file()
    holders: list[str | None] = []
    runner = session.runner(
        short(proto.paper_condition(25, 50)),
        tmp_path / "rec",
        RunOptions(fast=True, write_nwb=False),
    )
    runner.progress.connect(lambda status: holders.append(session.holder))
    result = runner.run()
    assert result.state == RunState.DONE
    assert holders and set(holders) == {"recording"}
    assert not session.busy
    assert (tmp_path / "rec" / "rig.toml").read_text(encoding="utf-8") == session.rig_text
    assert load_recording(tmp_path / "rec").status == "done"
    session.close()


def test_pacing_is_a_rig_option() -> None:
    session = RigSession(options=RigOptions(paced=True, seed=5))
    session.open_file()
    rig = sim(session)
    assert rig.paced and rig.cell.seed == 5
    session.set_paced(False)
    assert not rig.paced and session.options == RigOptions(paced=False, seed=5)
    session.open_file()  # a new rig keeps the option
    assert not sim(session).paced and rig is not session.rig
    session.close()


def test_a_rig_without_pacing_ignores_it() -> None:
    opener = Opened()  # WrappedRig has no set_paced: it stands for a real rig
    session = RigSession(opener, options=RigOptions(paced=True))
    session.open_file()
    assert not session.can_pace
    session.set_paced(False)
    assert opener.options == [RigOptions(paced=True)]
    assert not opener.rigs[0].inner.paced
    session.close()


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (RigError("the NI-DAQmx driver is not installed"), "sim.toml: the NI-DAQmx driver"),
        (ImportError("No module named 'nidaqmx'"), "sim.toml: the sim backend cannot be loaded"),
        (ValueError("bug"), r"sim.toml: the rig could not be opened \(ValueError: bug\)"),
    ],
)
def test_a_rig_that_cannot_be_opened(failure: Exception, expected: str) -> None:
    def opener(definition: RigDefinition, options: RigOptions) -> Rig:
        raise failure

    session = RigSession(opener)
    with pytest.raises(RigOpenError, match=expected):
        session.open_file()
    assert session.definition is not None and session.rig is None
    with pytest.raises(NoRigError):
        session.lease("probe sweep")


def test_a_bad_rig_file_keeps_the_open_rig(tmp_path: Path) -> None:
    session = RigSession()
    session.open_file()
    rig = session.rig
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [", encoding="utf-8")
    with pytest.raises(RigFileError, match="not valid TOML"):
        session.open_file(bad)
    assert session.rig is rig and session.path == DEFAULT_RIG_PATH.resolve()
    session.close()


def test_the_previous_rig_is_rested_and_closed_on_change(tmp_path: Path) -> None:
    opener = Opened()
    session = RigSession(opener)
    session.open_file()
    first = opener.rigs[0]
    first.inner.output_pa = 20.0
    assert session.open_file() is None
    assert first.inner.outputs_at_rest and first.safe_calls >= 1
    with pytest.raises(RuntimeError, match="closed"):
        first.inner.run(first.inner.prepare(PROBE))
    session.close()


def test_opened_closes_on_leaving() -> None:
    with opened(load_rig(), RigOptions(seed=9)) as session:
        rig = sim(session)
        assert rig.cell.seed == 9 and not rig.paced
    assert session.rig is None
    with pytest.raises(RuntimeError, match="closed"):
        rig.run(rig.prepare(PROBE))


def test_the_cell_is_kept_through_the_stateful_capability() -> None:
    with opened(load_rig(), RigOptions(seed=2)) as session, session.lease("probe") as rig:
        assert isinstance(rig, StatefulRig)
        rig.run(rig.prepare(PROBE))
        saved = rig.state()
    with opened(load_rig(), RigOptions(seed=2)) as session, session.lease("probe") as rig:
        assert isinstance(rig, StatefulRig)
        rig.restore_state(saved, elapsed_s=60.0)
        assert rig.state() == {**saved, "clock_s": float(saved["clock_s"]) + 60.0}


def test_a_close_during_an_open_closes_the_rig_that_was_being_opened() -> None:
    entered, go_on = threading.Event(), threading.Event()
    opened_rigs: list[WrappedRig] = []

    def slow_opener(definition: RigDefinition, options: RigOptions) -> Rig:
        entered.set()
        assert go_on.wait(5.0)
        rig = WrappedRig()
        opened_rigs.append(rig)
        return rig

    session = RigSession(slow_opener)
    opening = threading.Thread(target=session.open_file)
    opening.start()
    assert entered.wait(5.0)  # the opener is running, the old rig (none) is gone
    closing = threading.Thread(target=session.close)
    closing.start()
    closing.join(0.2)  # a close that did not wait for the open would be over by now
    go_on.set()
    opening.join(5.0)
    closing.join(5.0)
    assert session.rig is None
    [rig] = opened_rigs
    with pytest.raises(RuntimeError, match="closed"):
        rig.inner.run(rig.inner.prepare(PROBE))
