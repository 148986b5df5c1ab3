"""Dry runs on the rig (engine side): a job aborted before it starts, the probe summary."""

from __future__ import annotations

import numpy as np

from rigctl import protocol as proto
from rigctl.engine import analyze_probe
from rigctl.engine.dry_run import JobAborted, JobOutcome, RigJob, probe_summary, sweep_work
from rigctl.hardware import RigDefinition, SimRig

PROBE = proto.compile_experiment(proto.paper_condition(25, 50)).probe


def test_a_job_cancelled_before_it_starts_never_runs_a_sweep() -> None:
    rig = SimRig(RigDefinition(name="test"))
    ended: list[JobOutcome] = []
    started: list[object] = []
    job = RigJob(
        rig,
        sweep_work("probe", proto.paper_condition(25, 50)),
        on_started=started.append,
        on_chunk=lambda chunk: None,
        on_ended=ended.append,
        name="probe sweep",
    )
    job.cancel()  # before the thread even started: the rig's own abort flag would be cleared
    job.start()
    assert job.join(5.0)
    assert [type(o) for o in ended] == [JobAborted] and started == []
    assert rig.cell.state()["sweeps"] == 0 and rig.outputs_at_rest
    rig.close()


def test_the_probe_summary_is_the_engines_probe_analysis() -> None:
    rig = SimRig(RigDefinition(name="test"), seed=6)
    result = rig.run(rig.prepare(PROBE))
    rig.close()
    fs = result.sample_rate_hz
    summary = probe_summary(result.vm_mv, fs, PROBE)
    engine = analyze_probe(result.vm_mv, fs, PROBE)
    assert summary.epsp_mv == engine.epsp_mv and summary.input_resistance_mohm == engine.rin_mohm
    assert not summary.fired and summary.pulse_ms == PROBE.of_kind("probe_pulse")[0].start_ms
    assert summary.line().startswith(f"EPSP {engine.epsp_mv:.2f} mV")


def test_a_probe_cut_before_its_pulse_has_no_epsp_and_a_spike_is_flagged() -> None:
    pulse_ms = PROBE.of_kind("probe_pulse")[0].start_ms
    fs = 20_000.0
    cut = np.full(round((pulse_ms - 30.0) * fs / 1000.0), -65.0)
    summary = probe_summary(cut, fs, PROBE)
    assert summary.epsp_mv is None and not summary.fired
    n = PROBE.n_samples(fs)
    spiking = np.full(n, -65.0)
    i = round((pulse_ms + 5.0) * fs / 1000.0)
    spiking[i : i + 20] = 20.0  # a spike 5 ms after the pulse
    fired = probe_summary(spiking, fs, PROBE)
    assert fired.fired and fired.line().startswith("the probe pulse at")
