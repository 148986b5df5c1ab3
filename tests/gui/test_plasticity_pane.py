"""The plasticity pane: headline, comparators, onset compensation, rate map, dialog."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PyQt6.QtCore import QRect, Qt
from PyQt6.QtGui import QTextDocument
from PyQt6.QtWidgets import QApplication, QCheckBox, QDialog, QLabel, QPushButton
from pytestqt.qtbot import QtBot

from rigctl.gui.plasticity.pane import RATE_MAP_HZ, PlasticityPane, is_flat
from rigctl.gui.plasticity.params_dialog import KinaseParamsDialog
from rigctl.gui.widgets.live_text import LiveText
from rigctl.plasticity import ONSET_COMPENSATED_D_SCALE, KinaseParams, _events, warm_up_kernel
from rigctl.plasticity.outlook import call_direction
from rigctl.plasticity.preview import TrainOptions, rate_map
from rigctl.protocol import Experiment, compile_induction, paper_condition

# Reference values of the design note (Axon v2 defaults, ten [100 | 100] ms windows, 400 ms gaps).
DWT = {(25, 25): 0.1726, (25, 50): 2.1444, (50, 25): -1.2347, (50, 50): 0.7132}
DWT_COMPENSATED = {(25, 25): -0.0445, (25, 50): 1.6865, (50, 25): -1.5761, (50, 50): 0.1171}
HEBBIAN_25_50 = 1567.63
#: A coarse map keeps the tests fast; the default grid is checked once.
SMALL_RATES = (20.0, 25.0, 30.0, 40.0, 50.0)


def with_rates(exp: Experiment, minus_hz: float, plus_hz: float) -> Experiment:
    """``exp`` with its prediction and outcome rates (pre and post together) replaced."""
    first, last = exp.induction.phases
    phases = (
        first.replace(
            pre=first.pre.replace(rate_hz=minus_hz),
            post=first.post.replace(target_rate_hz=minus_hz),
        ),
        last.replace(
            pre=last.pre.replace(rate_hz=plus_hz),
            post=last.post.replace(target_rate_hz=plus_hz),
        ),
    )
    result: Experiment = exp.replace(induction=exp.induction.replace(phases=phases))
    return result


def shown(label: QLabel | LiveText | None) -> str:
    """What a rich-text label shows, as Qt's own text document reads it (plain text)."""
    assert label is not None
    document = QTextDocument()
    document.setHtml(label.text())
    return document.toPlainText()


def headline(pane: PlasticityPane) -> str:
    """The headline's direction, ratio line and mapping line, as shown."""
    direction = pane.findChild(QLabel, "direction")
    lines = [pane.findChild(LiveText, name) for name in ("totalDwt", "ratios")]
    return "\n".join([shown(direction), *(shown(line) for line in lines)])


def comparators(pane: PlasticityPane) -> tuple[str, str, str]:
    """The kinase, Hebbian and rate-CHL values, as shown."""
    kinase, hebbian, chl = (
        shown(pane.findChild(LiveText, name)) for name in ("cmpKinase", "cmpHebbian", "cmpChl")
    )
    return kinase, hebbian, chl


def bias_note(pane: PlasticityPane) -> str:
    """The onset-bias note as shown (``""`` when hidden)."""
    note = pane.findChild(QLabel, "biasNote")
    assert note is not None
    return "" if note.isHidden() else shown(note)


def drag_marker(pane: PlasticityPane, x: float, y: float, *, finished: bool = True) -> None:
    """Drag the rate map's marker to (x, y) Hz, as the mouse does (release if finished)."""
    marker = pane.rateMapView().marker()
    marker.setPos(x, y)
    if finished:
        marker.sigPositionChangeFinished.emit(marker)


@pytest.fixture
def make_pane(qtbot: QtBot) -> Iterator[Callable[..., PlasticityPane]]:
    made: list[PlasticityPane] = []

    warm_up_kernel()  # the compiled kernel: maps are there at once (numpy: see below)

    def make(**kwargs: Any) -> PlasticityPane:
        kwargs.setdefault("map_rates_hz", SMALL_RATES)
        pane = PlasticityPane(**kwargs)
        qtbot.addWidget(pane)
        made.append(pane)
        return pane

    yield make
    for pane in made:
        pane.waitForMap(5.0)  # let a running map finish before its pane goes


@pytest.fixture
def pane(make_pane: Callable[..., PlasticityPane]) -> PlasticityPane:
    return make_pane()


