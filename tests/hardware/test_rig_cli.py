"""rigctl devices / calibrate / sweep on the simulated rig."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rigctl import protocol as proto
from rigctl.cli import main
from rigctl.engine import session as session_module
from rigctl.engine.session import RigOptions
from rigctl.hardware import Rig, RigDefinition, SimRig
from tests.conftest import PROTOCOLS


def test_calibrate_prints_the_curve_and_currents(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "--rates", "25", "50", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "f-I curve" in out and "maximum" in out
    assert "25 Hz:" in out and "50 Hz:" in out and "ok" in out


def test_calibrate_a_protocol_and_save_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cal.json"
    args = [
        "calibrate",
        "--json",
        "--protocol",
        str(PROTOCOLS / "theta-50-25.json"),
        "--out",
        str(out),
    ]
    assert main(args) == 0
    rec = json.loads(capsys.readouterr().out)
    assert all(r["ok"] for r in rec["protocol"]["rates"])
    exp = proto.load(out)
    currents = [p.post.current_pa for p in exp.induction.phases]
    assert currents == [
        rec["protocol"]["currents_pa"]["prediction"],
        rec["protocol"]["currents_pa"]["outcome"],
    ]
    assert currents[0] is not None and currents[1] is not None and currents[0] > currents[1]


def test_sweep_induction_writes_the_arrays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ind.npz"
    assert (
        main(
            [
                "sweep",
                str(PROTOCOLS / "theta-25-50.json"),
                "--which",
                "induction",
                "--out",
                str(out),
                "--seed",
                "4",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "prediction" in text and "outcome" in text
    with np.load(out) as z:
        t, vm, cmd, stim = z["t_s"], z["vm_mv"], z["command_pa"], z["stim"]
        meta = json.loads(str(z["metadata"]))
    assert len(t) == len(vm) == len(cmd) == len(stim) == 124_001
    assert vm.max() > 0 and -70 < np.median(vm[:2000]) < -60
    wave = proto.compile_induction(proto.load(PROTOCOLS / "theta-25-50.json").induction).waveforms(
        20_000
    )
    np.testing.assert_array_equal(stim, wave.stim)
    np.testing.assert_array_equal(cmd, wave.command_pa)
    assert meta["settings"]["amplifier"]["primary_gain"] == 2.0
    assert {r["phase"] for r in meta["achieved_rates"]} == {"prediction", "outcome"}
    assert all(r["ok"] for r in meta["achieved_rates"])


def test_probes_after_an_induction_on_a_kept_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "cell.json"

    def sweep(which: str) -> float:
        out = tmp_path / f"{which}.npz"
        f = str(PROTOCOLS / "theta-25-50.json")
        assert (
            main(
                [
                    "sweep",
                    f,
                    "--which",
                    which,
                    "--out",
                    str(out),
                    "--seed",
                    "6",
                    "--state",
                    str(state),
                ]
            )
            == 0
        )
        with np.load(out) as z:
            meta = json.loads(str(z["metadata"]))
        return float(meta["backend_info"]["sim_weight"])

    before = [sweep("probe") for _ in range(2)]
    sweep("induction")
    after = [sweep("probe") for _ in range(3)]
    assert before == [1.0, 1.0]
    assert 1.0 < after[0] < after[1] < after[2]


def test_sweep_refuses_a_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exp = proto.paper_condition(25, 50)
    phases = tuple(p.replace(post=p.post.replace(current_pa=2000.0)) for p in exp.induction.phases)
    f = tmp_path / "hot.json"
    proto.save(exp.replace(induction=exp.induction.replace(phases=phases)), f)
    assert main(["sweep", str(f), "--which", "induction", "--out", str(tmp_path / "x.npz")]) == 1
    err = capsys.readouterr().err
    assert "max_command_pa = 600 pA" in err
    assert not (tmp_path / "x.npz").exists()


def test_bad_rig_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rig = tmp_path / "rig.toml"
    rig.write_text('name = "x"\nbackend = "vme"\n')
    assert (
        main(
            [
                "sweep",
                str(PROTOCOLS / "theta-25-50.json"),
                "--rig",
                str(rig),
                "--out",
                str(tmp_path / "x.npz"),
            ]
        )
        == 1
    )
    assert capsys.readouterr().err.startswith(f"{rig}: backend:")


def test_devices_without_a_driver(capsys: pytest.CaptureFixture[str]) -> None:
    # CI has no NI-DAQmx driver: the command says so and points at the simulated rig.
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("simulated rig: ") and "sim.toml" in out
    assert "NI-DAQmx" in out


class Opener:
    """Records the rigs the commands open through the rig session (like the default opener)."""

    def __init__(self) -> None:
        self.opened: list[tuple[RigOptions, SimRig]] = []

    def __call__(self, definition: RigDefinition, options: RigOptions) -> Rig:
        rig = SimRig(definition, paced=options.paced, seed=options.seed)
        self.opened.append((options, rig))
        return rig


@pytest.fixture
def opener(monkeypatch: pytest.MonkeyPatch) -> Opener:
    recorder = Opener()
    monkeypatch.setattr(session_module, "default_opener", recorder)
    return recorder


def test_sweep_uses_the_rig_session_and_closes_the_rig(tmp_path: Path, opener: Opener) -> None:
    out = tmp_path / "p.npz"
    args = ["sweep", str(PROTOCOLS / "theta-25-50.json"), "--which", "probe", "--seed", "7"]
    assert main([*args, "--out", str(out)]) == 0
    [(options, rig)] = opener.opened
    assert options == RigOptions(paced=False, seed=7) and not rig.paced
    assert rig.outputs_at_rest
    with pytest.raises(RuntimeError, match="closed"):
        rig.run(rig.prepare(proto.compile_experiment(proto.paper_condition(25, 50)).probe))


def test_a_refused_sweep_never_opens_the_rig(tmp_path: Path, opener: Opener) -> None:
    exp = proto.paper_condition(25, 50)
    phases = tuple(p.replace(post=p.post.replace(current_pa=2000.0)) for p in exp.induction.phases)
    f = tmp_path / "hot.json"
    proto.save(exp.replace(induction=exp.induction.replace(phases=phases)), f)
    assert main(["sweep", str(f), "--out", str(tmp_path / "x.npz")]) == 1
    assert opener.opened == []  # refused by the preflight, before any rig exists


def test_a_rig_that_cannot_be_opened_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ni = PROTOCOLS.parent / "hardware" / "ni-x-series-multiclamp700b.toml"
    args = ["sweep", str(PROTOCOLS / "theta-25-50.json"), "--rig", str(ni)]
    code = main([*args, "--out", str(tmp_path / "x.npz")])
    err = capsys.readouterr().err
    if code == 0:  # pragma: no cover - a machine with NI-DAQmx and a device
        pytest.skip("NI-DAQmx and a device are present")
    assert code == 1 and err.startswith(f"{ni.name}: ") and err.count("\n") == 1
