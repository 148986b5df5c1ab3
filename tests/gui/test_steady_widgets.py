"""Frames on time: text that changes on every edit moves nothing and relays nothing out.

``LiveText`` (a rich-text line of steady height), ``SteadyFrame`` (stops size-hint churn),
the steady axis limits of the plots, and the whole designer: an edit of a rate must not
make Qt recompute the layout of the Protocol page (that cost a few ms per edit).
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
import pytest
from PyQt6.QtCore import QEvent, QObject
from PyQt6.QtWidgets import QApplication, QLabel, QSplitter, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from rigctl.gui import MainWindow
from rigctl.gui.plot_style import nice_ceiling, steady_limit
from rigctl.gui.widgets.live_text import LiveText
from rigctl.gui.widgets.steady import SteadyFrame

LONG = "<b>word</b> " * 60


class LayoutRequests(QObject):
    """Counts the ``LayoutRequest`` events of the widgets it watches."""

    def __init__(self, *widgets: QWidget) -> None:
        super().__init__()
        self.count = 0
        for widget in widgets:
            widget.installEventFilter(self)

    def eventFilter(self, a0: QObject | None, a1: QEvent | None) -> bool:
        if a1 is not None and a1.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


# --------------------------------------------------------------------------- LiveText


def test_live_text_shows_copies_and_keeps_its_text(qtbot: QtBot) -> None:
    text = LiveText("value", lines=1)
    qtbot.addWidget(text)
    text.setText("<b>+1.40</b> &times; baseline")
    assert text.text() == "<b>+1.40</b> &times; baseline"
    assert text.plainText() == "+1.40 \u00d7 baseline"
    assert text.objectName() == "value"
    copy = text.actions()[0]
    assert copy.text() == "Copy"
    copy.trigger()
    clipboard = QApplication.clipboard()
    assert clipboard is not None and clipboard.text() == "+1.40 \u00d7 baseline"


def test_live_text_grows_for_long_text_and_never_jumps_back(qtbot: QtBot) -> None:
    text = LiveText("value", lines=2)
    qtbot.addWidget(text)
    text.resize(200, text.height())
    text.show()
    qtbot.waitExposed(text)
    two_lines = text.height()
    assert two_lines >= 2 * text.fontMetrics().lineSpacing()
    text.setText(LONG)
    assert text.height() >= text.neededHeight(200) > two_lines  # all of it shows
    grown = text.height()
    text.setText("short")  # a shorter value keeps the height: nothing below moves
    assert text.height() == grown
    text.resize(4000, grown)  # a new width fits the height to the text again
    assert text.height() == two_lines


def test_live_text_follows_its_font(qtbot: QtBot) -> None:
    text = LiveText("value", lines=2)
    qtbot.addWidget(text)
    small = text.height()
    font = text.font()
    font.setPointSizeF(font.pointSizeF() * 2)
    text.setFont(font)  # e.g. inherited from a parent with a larger font
    assert text.height() >= 2 * text.fontMetrics().lineSpacing() > small


def test_live_text_change_does_not_relay_out_its_parent(qtbot: QtBot) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    text = LiveText("value", lines=2)
    QVBoxLayout(parent).addWidget(text)
    parent.resize(600, 200)
    parent.show()
    qtbot.waitExposed(parent)
    text.setText("first")
    QApplication.processEvents()
    requests = LayoutRequests(parent)
    for value in ("+1.40", "+1.38 [1.31, 1.45]", "-0.76"):
        text.setText(f"<b>{value}</b>")
        QApplication.processEvents()
    assert requests.count == 0
    label = QLabel("first")  # what a QLabel does, for contrast
    parent.layout().addWidget(label)  # type: ignore[union-attr]
    QApplication.processEvents()
    label.setText("<b>+1.40</b> and more")
    QApplication.processEvents()
    assert requests.count > 0


# --------------------------------------------------------------------------- SteadyFrame


def _framed(qtbot: QtBot) -> tuple[QWidget, QWidget, QLabel, SteadyFrame]:
    outer = QWidget()
    qtbot.addWidget(outer)
    content = QWidget()
    label = QLabel("0.00")
    QVBoxLayout(content).addWidget(label)
    frame = SteadyFrame(content)
    QVBoxLayout(outer).addWidget(frame)
    outer.resize(400, 300)
    outer.show()
    qtbot.waitExposed(outer)
    QApplication.processEvents()
    return outer, content, label, frame


def test_steady_frame_holds_and_fills(qtbot: QtBot) -> None:
    outer, content, _label, frame = _framed(qtbot)
    assert frame.content() is content and content.parent() is frame
    assert content.geometry() == frame.rect()
    outer.resize(500, 350)
    QApplication.processEvents()
    assert content.geometry() == frame.rect()
    assert frame.minimumSizeHint() == content.minimumSizeHint().expandedTo(content.minimumSize())


def test_steady_frame_stops_churn_but_passes_real_changes(qtbot: QtBot) -> None:
    outer, content, label, frame = _framed(qtbot)
    requests = LayoutRequests(outer)
    for text in ("1.40", "1.38", "0.76"):
        label.setText(text)  # same size: the outer layout need not know
        QApplication.processEvents()
    assert requests.count == 0
    outer.resize(400, 100)
    QApplication.processEvents()
    label.setMinimumHeight(250)  # content now needs more room: passed up and honoured
    qtbot.waitUntil(lambda: requests.count > 0 and frame.height() >= 250, timeout=2000)
    assert frame.minimumSizeHint().height() >= 250
    assert content.geometry() == frame.rect()


# --------------------------------------------------------------------------- axis limits


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0.93, 1.0), (1.0, 1.0), (1.01, 1.2), (2.6, 3.0), (7.0, 8.0), (8.5, 10.0), (0.0123, 0.015)],
)
def test_nice_ceiling(value: float, ceiling: float) -> None:
    assert nice_ceiling(value) == pytest.approx(ceiling)


def test_nice_ceiling_of_nothing_is_one() -> None:
    assert nice_ceiling(0.0) == 1.0 and nice_ceiling(float("nan")) == 1.0


def test_steady_limit_keeps_the_axis_while_the_data_fits() -> None:
    first = steady_limit(None, 0.93)
    assert first == 1.0
    assert steady_limit(first, 0.7) == first  # smaller, still fills it: kept
    assert steady_limit(first, 1.0) == first
    assert steady_limit(first, 1.3) == 1.5  # outgrown: rescaled
    assert steady_limit(first, 0.2) == pytest.approx(0.2)  # far smaller: rescaled


# --------------------------------------------------------------------------- the designer


def test_an_edit_does_not_relay_out_the_protocol_page(qtbot: QtBot, window: MainWindow) -> None:
    window.resize(1600, 1000)
    QApplication.processEvents()
    rate: Any = window.editor.fieldWidget("induction.phases[0].pre.rate_hz")
    values = (30.0, 35.0, 40.0, 20.0, 45.0)
    for value in values:  # the first edit may grow a line of text once (it then stays)
        rate.setValue(value)
        QApplication.processEvents()
    splitters = [window.findChild(QSplitter, n) for n in ("designer", "previews")]
    assert all(s is not None for s in splitters)
    requests = LayoutRequests(*splitters)
    for value in values:
        rate.setValue(value)
        QApplication.processEvents()
    assert window.experiment().induction.phases[0].pre.rate_hz == 45.0
    assert requests.count == 0


def test_small_edits_keep_the_cascade_axes(qtbot: QtBot, window: MainWindow) -> None:
    window.resize(1600, 1000)
    rate: Any = window.editor.fieldWidget("induction.phases[0].pre.rate_hz")
    view = window.findChild(pg.GraphicsLayoutWidget, "cascadePlots")
    assert view is not None
    plots = [item for item in view.ci.items if isinstance(item, pg.PlotItem)]
    assert len(plots) == 4
    rate.setValue(26.0)
    QApplication.processEvents()
    before = [plot.vb.viewRange()[1] for plot in plots]
    rate.setValue(27.0)
    QApplication.processEvents()
    assert [plot.vb.viewRange()[1] for plot in plots] == before
    curves = [item for item in plots[0].items if isinstance(item, pg.PlotCurveItem)]
    top = max(float(curve.getData()[1].max()) for curve in curves if curve.getData()[1].size)
    assert 0.0 < top <= before[0][1]  # the new data stays inside the kept range


# --------------------------------------------------------------------------- too large


def test_a_huge_induction_is_not_previewed_live_and_says_why(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # The 60-minute, 1.77-million-pulse protocol of the hostile corpus froze the window
    # for about a minute. Now nothing is compiled or simulated for it, both previews say
    # why in one sentence, and no plot of the protocol before it stays on screen.
    import json

    import rigctl.gui.design.preview as design_preview
    import rigctl.gui.plasticity.pane as pane_module
    from rigctl import protocol as proto
    from rigctl.gui.widgets.live_text import LiveText
    from tests import hostile_corpus as hc

    data = json.loads(dict(hc.PROTOCOLS_VALID)["long-500hz"])
    huge = proto.loads(json.dumps(data))
    pane = window.plasticityPane
    assert pane.prediction() is not None and pane.rateMap() is not None

    def refuse(*_args: object) -> None:
        raise AssertionError("the huge induction was compiled")

    monkeypatch.setattr(design_preview, "compile_induction", refuse)
    monkeypatch.setattr(pane_module, "compile_induction", refuse)
    window.setDocument(huge, tmp_path / "huge.json")
    QApplication.processEvents()

    summary = window.preview.findChild(LiveText, "previewSummary")
    headline = pane.findChild(LiveText, "totalDwt")
    assert summary is not None and headline is not None
    assert "1,770,000 stimulation pulses" in summary.plainText()
    assert "1,770,000 stimulation pulses" in headline.plainText()
    assert "rigctl predict" in headline.plainText()
    assert window.preview.sweep() is None and pane.prediction() is None
    assert pane.rateMap() is None and pane.mapMarker() is None
    title = pane.findChild(LiveText, "mapTitle")
    assert title is not None and "this protocol (25" not in title.plainText()  # not stale
    assert window.preview.plottedStim()[0].size == 0

    monkeypatch.undo()  # a protocol of the usual size is drawn again
    window.setDocument(proto.paper_condition(50, 25), tmp_path / "small.json")
    QApplication.processEvents()
    assert pane.prediction() is not None and window.preview.plottedStim()[0].size > 0
    assert pane.waitForMap() and pane.mapMarker() == (50.0, 25.0)


def test_an_edit_keeps_a_zoom_of_the_waveform_preview(qtbot: QtBot, window: MainWindow) -> None:
    # The detail plot's range is set once per window length: an edit of a rate does not
    # undo a zoom the user made, a new window length does set the new range.
    view = window.preview.findChildren(pg.GraphicsLayoutWidget)[0]
    plots = [item for item in view.ci.items if isinstance(item, pg.PlotItem)]
    detail = plots[0]
    detail.setXRange(20.0, 60.0, padding=0)  # what a mouse-wheel zoom does
    QApplication.processEvents()
    rate: Any = window.editor.fieldWidget("induction.phases[0].pre.rate_hz")
    rate.setValue(30.0)
    QApplication.processEvents()
    assert detail.vb.viewRange()[0] == pytest.approx([20.0, 60.0])
    exp = window.experiment()
    phases = tuple(p.replace(duration_ms=150.0) for p in exp.induction.phases)
    longer = exp.induction.replace(phases=phases, window_ms=300.0)
    window.setDocument(exp.replace(induction=longer))
    QApplication.processEvents()
    low, high = detail.vb.viewRange()[0]
    assert low < 0.0 < 300.0 < high  # the new 300 ms window, with its margins