@pytest.fixture(autouse=True)
def no_blocking_dialog(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> int:
        raise AssertionError("the parameters dialog must be opened with open(), not exec()")

    monkeypatch.setattr(KinaseParamsDialog, "exec", refuse)


# ----------------------------------------------------------------------------- headline


def test_starts_with_axon_defaults_and_regular_trains(pane: PlasticityPane) -> None:
    assert pane.params() == KinaseParams()
    assert pane.trainOptions() == TrainOptions()
    assert pane.prediction() is None
    box = pane.findChild(QCheckBox, "onsetCompensation")
    assert box is not None and not box.isChecked()


def test_25_to_50_headline_says_ltp(qtbot: QtBot, pane: PlasticityPane) -> None:
    with qtbot.waitSignal(pane.predictionChanged) as blocker:
        pane.setExperiment(paper_condition(25, 50))
    prediction = pane.prediction()
    assert prediction is not None and blocker.args == [prediction]
    assert prediction.total == pytest.approx(DWT[25, 50], abs=1e-4)
    assert prediction.direction == "LTP"
    text = headline(pane)
    assert text.startswith("LTP")
    assert "+2.144" in text  # the raw dWt stays beside the ratio
    assert "1 ± 0.12" in text  # the no-change band is stated
    # The fitted ratio with its interval, the paper's measurement, the Axon weight.
    assert pane.predictedRatio() == pytest.approx(1.398, abs=0.01)
    assert "Predicted EPSP ratio 1.40 [" in text
    outlook = pane.outlook()
    assert outlook is not None and outlook.direction == "LTP"
    assert outlook.low > 1.12 and f"{outlook.low:.2f}" in text
    assert "1.42 ± 0.15 (n = 12)" in text
    assert "Axon weight 1.46 (uncalibrated" in text
    measured = pane.measured()
    assert measured is not None and measured.n == 12
    assert "fitted to" in pane.mappingFit().basis


def test_comparators_sit_beside_the_kinase_result(pane: PlasticityPane) -> None:
    pane.setExperiment(paper_condition(25, 50))
    kinase, hebbian, chl = comparators(pane)
    assert "+2.144" in kinase and "LTP" in kinase
    assert "1,568" in hebbian
    assert "+0.0188" in chl and "LTP" in chl
    pane.setExperiment(paper_condition(50, 25))
    prediction = pane.prediction()
    assert prediction is not None
    assert prediction.hebbian == pytest.approx(HEBBIAN_25_50, abs=0.01)  # order-blind
    kinase, hebbian, chl = comparators(pane)
    assert "LTD" in kinase and "1,568" in hebbian and "LTD" in chl


@pytest.mark.parametrize(
    ("minus", "plus", "direction"),
    [(25, 25, "no clear change"), (50, 25, "LTD"), (25, 50, "LTP"), (50, 50, "no clear change")],
)
def test_changing_the_outcome_rate_updates_dwt_and_the_map_marker(
    pane: PlasticityPane, minus: int, plus: int, direction: str
) -> None:
    start = paper_condition(25, 50)
    pane.setExperiment(start)
    assert pane.mapMarker() == (25.0, 50.0)
    pane.setExperiment(with_rates(start, minus, plus))
    prediction = pane.prediction()
    assert prediction is not None
    assert prediction.total == pytest.approx(DWT[minus, plus], abs=1e-4)
    assert headline(pane).startswith(direction)
    assert pane.mapMarker() == (float(minus), float(plus))


def test_shared_sweep_gives_the_same_prediction(pane: PlasticityPane) -> None:
    exp = paper_condition(50, 25)
    pane.setExperiment(exp, compile_induction(exp.induction))
    prediction = pane.prediction()
    assert prediction is not None
    assert prediction.total == pytest.approx(DWT[50, 25], abs=1e-4)
    assert prediction.direction == "LTD"


def test_metadata_edit_does_not_recompute(qtbot: QtBot, pane: PlasticityPane) -> None:
    exp = paper_condition(25, 50)
    pane.setExperiment(exp)
    first = pane.prediction()
    renamed = exp.replace(metadata=exp.metadata.replace(name="Renamed"))
    with qtbot.assertNotEmitted(pane.predictionChanged):
        pane.setExperiment(renamed)
    assert pane.prediction() is first
    assert pane.experiment() == renamed


# ----------------------------------------------------------------------------- onset bias


def test_flat_condition_explains_the_onset_bias(pane: PlasticityPane) -> None:
    pane.setExperiment(paper_condition(50, 50))
    note = bias_note(pane)
    assert "Flat protocol (50 → 50 Hz)" in note
    assert "onset bias" in note
    assert "+0.117" in note  # what compensation would give, stated beside it
    pane.setExperiment(paper_condition(25, 50))
    assert bias_note(pane) == ""


def test_onset_compensation_box_sets_d_scale(qtbot: QtBot, pane: PlasticityPane) -> None:
    pane.resize(900, 800)
    pane.show()
    qtbot.waitExposed(pane)
    pane.setExperiment(paper_condition(50, 50))
    prediction = pane.prediction()
    assert prediction is not None and prediction.total == pytest.approx(0.7132, abs=1e-4)
    box = pane.findChild(QCheckBox, "onsetCompensation")
    assert box is not None
    with qtbot.waitSignal(pane.paramsChanged) as blocker:
        qtbot.mouseClick(box, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]
    assert box.isChecked()
    assert pane.params().d_scale == ONSET_COMPENSATED_D_SCALE
    assert blocker.args == [pane.params()]
    assert pane.params() == KinaseParams(d_scale=ONSET_COMPENSATED_D_SCALE)  # nothing else
    prediction = pane.prediction()
    assert prediction is not None
    assert prediction.total == pytest.approx(DWT_COMPENSATED[50, 50], abs=1e-4)
    assert "with onset compensation" in bias_note(pane)
    assert "+0.713" in bias_note(pane)  # the uncompensated value stays in view
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]
    assert pane.params() == KinaseParams()
    prediction = pane.prediction()
    assert prediction is not None and prediction.total == pytest.approx(0.7132, abs=1e-4)


