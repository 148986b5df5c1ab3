"""rigctl run / recover / export-nwb / summarize / study from the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rigctl.cli import main
from tests.conftest import PROTOCOLS, ROOT

RIG = str(ROOT / "hardware" / "sim.toml")


def test_run_reports_ltp_and_writes_nwb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rec"
    args = ["run", str(PROTOCOLS / "theta-25-50.json"), "--rig", RIG, "--out", str(out), "--fast"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "done, 151 sweeps" in text and "-> LTP" in text
    assert (out / "recording.nwb").is_file()
    assert len(list((out / "sweeps").glob("*.npz"))) == 151


def test_run_json_reports_ltd(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rec"
    args = [
        "run",
        str(PROTOCOLS / "theta-50-25.json"),
        "--out",
        str(out),
        "--fast",
        "--json",
        "--no-nwb",
    ]
    assert main([*args, "--seed", "3"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["state"] == "done" and rec["summary"]["direction"] == "LTD"
    assert rec["summary"]["normalized_mean"] < 0.9


def test_run_refuses_a_used_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x").write_text("data")
    assert main(["run", str(PROTOCOLS / "theta-25-25.json"), "--out", str(tmp_path), "--fast"]) == 1
    assert "not empty" in capsys.readouterr().out


def test_recover_export_and_summarize(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for key, seed in (("25-50", 1), ("25-50", 2), ("50-25", 3), ("50-25", 4)):
        folder = tmp_path / f"{key}-{seed}"
        args = ["run", str(PROTOCOLS / f"theta-{key}.json"), "--out", str(folder), "--fast"]
        assert main([*args, "--seed", str(seed), "--no-nwb"]) == 0
    capsys.readouterr()
    # A crash: the summary files are gone and the last sweep was never written.
    victim = tmp_path / "25-50-1"
    (victim / "recording.json").unlink()
    (victim / "analysis.csv").unlink()
    sorted((victim / "sweeps").glob("*.npz"))[-1].unlink()
    assert main(["recover", str(victim)]) == 0
    assert "150 sweeps recovered" in capsys.readouterr().out
    assert main(["export-nwb", str(victim), "--subject-id", "m17", "--age", "P17D"]) == 0
    assert (victim / "recording.nwb").is_file()
    capsys.readouterr()
    figure = tmp_path / "summary.png"
    assert main(["summarize", str(tmp_path), "--figure", str(figure)]) == 0
    report = capsys.readouterr().out
    assert "25→50" in report and "50→25" in report
    assert figure.stat().st_size > 10_000
    assert main(["summarize", "--json", str(tmp_path)]) == 0
    stats = json.loads(capsys.readouterr().out)
    by = {c["condition"]: c for c in stats["conditions"]}
    assert by["25-50"]["n"] == 2 and by["50-25"]["n"] == 2
    assert by["25-50"]["mean"] > 1.1 > 0.9 > by["50-25"]["mean"]


def test_study(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "study"
    assert main(["study", "--cells", "1", "--out", str(out), "--conditions", "25-50", "50-25"]) == 0
    text = capsys.readouterr().out
    assert "25→50" in text and "png:" in text
    assert (out / "summary.png").is_file()
    shutil.rmtree(out)
