"""The rig conformance suite: written once, run against every backend.

Backends: the simulated rig, and the NI-DAQmx rig on the fake driver (marked ``nidaq``),
whose AI returns the simulated cell's response to the AO/DO buffers actually written.
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC

import numpy as np
import numpy.typing as npt
import pytest

from rigctl.hardware import Chunk, LimitError, Rig, RigDefinition, RigError, pulse_edges
from rigctl.protocol import (
    CompiledSweep,
    ProbeSchedule,
    Waveforms,
    compile_induction,
    compile_probe,
    paper_condition,
)
from tests.hardware.conftest import FAULT_STEPS, Backend, FaultStep, InjectedError

TIGHT_LIMITS = {
    "max_command_pa": 200.0,
    "max_stim_rate_hz": 100.0,
    "min_interpulse_ms": 20.0,
    "max_pulse_width_us": 300.0,
    "max_sweep_s": 1.0,
    "max_duty_cycle": 0.01,
}
"""Limits under which each check can be tripped on its own (min_interpulse > 1/max rate)."""


def probe_sweep() -> CompiledSweep:
    return compile_probe(ProbeSchedule())


def induction_sweep() -> CompiledSweep:
    return compile_induction(paper_condition(25, 50).induction)


def with_limits(definition: RigDefinition, **limits: float) -> RigDefinition:
    data = definition.model_dump()
    data["limits"] = {**data["limits"], **limits}
    return RigDefinition.model_validate(data)


def waveform(
    fs: float,
    duration_s: float,
    *,
    pulses_ms: tuple[float, ...] = (),
    width: int = 2,
    command: tuple[float, float, float] | None = None,
) -> Waveforms:
    """Waveforms at rest except for TTL pulses (``width`` samples) and a command step."""
    n = round(duration_s * fs)
    stim = np.zeros(n, dtype=np.uint8)
    for t in pulses_ms:
        i = round(t * fs / 1000)
        stim[i : i + width] = 1
    cmd = np.zeros(n)
    if command is not None:
        start_ms, stop_ms, pa = command
        cmd[round(start_ms * fs / 1000) : round(stop_ms * fs / 1000)] = pa
    return Waveforms(sample_rate_hz=fs, stim=stim, command_pa=cmd)


def violation(limit: str, fs: float) -> Waveforms:
    """A sweep that breaks ``limit`` of :data:`TIGHT_LIMITS` and no limit checked before it."""
    if limit == "max_command_pa":
        return waveform(fs, 0.5, command=(50.0, 150.0, 250.0))
    if limit == "max_stim_rate_hz":
        return waveform(fs, 0.5, pulses_ms=(100.0, 105.0))  # 200 Hz
    if limit == "min_interpulse_ms":
        return waveform(fs, 0.5, pulses_ms=(100.0, 115.0))  # 66.7 Hz, but 15 ms < 20 ms
    if limit == "max_pulse_width_us":
        return waveform(fs, 0.5, pulses_ms=(100.0,), width=round(400e-6 * fs))
    if limit == "max_sweep_s":
        return waveform(fs, 1.2)
    assert limit == "max_duty_cycle"  # 35 pulses x 300 us in 0.9 s: 1.17 %
    return waveform(fs, 0.9, pulses_ms=tuple(10.0 + 25.0 * k for k in range(35)), width=6)


def at_ms(ms: float, fs: float) -> int:
    return round(ms * fs / 1000)


def command_edges(command_pa: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    return np.flatnonzero(np.diff(np.concatenate(([0.0], command_pa))))


# ------------------------------------------------------------------------ limits


@pytest.mark.parametrize("limit", sorted(TIGHT_LIMITS))
def test_prepare_refuses_each_limit_before_any_output(backend: Backend, limit: str) -> None:
    rig = backend.make(with_limits(backend.definition, **TIGHT_LIMITS))
    with pytest.raises(LimitError) as info:
        rig.prepare(violation(limit, rig.definition.sample_rate_hz), "bad")
    assert info.value.limit == limit
    assert limit in str(info.value)
    assert not backend.outputs_touched(rig)
    assert backend.at_rest(rig)


def test_rig_satisfies_the_protocol(backend: Backend) -> None:
    rig = backend.make(None)
    assert isinstance(rig, Rig)
    assert rig.definition == backend.definition


# ------------------------------------------------------------------------ sweeps


def test_probe_sweep_is_physiological(backend: Backend) -> None:
    rig = backend.make(None)
    fs = rig.definition.sample_rate_hz
    sweep = probe_sweep()
    result = rig.run(rig.prepare(sweep, "probe"), at_s=12.5)

    assert result.complete
    assert (
        result.n_samples
        == sweep.n_samples(fs)
        == result.command_pa.shape[0]
        == result.stim.shape[0]
    )
    assert result.label == "probe"
    assert result.sample_rate_hz == fs
    assert result.at_s == 12.5
    assert result.started_at.tzinfo is UTC
    assert result.settings == rig.definition.settings_record()
    vm = result.vm_mv
    rest = float(np.median(vm[: at_ms(100, fs)]))
    assert -70.0 < rest < -60.0
    step = float(np.mean(vm[at_ms(250, fs) : at_ms(300, fs)])) - rest
    assert -4.0 < step < -0.5  # -10 pA into ~150 MOhm
    (pulse,) = pulse_edges(result.stim)[0]
    base = float(np.mean(vm[pulse - at_ms(10, fs) : pulse]))
    window = vm[pulse : pulse + at_ms(40, fs)]
    epsp = float(window.max()) - base
    assert 2.0 < epsp < 10.0
    assert int(np.argmax(window)) >= at_ms(2, fs)  # after the synaptic delay
    assert backend.at_rest(rig)


def test_paper_induction_drives_the_cell(backend: Backend) -> None:
    rig = backend.make(None)
    fs = rig.definition.sample_rate_hz
    sweep = induction_sweep()
    result = rig.run(rig.prepare(sweep, "induction"))

    assert result.complete
    assert result.n_samples == sweep.n_samples(fs)
    vm = result.vm_mv
    assert -70.0 < float(np.median(vm[: at_ms(190, fs)])) < -60.0  # the lead-in
    for start_ms in sweep.window_starts_ms:
        window = vm[at_ms(start_ms, fs) : at_ms(start_ms + 200, fs)]
        assert float(window.max()) > 0.0  # the cell spikes in every theta window
        gap = vm[at_ms(start_ms + 450, fs) : at_ms(start_ms + 600, fs)]
        assert float(np.median(gap)) < -55.0  # and recovers in the gaps
    assert backend.at_rest(rig)


@pytest.mark.parametrize("make_sweep", [probe_sweep, induction_sweep], ids=["probe", "induction"])
def test_every_edge_sits_at_its_compiled_sample(backend: Backend, make_sweep: object) -> None:
    assert callable(make_sweep)
    sweep: CompiledSweep = make_sweep()
    rig = backend.make(None)
    fs = rig.definition.sample_rate_hz
    compiled = sweep.waveforms(fs)
    result = rig.run(rig.prepare(sweep))

    on, off = pulse_edges(result.stim)
    on_c, off_c = pulse_edges(compiled.stim)
    assert on.size == len(sweep.pre_pulse_ms) > 0
    np.testing.assert_array_equal(on, on_c)
    np.testing.assert_array_equal(off, off_c)
    edges = command_edges(result.command_pa)
    np.testing.assert_array_equal(edges, command_edges(compiled.command_pa))
    np.testing.assert_array_equal(result.command_pa[edges], compiled.command_pa[edges])
    assert edges.size > 0


def test_chunks_cover_the_sweep_once_in_order(backend: Backend) -> None:
    rig = backend.make(None)
    fs = rig.definition.sample_rate_hz
    chunks: list[Chunk] = []
    result = rig.run(rig.prepare(probe_sweep()), chunks.append)

    size = round(rig.definition.chunk_ms * fs / 1000)
    assert [c.start for c in chunks] == list(range(0, result.n_samples, size))
    assert all(a.stop == b.start for a, b in itertools.pairwise(chunks))
    assert chunks[-1].stop == result.n_samples
    assert all(c.n_total == result.n_samples and c.sample_rate_hz == fs for c in chunks)
    assert all(c.vm_mv.shape[0] == size for c in chunks[:-1])
    assert chunks[-1].fraction_done == 1.0
    np.testing.assert_array_equal(np.concatenate([c.vm_mv for c in chunks]), result.vm_mv)


# ------------------------------------------------------------------------ abort and faults


def test_abort_from_another_thread_stops_the_sweep_at_rest(backend: Backend) -> None:
    rig = backend.make(None)
    size = round(rig.definition.chunk_ms * rig.definition.sample_rate_hz / 1000)
    prepared = rig.prepare(probe_sweep())
    reached, aborted = threading.Event(), threading.Event()

    def on_chunk(chunk: Chunk) -> None:
        if chunk.start == 3 * size:  # 150-200 ms: inside the -10 pA test step
            reached.set()
            assert aborted.wait(5.0)

    def operator() -> None:
        assert reached.wait(5.0)
        rig.abort()
        aborted.set()

    thread = threading.Thread(target=operator)
    thread.start()
    result = rig.run(prepared, on_chunk)
    thread.join(5.0)

    assert not result.complete
    assert result.n_samples == 4 * size
    assert result.command_pa.shape[0] == result.stim.shape[0] == 4 * size
    assert backend.at_rest(rig)
    assert rig.run(prepared).complete  # the abort does not stick to the next sweep
    assert backend.at_rest(rig)


@pytest.mark.parametrize("step", FAULT_STEPS)
def test_a_fault_at_any_step_leaves_outputs_at_rest(backend: Backend, step: FaultStep) -> None:
    rig = backend.make(None)
    sweep = probe_sweep()
    if step == "prepare":
        fs = rig.definition.sample_rate_hz
        too_strong = 2 * rig.definition.limits.max_command_pa
        with pytest.raises(LimitError):
            rig.prepare(waveform(fs, 0.5, command=(50.0, 150.0, too_strong)))
        assert not backend.outputs_touched(rig)
    else:
        prepared = rig.prepare(sweep)
        backend.disturb(rig)  # outputs away from rest: only the cleanup brings them back
        on_chunk = backend.arm(rig, step)
        with pytest.raises((RigError, InjectedError)):
            rig.run(prepared, on_chunk)
    assert backend.at_rest(rig)
    # The rig is usable again: nothing stayed reserved, the next sweep runs in full.
    result = rig.run(rig.prepare(sweep))
    assert result.complete
    assert backend.at_rest(rig)


def test_safe_state_puts_every_output_at_rest(backend: Backend) -> None:
    rig = backend.make(None)
    backend.disturb(rig)
    assert not backend.at_rest(rig)
    rig.safe_state()
    assert backend.at_rest(rig)
    rig.safe_state()  # idempotent
    assert backend.at_rest(rig)


def test_close_rests_the_outputs_and_refuses_sweeps(backend: Backend) -> None:
    rig = backend.make(None)
    prepared = rig.prepare(probe_sweep())
    backend.disturb(rig)
    rig.close()
    assert backend.at_rest(rig)
    with pytest.raises(RuntimeError):  # RigError (a RuntimeError) or the sim rig's own
        rig.run(prepared)