def test_the_note_does_not_move_the_plots(qtbot: QtBot, pane: PlasticityPane) -> None:
    pane.resize(900, 800)
    pane.show()
    qtbot.waitExposed(pane)
    note = pane.findChild(QLabel, "biasNote")
    cascade, rate_map = pane.cascadeView(), pane.rateMapView()
    assert note is not None

    def settled(condition: tuple[int, int]) -> tuple[QRect, QRect]:
        pane.setExperiment(paper_condition(*condition))
        QApplication.processEvents()  # the layout pass an edit triggers
        return cascade.geometry(), rate_map.geometry()

    settled((25, 50))  # the first protocol fills the empty labels
    before = settled((25, 50))
    assert note.isHidden()
    assert settled((50, 50)) == before  # flat: the note appears in its reserved room
    assert note.isVisible()
    assert settled((25, 50)) == before
    assert note.isHidden()


def test_compensation_hides_the_note_when_the_bias_is_gone(pane: PlasticityPane) -> None:
    pane.setExperiment(paper_condition(25, 25))
    assert "onset bias" in bias_note(pane)
    pane.setOnsetCompensation(True)
    prediction = pane.prediction()
    assert prediction is not None
    assert prediction.total == pytest.approx(DWT_COMPENSATED[25, 25], abs=1e-4)
    assert bias_note(pane) == ""


def test_box_follows_parameters_set_elsewhere(pane: PlasticityPane) -> None:
    box = pane.findChild(QCheckBox, "onsetCompensation")
    assert box is not None
    pane.setParams(KinaseParams(d_scale=ONSET_COMPENSATED_D_SCALE))
    assert box.isChecked() and pane.onsetCompensation()
    pane.setParams(KinaseParams(d_scale=1.2))
    assert not box.isChecked()


def test_is_flat() -> None:
    assert is_flat(paper_condition(25, 25).induction)
    assert not is_flat(paper_condition(25, 50).induction)


# ----------------------------------------------------------------------------- rate map


def test_default_map_is_5_to_50_hz_and_matches_the_prediction(
    make_pane: Callable[..., PlasticityPane],
) -> None:
    pane = make_pane(map_rates_hz=RATE_MAP_HZ)
    pane.setExperiment(paper_condition(25, 50))
    assert pane.waitForMap()
    values = pane.rateMap()
    rates = pane.mapRatesHz()
    assert values is not None and values.shape == (46, 46)
    assert rates[0] == 5.0 and rates[-1] == 50.0
    i, j = int(np.flatnonzero(rates == 25)[0]), int(np.flatnonzero(rates == 50)[0])
    assert values[i, j] == pytest.approx(DWT[25, 50], abs=1e-4)
    assert values[j, i] == pytest.approx(DWT[50, 25], abs=1e-4)


