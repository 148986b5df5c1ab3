"""Shipped data files found from any folder, --rig names, and the one data root."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from rigctl import data
from rigctl import protocol as proto
from rigctl.cli import build_parser, main
from rigctl.hardware import DEFAULT_RIG_PATH, RigFileError, load_rig
from rigctl.paths import DATA_ROOT_ENV, data_root, new_output_path, recordings_dir, slug
from rigctl.plasticity.mapping import PAPER_DATASET_PATH, paper_dataset
from tests.conftest import PROTOCOLS, ROOT

PACKAGE = ROOT / "rigctl"


def test_shipped_files_live_inside_the_package() -> None:
    for path in (DEFAULT_RIG_PATH, data.rig_path("ni-example"), PAPER_DATASET_PATH):
        assert path.is_file() and path.is_relative_to(PACKAGE / "data")
    names = [p.name for p in data.protocol_paths()]
    assert names == sorted(p.name for p in PROTOCOLS.glob("*.json"))
    assert all(p.is_relative_to(PACKAGE / "data" / "protocols") for p in data.protocol_paths())
    assert paper_dataset().find(25, 50) is not None


def test_top_level_copies_are_identical_to_the_package() -> None:
    res = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sync_data.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, (
        "the browsable copies differ from the package data (rigctl/data is the source): "
        f"run `python scripts/sync_data.py`\n{res.stdout}"
    )


def test_sync_script_regenerates_and_never_deletes(tmp_path: Path) -> None:
    for sub in ("rigctl/data/rigs", "rigctl/data/protocols", "rigctl/data/datasets"):
        (tmp_path / sub).mkdir(parents=True)
    (tmp_path / "rigctl/data/rigs/sim.toml").write_text("new = 1\n")
    (tmp_path / "hardware").mkdir()
    (tmp_path / "hardware/sim.toml").write_text("old = 1\n")
    (tmp_path / "hardware/only-here.toml").write_text("mine = 1\n")
    ns = runpy.run_path(str(ROOT / "scripts" / "sync_data.py"), run_name="sync_data")
    assert ns["differences"](tmp_path) == [
        "hardware/sim.toml: differs from rigctl/data/rigs/sim.toml",
        "hardware/only-here.toml: not in the package (rigctl/data/rigs/ has no only-here.toml)",
    ]
    assert ns["sync"](tmp_path) == ["hardware/sim.toml: written from rigctl/data/rigs/sim.toml"]
    assert (tmp_path / "hardware/sim.toml").read_text() == "new = 1\n"
    assert (tmp_path / "hardware/only-here.toml").read_text() == "mine = 1\n"  # kept
    assert ns["differences"](tmp_path) == [
        "hardware/only-here.toml: not in the package (rigctl/data/rigs/ has no only-here.toml)"
    ]
    # Merging a branch that edited the top-level copy: adopt it into the package.
    (tmp_path / "hardware/sim.toml").write_text("theirs = 1\n")
    assert ns["adopt_top_level"](tmp_path) == [
        "rigctl/data/rigs/only-here.toml: written from hardware/only-here.toml",
        "rigctl/data/rigs/sim.toml: written from hardware/sim.toml",
    ]
    assert (tmp_path / "rigctl/data/rigs/sim.toml").read_text() == "theirs = 1\n"
    assert ns["differences"](tmp_path) == []


def test_rig_names_select_shipped_rigs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # found from any folder
    assert load_rig("sim") == load_rig(None) == load_rig(DEFAULT_RIG_PATH)
    assert load_rig("ni-example").backend == "nidaq"
    assert data.resolve_rig("ni-example") == data.rig_path("ni-example")
    assert data.resolve_rig("my-rig.toml") == Path("my-rig.toml")
    with pytest.raises(RigFileError, match=r"^simm: does not exist \(nor a shipped rig: sim, "):
        load_rig("simm")
    with pytest.raises(KeyError, match="not a shipped rig"):
        data.rig_path("simm")


def test_protocols_command_lists_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["protocols"]) == 0
    out = capsys.readouterr().out
    assert "theta-25-50  " in out and "Theta 25-50 Hz" in out and "sim, ni-example" in out
    assert main(["protocols", "--paths"]) == 0
    assert capsys.readouterr().out.split() == [str(p) for p in data.protocol_paths()]
    assert main(["protocols", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in listed["protocols"]] == [p.stem for p in data.protocol_paths()]
    assert listed["rigs"]["sim"] == str(DEFAULT_RIG_PATH)


# --------------------------------------------------------------------------- data root


def test_data_root_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)
    default = data_root()
    assert default.is_absolute() and default.name == "rigctl"
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"
    assert data_root(tmp_path / "opt") == tmp_path / "opt"  # --data-root wins
    assert recordings_dir() == tmp_path / "env" / "recordings"
    monkeypatch.setenv(DATA_ROOT_ENV, "")
    assert data_root() == default  # an empty variable is no setting


def test_new_output_path_is_unique_and_readable(tmp_path: Path) -> None:
    now = datetime(2026, 11, 30, 4, 5, 6)
    first = new_output_path(tmp_path, "Theta 25-50 Hz", now=now)
    assert first == tmp_path / "theta-25-50-hz-20261130-040506"
    first.mkdir()
    assert new_output_path(tmp_path, "Theta 25-50 Hz", now=now).name.endswith("040506-2")
    assert new_output_path(tmp_path, "x", ".npz", now=now).name == "x-20261130-040506.npz"
    assert slug("../..") == "output" and slug("a/b\\c:d") == "a-b-c-d"


def test_help_shows_the_data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    text = " ".join(build_parser().format_help().split())
    assert f"Data root: {tmp_path}" in text and "--data-root" in text


def _short_protocol(folder: Path) -> Path:
    exp = proto.load(PROTOCOLS / "theta-25-50.json")
    path = folder / "short.json"
    proto.save(exp.replace(probes=exp.probes.replace(baseline_min=1, followup_min=1)), path)
    return path


def test_outputs_without_out_go_under_the_data_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path / "env-root"))
    monkeypatch.chdir(tmp_path)
    short = _short_protocol(tmp_path)
    run = ["run", str(short), "--rig", "sim", "--fast", "--no-nwb", "--json", "--seed", "2"]
    assert main(run) == 0
    folder = Path(json.loads(capsys.readouterr().out)["folder"])
    assert folder.parent == tmp_path / "env-root" / "recordings"
    assert folder.name.startswith("short-") and (folder / "protocol.json").is_file()
    assert not (tmp_path / "recordings").exists()  # nothing relative to the working folder
    # --data-root beats the environment; sweep and compile follow the same rule.
    assert main(["--data-root", str(tmp_path / "opt"), "compile", str(short)]) == 0
    (compiled,) = (tmp_path / "opt" / "compiled").glob("short-induction-*.npz")
    assert str(compiled) in capsys.readouterr().out
    assert main(["sweep", str(short), "--which", "probe", "--rig", "sim"]) == 0
    assert len(list((tmp_path / "env-root" / "sweeps").glob("short-probe-*.npz"))) == 1


def test_app_script_without_a_display_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "xcb"
    res = subprocess.run(
        ["bash", str(ROOT / "scripts" / "app.sh")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert (res.returncode, res.stdout) == (1, "")
    assert res.stderr == "no display: run under a desktop session or xvfb-run\n"


def test_study_takes_a_shipped_rig_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rigctl.engine.study import run_study

    monkeypatch.chdir(tmp_path)  # no file called "sim" here
    probes = proto.ProbeSchedule(baseline_min=1, followup_min=1)
    out = tmp_path / "study"
    run_study(
        "sim", out, 1, conditions=("25-50",), probes=probes, calibrate=False, window_min=(0, 1)
    )
    (rig_toml,) = out.rglob("rig.toml")
    assert rig_toml.read_bytes() == data.rig_path("sim").read_bytes()
