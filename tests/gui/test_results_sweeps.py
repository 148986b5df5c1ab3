"""Sweep review: paging, overlay and average, measured points, a folder still being written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from rigctl.engine.analysis import AnalysisSettings
from rigctl.engine.journal import SWEEP_DIR, load_recording
from rigctl.gui.results import SweepReview
from rigctl.gui.results.model import (
    exclusion_path,
    read_exclusion,
    recording_trace,
    write_exclusion,
)
from tests.gui.test_results_panel import make_study


@pytest.fixture
def cell(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_study(tmp_path_factory.getbasetemp()) / "25-50" / "cell-01"


@pytest.fixture
def review(qtbot: QtBot) -> SweepReview:
    w = SweepReview()
    qtbot.addWidget(w)
    w.resize(1000, 600)
    w.show()
    return w


def test_pages_through_sweeps_with_the_measured_points(review: SweepReview, cell: Path) -> None:
    rec = load_recording(cell)
    review.setRecording(rec)
    assert review.sweepCount() == len(rec.sweeps)
    assert review.currentPosition() == 0
    review.next()
    review.next()
    assert review.currentPosition() == 2
    review.previous()
    assert review.currentPosition() == 1
    for _ in range(len(rec.sweeps) + 3):  # paging stops at the last sweep
        review.next()
    assert review.currentPosition() == len(rec.sweeps) - 1
    review.selectPositions([0])
    review.previous()
    assert review.currentPosition() == 0

    sweep = rec.sweeps[0]
    a = sweep.meta["analysis"]
    # Baseline window: the pre-stimulus window before the probe pulse at 600 ms.
    lo, hi = review.markers["baseline"].getRegion()
    pulse = float(sweep.meta["extra"]["sim_pulse_times_ms"][0])
    assert (lo, hi) == pytest.approx((pulse - AnalysisSettings().pre_window_ms, pulse - 0.5))
    # The peak at the measured time and height.
    px, py = review.markers["peak"].getData()
    assert px[0] == pytest.approx(a["peak_ms"])
    assert py[0] == pytest.approx(a["baseline_mv"] + a["epsp_mv"])
    # The slope fit: the stored slope, over the fit window, through the fitted samples.
    fx, fy = review.markers["slope_fit"].getData()
    assert (fy[1] - fy[0]) / (fx[1] - fx[0]) == pytest.approx(a["slope_mv_per_ms"])
    vm = sweep.arrays()["vm_mv"]
    fs = float(sweep.meta["sample_rate_hz"])
    idx = np.arange(round(a["rise_start_ms"] * fs / 1000), round(a["rise_stop_ms"] * fs / 1000) + 1)
    slope, icpt = np.polyfit(idx * 1000 / fs, vm[idx], 1)
    mid = float(np.mean(fx))
    assert np.interp(mid, fx, fy) == pytest.approx(slope * mid + icpt, abs=1e-6)


def test_induction_sweep_has_no_probe_marks(review: SweepReview, cell: Path) -> None:
    rec = load_recording(cell)
    review.setRecording(rec)
    pos = next(i for i, s in enumerate(rec.sweeps) if s.meta["kind"] == "induction")
    review.selectPositions([pos])
    assert "peak" not in review.markers and "slope_fit" not in review.markers


def test_overlay_and_average_of_selected_sweeps(review: SweepReview, cell: Path) -> None:
    rec = load_recording(cell)
    review.setRecording(rec)
    review.selectPositions([0, 1, 2])
    assert review.selectedPositions() == [0, 1, 2]
    assert len(review.overlay_curves) == 3
    _, avg = review.average_curve.getData()
    traces = [rec.sweeps[i].arrays()["vm_mv"].astype(np.float64) for i in (0, 1, 2)]
    expected = np.mean(traces, axis=0)
    np.testing.assert_allclose(avg, expected)
    review._average.setChecked(False)
    assert review.average_curve is None and len(review.overlay_curves) == 3


def _partial_copy(src: Path, dst: Path, n: int) -> None:
    """A recording folder as it is while being written: the journal and the first n sweeps."""
    (dst / SWEEP_DIR).mkdir(parents=True, exist_ok=True)
    for name in ("journal.jsonl", "protocol.json"):
        if (src / name).exists():
            shutil.copy(src / name, dst / name)
    for f in sorted((src / SWEEP_DIR).glob("*.npz"))[:n]:
        shutil.copy(f, dst / SWEEP_DIR / f.name)


def test_a_folder_still_being_written_refreshes(
    review: SweepReview, cell: Path, tmp_path: Path
) -> None:
    live = tmp_path / "live"
    review.setFolder(live)  # not there yet: one sentence, no exception
    assert review.sweepCount() == 0
    assert "not a rigctl recording folder" in review._info.text()
    _partial_copy(cell, live, 3)
    review.refresh()
    assert review.sweepCount() == 3
    review.selectPositions([1])
    _partial_copy(cell, live, 6)
    review.refresh()
    assert review.sweepCount() == 6
    assert review.currentPosition() == 1  # the selection is kept
    review.setFollow(True)
    _partial_copy(cell, live, 8)
    review.refresh()
    assert review.currentPosition() == 7  # following the newest sweep


def test_exclusion_files_beside_folders_and_nwb(tmp_path: Path) -> None:
    folder = tmp_path / "cell"
    folder.mkdir()
    nwb = tmp_path / "rec.nwb"
    assert exclusion_path(folder) == folder / "exclusion.json"
    assert exclusion_path(nwb) == tmp_path / "rec.nwb.exclusion.json"
    assert read_exclusion(folder) is None
    write_exclusion(folder, "  ")
    assert read_exclusion(folder) == "excluded"  # a blank reason still excludes
    write_exclusion(nwb, "series resistance > 25 MΩ")
    assert read_exclusion(nwb) == "series resistance > 25 MΩ"
    write_exclusion(nwb, None)
    write_exclusion(nwb, None)  # removing twice is fine
    assert read_exclusion(nwb) is None
    for garbage in ("{", "[1, 2]", json.dumps({"excluded": False, "reason": "x"})):
        exclusion_path(folder).write_text(garbage, encoding="utf-8")
        assert read_exclusion(folder) is None  # unreadable means included, never a crash


def test_recording_trace_marks_induction_flags_and_cut_sweeps(cell: Path) -> None:
    rec = load_recording(cell)
    trace = recording_trace(rec)
    assert trace.condition == "25-50" and trace.label == "25→50 Hz"
    assert len(trace.times_min) == len(trace.epsp) == len(trace.slope) == len(list(rec.probes()))
    assert trace.induction_min == (0.0,)
    base = [e for t, e in zip(trace.times_min, trace.epsp, strict=True) if t < 0]
    assert np.mean(base) == pytest.approx(1.0)
    assert all(np.isfinite(trace.slope)) and all(np.isfinite(trace.rin_mohm))
    assert trace.notes[0] == "status: done"