@pytest.fixture
def map_calls(monkeypatch: pytest.MonkeyPatch) -> list[KinaseParams]:
    """Record every rate-map computation the pane starts."""
    calls: list[KinaseParams] = []

    def counting(
        source: Any, minus: Any, plus: Any, params: KinaseParams | None = None
    ) -> npt.NDArray[np.float64]:
        calls.append(params or KinaseParams())
        return rate_map(source, minus, plus, params)

    monkeypatch.setattr("rigctl.gui.plasticity.rate_map.rate_map", counting)
    return calls


def test_map_is_recomputed_only_when_its_inputs_change(
    qtbot: QtBot, pane: PlasticityPane, map_calls: list[KinaseParams]
) -> None:
    exp = paper_condition(25, 50)
    with qtbot.waitSignal(pane.rateMapChanged, timeout=10_000):
        pane.setExperiment(exp)
    assert len(map_calls) == 1 and pane.mapComputations() == 1
    assert pane.isMapCurrent()

    # Edits the map does not depend on: metadata, probes, the varied rates, lrate.
    pane.setExperiment(exp.replace(metadata=exp.metadata.replace(name="Renamed")))
    pane.setExperiment(exp.replace(probes=exp.probes.replace(interval_s=30.0)))
    pane.setExperiment(with_rates(exp, 50, 25))
    assert pane.mapMarker() == (50.0, 25.0)
    pane.setParams(pane.params().replace(lrate=0.05))
    assert pane.waitForMap()
    assert len(map_calls) == 1 and pane.mapComputations() == 1

    # Edits it does depend on: the window geometry and the cascade constants.
    pane.setExperiment(exp.replace(induction=exp.induction.replace(gap_ms=0.0)))
    assert pane.waitForMap()
    assert len(map_calls) == 2
    pane.setOnsetCompensation(True)
    assert pane.waitForMap()
    assert len(map_calls) == 3 and map_calls[-1].d_scale == ONSET_COMPENSATED_D_SCALE


def test_map_results_are_cached(pane: PlasticityPane, map_calls: list[KinaseParams]) -> None:
    pane.setExperiment(paper_condition(25, 50))
    assert pane.waitForMap()
    pane.setOnsetCompensation(True)
    assert pane.waitForMap()
    pane.setOnsetCompensation(False)
    assert pane.waitForMap()
    assert len(map_calls) == 2


def test_map_follows_the_newest_request(pane: PlasticityPane) -> None:
    exp = paper_condition(25, 50)
    pane.setExperiment(exp)
    for gap in (100.0, 200.0, 300.0):  # faster than the worker: only the last one matters
        pane.setExperiment(exp.replace(induction=exp.induction.replace(gap_ms=gap)))
    assert pane.waitForMap()
    assert pane.mapComputations() <= 4
    values = pane.rateMap()
    assert values is not None
    rates = list(SMALL_RATES)
    prediction = pane.prediction()
    assert prediction is not None
    assert values[rates.index(25.0), rates.index(50.0)] == pytest.approx(prediction.total)


def test_map_is_computed_on_demand_on_the_gui_thread(
    pane: PlasticityPane, map_calls: list[KinaseParams]
) -> None:
    warm_up_kernel()
    pane.setExperiment(paper_condition(25, 50))
    assert pane.isMapCurrent() and len(map_calls) == 1  # no waiting: it is there at once
    assert not any(t.name == "rigctl-rate-map" for t in threading.enumerate())


def test_numpy_map_follows_the_headline(
    qtbot: QtBot, pane: PlasticityPane, map_calls: list[KinaseParams]
) -> None:
    _events.set_backend("numpy")
    try:
        pane.setExperiment(paper_condition(25, 50))
        assert pane.prediction() is not None and not pane.isMapCurrent()
        status = pane.findChild(LiveText, "mapStatus")
        assert status is not None and "Computing" in status.text()
        qtbot.waitUntil(pane.isMapCurrent, timeout=5000)  # the next event-loop turn
        assert len(map_calls) == 1
    finally:
        _events.set_backend(None)


def test_headline_direction_comes_from_the_one_rule(pane: PlasticityPane) -> None:
    for minus, plus in ((25, 25), (25, 50), (50, 25), (50, 50)):
        pane.setExperiment(paper_condition(minus, plus))
        outlook = pane.outlook()
        assert outlook is not None
        assert outlook.direction == call_direction(outlook.low, outlook.high)
        assert headline(pane).startswith(outlook.direction)


