"""The waveform preview draws exactly the compiled induction."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from PyQt6.QtGui import QColor, QImage, QPainter, QTextDocument
from pytestqt.qtbot import QtBot

from rigctl import protocol as proto
from rigctl.gui import SAMPLE_RATE_HZ, WaveformPreview
from rigctl.gui.design.preview import hold_steps
from rigctl.gui.plot_style import phase_color, phase_tint
from rigctl.gui.widgets.live_text import LiveText


@pytest.fixture
def preview(qtbot: QtBot) -> WaveformPreview:
    widget = WaveformPreview()
    qtbot.addWidget(widget)
    widget.resize(1200, 400)
    return widget


def summary(preview: WaveformPreview) -> str:
    """The summary line above the plots, as Qt's own text document reads it."""
    label = preview.findChild(LiveText, "previewSummary")
    assert label is not None
    document = QTextDocument()
    document.setHtml(label.text())
    return document.toPlainText()


def rising_edges(y: npt.NDArray[np.float64]) -> int:
    return int(np.count_nonzero((y[1:] > 0.5) & (y[:-1] <= 0.5)))


def uncalibrated(exp: proto.Experiment) -> proto.Experiment:
    phases = tuple(p.replace(post=p.post.replace(current_pa=None)) for p in exp.induction.phases)
    result: proto.Experiment = exp.replace(induction=exp.induction.replace(phases=phases))
    return result


@pytest.mark.parametrize(("minus", "plus", "pulses"), [(25, 25, 60), (25, 50, 80), (50, 50, 100)])
def test_plots_every_pulse_of_the_rendered_sweep(
    preview: WaveformPreview, minus: float, plus: float, pulses: int
) -> None:
    exp = proto.paper_condition(minus, plus)
    preview.setExperiment(exp)
    wave = preview.waveforms()
    assert wave is not None and wave.sample_rate_hz == SAMPLE_RATE_HZ
    assert wave.n_samples == 124_001
    assert rising_edges(wave.stim.astype(np.float64)) == pulses
    x, y = preview.plottedStim()
    assert rising_edges(y) == pulses
    assert x[0] == 0.0 and x[-1] == pytest.approx(6.2)
    _, cmd = preview.plottedCommand()
    assert set(np.unique(cmd)) == {0.0, *[p.post.current_pa for p in exp.induction.phases]}


def test_hold_steps_is_lossless() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 500).astype(np.float64)
    t = np.arange(500, dtype=np.float64)
    xs, ys = hold_steps(t, y)
    assert xs.size < 2 * y.size + 2
    # The value held at each sample time is the sample.
    held = ys[np.searchsorted(xs, t, side="right") - 1]
    assert np.array_equal(held, y)


def test_summary_line(preview: WaveformPreview) -> None:
    preview.setExperiment(proto.paper_condition(25, 50))
    text = summary(preview)
    assert "80 pulses" in text
    assert "6.2 s sweep" in text
    assert "445 pC" in text  # 185 pA x 1 s + 260 pA x 1 s
    assert "prediction 100 ms: 3 pulses at 25 Hz" in text
    assert "outcome 100 ms: 5 pulses at 50 Hz" in text


def test_uncalibrated_epochs_are_marked(preview: WaveformPreview) -> None:
    preview.setExperiment(proto.paper_condition(25, 50))
    assert preview.uncalibratedSpans() == []
    preview.setExperiment(uncalibrated(proto.paper_condition(25, 50)))
    spans = preview.uncalibratedSpans()
    assert len(spans) == 20
    assert spans[0] == (200.0, 300.0)
    assert "uncalibrated" in summary(preview)
    _, cmd = preview.plottedCommand()
    assert not cmd.any()  # nothing is injected where the drive is not calibrated


def test_same_induction_is_not_recompiled(preview: WaveformPreview) -> None:
    exp = proto.paper_condition(25, 50)
    preview.setExperiment(exp)
    sweep = preview.sweep()
    preview.setExperiment(exp.replace(metadata=exp.metadata.replace(name="Renamed")))
    assert preview.sweep() is sweep


def test_window_selector(preview: WaveformPreview) -> None:
    exp = proto.paper_condition(25, 50)
    preview.setExperiment(exp)
    assert preview.windowIndex() == 0
    preview.setWindowIndex(9)
    assert preview.windowIndex() == 9
    preview.setExperiment(exp.replace(induction=exp.induction.replace(repeats=3)))
    assert preview.windowIndex() == 2  # clamped to the last window


def test_a_very_long_induction_is_drawn_from_its_events(preview: WaveformPreview) -> None:
    induction = proto.Induction(repeats=20, gap_ms=20_000.0)  # 404 s: 8 M samples
    preview.setInduction(induction)
    assert preview.waveforms() is None
    _, y = preview.plottedStim()
    assert rising_edges(y) == 20 * 8


def test_a_pulse_shorter_than_a_sample_is_reported_not_drawn(preview: WaveformPreview) -> None:
    exp = proto.paper_condition(25, 50)
    preview.setExperiment(exp)
    short = exp.induction.phases[0].replace(
        pre=exp.induction.phases[0].pre.replace(pulse_width_us=20)
    )
    preview.setInduction(exp.induction.replace(phases=(short, exp.induction.phases[1])))
    assert preview.waveforms() is None
    error = preview.renderError()
    assert error is not None and "shorter than one sample" in error
    assert "Cannot be rendered at 20 kHz" in summary(preview)
    x, _ = preview.plottedStim()
    assert x.size == 0  # nothing stale is left on screen
    preview.setExperiment(exp)
    assert preview.renderError() is None
    assert preview.plottedStim()[0].size > 0


@pytest.mark.parametrize("index", range(6))
def test_phase_tint_paints_what_the_translucent_colour_paints_on_white(index: int) -> None:
    """The opaque shading is the translucent phase colour composited over white."""
    image = QImage(4, 4, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.fillRect(0, 0, 4, 4, phase_color(index, 38))
    painter.end()
    blended, tint = image.pixelColor(1, 1), phase_tint(index, 38)
    assert tint.alpha() == 255
    for channel in ("red", "green", "blue"):
        assert abs(getattr(blended, channel)() - getattr(tint, channel)()) <= 1
