"""The Run tab's views: what the engine records (spikes, cut inductions, pauses, count-based
rates) shown as a user reads it, and frames rendered only when something changed."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PyQt6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot

from rigctl.engine import RunResult, RunState, RunStatus
from rigctl.engine.analysis import SPIKE_FLAG
from rigctl.gui.run.data import PhaseRateInfo, RunHistory, SweepInfo
from rigctl.gui.run.plots import PEAK_BINS, RunPlots
from rigctl.gui.run.result import ResultView, pauses_text
from rigctl.gui.run.status import StatusView
from rigctl.hardware import Chunk


def text(widget: QWidget, name: str) -> str:
    label = widget.findChild(QLabel, name)
    assert label is not None, name
    return label.text()


def probe(index: int, segment: str, at_s: float, epsp: float, *, spike: bool = False) -> SweepInfo:
    flags = [SPIKE_FLAG] if spike else []
    analysis = {"epsp_mv": epsp, "rin_mohm": 150.0, "rest_mv": -65.0, "flags": flags}
    return SweepInfo.from_parts(
        index=index,
        kind="probe",
        segment=segment,
        at_s=at_s,
        since_induction_s=at_s - 60.0,
        analysis=analysis,
    )


def test_a_probe_with_a_spike_is_excluded_and_marked(qtbot: QtBot) -> None:
    history = RunHistory(interval_s=20.0)
    for i, (epsp, spike) in enumerate([(2.0, False), (40.0, True), (2.2, False)]):
        history.add(probe(i, "baseline", 20.0 * i, epsp, spike=spike))
    history.add(probe(3, "followup", 80.0, 3.15))
    history.add(probe(4, "followup", 100.0, 35.0, spike=True))
    assert history.baseline().epsp_mean_mv == pytest.approx(2.1)  # the spike is not in it
    norm = history.normalized()
    assert np.isnan(norm[[1, 4]]).all()
    assert norm[3] == pytest.approx(1.5)
    assert history.excluded().tolist() == [False, True, False, False, True]
    rin_red, rest_red = history.flagged()
    assert not rin_red.any() and not rest_red.any()  # a spike is no health flag

    plots = RunPlots()
    qtbot.addWidget(plots)
    plots.drawHistory(history)
    x, y = plots.epspData()
    assert x.size == 3 and np.all(y < 2.0)  # the spiking probes are not EPSP points
    ex, ey = plots.excludedData()
    np.testing.assert_allclose(ex, [(20.0 - 60.0) / 60.0, (100.0 - 60.0) / 60.0])
    top = plots.epspView.getPlotItem().viewRange()[1][1]
    assert np.all(ey <= top + 1e-9) and np.all(ey > 1.5)  # at the top of the plot


def test_count_based_phase_rates_and_a_cut_induction_are_shown(qtbot: QtBot) -> None:
    view = StatusView()
    qtbot.addWidget(view)
    missed = {
        "phase": "theta",
        "target_hz": 25.0,
        "achieved_hz": 25.0 * 2 / 3,
        "n_spikes": 8,
        "n_windows": 4,
        "expected_per_window": 3,
        "window_counts": [2, 2, 2, 2],
        "windows_missed": 4,
        "first_latency_ms": 12.04,
        "ok": False,
    }
    good = dict(missed, phase="gamma", achieved_hz=25.0, windows_missed=0, ok=True)
    induction = SweepInfo.from_parts(
        index=3,
        kind="induction",
        segment="induction",
        at_s=60.0,
        since_induction_s=0.0,
        analysis={"phase_rates": [missed, good], "windows_delivered": 4, "windows_planned": 10},
    )
    cut = replace(induction, complete=False, cut="abort")
    view.showRates(cut.phase_rates, cut)
    lines = [label.text() for label in view.findChildren(QLabel, "runInductionRate")]
    assert lines == [
        "theta 25 Hz: 2.0 of 3 spikes per window, off in 4 of 4 windows, "
        "first spike 12.0 ms ✗ missed",
        "gamma 25 Hz: 3.0 of 3 spikes per window, first spike 12.0 ms ✓",
    ]
    assert text(view, "runInduction") == "Induction aborted after 4 of 10 windows"
    view.showRates(induction.phase_rates, induction)  # complete: nothing to say
    assert text(view, "runInduction") == ""
    assert PhaseRateInfo.of({"phase": "x", "ok": "garbage"}).expected_per_window == 0


def test_pauses_and_skipped_probes_are_counted_and_listed(qtbot: QtBot, tmp_path: Path) -> None:
    view = StatusView()
    qtbot.addWidget(view)
    status = RunStatus(
        state=RunState.FOLLOWUP,
        sweeps_done=9,
        sweeps_planned=20,
        segment="followup",
        experiment_time_s=200.0,
        remaining_s=300.0,
        since_induction_s=100.0,
        last_epsp_mv=3.0,
        last_normalized=1.5,
        skipped_probes=2,
        pauses=1,
        paused_s=35.0,
    )
    view.showProgress(status, "1:40 after the induction", None)
    assert "Paused 1× (0:35); 2 probes skipped" in text(view, "runTime")  # noqa: RUF001
    events: list[dict[str, Any]] = [
        {"event": "pause"},
        {"event": "skipped", "planned_s": 120.0},
        {"event": "skipped", "planned_s": 140.0},
        {"event": "resumed", "paused_at_s": 110.0, "paused_for_s": 35.0},
    ]
    listed = pauses_text(events)
    assert listed == (
        "Paused 1× (0:35 in all): at 1:50 for 0:35.\n"  # noqa: RUF001
        "2 probes skipped (their slot passed while paused), planned at 2:00, 2:20."
    )
    assert pauses_text([]) == ""
    result = ResultView()
    qtbot.addWidget(result)
    summary = {
        "normalized_mean": 1.4,
        "normalized_sem": 0.05,
        "n_window": 15,
        "direction": "LTP",
        "n_spike_excluded": 2,
        "induction": {"complete": False, "note": "induction aborted after 4 of 10 windows"},
    }
    result.showResult(RunResult(RunState.ABORTED, tmp_path, 9, summary), listed)
    shown = text(result, "runSummary")
    assert "Induction aborted after 4 of 10 windows." in shown
    assert "2 probes with a spike excluded" in shown
    assert text(result, "runVerdict") == "LTP" and text(result, "runPauses") == listed


def test_the_live_trace_is_decimated_to_its_peaks(qtbot: QtBot) -> None:
    plots = RunPlots()
    qtbot.addWidget(plots)
    n, fs = 124_000, 20_000.0
    vm = -65.0 + np.sin(np.arange(n) / 50.0)
    vm[70_001] = 20.0  # a spike: one sample must survive the decimation
    plots.startSweep(n, fs, "induction")
    for start in range(0, 80_000, 1000):
        plots.addChunk(Chunk(start, vm[start : start + 1000], fs, n))
        if start % 20_000 == 0:
            plots.drawLive()  # incremental: earlier bins are not reduced again
    plots.drawLive()
    x, y = plots.liveView.getPlotItem().listDataItems()[0].getData()
    assert x.size <= 2 * PEAK_BINS and y.size == x.size
    assert float(np.nanmax(y)) == 20.0 and float(np.nanmin(y)) == pytest.approx(vm[:80_000].min())
    assert 80_000 / fs - 0.01 < x[-1] < 80_000 / fs + 0.01  # as far as it has arrived
    t, v = plots.liveData()  # every sample received
    assert t.size == 80_000 and np.array_equal(v, vm[:80_000])


def test_a_view_renders_again_only_when_its_scene_changed(qtbot: QtBot) -> None:
    plots = RunPlots()
    qtbot.addWidget(plots)
    plots.resize(900, 700)
    plots.show()
    qtbot.waitExposed(plots)
    view = plots.epspView
    for _ in range(3):  # shown: the layout settles in the first frames
        plots.grab()
        qtbot.wait(10)
    before = view.framesRendered()
    plots.grab()
    plots.grab()
    assert view.framesRendered() == before  # nothing changed: the kept frame is shown
    history = RunHistory(interval_s=20.0)
    history.add(probe(0, "baseline", 0.0, 2.0))
    plots.drawHistory(history)
    qtbot.waitUntil(lambda: (plots.grab(), view.framesRendered())[1] > before, timeout=2000)
    assert math.isfinite(plots.epspData()[1][0])


def test_the_run_room_is_made_of_small_files_and_functions() -> None:
    import ast

    room = sorted((Path(__file__).parents[2] / "rigctl" / "gui" / "run").glob("*.py"))
    assert len(room) >= 9
    for path in room:
        text = path.read_text(encoding="utf-8")
        assert text.count("\n") <= 600, path
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef) and node.end_lineno is not None:
                body = node.body[1:] if ast.get_docstring(node) else node.body
                lines = (node.end_lineno - body[0].lineno + 1) if body else 0
                assert lines <= 60, f"{path.name}: {node.name} has {lines} lines of code"
