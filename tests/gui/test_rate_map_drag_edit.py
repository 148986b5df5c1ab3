"""Dragging the rate-map marker edits the protocol in the main window, undoably."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from rigctl.gui.main_window import MainWindow
from rigctl.protocol import paper_condition


def test_dragged_rates_become_an_undoable_edit(qtbot: QtBot, settings: QSettings) -> None:
    window = MainWindow(settings, experiment=paper_condition(25, 25))
    qtbot.addWidget(window)
    pane = window.plasticityPane
    marker = pane.rateMapView().marker()  # a drag moves it, then releases it
    marker.setPos(25.0, 50.0)
    marker.sigPositionChangeFinished.emit(marker)
    first, last = window.experiment().induction.phases
    assert (first.pre.rate_hz, last.pre.rate_hz) == (25.0, 50.0)
    assert last.post.target_rate_hz == 50.0
    assert window.isWindowModified()
    window.undoAction.trigger()
    assert window.experiment().induction.phases[-1].pre.rate_hz == 25.0
