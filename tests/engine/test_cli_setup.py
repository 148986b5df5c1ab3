"""rigctl setup: a headless set-up from the command line."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from rigctl.cli import main
from rigctl.cli.setup import JSON_KEYS
from rigctl.engine.slicelog import SLICE_LOG_NAME, SliceLog
from tests.conftest import PROTOCOLS, ROOT

SIM_TEXT = (ROOT / "hardware" / "sim.toml").read_text(encoding="utf-8")


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    status = main(["setup", "--json", *args])
    return status, json.loads(capsys.readouterr().out)


def test_auto_json_reaches_the_target_band(capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run_json(capsys, "--auto", "--seed", "3")
    assert status == 0 and out["in_band"] is True
    assert JSON_KEYS == (
        "rin_mohm",
        "vm_mv",
        "tau_ms",
        "series_resistance_mohm",
        "epsp_mv",
        "stim_intensity_ua",
        "currents_pa",
        "setup_s",
    )
    assert 100 < out["rin_mohm"] < 200  # type: ignore[operator]
    assert -70 < out["vm_mv"] < -60  # type: ignore[operator]
    assert 20 < out["tau_ms"] < 30  # type: ignore[operator]
    assert 9 < out["series_resistance_mohm"] < 27  # type: ignore[operator]
    assert 4.0 <= out["epsp_mv"] <= 6.0  # type: ignore[operator]
    assert 0 < out["stim_intensity_ua"] <= 500  # type: ignore[operator]
    currents = out["currents_pa"]
    assert isinstance(currents, dict) and set(currents) == {"prediction", "outcome"}
    assert all(100 <= c <= 350 for c in currents.values())
    assert 0 < out["setup_s"] < 300  # type: ignore[operator]


def test_target_and_protocol_options(capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run_json(
        capsys,
        "--auto",
        "--target-epsp-mv",
        "3",
        "--tolerance-mv",
        "0.5",
        "--protocol",
        str(PROTOCOLS / "theta-50-25.json"),
    )
    assert status == 0 and 2.5 <= out["epsp_mv"] <= 3.5  # type: ignore[operator]


def test_manual_intensity_and_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["setup", "--intensity-ua", "100", "--seed", "2"]) == 0
    text = capsys.readouterr().out
    for label in ("input resistance", "series resistance", "stim intensity", "set-up time"):
        assert label in text
    assert "100 µA" in text and "in the band" in text
    # Far too little: the EPSP is outside the band, one sentence, exit 1.
    status, out = run_json(capsys, "--intensity-ua", "5")
    assert status == 1 and out["in_band"] is False
    assert "change the intensity" in str(out["message"])


@pytest.mark.parametrize(
    ("args", "match", "code"),
    [
        (["--intensity-ua", "10000"], "outside the isolator's range 0-500 µA", 1),
        (["--interval-s", "5"], "under the 15 s minimum", 2),
        (["--target-epsp-mv", "-1"], "target_mv", 2),
    ],
)
def test_bad_input_is_one_sentence(
    capsys: pytest.CaptureFixture[str], args: list[str], match: str, code: int
) -> None:
    assert main(["setup", *args]) == code
    err = capsys.readouterr().err.strip()
    assert match in err and len(err.splitlines()) == 1


def test_auto_on_a_manual_isolator_is_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rig = tmp_path / "manual.toml"
    rig.write_text(SIM_TEXT.replace('intensity = "analog"', 'intensity = "manual"'), "utf-8")
    assert main(["setup", "--rig", str(rig), "--auto"]) == 1
    err = capsys.readouterr().err.strip()
    assert "needs an isolator with an analog intensity input" in err
    assert len(err.splitlines()) == 1


def test_setup_on_a_rig_without_its_driver_is_one_sentence(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ni = ROOT / "hardware" / "ni-x-series-multiclamp700b.toml"
    assert main(["setup", "--rig", str(ni), "--intensity-ua", "100"]) == 1
    err = capsys.readouterr().err.strip()
    assert "driver" in err.lower() and len(err.splitlines()) == 1
    assert "Traceback" not in err


def test_slice_log_records_the_cell_and_a_newer_db_is_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run_json(capsys, "--auto", "--slice", "s1", "--data-root", str(tmp_path))
    assert status == 0 and out["slice_id"] == "s1" and out["cell_id"] == "cell-1"
    status, out = run_json(
        capsys, "--intensity-ua", "5", "--slice", "s1", "--data-root", str(tmp_path)
    )
    assert status == 1
    with SliceLog(tmp_path) as log:
        assert log.status("s1").cells == 2 and log.status("s1").failures == 1
        log.mark_induced("s1")
    assert main(["setup", "--auto", "--slice", "s1", "--data-root", str(tmp_path)]) == 0
    assert "has received an induction" in capsys.readouterr().err
    db = sqlite3.connect(tmp_path / SLICE_LOG_NAME)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    assert main(["setup", "--auto", "--slice", "s1", "--data-root", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert "written by a newer rigctl" in err and len(err.splitlines()) == 1


def test_whole_cell_ago_counts_into_the_setup_time_and_the_limit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out = run_json(capsys, "--auto", "--whole-cell-ago", "290", "--seed", "3")
    assert status == 1 and out["in_band"] is True and out["setup_s"] > 290  # type: ignore[operator]
    assert out["over_limit"] is True and "over the 300 s limit" in str(out["message"])


def test_json_never_holds_nan() -> None:
    from rigctl.cli.setup import _finite

    assert _finite(float("nan")) is None and _finite(2.0) == 2.0
    assert _finite({"a": float("inf"), "b": 1.0}) == {"a": None, "b": 1.0}


def test_ctrl_c_leaves_the_outputs_at_rest(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rigctl.hardware import SimRig

    rigs: list[SimRig] = []

    def interrupted(self: SimRig, *args: object, **kwargs: object) -> object:
        rigs.append(self)
        self.output_pa = -10.0
        raise KeyboardInterrupt

    monkeypatch.setattr(SimRig, "run", interrupted)
    assert main(["setup", "--auto"]) == 130
    assert "interrupted; the outputs are at rest" in capsys.readouterr().err
    assert rigs and all(r.outputs_at_rest for r in rigs)
