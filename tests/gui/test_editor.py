"""The experiment editor, driven through its widgets."""

from __future__ import annotations

from typing import Any

import pytest
from PyQt6.QtGui import QTextCursor
from pytestqt.qtbot import QtBot

from rigctl import protocol as proto
from rigctl.gui import ExperimentEditor
from rigctl.gui.design._draft import get_in
from rigctl.gui.design.phases import COLUMNS
from rigctl.gui.widgets.fields import (
    OptionalQuantityField,
    QuantityField,
    TextAreaField,
    problem_of,
)
from tests.conftest import PROTOCOLS
from tests.gui.conftest import keys, type_into

PROTOCOL_FILES = sorted(PROTOCOLS.glob("*.json"))
STATIC_PATHS = [
    "induction.window_ms",
    "induction.repeats",
    "induction.gap_ms",
    "induction.lead_in_ms",
    "probes.interval_s",
    "probes.baseline_min",
    "probes.followup_min",
    "probes.sweep_ms",
    "probes.probe.time_ms",
    "probes.probe.pulse_width_us",
    "probes.test_step.amplitude_pa",
    "probes.test_step.start_ms",
    "probes.test_step.duration_ms",
    "metadata.name",
    "metadata.author",
    "metadata.tags",
    "metadata.description",
]


def jittered_three_phase() -> proto.Experiment:
    """A user's generalisation: three phases, jitter, uncalibrated drive, odd numbers."""
    return proto.Experiment(
        metadata=proto.Metadata(name="Jittered 3-phase", author="A. Scientist", tags=("x", "y")),
        induction=proto.Induction(
            phases=(
                proto.Phase(
                    name="cue",
                    duration_ms=60.0,
                    pre=proto.StimTrain(
                        rate_hz=33.3, onset_ms=1.25, timing="jittered", jitter_ms=2.5, seed=7
                    ),
                    post=proto.PostDrive(target_rate_hz=0.0),
                ),
                proto.Phase(
                    name="prediction",
                    duration_ms=100.0,
                    pre=proto.StimTrain(rate_hz=25.0, pulse_width_us=250.0),
                    post=proto.PostDrive(target_rate_hz=25.0, current_pa=None, lag_ms=5.0),
                ),
                proto.Phase(
                    name="outcome",
                    duration_ms=120.5,
                    pre=proto.StimTrain(rate_hz=50.0, timing="jittered", jitter_ms=1.0, seed=3),
                    post=proto.PostDrive(target_rate_hz=50.0, current_pa=287.5),
                ),
            ),
            window_ms=None,
            repeats=7,
            gap_ms=350.0,
            lead_in_ms=0.0,
        ),
        probes=proto.ProbeSchedule(interval_s=15.0, baseline_min=6.0, followup_min=40.0),
    )


EXAMPLES = [pytest.param(proto.load(f), id=f.name) for f in PROTOCOL_FILES] + [
    pytest.param(jittered_three_phase(), id="jittered-3-phase")
]


def _shown(editor: ExperimentEditor, path: str) -> Any:
    widget = editor.fieldWidget(path)
    assert widget is not None, path
    return widget.fieldValue()


def _all_paths(exp: proto.Experiment) -> list[str]:
    rows = [
        f"induction.phases[{i}].{c.key}" for i in range(len(exp.induction.phases)) for c in COLUMNS
    ]
    return STATIC_PATHS + rows


def test_the_paper_files_are_all_here() -> None:
    assert {
        "theta-25-25.json",
        "theta-25-50.json",
        "theta-50-25.json",
        "theta-50-50.json",
    } <= {f.name for f in PROTOCOL_FILES}


@pytest.mark.parametrize("exp", EXAMPLES)
def test_round_trip_and_every_field_shows_its_value(
    qtbot: QtBot, editor: ExperimentEditor, exp: proto.Experiment
) -> None:
    editor.setValue(exp)
    assert editor.value() == exp
    assert editor.isValid()
    data = exp.model_dump()
    for path in _all_paths(exp):
        want = get_in(data, path)
        got = _shown(editor, path)
        assert got == (pytest.approx(want) if isinstance(want, float) else want), path


@pytest.mark.parametrize("exp", EXAMPLES)
def test_touching_every_field_changes_nothing(
    qtbot: QtBot, editor: ExperimentEditor, exp: proto.Experiment
) -> None:
    """Each widget holds its field exactly: re-applying what it shows is a no-op."""
    editor.setValue(exp)
    with qtbot.assertNotEmitted(editor.valueChanged):
        for path in _all_paths(exp):
            widget = editor.fieldWidget(path)
            assert widget is not None
            widget.edited.emit()
    assert editor.value() == exp


def test_set_value_emits_only_on_change(qtbot: QtBot, editor: ExperimentEditor) -> None:
    other = proto.paper_condition(50, 25)
    with qtbot.waitSignal(editor.valueChanged) as blocker:
        editor.setValue(other)
    assert blocker.args == [other]
    with qtbot.assertNotEmitted(editor.valueChanged):
        editor.setValue(other)


