from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rigctl import protocol as proto
from rigctl.cli import main
from tests.conftest import PROTOCOLS, ROOT


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(p) for p in sorted(PROTOCOLS.glob("*.json"))]
    assert main(["validate", *files]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{f}: ok" for f in files]


def test_validate_reports_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(proto.dumps(proto.paper_condition(25, 50)))
    data["induction"]["repeats"] = -1
    data["induction"]["phases"][1]["pre"]["rate_hz"] = "fast"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    trunc = tmp_path / "trunc.json"
    trunc.write_text(proto.dumps(proto.paper_condition(25, 25))[:200])
    good = PROTOCOLS / "theta-25-25.json"
    assert main(["validate", "-q", str(good), str(bad), str(trunc)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{bad}: induction.phases[1].pre.rate_hz: must be a number (got a string 'fast')",
        f"{bad}: induction.repeats: must be at least 1 (got -1)",
        lines[2],
    ]
    assert lines[2].startswith(f"{trunc}: is truncated or not valid JSON")


def test_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(PROTOCOLS / "theta-25-50.json")]) == 0
    out = capsys.readouterr().out
    assert "prediction" in out and "outcome" in out
    assert "80 pulses" in out
    assert "injected charge 445 pC" in out
    assert "15 probes" in out and "135 probes" in out
    assert "50 min" in out


def test_show_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "x.json"
    f.write_text("{}")
    assert main(["show", str(f)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"{f}: format:") and "\n" not in err


def test_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == proto.json_schema()
    assert "induction" in schema["properties"]


@pytest.mark.parametrize("rate", [10_000.0, 20_000.0, 33_333.0])
def test_compile(tmp_path: Path, rate: float, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c.npz"
    assert (
        main(
            ["compile", str(PROTOCOLS / "theta-50-25.json"), "--rate", str(rate), "--out", str(out)]
        )
        == 0
    )
    with np.load(out) as z:
        t, stim, cmd = z["t_s"], z["stim"], z["command_pa"]
        pre, epochs = z["pre_pulse_s"], z["post_epochs_s"]
        meta = json.loads(str(z["metadata"]))
    assert len(t) == len(stim) == len(cmd)
    assert t[1] == pytest.approx(1 / rate)
    assert set(np.unique(stim).tolist()) == {0, 1}
    assert len(pre) == 80 and epochs.shape == (20, 2)
    on = np.flatnonzero(np.diff(np.concatenate([[0], stim.astype(int)])) > 0)
    np.testing.assert_array_equal(on, np.floor(pre * rate + 0.5).astype(int))
    assert stim[-1] == 0 and cmd[-1] == 0
    assert meta["sample_rate_hz"] == rate
    assert proto.Experiment.model_validate(meta["experiment"]) == proto.load(
        PROTOCOLS / "theta-50-25.json"
    )


def test_compile_refuses_too_low_rate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "compile",
                str(PROTOCOLS / "theta-25-25.json"),
                "--rate",
                "2000",
                "--out",
                str(tmp_path / "x.npz"),
            ]
        )
        == 1
    )
    assert "shorter than one sample" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_console_script_runs() -> None:
    # The installed entry point, as a user would call it.
    exe = Path(sys.executable).with_name("rigctl")
    res = subprocess.run(
        [str(exe), "validate", str(PROTOCOLS / "theta-25-50.json")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().endswith(": ok")


def test_predict_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(PROTOCOLS / f"theta-{k}.json") for k in ("25-50", "50-25", "50-50")]
    assert main(["predict", *files]) == 0
    out = capsys.readouterr().out
    assert "+2.1444" in out and "-1.2347" in out
    assert "LTP (no change when |dWt| < 0.25)" in out and "LTD" in out
    assert "1.42 ± 0.15 (n = 12" in out and "0.73 ± 0.10 (n = 18" in out
    assert "onset bias" in out  # the flat condition is flagged honestly
    assert main(["predict", "--json", files[0]]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    assert rec["direction"] == "LTP"
    assert rec["dwt_first_window"] == pytest.approx(0.2144, abs=5e-5)
    assert rec["hebbian_ca_integral"] == pytest.approx(1567.63, abs=0.01)
    assert rec["weight_ratio_uncalibrated"] == pytest.approx(1.4593, abs=5e-5)
    assert rec["measured"]["mean"] == 1.42
    assert "uncalibrated" not in rec["predicted_epsp_ratio_basis"]


def test_predict_says_why_a_large_induction_takes_a_while(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Past the live-preview limit the GUI sends the user to rigctl predict; it then says,
    # on stderr, why nothing is printed for a while. Small protocols get no such line.
    exp = proto.paper_condition(25, 50)
    phases = tuple(p.replace(pre=p.pre.replace(rate_hz=1.0)) for p in exp.induction.phases)
    long = exp.replace(induction=exp.induction.replace(phases=phases, repeats=1000, gap_ms=1000.0))
    path = tmp_path / "long.json"
    proto.save(long, path)
    assert main(["predict", "--json", str(path), str(PROTOCOLS / "theta-25-50.json")]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 2
    (line,) = captured.err.strip().splitlines()
    assert line == (
        f"{path}: the induction lasts 20 min, longer than the 10 min the live previews "
        "draw; predicting it can take a minute"
    )


def test_predict_random_trains_and_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("nope")
    good = str(PROTOCOLS / "theta-50-25.json")
    assert main(["predict", "--json", "--trains", "jittered", "--seeds", "5", good, str(bad)]) == 1
    captured = capsys.readouterr()
    (rec,) = json.loads(captured.out)
    assert rec["direction"] == "LTD" and rec["seeds"] == 5 and rec["dwt_total_sd"] > 0
    assert captured.err.startswith(f"{bad}: ")