def test_dragging_the_marker_previews_and_then_applies_the_rates(
    qtbot: QtBot, pane: PlasticityPane, map_calls: list[KinaseParams]
) -> None:
    pane.setExperiment(paper_condition(25, 25))
    picked: list[Experiment] = []
    pane.ratesPicked.connect(picked.append)
    drag_marker(pane, 49.0, 21.0, finished=False)  # snapped to the map's grid: 50 -> 20
    assert pane.mapMarker() == (50.0, 20.0) and picked == []
    prediction = pane.prediction()
    assert prediction is not None and prediction.total < 0
    assert headline(pane).startswith("LTD")
    assert pane.waitForMap()
    values = pane.rateMap()
    rates = list(SMALL_RATES)
    assert values is not None
    assert values[rates.index(50.0), rates.index(20.0)] == pytest.approx(prediction.total)
    drag_marker(pane, 25.0, 50.0)
    assert len(picked) == 1
    first, last = picked[0].induction.phases
    assert (first.pre.rate_hz, first.post.target_rate_hz) == (25.0, 25.0)
    assert (last.pre.rate_hz, last.post.target_rate_hz) == (50.0, 50.0)
    assert headline(pane).startswith("LTP")
    assert len(map_calls) == 1  # the map does not depend on the varied rates


def test_single_phase_protocol_has_no_map_but_a_prediction(pane: PlasticityPane) -> None:
    exp = paper_condition(25, 50)
    one = exp.replace(induction=exp.induction.replace(phases=exp.induction.phases[:1]))
    pane.setExperiment(one)
    assert pane.prediction() is not None
    assert pane.mapMarker() is None
    assert pane.rateMap() is None and not pane.isMapCurrent()


# ----------------------------------------------------------------------------- trains, errors


def test_random_trains_show_the_spread_over_seeds(pane: PlasticityPane) -> None:
    pane.setExperiment(paper_condition(25, 50))
    pane.setTrainOptions(TrainOptions(timing="jittered", n_seeds=4, jitter_ms=3.0))
    prediction = pane.prediction()
    assert prediction is not None
    assert prediction.seed_totals.size == 4 and prediction.total_sd > 0
    assert "SD over 4 seeds" in headline(pane)
    assert prediction.direction == "LTP"


def test_model_error_is_shown_not_raised(
    pane: PlasticityPane, monkeypatch: pytest.MonkeyPatch
) -> None:
    pane.setExperiment(paper_condition(25, 50))

    def broken(*_: Any, **__: Any) -> Any:
        raise ValueError("window_ms: a 0 ms window ends before the first 1 ms step does")

    monkeypatch.setattr("rigctl.gui.plasticity.pane.predict", broken)
    pane.setExperiment(paper_condition(50, 25))
    assert pane.prediction() is None
    assert "No prediction" in headline(pane)
    monkeypatch.undo()
    pane.setExperiment(paper_condition(25, 25))
    assert pane.prediction() is not None


# ----------------------------------------------------------------------------- dialog


def test_parameters_dialog_ok_applies(qtbot: QtBot, pane: PlasticityPane) -> None:
    pane.setExperiment(paper_condition(50, 50))
    button = pane.findChild(QPushButton, "parametersButton")
    assert button is not None
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]
    dialog = pane.findChild(KinaseParamsDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.value() == (pane.params(), pane.trainOptions())
    wanted = (KinaseParams(d_scale=ONSET_COMPENSATED_D_SCALE), TrainOptions(n_seeds=3))
    dialog.setValue(wanted)
    with qtbot.waitSignals([pane.paramsChanged, pane.trainOptionsChanged]):
        dialog.okButton().click()
    assert not dialog.isVisible()
    assert (pane.params(), pane.trainOptions()) == wanted
    prediction = pane.prediction()
    assert prediction is not None
    assert prediction.total == pytest.approx(DWT_COMPENSATED[50, 50], abs=1e-4)
    box = pane.findChild(QCheckBox, "onsetCompensation")
    assert box is not None and box.isChecked()


def test_parameters_dialog_cancel_changes_nothing(qtbot: QtBot, pane: PlasticityPane) -> None:
    pane.setExperiment(paper_condition(25, 50))
    before = pane.prediction()
    dialog = pane.openParametersDialog()
    dialog.setValue((KinaseParams(p_tau_ms=20.0), TrainOptions(timing="jittered")))
    with qtbot.assertNotEmitted(pane.paramsChanged), qtbot.assertNotEmitted(pane.predictionChanged):
        dialog.reject()
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert pane.params() == KinaseParams()
    assert pane.trainOptions() == TrainOptions()
    assert pane.prediction() is before
    # Opening again shows the pane's values, not the cancelled edit.
    assert pane.openParametersDialog().value() == (KinaseParams(), TrainOptions())
    dialog.reject()
