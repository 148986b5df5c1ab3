"""The NI-DAQmx rig through the fake driver: what nidaqmx was asked to do, and in what order.

The last test runs on a real rig and is skipped unless ``RIGCTL_HARDWARE_RIG`` names one.
"""

from __future__ import annotations

import atexit
import ctypes.util
import math
import threading
from collections.abc import Callable
from typing import Any

import nidaqmx  # type: ignore[import-untyped, unused-ignore]
import numpy as np
import pytest
from nidaqmx.constants import (  # type: ignore[import-untyped, unused-ignore]
    AcquisitionType,
    Edge,
    LineGrouping,
    TerminalConfiguration,
    VoltageUnits,
)
from nidaqmx.errors import DaqError, DaqNotFoundError  # type: ignore[import-untyped, unused-ignore]

from rigctl.hardware import Chunk, RigDefinition, RigError, SweepResult, load_rig, open_rig
from rigctl.hardware.nidaq import DriverMissingError, NidaqError, NidaqRig, list_devices
from rigctl.protocol import CompiledSweep, ProbeSchedule, compile_probe
from tests.hardware.conftest import InjectedError, raising_at
from tests.hardware.fake_nidaq import FakeNidaq, FakeTask

pytestmark = pytest.mark.nidaq

CLOCK = "/Dev1/ai/SampleClock"


def probe() -> CompiledSweep:
    return compile_probe(ProbeSchedule())


def rig_on(fake: FakeNidaq, definition: RigDefinition) -> NidaqRig:
    fake.connect(definition)
    return NidaqRig(definition)


def edit(definition: RigDefinition, **sections: Any) -> RigDefinition:
    """``definition`` with some fields changed (``channels={"stim": {...}}``, ``device=...``)."""
    data = definition.model_dump()

    def merge(into: dict[str, Any], changes: dict[str, Any]) -> None:
        for k, v in changes.items():
            if isinstance(v, dict):
                merge(into[k], v)
            else:
                into[k] = v

    merge(data, sections)
    return RigDefinition.model_validate(data)


def on_board(definition: RigDefinition, device: str, stim: str = "port0/line0") -> RigDefinition:
    return edit(
        definition,
        device=device,
        channels={
            "command": {"terminal": f"{device}/ao0"},
            "stim": {"terminal": f"{device}/{stim}"},
            "vm": {"terminal": f"{device}/ai0"},
        },
    )


def only(tasks: list[FakeTask]) -> FakeTask:
    assert len(tasks) == 1, tasks
    return tasks[0]


@pytest.fixture
def rig(fake_nidaq: FakeNidaq, ni_definition: RigDefinition) -> Any:
    r = rig_on(fake_nidaq, ni_definition)
    yield r
    r.close()


def run_probe(rig: NidaqRig, on_chunk: Callable[[Chunk], None] | None = None) -> SweepResult:
    return rig.run(rig.prepare(probe(), "probe"), on_chunk)


# ------------------------------------------------------------------------ configuration


def test_tasks_follow_the_rig_file(fake_nidaq: FakeNidaq, rig: NidaqRig) -> None:
    result = run_probe(rig)
    n = result.n_samples
    ai, ao, do = (only(fake_nidaq.of_kind(k)) for k in ("ai", "ao", "do"))

    (vm,) = ai.channels
    assert vm.physical == "Dev1/ai0"
    assert (vm.min_val, vm.max_val) == (-5.0, 5.0)
    assert TerminalConfiguration(vm.terminal_config) is TerminalConfiguration.DIFF
    assert VoltageUnits(vm.units) is VoltageUnits.VOLTS
    (cmd,) = ao.channels
    assert cmd.physical == "Dev1/ao0"
    assert (cmd.min_val, cmd.max_val) == (-10.0, 10.0)
    (ttl,) = do.channels
    assert ttl.physical == "Dev1/port0/line0"
    assert LineGrouping(ttl.line_grouping) is LineGrouping.CHAN_PER_LINE

    for task, source in ((ai, ""), (ao, CLOCK), (do, CLOCK)):
        assert task.clock is not None
        assert task.clock.rate == 20_000.0
        assert task.clock.source == source
        assert AcquisitionType(task.clock.sample_mode) is AcquisitionType.FINITE
        assert Edge(task.clock.active_edge) is Edge.RISING
        assert task.clock.samps_per_chan == n
        assert task.start_trigger is None  # the shared clock and the start order synchronise
    assert not fake_nidaq.ops("cfg_dig_edge_start_trig")


