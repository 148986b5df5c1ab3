"""ATF export reads back in pyabf to 1e-3 mV, with the sweeps' start times."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from rigctl.cli import main
from rigctl.engine.journal import load_recording
from rigctl.io import AtfExportError, ImportOptions, export_atf, import_abf
from tests.io.abf_files import PROBE_MS, probe_trace, write_abf1


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    a = write_abf1(tmp_path / "a.abf", [probe_trace(3.0, rng=rng)] * 2, datetime(2024, 1, 1, 9))
    b = write_abf1(tmp_path / "b.abf", [probe_trace(5.0, rng=rng)] * 2, datetime(2024, 1, 1, 9, 1))
    return import_abf([a, b], tmp_path / "rec", ImportOptions(probe_at_ms=PROBE_MS)).folder


def test_atf_reads_back_in_pyabf(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pyabf  # type: ignore[import-untyped, unused-ignore]

    assert main(["export-atf", str(folder)]) == 0
    path = folder / "recording.atf"
    assert f"ATF: {path}" in capsys.readouterr().out
    atf = pyabf.ATF(str(path))
    rec = load_recording(folder)
    assert atf.sweepCount == len(rec.sweeps) == 4
    assert atf.dataRate == 10_000
    for i, s in enumerate(rec.sweeps):
        atf.setSweep(i)
        np.testing.assert_allclose(atf.sweepY, s.arrays()["vm_mv"], atol=1e-3)
    starts = atf.header["SweepStartTimesMS"]
    assert starts == pytest.approx([0.0, 500.0, 60_000.0, 60_500.0])


def test_atf_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(AtfExportError, match="not a rigctl recording folder"):
        export_atf(tmp_path)
    assert main(["export-atf", str(tmp_path)]) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_atf_to_a_chosen_file(folder: Path, tmp_path: Path) -> None:
    out = export_atf(folder, tmp_path / "x.atf")
    assert out == tmp_path / "x.atf" and out.read_text().startswith("ATF\t1.0\n")
