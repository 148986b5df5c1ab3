"""ABF import: known EPSPs written with pyabf's ABF1 writer, real Clampex files, refusals."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from rigctl.cli import main
from rigctl.engine.journal import load_recording
from rigctl.io import AbfImportError, ImportOptions, import_abf
from tests.conftest import ROOT
from tests.io.abf_files import (
    PROBE_MS,
    expected_slope,
    probe_trace,
    write_abf1,
)

DATA = ROOT / "tests" / "data" / "abf"
SHARED = Path("/work/shared/data/abf")
BASE, AFTER = 4.0, 6.0


def _rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "analysis.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A baseline file at 10:00 and a follow-up file at 10:37 (induction at 10:06)."""
    d = tmp_path_factory.mktemp("abf")
    rng = np.random.default_rng(7)
    base = write_abf1(
        d / "baseline.abf",
        [probe_trace(BASE, rng=rng) for _ in range(6)],
        datetime(2024, 5, 1, 10, 0, 0),
    )
    after = write_abf1(
        d / "followup.abf",
        [probe_trace(AFTER, rng=rng) for _ in range(6)],
        datetime(2024, 5, 1, 10, 37, 0),
    )
    return base, after


def test_known_epsps_import_and_summarize(
    series: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rec"
    argv = ["import-abf", *map(str, series), "--out", str(out), "--probe-at", str(PROBE_MS)]
    argv += ["--step-at", "50", "--step-pa", "-10", "--step-ms", "100", "--induction-at", "360"]
    assert main(argv) == 0
    assert "12 sweeps from 2 file(s), induction at 360 s" in capsys.readouterr().out
    rows = _rows(out)
    assert [r["segment"] for r in rows] == ["baseline"] * 6 + ["followup"] * 6
    # True start times: the follow-up file began 37 min after the baseline file.
    assert float(rows[6]["at_s"]) == pytest.approx(37 * 60)
    assert float(rows[1]["at_s"]) == pytest.approx(0.5)  # ABF1: one sweep length apart
    for r in rows:
        amp = BASE if r["segment"] == "baseline" else AFTER
        assert float(r["epsp_mv"]) == pytest.approx(amp, abs=0.1)
        assert float(r["slope_mv_per_ms"]) == pytest.approx(expected_slope(amp), rel=0.03)
        assert float(r["rin_mohm"]) == pytest.approx(150.0, rel=0.02)
        assert float(r["normalized_slope"]) == pytest.approx(amp / BASE, rel=0.03)
    assert main(["summarize", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (cond,) = data["conditions"]
    assert cond["condition"] == "ABF import"
    assert cond["values"][0] == pytest.approx(AFTER / BASE, abs=0.1 / BASE)
    assert data["anova"] is None
    assert main(["export-nwb", str(out)]) == 0
    assert (out / "recording.nwb").is_file()


def test_header_kept_and_stimulus_marked(series: tuple[Path, Path], tmp_path: Path) -> None:
    res = import_abf(list(series), tmp_path / "r", ImportOptions(probe_at_ms=PROBE_MS))
    assert res.induction_at_s is None
    assert (tmp_path / "r" / "abf" / "baseline.txt").read_text().strip()
    header = json.loads((tmp_path / "r" / "recording.json").read_text())
    files = header["source"]["files"]
    assert [f["file"] for f in files] == ["baseline.abf", "followup.abf"]
    assert files[0]["abf_version"].startswith("1.")
    rec = load_recording(tmp_path / "r")
    a = rec.sweeps[0].arrays()
    on = np.flatnonzero(a["stim"])
    assert on.size and on[0] == round(PROBE_MS * 10)  # the probe pulse at 10 kHz
    assert rec.sweeps[0].meta["started_at"].startswith("2024-05-01T10:00:00")


def test_paired_pulse_ratio(tmp_path: Path) -> None:
    sweeps = [probe_trace(4.0, second_mv=6.0, interval_ms=50.0) for _ in range(3)]
    f = write_abf1(tmp_path / "pp.abf", sweeps, datetime(2024, 5, 1, 9, 0, 0))
    import_abf([f], tmp_path / "r", ImportOptions(probe_at_ms=PROBE_MS, paired_interval_ms=50.0))
    for r in _rows(tmp_path / "r"):
        # The first EPSP is measured before the second pulse; the ratio is near 6/4, a
        # little lower because the second is measured from the decaying first.
        assert float(r["epsp_mv"]) == pytest.approx(4.0, abs=0.1)
        assert float(r["ppr"]) == pytest.approx(1.5, abs=0.05)


def test_induction_file_and_protocol_give_onset_and_condition(
    series: tuple[Path, Path], tmp_path: Path
) -> None:
    ind = write_abf1(tmp_path / "ind.abf", [probe_trace(0.0)], datetime(2024, 5, 1, 10, 6, 0))
    opts = ImportOptions(
        probe_at_ms=PROBE_MS,
        induction_file=str(ind),
        protocol_file=str(ROOT / "protocols" / "theta-25-50.json"),
    )
    res = import_abf(list(series), tmp_path / "r", opts)
    assert res.induction_at_s == pytest.approx(360.0)
    argv = ["import-abf", *map(str, series), "--out", str(tmp_path / "cli"), "--probe-at", "300"]
    argv += ["--induction-file", str(ind), "--protocol", str(opts.protocol_file)]
    assert main(argv) == 0
    assert load_recording(tmp_path / "cli").induction_at_s == pytest.approx(360.0)
    rec = load_recording(tmp_path / "r")
    assert [s.meta["kind"] for s in rec.sweeps].count("induction") == 1
    assert rec.induction_at_s == pytest.approx(360.0)
    from rigctl.engine.summary import condition_of

    assert condition_of(rec) == "25-50"


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


def test_refusals_are_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t0 = datetime(2024, 1, 1, 9, 0, 0)
    vc = write_abf1(tmp_path / "vc.abf", [probe_trace(1.0)], t0, units="pA")
    gap = write_abf1(tmp_path / "gap.abf", [probe_trace(1.0)], t0, gap_free=True)
    plain = write_abf1(tmp_path / "plain.abf", [probe_trace(1.0)], t0)
    junk = tmp_path / "junk.abf"
    junk.write_bytes(b"not an abf at all" * 10)
    out = str(tmp_path / "o")
    assert "voltage clamp" in _refused(["import-abf", str(vc), "--out", out], capsys)
    assert "gap-free" in _refused(["import-abf", str(gap), "--out", out], capsys)
    assert "--probe-at" in _refused(["import-abf", str(plain), "--out", out], capsys)
    assert "not a readable ABF" in _refused(["import-abf", str(junk), "--out", out], capsys)
    assert "no such file" in _refused(["import-abf", str(tmp_path / "x.abf"), "--out", out], capsys)
    assert not (tmp_path / "o").exists()  # nothing written for a refused import
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    argv = ["import-abf", str(plain), "--probe-at", "300", "--out", str(tmp_path / "full")]
    assert "not empty" in _refused(argv, capsys)
    undated = tmp_path / "undated.abf"
    import pyabf  # type: ignore[import-untyped, unused-ignore]

    pyabf.abfWriter.writeABF1(np.array([probe_trace(1.0)]), str(undated), 10_000.0, units="mV")
    argv = ["import-abf", str(plain), str(undated), "--probe-at", "300", "--out", out]
    assert "no acquisition date" in _refused(argv, capsys)
    argv = ["import-abf", str(plain), "--probe-at", "499", "--out", out]
    assert "too short for a probe at 499 ms" in _refused(argv, capsys)
    argv = ["import-abf", str(undated), "--probe-at", "300", "--out", out]
    assert main(argv) == 0  # on its own, its sweeps keep their relative times
    with pytest.raises(AbfImportError, match="not both"):
        import_abf([plain], tmp_path / "b", ImportOptions(induction_at_s=1, induction_file="x"))


@pytest.mark.parametrize(
    ("name", "outcome"),
    [
        ("130618-1-12.abf", "voltage clamp"),  # ABF1, recorded channel in pA
        ("2020_06_16_0000.abf", "voltage clamp"),  # ABF2 event-driven, pA
        ("File_axon_5.abf", "no probe stimulus"),  # current clamp, a 200 ms digital gate
    ],
)
def test_real_clampex_files(name: str, outcome: str, tmp_path: Path) -> None:
    with pytest.raises(AbfImportError, match=outcome) as info:
        import_abf([DATA / name], tmp_path / "r")
    assert name in str(info.value) and "\n" not in str(info.value)


def test_real_current_clamp_file_with_probe_time(tmp_path: Path) -> None:
    res = import_abf([DATA / "File_axon_5.abf"], tmp_path / "r", ImportOptions(probe_at_ms=900))
    rec = load_recording(res.folder)
    assert len(rec.sweeps) == 9
    # ABF2 sweep starts from the synch array: 5 s apart (the protocol's start-to-start).
    assert [s.meta["at_s"] for s in rec.sweeps] == pytest.approx([5.0 * i for i in range(9)])
    a = rec.sweeps[0].arrays()
    assert float(a["vm_mv"][0]) == pytest.approx(-71.05, abs=0.01)
    # The command from the epoch table: -100 pA in sweep 0, the digital gate in the TTL.
    assert float(a["command_pa"].min()) == pytest.approx(-100.0)
    assert a["stim"][400] == 1
    step = rec.sweeps[0].meta["extra"]["test_step"]
    assert step[0][2] == pytest.approx(-100.0)
    assert step[0][0] == pytest.approx(215.6, abs=0.1)


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared ABF folder is not on this machine")
@pytest.mark.parametrize("probe_at", [None, 500.0])
def test_every_shared_abf_imports_or_says_why(
    probe_at: float | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i, f in enumerate(sorted(SHARED.glob("*.abf"))):
        argv = ["import-abf", str(f), "--out", str(tmp_path / f"r{i}")]
        argv += [] if probe_at is None else ["--probe-at", str(probe_at)]
        rc = main(argv)
        io = capsys.readouterr()
        if rc == 0:
            assert len(load_recording(tmp_path / f"r{i}").sweeps) > 0
        else:
            assert rc == 1 and len(io.err.strip().splitlines()) == 1
            assert f.name in io.err and "Traceback" not in io.err


class _Stimulus:
    def __init__(self, wave: np.ndarray) -> None:
        self.wave = wave

    def stimulusWaveform(self, sweep: int) -> np.ndarray:
        return self.wave


class _FakeAbf:
    """The parts of a pyabf.ABF the analog stimulus detection reads."""

    def __init__(self, waves: list[np.ndarray]) -> None:
        self.sweepY = np.zeros(waves[0].size)
        self.dataRate = 10_000
        self.stimulusByChannel = [_Stimulus(w) for w in waves]


def test_probe_on_a_second_analog_output_is_found() -> None:
    from rigctl.io.abf import _analog_stimulus

    command = np.zeros(5000)
    command[500:1500] = -10.0  # the test step on the recorded channel's own DAC: ignored
    trigger = np.zeros(5000)
    trigger[3000:3002] = 5.0  # a 0.2 ms pulse on DAC 1 triggers the isolator
    trigger[4000:4100] = 5.0  # 10 ms: too long for a probe
    stim = _analog_stimulus(_FakeAbf([command, trigger]), 0, 0)
    assert list(np.flatnonzero(stim)) == [3000, 3001]
    assert not _analog_stimulus(_FakeAbf([command]), 0, 0).any()