def test_buffers_are_the_compiled_waveforms_in_volts(fake_nidaq: FakeNidaq, rig: NidaqRig) -> None:
    compiled = probe().waveforms(20_000)
    run_probe(rig)
    ao, do = only(fake_nidaq.of_kind("ao")), only(fake_nidaq.of_kind("do"))
    assert ao.buffer is not None and do.buffer is not None
    np.testing.assert_allclose(ao.buffer[0], compiled.command_pa / 400.0, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(do.buffer[0], compiled.stim)
    writes = [c for c in fake_nidaq.calls if c.op.startswith("write")]
    assert [(c.kind, c.detail["auto_start"], c.detail["timed"]) for c in writes] == [
        ("ao", False, True),
        ("do", False, True),
    ]
    # The cell behind the board received exactly what was compiled, sample for sample.
    command_pa, stim = fake_nidaq.cell_inputs[-1]
    np.testing.assert_allclose(command_pa, compiled.command_pa, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(stim, compiled.stim)


def test_outputs_start_before_the_ai_master(fake_nidaq: FakeNidaq, rig: NidaqRig) -> None:
    run_probe(rig)
    ops = fake_nidaq.ops("write_analog_f64", "write_digital_lines", "start_task")
    assert ops == [
        ("write_analog_f64", "ao"),
        ("write_digital_lines", "do"),
        ("start_task", "ao"),
        ("start_task", "do"),
        ("start_task", "ai"),
    ]


def test_vm_is_read_in_chunks_while_the_sweep_runs(fake_nidaq: FakeNidaq, rig: NidaqRig) -> None:
    chunks: list[Chunk] = []
    result = run_probe(rig, chunks.append)
    reads = [c.detail for c in fake_nidaq.calls if c.op == "read_analog_f64"]
    assert [r["samples"] for r in reads] == [1000] * 20 + [1]
    assert all(r["timeout"] > 0.05 for r in reads)
    assert len(chunks) == len(reads) == result.extra["chunks"]


def test_vm_is_scaled_by_the_primary_gain(
    fake_nidaq: FakeNidaq, ni_definition: RigDefinition
) -> None:
    definition = edit(ni_definition, amplifier={"primary_gain": 5.0})
    rig = rig_on(fake_nidaq, definition)
    try:
        result = run_probe(rig)
    finally:
        rig.close()
    ai = only(fake_nidaq.of_kind("ai"))
    assert ai.response is not None
    assert -3.5 < float(np.median(ai.response[0][:2000])) < -3.0  # -65 mV x 50 mV/mV at the AI
    assert -70.0 < float(np.median(result.vm_mv[:2000])) < -60.0


def test_success_stops_then_closes_every_task_without_a_rest_write(
    fake_nidaq: FakeNidaq, rig: NidaqRig
) -> None:
    run_probe(rig)
    tail = fake_nidaq.ops()[-6:]
    assert tail == [
        ("stop_task", "ai"),
        ("stop_task", "ao"),
        ("stop_task", "do"),
        ("clear_task", "ai"),
        ("clear_task", "ao"),
        ("clear_task", "do"),
    ]
    assert not fake_nidaq.open_tasks()
    assert fake_nidaq.outputs_at_rest()  # the waveforms' last sample, generated by the board


# ------------------------------------------------------------------------ failures


def test_a_failed_read_stops_closes_then_writes_rest(fake_nidaq: FakeNidaq, rig: NidaqRig) -> None:
    fake_nidaq.inject("read", after=3)
    with pytest.raises(NidaqError) as info:
        run_probe(rig)
    err = info.value
    assert err.code == -200279
    assert "-200279" in str(err) and "reading Vm" in str(err) and "outputs set to rest" in str(err)
    assert isinstance(err.__cause__, DaqError)
    ops = fake_nidaq.ops()
    last_read = max(i for i, (op, _) in enumerate(ops) if op == "read_analog_f64")
    assert ops[last_read + 1 :] == [
        ("stop_task", "ai"),
        ("stop_task", "ao"),
        ("stop_task", "do"),
        ("clear_task", "ai"),
        ("clear_task", "ao"),
        ("clear_task", "do"),
        ("create_task", ""),
        ("create_ao_chan", "ao"),
        ("write_analog_scalar_f64", "ao"),
        ("clear_task", "ao"),
        ("create_task", ""),
        ("create_do_chan", "do"),
        ("write_digital_lines", "do"),
        ("clear_task", "do"),
    ]
    rest = [c for c in fake_nidaq.calls if c.op.startswith("write") and not c.detail["timed"]]
    assert [float(c.detail["data"][0, 0]) for c in rest] == [0.0, 0.0]
    assert fake_nidaq.outputs_at_rest()
    assert not fake_nidaq.open_tasks()


def test_every_cleanup_step_runs_when_each_one_fails(fake_nidaq: FakeNidaq, rig: NidaqRig) -> None:
    fake_nidaq.inject("read", after=3)
    fake_nidaq.inject("stop", times=3)
    fake_nidaq.inject("clear", times=3)
    with pytest.raises(NidaqError) as info:
        run_probe(rig)
    assert info.value.code == -200279  # the first failure is the one reported
    assert str(info.value).count("-201003") == 6  # ... with each cleanup failure
    assert fake_nidaq.ops("stop_task", "clear_task") == [
        ("stop_task", "ai"),
        ("stop_task", "ao"),
        ("stop_task", "do"),
        ("clear_task", "ai"),
        ("clear_task", "ao"),
        ("clear_task", "do"),
        ("clear_task", "ao"),  # the on-demand rest tasks
        ("clear_task", "do"),
    ]
    assert fake_nidaq.outputs_at_rest()
    assert not fake_nidaq.open_tasks()
    assert run_probe(rig).complete


def test_a_failed_rest_write_is_reported_and_the_line_keeps_its_value(
    fake_nidaq: FakeNidaq, rig: NidaqRig
) -> None:
    fake_nidaq.inject("read", after=3)  # 150 ms: inside the -10 pA test step
    fake_nidaq.inject("rest_write", kind="ao")
    with pytest.raises(NidaqError) as info:
        run_probe(rig)
    assert "could NOT be set to rest" in str(info.value)
    assert fake_nidaq.line("Dev1/ao0") == pytest.approx(-10.0 / 400.0)  # a stopped AO holds
    assert fake_nidaq.line("Dev1/port0/line0") == 0.0  # the DO rest write still ran
    rig.safe_state()
    assert fake_nidaq.outputs_at_rest()


@pytest.mark.parametrize(
    ("step", "kind", "code", "words"),
    [
        ("create", None, -201003, "creating the AI task"),
        ("channel", "ao", -200220, "adding AO channel Dev1/ao0"),
        ("timing", "do", -200077, "clocking the DO task from /Dev1/ai/SampleClock"),
        ("write", "ao", -201003, "writing the AO buffer"),
        ("start", "do", -50103, "starting the DO task"),
        ("stop", "ai", -201003, "stopping the AI task"),
        ("clear", "do", -201003, "closing the DO task"),
    ],
)
def test_each_driver_error_names_its_step_and_code(
    fake_nidaq: FakeNidaq, rig: NidaqRig, step: Any, kind: str | None, code: int, words: str
) -> None:
    fake_nidaq.inject(step, kind=kind)
    with pytest.raises(NidaqError) as info:
        run_probe(rig)
    assert info.value.code == code
    assert f"probe: NI-DAQmx error {code} while {words}" in str(info.value)
    assert fake_nidaq.outputs_at_rest()
    assert not fake_nidaq.open_tasks()
    assert run_probe(rig).complete


def test_a_task_left_running_elsewhere_gives_a_reserved_resource_error(
    fake_nidaq: FakeNidaq, rig: NidaqRig
) -> None:
    other = nidaqmx.Task()
    try:
        other.ao_channels.add_ao_voltage_chan("Dev1/ao0")
        other.start()
        with pytest.raises(NidaqError) as info:
            run_probe(rig)
        assert info.value.code == -50103
        assert "starting the AO task" in str(info.value)
    finally:
        other.close()
    assert run_probe(rig).complete


def test_a_chunk_callback_error_propagates_after_cleanup(
    fake_nidaq: FakeNidaq, rig: NidaqRig
) -> None:
    with pytest.raises(InjectedError):
        run_probe(rig, raising_at(3))
    assert fake_nidaq.ops("create_task")[-2:] == [("create_task", ""), ("create_task", "")]
    assert fake_nidaq.outputs_at_rest()
    assert not fake_nidaq.open_tasks()


def test_abort_returns_the_samples_acquired(fake_nidaq: FakeNidaq, rig: NidaqRig) -> None:
    def abort_in_chunk_3(chunk: Chunk) -> None:
        if chunk.start == 3000:
            rig.abort()

    result = run_probe(rig, abort_in_chunk_3)
    assert not result.complete
    assert result.extra["aborted_at_sample"] == 4000 == result.n_samples
    assert [op for op, _ in fake_nidaq.ops()].count("read_analog_f64") == 4
    assert fake_nidaq.outputs_at_rest()  # held -25 mV until the rest write


def test_safe_state_from_another_thread_aborts_the_sweep_first(
    fake_nidaq: FakeNidaq, rig: NidaqRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    abort = rig.abort
    asked = threading.Event()

    def abort_and_tell() -> None:
        abort()
        asked.set()

    monkeypatch.setattr(rig, "abort", abort_and_tell)
    operator = threading.Thread(target=rig.safe_state)

    def on_chunk(chunk: Chunk) -> None:
        if chunk.start == 3000:
            operator.start()
            assert asked.wait(5.0)

    result = run_probe(rig, on_chunk)
    operator.join(5.0)
    assert not operator.is_alive()
    assert not result.complete and result.n_samples == 4000
    assert fake_nidaq.outputs_at_rest()
    # The sweep's own cleanup ran first (every task cleared), then safe_state's rest write.
    clears = [i for i, (op, _) in enumerate(fake_nidaq.ops()) if op == "clear_task"]
    assert len(clears) == 3 + 2 + 2
    assert not fake_nidaq.open_tasks()


def test_the_exit_handler_rests_the_outputs(
    fake_nidaq: FakeNidaq, ni_definition: RigDefinition, monkeypatch: pytest.MonkeyPatch
) -> None:
    handlers: list[Callable[[], None]] = []
    monkeypatch.setattr(atexit, "register", handlers.append)
    monkeypatch.setattr(atexit, "unregister", handlers.remove)
    rig = rig_on(fake_nidaq, ni_definition)
    (at_exit,) = handlers
    fake_nidaq.set_line("Dev1/ao0", 1.0)
    at_exit()
    assert fake_nidaq.outputs_at_rest()
    rig.close()
    assert not handlers
    rig.close()  # idempotent
    with pytest.raises(RigError, match="closed"):
        run_probe(rig)


# ------------------------------------------------------------------------ AO stimulation


def test_an_ao_stimulus_shares_the_command_task(
    fake_nidaq: FakeNidaq, ni_definition: RigDefinition
) -> None:
    definition = edit(
        ni_definition, channels={"stim": {"kind": "ao", "terminal": "Dev1/ao1", "high_v": 5.0}}
    )
    rig = rig_on(fake_nidaq, definition)
    try:
        result = run_probe(rig)
        fake_nidaq.inject("read", after=3)
        fake_nidaq.set_line("Dev1/ao1", 5.0)
        with pytest.raises(NidaqError):
            run_probe(rig)
    finally:
        rig.close()
    assert not fake_nidaq.of_kind("do")
    ao = fake_nidaq.of_kind("ao")[0]
    assert [c.physical for c in ao.channels] == ["Dev1/ao0", "Dev1/ao1"]
    assert ao.buffer is not None
    np.testing.assert_array_equal(ao.buffer[1], probe().waveforms(20_000).stim * 5.0)
    (pulse,) = np.flatnonzero(np.diff(ao.buffer[1]) > 0) + 1
    epsp = result.vm_mv[pulse : pulse + 800].max() - result.vm_mv[pulse - 200 : pulse].mean()
    assert epsp > 2.0  # the isolator saw the 5 V pulse
    rest = [c for c in fake_nidaq.calls if c.op == "write_analog_f64" and not c.detail["timed"]]
    np.testing.assert_array_equal(rest[-1].detail["data"], np.zeros((2, 1)))
    assert fake_nidaq.outputs_at_rest()


# ------------------------------------------------------------------------ devices


def test_list_devices(fake_nidaq: FakeNidaq) -> None:
    devices = {d.name: d for d in list_devices()}
    assert list(devices) == ["Dev1", "Dev2", "Dev3"]
    x = devices["Dev1"]
    assert (x.product_type, x.product_category, x.serial) == (
        "PCIe-6353",
        "X_SERIES_DAQ",
        "0x1D2C3B4A",
    )
    assert x.ai_channels[:2] == ("Dev1/ai0", "Dev1/ai1") and len(x.ai_channels) == 32
    assert x.ao_channels == ("Dev1/ao0", "Dev1/ao1", "Dev1/ao2", "Dev1/ao3")
    assert x.do_lines[0] == "Dev1/port0/line0" and len(x.do_lines) == 48
    assert x.hardware_timed_do and not x.simulated
    usb = devices["Dev2"]
    assert usb.product_type == "USB-6001" and usb.product_category == "USBDAQ"
    assert not usb.hardware_timed_do
    assert "software-timed DO only" in usb.line()
    assert x.line().startswith("Dev1: PCIe-6353 (serial 0x1D2C3B4A), 32 AI, 4 AO, 48 DO lines")


def test_a_usb_6001_is_refused_for_ttl_stimulation(
    fake_nidaq: FakeNidaq, ni_definition: RigDefinition
) -> None:
    with pytest.raises(RigError) as info:
        rig_on(fake_nidaq, on_board(ni_definition, "Dev2"))
    message = str(info.value)
    assert "Dev2 (USB-6001) cannot hardware-time its digital output Dev2/port0/line0" in message
    assert 'channels.stim.kind = "ao"' in message
    assert not fake_nidaq.tasks


def test_a_usb_6001_is_too_slow_for_ao_pulses(
    fake_nidaq: FakeNidaq, ni_definition: RigDefinition
) -> None:
    definition = on_board(ni_definition, "Dev2", stim="ao1")
    definition = edit(definition, channels={"stim": {"kind": "ao"}})
    with pytest.raises(RigError, match=r"update its analog outputs \(5000 S/s\)"):
        rig_on(fake_nidaq, definition)


def test_m_series_clocks_port0_only(fake_nidaq: FakeNidaq, ni_definition: RigDefinition) -> None:
    with pytest.raises(RigError, match="PCI-6229"):
        rig_on(fake_nidaq, on_board(ni_definition, "Dev3", stim="port1/line0"))
    rig = rig_on(fake_nidaq, on_board(ni_definition, "Dev3"))
    try:
        assert run_probe(rig).complete
        assert only(fake_nidaq.of_kind("do")).clock.source == "/Dev3/ai/SampleClock"  # type: ignore[union-attr]
    finally:
        rig.close()


def test_the_device_and_terminals_must_exist(
    fake_nidaq: FakeNidaq, ni_definition: RigDefinition
) -> None:
    with pytest.raises(RigError, match="names device 'Dev9', but NI-DAQmx has Dev1, Dev2, Dev3"):
        rig_on(fake_nidaq, edit(ni_definition, device="Dev9"))
    with pytest.raises(
        RigError, match=r"channels.vm.terminal = 'Dev1/ai99' is not an analog input"
    ):
        rig_on(fake_nidaq, edit(ni_definition, channels={"vm": {"terminal": "Dev1/ai99"}}))
    with pytest.raises(RigError, match="not on the rig's device 'Dev1'"):
        rig_on(fake_nidaq, edit(ni_definition, channels={"stim": {"terminal": "Dev3/port0/line0"}}))


def test_open_rig_builds_the_ni_backend(
    fake_nidaq: FakeNidaq, ni_definition: RigDefinition
) -> None:
    fake_nidaq.connect(ni_definition)
    rig = open_rig(ni_definition)
    try:
        assert isinstance(rig, NidaqRig)
        assert rig.device.product_type == "PCIe-6353"
    finally:
        rig.close()


def test_safe_state_reports_outputs_it_could_not_rest(fake_nidaq: FakeNidaq, rig: NidaqRig) -> None:
    fake_nidaq.set_line("Dev1/ao0", 0.5)
    fake_nidaq.set_line("Dev1/port0/line0", 1.0)
    fake_nidaq.inject("rest_write", kind="do")
    with pytest.raises(NidaqError) as info:
        rig.safe_state()
    assert str(info.value).startswith(
        "the outputs could not be set to rest: NI-DAQmx error -201003 while setting "
        "Dev1/port0/line0 low"
    )
    assert fake_nidaq.line("Dev1/ao0") == 0.0  # the command was still rested
    assert fake_nidaq.line("Dev1/port0/line0") == 1.0
    assert not fake_nidaq.open_tasks()


def test_the_fake_refuses_what_it_does_not_model(fake_nidaq: FakeNidaq) -> None:
    with pytest.raises(NotImplementedError, match="read_digital_lines"):
        fake_nidaq.read_digital_lines(1, 1, 1.0, 0, np.zeros(1, dtype=bool))
    with pytest.raises(NotImplementedError, match="create_ai_thrmcpl_chan"):
        fake_nidaq.create_ai_thrmcpl_chan(1, "Dev1/ai0")
    assert fake_nidaq.driver_version == (25, 5, 0)


# ------------------------------------------------------------------------ no driver


def test_a_missing_driver_is_one_clear_sentence(
    fake_nidaq: FakeNidaq, ni_definition: RigDefinition
) -> None:
    assert not issubclass(DaqNotFoundError, DaqError)  # why it must be caught on its own
    fake_nidaq.driver_missing = True
    for attempt in (lambda: NidaqRig(ni_definition), list_devices):
        with pytest.raises(DriverMissingError) as info:
            attempt()
        message = str(info.value)
        assert message.startswith("the NI-DAQmx driver is not installed")
        assert "hardware/sim.toml" in message
        assert isinstance(info.value, RigError)
        assert isinstance(info.value.__cause__, DaqNotFoundError)


@pytest.mark.skipif(
    ctypes.util.find_library("nidaqmx") is not None, reason="the NI-DAQmx driver is installed"
)
def test_without_the_fake_or_the_driver_the_rig_says_so(ni_definition: RigDefinition) -> None:
    with pytest.raises(DriverMissingError):
        NidaqRig(ni_definition)


# ------------------------------------------------------------------------ real hardware


@pytest.mark.hardware
def test_a_probe_sweep_on_a_real_rig(hardware_rig_path: Any) -> None:
    """On a real rig with a model cell (or the isolator output off): a probe sweep runs.

    Run with ``RIGCTL_HARDWARE_RIG=path/to/rig.toml pytest -m hardware``.
    """
    definition = load_rig(hardware_rig_path)
    assert definition.backend == "nidaq"
    assert definition.device in {d.name for d in list_devices()}
    rig = NidaqRig(definition)
    try:
        chunks: list[Chunk] = []
        result = rig.run(rig.prepare(probe(), "hardware probe"), chunks.append)
        assert result.complete
        assert result.n_samples == probe().n_samples(definition.sample_rate_hz)
        assert np.all(np.isfinite(result.vm_mv))
        assert float(np.max(np.abs(result.vm_mv))) <= definition.vm_range_mv + 1e-6
        assert sum(c.vm_mv.shape[0] for c in chunks) == result.n_samples
        assert math.isclose(result.sample_rate_hz, definition.sample_rate_hz)
        rig.safe_state()
    finally:
        rig.close()
