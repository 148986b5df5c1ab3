"""Fixtures of the rig tests: the fake NI-DAQmx driver and one adapter per backend.

The conformance suite asks a :class:`Backend` for a rig and for the few things that differ
between backends: whether the outputs are at rest (the simulated rig's own flags, or the
line states of the fake NI board), how to leave them away from rest, and how to make a
given step of a sweep fail.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from rigctl.hardware import Chunk, ChunkCallback, Rig, RigDefinition, SimRig, load_rig
from tests.conftest import ROOT
from tests.hardware.fake_nidaq import FakeNidaq

NI_RIG_PATH = ROOT / "hardware" / "ni-x-series-multiclamp700b.toml"
HARDWARE_ENV = "RIGCTL_HARDWARE_RIG"
"""Set to a rig file to run the tests marked ``hardware`` on a real rig."""

FaultStep = Literal["prepare", "start", "read", "stop", "close"]
FAULT_STEPS: tuple[FaultStep, ...] = ("prepare", "start", "read", "stop", "close")
READ_FAULT_CHUNK = 3
"""Chunk whose read fails: 150-200 ms of a probe sweep, inside its -10 pA test step."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "nidaq: tests the NI-DAQmx backend (on the fake driver unless also marked hardware)",
    )
    config.addinivalue_line(
        "markers", f"hardware: needs a real NI rig (set {HARDWARE_ENV}=path/to/rig.toml)"
    )


class InjectedError(Exception):
    """Raised by a test's chunk callback to fail a sweep from the inside."""


def raising_at(chunk_index: int) -> ChunkCallback:
    """A chunk callback that raises :class:`InjectedError` at chunk ``chunk_index`` (-1: last)."""

    def on_chunk(chunk: Chunk) -> None:
        last = chunk.stop == chunk.n_total
        index = round(chunk.start / max(1, chunk.vm_mv.shape[0])) if not last else -1
        if index == chunk_index or (chunk_index == -1 and last):
            raise InjectedError(f"fault in chunk at sample {chunk.start}")

    return on_chunk


@dataclass
class Backend:
    """One rig backend as the conformance suite sees it."""

    name: str
    definition: RigDefinition
    """The backend's rig file (the simulated rig, or the example X-series rig)."""
    make: Callable[[RigDefinition | None], Rig]
    """Build a rig (the backend's default rig file if None); closed after the test."""
    at_rest: Callable[[Rig], bool]
    disturb: Callable[[Rig], None]
    """Leave the outputs away from rest (as a crashed program would)."""
    arm: Callable[[Rig, FaultStep], ChunkCallback | None]
    """Make ``step`` fail in the next sweep; returns the chunk callback to run it with."""
    outputs_touched: Callable[[Rig], bool]
    """Whether anything was ever sent towards the outputs."""
    fake: FakeNidaq | None = None
    rigs: list[Rig] = field(default_factory=list)


@pytest.fixture
def fake_nidaq(monkeypatch: pytest.MonkeyPatch) -> FakeNidaq:
    """The fake NI-DAQmx driver, installed for this test (nothing cabled yet)."""
    fake = FakeNidaq()
    fake.install(monkeypatch)
    return fake


@pytest.fixture
def ni_definition() -> RigDefinition:
    """The example X-series rig file (Dev1, a PCIe-6353 in the fake)."""
    return load_rig(NI_RIG_PATH)


def _sim_backend() -> Backend:
    default = load_rig()

    def make(definition: RigDefinition | None) -> Rig:
        return SimRig(definition or default)

    def sim(rig: Rig) -> SimRig:
        assert isinstance(rig, SimRig)
        return rig

    def disturb(rig: Rig) -> None:
        sim(rig).output_pa = 120.0
        sim(rig).output_ttl = 1

    def arm(rig: Rig, step: FaultStep) -> ChunkCallback | None:
        if step == "start":
            # The cell "hardware" fails once as the sweep starts, after the outputs were set.
            cell = sim(rig).cell

            def broken(*args: Any, **kwargs: Any) -> Any:
                del cell.respond
                raise InjectedError("the simulated cell failed to start")

            cell.respond = broken  # type: ignore[method-assign]
            return None
        if step == "read":
            return raising_at(READ_FAULT_CHUNK)
        return raising_at(-1)  # stop/close: nothing separate to fail; fail at the very end

    return Backend(
        name="sim",
        definition=default,
        make=make,
        at_rest=lambda rig: sim(rig).outputs_at_rest,
        disturb=disturb,
        arm=arm,
        outputs_touched=lambda rig: sim(rig).cell.clock_s != 0.0,
    )


def _ni_backend(fake: FakeNidaq, ni_definition: RigDefinition) -> Backend:
    from rigctl.hardware.nidaq import NidaqRig

    def make(definition: RigDefinition | None) -> Rig:
        d = definition or ni_definition
        fake.connect(d)
        return NidaqRig(d)

    def disturb(rig: Rig) -> None:
        ch = rig.definition.channels
        fake.set_line(ch.command.terminal, 0.3)
        fake.set_line(ch.stim.terminal, 1.0)

    def arm(rig: Rig, step: FaultStep) -> ChunkCallback | None:
        if step == "start":
            fake.inject("start", kind="ai")  # after AO and DO are running
        elif step == "read":
            fake.inject("read", after=READ_FAULT_CHUNK)
        elif step == "stop":
            fake.inject("stop", kind="ao")
        elif step == "close":
            fake.inject("clear", kind="ao")
        return None

    return Backend(
        name="nidaq",
        definition=ni_definition,
        make=make,
        at_rest=lambda rig: fake.outputs_at_rest(),
        disturb=disturb,
        arm=arm,
        outputs_touched=lambda rig: bool(fake.tasks),
        fake=fake,
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Parametrized here rather than in the fixture: the ``nidaq`` mark must not be looked up
    # before this conftest's pytest_configure has registered it (--strict-markers).
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize(
            "backend", ["sim", pytest.param("nidaq", marks=pytest.mark.nidaq)], indirect=True
        )


@pytest.fixture
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    """Each rig backend in turn: the simulated rig, and the NI rig on the fake driver."""
    if request.param == "sim":
        b = _sim_backend()
    else:
        fake = FakeNidaq()
        fake.install(monkeypatch)
        b = _ni_backend(fake, load_rig(NI_RIG_PATH))
    make = b.make

    def tracked(definition: RigDefinition | None = None) -> Rig:
        rig = make(definition)
        b.rigs.append(rig)
        return rig

    b.make = tracked
    yield b
    for rig in b.rigs:
        rig.close()


@pytest.fixture
def hardware_rig_path() -> Path:
    """The real rig file named by ``RIGCTL_HARDWARE_RIG`` (the test is skipped without it)."""
    value = os.environ.get(HARDWARE_ENV)
    if not value:
        pytest.skip(f"no real rig: set {HARDWARE_ENV}=path/to/rig.toml to run")
    return Path(value)