def test_typing_a_rate_in_the_table_emits_the_new_experiment(
    qtbot: QtBot, editor: ExperimentEditor
) -> None:
    rate = editor.fieldWidget("induction.phases[0].pre.rate_hz")
    assert isinstance(rate, QuantityField)
    seen: list[proto.Experiment] = []
    editor.valueChanged.connect(seen.append)
    type_into(qtbot, rate, "40")
    assert seen, "no valueChanged"
    assert all(isinstance(v, proto.Experiment) for v in seen)
    assert seen[-1].induction.phases[0].pre.rate_hz == 40.0
    assert editor.value().induction.phases[0].pre.rate_hz == 40.0
    assert rate.text() == "40"
    assert editor.isValid()


def test_pulse_too_long_for_the_rate_is_flagged_at_the_field(
    qtbot: QtBot, editor: ExperimentEditor
) -> None:
    width = editor.fieldWidget("induction.phases[1].pre.pulse_width_us")
    rate = editor.fieldWidget("induction.phases[1].pre.rate_hz")
    assert isinstance(width, QuantityField) and isinstance(rate, QuantityField)
    rate.setValue(150)
    before = editor.value()
    with qtbot.assertNotEmitted(editor.valueChanged):
        type_into(qtbot, width, "4000")  # 4 ms pulses at 150 Hz: longer than half a period
    assert not editor.isValid()
    assert editor.value() == before
    message = problem_of(rate)  # the model names the rate as the field at fault
    assert message is not None and "too fast" in message and "4000 µs" in message
    assert "too fast" in rate.toolTip()
    assert rate.property("invalid") is True
    assert "too fast" in editor.messageLabel.text()
    assert "Phase 2 (outcome)" in editor.messageLabel.text()
    [problem] = editor.problems()
    assert problem.path == "induction.phases[1].pre.rate_hz"

    type_into(qtbot, width, "100")  # back to a valid protocol: the flag goes away
    assert editor.isValid()
    assert problem_of(rate) is None
    assert not rate.property("invalid")
    assert "Valid" in editor.messageLabel.text()


@pytest.mark.parametrize(
    ("path", "typed", "expected"),
    [
        ("induction.phases[0].duration_ms", "-5", "greater than 0"),
        ("induction.phases[0].pre.pulse_width_us", "6000", "at most 5000"),
        ("induction.repeats", "0", "at least 1"),
        ("probes.test_step.amplitude_pa", "5", "less than 0"),
        ("probes.interval_s", "2", "at least 5"),
    ],
)
def test_out_of_range_values_are_flagged_not_clamped(
    qtbot: QtBot, editor: ExperimentEditor, path: str, typed: str, expected: str
) -> None:
    widget = editor.fieldWidget(path)
    assert widget is not None
    type_into(qtbot, widget, typed)  # type: ignore[arg-type]
    assert not editor.isValid()
    message = problem_of(widget)
    assert message is not None and expected in message
    assert typed in widget.text()  # type: ignore[union-attr]  # shown as typed, not clamped


def test_problem_of_a_group_flags_its_fields(qtbot: QtBot, editor: ExperimentEditor) -> None:
    sweep = editor.fieldWidget("probes.sweep_ms")
    assert isinstance(sweep, QuantityField)
    sweep.setValue(250)  # the 100-300 ms test step no longer fits in the sweep
    flagged = [
        p
        for p in ("probes.test_step.amplitude_pa", "probes.test_step.start_ms")
        if problem_of(editor.fieldWidget(p)) is not None  # type: ignore[arg-type]
    ]
    assert len(flagged) == 2
    assert "Test step" in editor.messageLabel.text()


def test_clearing_the_current_makes_the_drive_uncalibrated(
    qtbot: QtBot, editor: ExperimentEditor
) -> None:
    current = editor.fieldWidget("induction.phases[0].post.current_pa")
    assert isinstance(current, OptionalQuantityField)
    assert current.fieldValue() == 185.0  # the library starting current for 25 Hz
    with qtbot.waitSignal(editor.valueChanged):
        type_into(qtbot, current, "")
    assert editor.value().induction.phases[0].post.current_pa is None
    assert current.text() == "uncalibrated"
    type_into(qtbot, current, "175")
    assert editor.value().induction.phases[0].post.current_pa == 175.0


def test_window_left_empty_means_the_phases_total(qtbot: QtBot, editor: ExperimentEditor) -> None:
    window = editor.fieldWidget("induction.window_ms")
    assert isinstance(window, OptionalQuantityField)
    type_into(qtbot, window, "")
    assert editor.value().induction.window_ms is None
    assert window.text() == "sum of phases"


def test_jittered_timing_enables_jitter(qtbot: QtBot, editor: ExperimentEditor) -> None:
    table = editor.phasesTable
    timing = table.cell(0, "pre.timing")
    jitter = table.cell(0, "pre.jitter_ms")
    assert timing is not None and isinstance(jitter, QuantityField)
    assert not jitter.isEnabled()
    timing.setCurrentIndex(timing.findData("jittered"))  # type: ignore[union-attr]
    assert jitter.isEnabled()
    jitter.setValue(3.0)
    train = editor.value().induction.phases[0].pre
    assert (train.timing, train.jitter_ms) == ("jittered", 3.0)
    jitter.setValue(30.0)  # neighbouring pulses would overlap
    assert "overlap" in (problem_of(jitter) or "")


