"""Nothing is output before it is checked: the whole-run preflight and ``Rig.run``'s re-check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rigctl import protocol as proto
from rigctl.cli import main
from rigctl.engine import ExperimentRunner, RunOptions, RunState
from rigctl.engine.preflight import check_experiment, needs_calibration, preflight
from rigctl.hardware import (
    LimitError,
    PreparedSweep,
    RigDefinition,
    RigError,
    SimRig,
    load_rig,
    recheck_prepared,
)
from tests.hardware.conftest import Backend


def _edit(definition: RigDefinition, section: str, **changes: Any) -> RigDefinition:
    data = definition.model_dump()
    data[section] = {**data[section], **changes}
    return RigDefinition.model_validate(data)


def _forged(fs: float, command_pa: float, n: int = 2000) -> PreparedSweep:
    command = np.zeros(n)
    command[100:1000] = command_pa
    return PreparedSweep(
        label="forged", sample_rate_hz=fs, command_pa=command, stim=np.zeros(n, dtype=np.uint8)
    )


def test_run_refuses_a_forged_sweep_over_the_limit_with_nothing_output(backend: Backend) -> None:
    rig = backend.make(None)
    fs = rig.definition.sample_rate_hz
    assert rig.definition.limits.max_command_pa < 3000
    with pytest.raises(LimitError, match="3000 pA, over the rig's limit max_command_pa") as info:
        rig.run(_forged(fs, 3000.0))
    assert info.value.limit == "max_command_pa"
    assert not backend.outputs_touched(rig)
    assert backend.at_rest(rig)


def test_run_refuses_sweeps_prepared_for_another_rig_or_malformed(backend: Backend) -> None:
    rig = backend.make(None)
    fs = rig.definition.sample_rate_hz
    with pytest.raises(RigError, match="prepared at"):
        rig.run(_forged(fs / 2, 10.0))
    bad_ttl = _forged(fs, 0.0)
    object.__setattr__(bad_ttl, "stim", np.full(bad_ttl.n_samples, 7, dtype=np.uint8))
    with pytest.raises(RigError, match="other than 0 and 1"):
        rig.run(bad_ttl)
    wrong_type = _forged(fs, 0.0)
    object.__setattr__(wrong_type, "command_pa", wrong_type.command_pa.astype(np.float32))
    with pytest.raises(RigError, match="float64"):
        rig.run(wrong_type)
    assert not backend.outputs_touched(rig)


def test_run_of_a_properly_prepared_sweep_still_works(backend: Backend) -> None:
    rig = backend.make(None)
    result = rig.run(rig.prepare(proto.compile_probe(proto.ProbeSchedule()), "probe"))
    assert result.complete and backend.at_rest(rig)


@pytest.mark.parametrize("mode", ["V-Clamp", "I=0"])
def test_amplifier_not_in_current_clamp_is_refused(mode: str) -> None:
    definition = _edit(load_rig(), "amplifier", mode=mode)
    exp = proto.paper_condition(25, 50)
    with pytest.raises(LimitError, match=f"amplifier is in {mode} mode") as info:
        check_experiment(definition, exp)
    assert info.value.limit == "amplifier.mode"
    rig = SimRig(definition)
    with pytest.raises(LimitError, match=r"amplifier\.mode"):
        rig.prepare(proto.compile_probe(exp.probes))
    good = SimRig(load_rig()).prepare(proto.compile_probe(exp.probes))
    with pytest.raises(LimitError, match=mode):
        recheck_prepared(definition, good)
    assert rig.cell.clock_s == 0.0


def test_check_experiment_covers_every_sweep() -> None:
    rig = load_rig()
    exp = proto.paper_condition(25, 50)
    check_experiment(rig, exp, calibrate=True)
    fast = exp.replace(
        induction=exp.induction.replace(
            phases=tuple(p.replace(pre=p.pre.replace(rate_hz=200.0)) for p in exp.induction.phases)
        )
    )
    with pytest.raises(LimitError, match="max_stim_rate_hz") as info:
        check_experiment(rig, fast)
    assert info.value.limit == "max_stim_rate_hz"
    check_experiment(rig, fast, which=("probe",))  # a probe sweep alone is fine
    short = _edit(rig, "limits", max_sweep_s=1.5)
    with pytest.raises(LimitError, match=r"induction: the sweep lasts 6\.2"):
        check_experiment(short, exp)
    # One short window: the sweeps fit, but the calibration ladder (1.7 s) does not.
    tiny = exp.replace(induction=exp.induction.replace(repeats=1))
    check_experiment(short, tiny, calibrate=False)
    with pytest.raises(LimitError, match="calibration"):
        check_experiment(short, tiny, calibrate=True)
    hot = exp.replace(
        induction=exp.induction.replace(
            phases=tuple(
                p.replace(post=p.post.replace(current_pa=900.0)) for p in exp.induction.phases
            )
        )
    )
    with pytest.raises(LimitError, match="900 pA"):
        check_experiment(rig, hot)


def _uncalibrated(exp: proto.Experiment, rate_hz: float | None = None) -> proto.Experiment:
    phases = tuple(
        p.replace(
            post=p.post.replace(current_pa=None),
            pre=p.pre if rate_hz is None else p.pre.replace(rate_hz=rate_hz),
        )
        for p in exp.induction.phases
    )
    return exp.replace(induction=exp.induction.replace(phases=phases))


def test_needs_calibration() -> None:
    exp = proto.paper_condition(25, 50)
    assert not needs_calibration(exp, "missing") and needs_calibration(exp, "always")
    raw = _uncalibrated(exp)
    assert needs_calibration(raw, "missing") and not needs_calibration(raw, "never")


def _fast_uncalibrated(tmp_path: Path) -> Path:
    fast = _uncalibrated(proto.paper_condition(25, 50), rate_hz=200.0)
    return proto.save(fast, tmp_path / "fast.json")


def test_rigctl_run_refuses_before_calibrating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    played: list[str] = []
    original = SimRig.run

    def spy(self: SimRig, prepared: PreparedSweep, *args: Any, **kwargs: Any) -> Any:
        played.append(prepared.label)
        return original(self, prepared, *args, **kwargs)

    monkeypatch.setattr(SimRig, "run", spy)
    f = _fast_uncalibrated(tmp_path)
    out = tmp_path / "data"
    assert main(["run", str(f), "--fast", "--no-nwb", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{f}: refused, nothing was output: induction: pulses come at up to 200")
    assert "limits.max_stim_rate_hz" in err and "sim.toml" in err
    assert played == []  # no calibration step, no probe: no current was injected
    assert not out.exists()


def test_runner_refuses_before_any_output_and_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = SimRig(load_rig())
    exp = proto.load(_fast_uncalibrated(tmp_path))
    assert preflight(rig, exp).startswith("refused, nothing was output:")
    played: list[str] = []
    monkeypatch.setattr(rig, "run", lambda prepared, *a, **k: played.append(prepared.label))
    folder = tmp_path / "run"
    result = ExperimentRunner(rig, exp, folder, RunOptions(fast=True, write_nwb=False)).run()
    assert result.state is RunState.FAILED
    assert result.message.startswith("refused, nothing was output: induction: pulses come")
    assert played == [] and not folder.exists()
    assert rig.outputs_at_rest and rig.cell.clock_s == 0.0
