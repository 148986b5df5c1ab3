"""The kinase parameters dialog: round trip, defaults, validation at the field, cancel."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from typing import Any

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QAbstractSpinBox, QDialog, QPushButton
from pytestqt.qtbot import QtBot

from rigctl.gui.plasticity.params_dialog import PARAM_FIELDS, TRAIN_FIELDS, KinaseParamsDialog
from rigctl.gui.widgets.fields import ChoiceField, IntField, QuantityField
from rigctl.plasticity import KinaseParams
from rigctl.plasticity.preview import TrainOptions

CUSTOM = (
    KinaseParams(
        spike_ca_syn=7.5,
        ca_syn_tau_ms=25.0,
        syn_ca_gain=6.0,
        m_tau_ms=4.0,
        p_tau_ms=35.0,
        d_tau_ms=45.0,
        p_scale=0.95,
        d_scale=1.05,
        lrate=0.02,
    ),
    TrainOptions(timing="quasi_regular", n_seeds=7, seed=3, jitter_ms=2.5),
)


@pytest.fixture(autouse=True)
def no_blocking_dialog(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> int:
        raise AssertionError("the dialog must be driven with open(), not exec()")

    monkeypatch.setattr(KinaseParamsDialog, "exec", refuse)


@pytest.fixture
def dialog(qtbot: QtBot) -> KinaseParamsDialog:
    dlg = KinaseParamsDialog()
    qtbot.addWidget(dlg)
    dlg.open()
    return dlg


def type_text(qtbot: QtBot, widget: QAbstractSpinBox, text: str) -> None:
    """Select all of ``widget``'s text, type ``text`` and press Enter."""
    widget.setFocus()
    widget.selectAll()
    qtbot.keyClicks(widget, text)  # type: ignore[no-untyped-call]
    qtbot.keyClick(widget, Qt.Key.Key_Return)  # type: ignore[no-untyped-call]


def quantity(dialog: KinaseParamsDialog, name: str) -> QuantityField:
    widget = dialog.field(name)
    assert isinstance(widget, QuantityField)
    return widget


def test_starts_at_axon_defaults(dialog: KinaseParamsDialog) -> None:
    assert dialog.value() == (KinaseParams(), TrainOptions())
    assert dialog.isValid() and dialog.okButton().isEnabled()


def test_every_field_has_an_editor_with_its_unit(dialog: KinaseParamsDialog) -> None:
    assert set(PARAM_FIELDS) | {"dt_ms"} == set(KinaseParams.model_fields)
    for name in ("ca_syn_tau_ms", "m_tau_ms", "p_tau_ms", "d_tau_ms"):
        assert quantity(dialog, name).suffix() == " ms"
    assert quantity(dialog, "jitter_ms").suffix() == " ms"
    assert isinstance(dialog.field("timing"), ChoiceField)
    assert isinstance(dialog.field("n_seeds"), IntField)
    assert isinstance(dialog.field("seed"), IntField)
    assert set(TRAIN_FIELDS) == {"timing", "n_seeds", "seed", "jitter_ms"}


def test_round_trip(qtbot: QtBot, dialog: KinaseParamsDialog) -> None:
    with qtbot.waitSignal(dialog.valueChanged) as blocker:
        dialog.setValue(CUSTOM)
    assert dialog.value() == CUSTOM
    assert blocker.args == [CUSTOM]
    other = KinaseParamsDialog(CUSTOM)
    qtbot.addWidget(other)
    assert other.value() == CUSTOM


def test_typing_a_value_updates_it(qtbot: QtBot, dialog: KinaseParamsDialog) -> None:
    with qtbot.waitSignal(dialog.valueChanged):
        type_text(qtbot, quantity(dialog, "p_tau_ms"), "30")
    assert dialog.value()[0] == KinaseParams(p_tau_ms=30.0)
    choice = dialog.field("timing")
    assert isinstance(choice, ChoiceField)
    choice.setCurrentIndex(choice.findData("jittered"))
    assert dialog.value()[1].timing == "jittered"


def test_reset_to_axon_defaults_keeps_the_trains(qtbot: QtBot, dialog: KinaseParamsDialog) -> None:
    dialog.setValue(CUSTOM)
    button = dialog.findChild(QPushButton, "resetDefaults")
    assert button is not None
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]
    assert dialog.value() == (KinaseParams(), CUSTOM[1])
    assert dialog.isVisible()  # resetting does not close the dialog


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("d_scale", "0", "must be positive"),
        ("m_tau_ms", "0.5", "shorter than the 1 ms integration step"),
        ("syn_ca_gain", "-2", "must be positive"),
        ("lrate", "0", "must be positive"),
        ("n_seeds", "0", "at least one seed"),
        ("seed", "-1", ">= 0"),
        ("jitter_ms", "-1", ">= 0 ms"),
    ],
)
def test_invalid_input_is_flagged_at_the_field(
    qtbot: QtBot, dialog: KinaseParamsDialog, name: str, text: str, words: str
) -> None:
    dialog.setValue(CUSTOM)
    widget = dialog.field(name)
    assert isinstance(widget, QAbstractSpinBox)
    with qtbot.assertNotEmitted(dialog.valueChanged):
        type_text(qtbot, widget, text)
    problem = dialog.fieldProblem(name)
    assert problem is not None and words in problem
    assert words in dialog.problems()[name]
    assert not dialog.isValid()
    assert not dialog.okButton().isEnabled()
    assert dialog.value() == CUSTOM  # the last valid value
    qtbot.keyClick(widget, Qt.Key.Key_Return)  # type: ignore[no-untyped-call]
    assert dialog.isVisible()
    dialog.accept()
    assert dialog.isVisible()
    # Fixing the field clears the flag.
    dialog.setValue(CUSTOM)
    assert dialog.fieldProblem(name) is None and dialog.isValid()


def test_several_problems_are_listed(qtbot: QtBot, dialog: KinaseParamsDialog) -> None:
    type_text(qtbot, quantity(dialog, "p_tau_ms"), "0")
    type_text(qtbot, quantity(dialog, "d_tau_ms"), "0")
    assert set(dialog.problems()) == {"p_tau_ms", "d_tau_ms"}


def test_ok_accepts_and_cancel_rejects(qtbot: QtBot) -> None:
    dlg = KinaseParamsDialog(CUSTOM)
    qtbot.addWidget(dlg)
    dlg.open()
    dlg.okButton().click()
    assert dlg.result() == QDialog.DialogCode.Accepted and not dlg.isVisible()
    dlg.open()
    type_text(qtbot, quantity(dlg, "p_tau_ms"), "20")
    edited = dlg.value()
    dlg.reject()
    assert dlg.result() == QDialog.DialogCode.Rejected
    assert edited[0].p_tau_ms == 20.0  # the caller decides what Cancel means (the pane ignores it)