def test_add_move_remove_phases(qtbot: QtBot, editor: ExperimentEditor) -> None:
    table = editor.phasesTable
    table.setCurrentRow(0)
    with qtbot.assertNotEmitted(editor.valueChanged):
        table.addButton.click()  # 300 ms of phases no longer fit the 200 ms window
    assert table.rowCount() == 3
    assert table.cell(1, "name").fieldValue() == "phase 3"  # type: ignore[union-attr]
    window = editor.fieldWidget("induction.window_ms")
    assert "do not fit" in (problem_of(window) or "")  # type: ignore[arg-type]
    type_into(qtbot, window, "300")  # type: ignore[arg-type]
    names = [p.name for p in editor.value().induction.phases]
    assert names == ["prediction", "phase 3", "outcome"]

    table.setCurrentRow(1)
    table.downButton.click()
    assert [p.name for p in editor.value().induction.phases] == [
        "prediction",
        "outcome",
        "phase 3",
    ]
    assert table.currentRow() == 2
    assert not table.downButton.isEnabled()
    table.upButton.click()
    table.upButton.click()
    assert editor.value().induction.phases[0].name == "phase 3"
    assert not table.upButton.isEnabled()

    table.removeButton.click()
    assert [p.name for p in editor.value().induction.phases] == ["prediction", "outcome"]
    table.removeButton.click()
    assert table.rowCount() == 1
    assert not table.removeButton.isEnabled()


def test_duplicate_phase_names_flag_the_table(qtbot: QtBot, editor: ExperimentEditor) -> None:
    name = editor.fieldWidget("induction.phases[1].name")
    assert name is not None
    type_into(qtbot, name, "prediction")  # type: ignore[arg-type]
    assert "unique" in (problem_of(editor.phasesTable.table) or "")
    assert not editor.isValid()
    assert [p.name for p in editor.value().induction.phases] == ["prediction", "predictio"]
    type_into(qtbot, name, "outcome")  # type: ignore[arg-type]
    assert problem_of(editor.phasesTable.table) is None


def test_metadata_fields(qtbot: QtBot, editor: ExperimentEditor) -> None:
    name = editor.fieldWidget("metadata.name")
    tags = editor.fieldWidget("metadata.tags")
    description = editor.fieldWidget("metadata.description")
    assert name is not None and tags is not None and description is not None
    type_into(qtbot, name, "My protocol")  # type: ignore[arg-type]
    type_into(qtbot, tags, "ltp, cell 3,, theta ")  # type: ignore[arg-type]
    assert isinstance(description, TextAreaField)
    description.moveCursor(QTextCursor.MoveOperation.End)
    keys(qtbot, description, " More.")
    meta = editor.value().metadata
    assert meta.name == "My protocol"
    assert meta.tags == ("ltp", "cell 3", "theta")
    assert meta.description.endswith(" More.")
    assert meta.created == proto.paper_condition(25, 50).metadata.created  # kept, not editable
    type_into(qtbot, name, "")  # type: ignore[arg-type]
    assert "must not be empty" in (problem_of(name) or "")


def test_last_edit_describes_and_sessions_split_on_commit(
    qtbot: QtBot, editor: ExperimentEditor
) -> None:
    rate = editor.fieldWidget("induction.phases[0].pre.rate_hz")
    assert isinstance(rate, QuantityField)
    rate.setValue(30)
    first = editor.lastEdit()
    assert first.field == "induction.phases[0].pre.rate_hz"
    assert first.label == "Phase 1 (prediction) · Pre rate (Hz)"
    rate.setValue(35)
    assert editor.lastEdit().mergeKey == first.mergeKey
    rate.editingFinished.emit()
    rate.setValue(40)
    assert editor.lastEdit().mergeKey != first.mergeKey


def test_commit_pending_applies_a_number_typed_without_enter(
    qtbot: QtBot, editor: ExperimentEditor
) -> None:
    gap = editor.fieldWidget("induction.gap_ms")
    assert isinstance(gap, QuantityField)
    gap.selectAll()
    keys(qtbot, gap, "500")
    assert editor.value().induction.gap_ms == 400.0  # not entered yet
    editor.commitPending()
    assert editor.value().induction.gap_ms == 500.0


def test_wheel_does_not_change_an_unfocused_field(qtbot: QtBot, editor: ExperimentEditor) -> None:
    from PyQt6.QtCore import QPoint, QPointF, Qt
    from PyQt6.QtGui import QWheelEvent
    from PyQt6.QtWidgets import QApplication

    rate = editor.fieldWidget("induction.phases[0].pre.rate_hz")
    assert isinstance(rate, QuantityField) and not rate.hasFocus()
    event = QWheelEvent(
        QPointF(5, 5),
        QPointF(5, 5),
        QPoint(0, 0),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(rate, event)
    assert editor.value().induction.phases[0].pre.rate_hz == 25.0
