"""Simulated studies reproduce the paper's directions; studies refuse bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rigctl import protocol as proto
from rigctl.engine import load_recording
from rigctl.engine.study import StudyError, StudyProgress, expression_basis, run_study
from rigctl.hardware import load_rig
from rigctl.hardware.definition import SimCellSettings
from rigctl.hardware.sim.rig import cell_variation
from rigctl.plasticity.mapping import fit_mapping, paper_dataset
from tests.conftest import ROOT

# Short schedules keep the test fast: the simulated synapse expresses its change within
# minutes, so a 4-6 min window after a 6 min follow-up shows the same directions.
SHORT = proto.ProbeSchedule(baseline_min=2, followup_min=6)
WINDOW = (4.0, 6.0)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[StudyProgress]]:
    out = tmp_path_factory.mktemp("study") / "out"
    seen: list[StudyProgress] = []
    run_study(None, out, 3, probes=SHORT, window_min=WINDOW, seed=0, progress=seen.append)
    return out, seen


def test_paper_directions(study: tuple[Path, list[StudyProgress]]) -> None:
    out, _ = study
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    means = {c["condition"]: c["mean"] for c in s["conditions"]}
    assert set(means) == {"25-25", "25-50", "50-25", "50-50"}
    assert means["25-50"] > 1.2  # LTP
    assert means["50-25"] < 0.9  # LTD
    assert 0.85 < means["25-25"] < 1.3 and 0.85 < means["50-50"] < 1.3  # no big change
    ltp = next(c for c in s["conditions"] if c["condition"] == "25-50")
    assert all(v > 1.0 for v in ltp["values"]) and ltp["n"] == 3
    welch = next(c for c in s["comparisons"] if (c["a"], c["b"]) == ("25-50", "50-25"))
    assert welch["p"] < 0.05


def test_layout_and_outputs(study: tuple[Path, list[StudyProgress]]) -> None:
    out, seen = study
    cells = sorted(p.relative_to(out).as_posix() for p in out.glob("*/cell-*"))
    assert cells == [
        f"{c}/cell-{k:02d}" for c in ("25-25", "25-50", "50-25", "50-50") for k in (1, 2, 3)
    ]
    assert (out / "summary.png").read_bytes()[:4] == b"\x89PNG"
    assert "25→50 Hz" in (out / "summary.txt").read_text(encoding="utf-8")
    assert [p.done for p in seen] == [*range(1, 13), 12]
    assert seen[-1].message == "summary written" and seen[0].fraction == pytest.approx(1 / 12)
    # Every cell is a different simulated cell (its own seed and variability).
    rins = {round(load_recording(out / c).sweeps[0].meta["analysis"]["rin_mohm"]) for c in cells}
    assert len(rins) > 6
    report = (out / "summary.txt").read_text(encoding="utf-8")
    assert "Expression scale of the simulated synapse" in report
    assert "hold-out" in report and "OTHER conditions" in report and "Jang et al. 2026" in report
    scale = json.loads((out / "summary.json").read_text(encoding="utf-8"))["expression_scale"]
    assert scale["holdout"] is True
    for row in scale["conditions"]:
        assert row["condition"] not in row["fitted_on"] and len(row["fitted_on"]) == 3
        assert row["out_of_sample"] is True
        assert row["within_paper_sem"] == (
            abs(row["simulated_mean"] - row["paper_mean"]) <= row["paper_sem"]
        )
    rec = load_recording(out / "25-50" / "cell-01")
    assert rec.header["subject"]["subject_id"] == "sim-25-50-cell-01"
    assert any(ev.get("event") == "calibration" for ev in rec.events)  # calibrated per cell


def test_six_cells_make_ltp_and_ltd_significant(tmp_path: Path) -> None:
    s = run_study(
        None,
        tmp_path / "s",
        6,
        conditions=("25-50", "50-25"),
        probes=SHORT,
        window_min=WINDOW,
        seed=1,
    )
    assert s.condition("25-50").mean > 1 and s.condition("25-50").p < 0.05
    assert s.condition("50-25").mean < 1 and s.condition("50-25").p < 0.05


def test_refusals(tmp_path: Path) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "x").write_text("x")
    with pytest.raises(StudyError, match="not empty"):
        run_study(None, used, 1)
    with pytest.raises(StudyError, match="unknown condition '30-60'"):
        run_study(None, tmp_path / "a", 1, conditions=("30-60",))
    with pytest.raises(StudyError, match=r"outside 0-0\.5"):
        run_study(None, tmp_path / "b", 1, variability=0.9)
    with pytest.raises(StudyError, match="simulated rig"):
        run_study(ROOT / "hardware" / "ni-x-series-multiclamp700b.toml", tmp_path / "c", 1)
    with pytest.raises(StudyError, match="at least 1"):
        run_study(None, tmp_path / "d", 0)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_each_cell_is_its_own_rig_opened_and_closed_by_a_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rigctl.engine import session as session_module
    from rigctl.engine.session import RigOptions
    from rigctl.hardware import Rig, RigDefinition, SimRig

    opened: list[tuple[RigOptions, SimRig]] = []

    def opener(definition: RigDefinition, options: RigOptions) -> Rig:
        rig = SimRig(definition, paced=options.paced, seed=options.seed)
        opened.append((options, rig))
        return rig

    monkeypatch.setattr(session_module, "default_opener", opener)
    short = proto.ProbeSchedule(baseline_min=1, followup_min=1)
    out = tmp_path / "s"
    run_study(None, out, 2, conditions=("25-50",), probes=short, window_min=(0, 1), calibrate=False)
    assert [options for options, _ in opened] == [RigOptions(seed=1), RigOptions(seed=2)]
    for _, rig in opened:
        assert rig.outputs_at_rest
        with pytest.raises(RuntimeError, match="closed"):
            rig.run(rig.prepare(proto.compile_experiment(proto.paper_condition(25, 50)).probe))


def test_holdout_scales_are_fitted_without_their_condition() -> None:
    experiments = [(k, proto.paper_condition(*proto.PAPER_CONDITIONS[k])) for k in ("25-50",)]
    held = expression_basis(experiments, 0.03378, holdout=True, variability=0.15)
    (scale,) = held.scales
    data = paper_dataset()
    others = tuple(c for c in data.conditions if c.key != "25-50")
    expected = fit_mapping(data.model_copy(update={"conditions": others})).value
    assert scale.lrate == pytest.approx(expected) and scale.lrate != pytest.approx(0.03378)
    assert scale.fitted_on == ("25-25", "50-25", "50-50")
    assert scale.paper is not None and scale.paper.mean == 1.42
    in_sample = expression_basis(experiments, 0.03378, holdout=False, variability=0.15)
    assert in_sample.scales[0].lrate == 0.03378 and in_sample.scales[0].fitted_on == ()


def test_rig_file_scale_is_the_documented_fit() -> None:
    fitted = fit_mapping(paper_dataset()).value
    rig = load_rig(ROOT / "hardware" / "sim.toml")
    assert rig.sim.expression_lrate == pytest.approx(fitted, rel=2e-4)
    assert SimCellSettings().expression_lrate == rig.sim.expression_lrate
    description = SimCellSettings.model_fields["expression_lrate"].description or ""
    assert "Jang et al. 2026" in description and "0.03378" in description


def test_cell_plasticity_is_mean_corrected() -> None:
    settings = SimCellSettings(variability=0.15)
    scales = [cell_variation(settings, seed)[1] for seed in range(4000)]
    assert sum(scales) / len(scales) == pytest.approx(1.0, abs=0.03)


def test_cli_holdout_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from rigctl.cli import main

    seen: dict[str, object] = {}

    def fake(*args: object, **kwargs: object) -> object:
        seen.update(kwargs)
        raise StudyError("stop here")

    monkeypatch.setattr("rigctl.engine.study.run_study", fake)
    assert main(["study", "--cells", "1", "--out", str(tmp_path / "x")]) == 1
    assert seen["holdout"] is True
    assert main(["study", "--cells", "1", "--out", str(tmp_path / "y"), "--no-holdout"]) == 1
    assert seen["holdout"] is False
