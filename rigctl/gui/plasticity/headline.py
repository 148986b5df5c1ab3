"""The plasticity pane's headline: what rigctl.plasticity predicts, in words and numbers.

Nothing is decided here: the direction, the interval and the no-change band come from
:func:`rigctl.plasticity.outlook.epsp_outlook` and the raw direction from the prediction
itself; this view only lays them out.
"""

from __future__ import annotations

from typing import Final

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QFont
from PyQt6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from rigctl.gui.plasticity._style import (
    DASH,
    DIRECTION_COLORS,
    GREY,
    MINUS,
    TIMES,
    grey,
    html,
    signed,
)
from rigctl.gui.widgets.live_text import LiveText
from rigctl.plasticity import ONSET_COMPENSATED_D_SCALE, KinaseParams
from rigctl.plasticity.mapping import ConditionData, MappingFit
from rigctl.plasticity.outlook import EpspOutlook, direction_rule
from rigctl.plasticity.preview import DIRECTION_THRESHOLD_DWT, Prediction
from rigctl.protocol import Experiment

__all__ = ["BIAS_NOTE_MIN_DWT", "BiasNote", "HeadlineView"]

BIAS_NOTE_MIN_DWT: Final = 0.2 * DIRECTION_THRESHOLD_DWT
"""|total dWt| of a flat protocol from which the onset-bias note is shown."""

_NOTE_LINES = 3
_COMPARATORS = (
    (
        "cmpKinase",
        "Kinase rule (temporal derivative)",
        f"sign of CaP {MINUS} CaD at the end of each window",
    ),
    (
        "cmpHebbian",
        "Hebbian coincidence ∫ca dt",
        "ignores order: cannot tell 25 → 50 Hz from 50 → 25 Hz",
    ),
    (
        "cmpChl",
        f"Rate CHL target n{TIMES}(x⁺y⁺ {MINUS} x⁻y⁻)",
        "outcome minus prediction rates, in kHz²",
    ),
)
_RATIOS_TIP = (
    "<p><b>Predicted EPSP ratio</b>: {basis}. The fit includes the "
    "paper's conditions themselves, so for them it is not an independent test. "
    "Its interval is ± 1 SD: the fitted learning rate's standard error and the "
    "spread over jittered and quasi-regular spike trains.</p>"
    "<p><b>Axon weight</b>: Axon's soft-bounded sigmoid weight update at the "
    "learning rate in the parameters, not fitted to any measurement: read it as a "
    "direction and a rough size.</p>"
)


class HeadlineView(QWidget):
    """Direction, predicted EPSP ratio with its interval, raw dWt and the comparators.

    Child labels (object names): ``direction``, ``totalDwt`` (ratio, interval, raw dWt),
    ``ratios`` (mapping, paper measurement, Axon weight), ``cmpKinase``, ``cmpHebbian``,
    ``cmpChl`` (in the ``comparators`` frame).

    Parameters
    ----------
    parent
        Parent widget.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._direction = QLabel()
        self._direction.setObjectName("direction")
        big = QFont(self.font())
        big.setPointSizeF(big.pointSizeF() * 1.5)
        big.setBold(True)
        self._direction.setFont(big)
        self._direction.setToolTip(direction_rule())
        self._big_pt = round(big.pointSizeF() * 0.8, 1)
        self._dwt = LiveText("totalDwt", lines=2)
        # Room for two lines: the paper's measurement, shown for its conditions only,
        # then does not move the plots below.
        self._ratios = LiveText("ratios", lines=2)
        top = QHBoxLayout()
        top.addWidget(self._direction, 0, Qt.AlignmentFlag.AlignVCenter)
        top.addWidget(self._dwt, 1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addLayout(top)
        column.addWidget(self._ratios)
        column.addWidget(self._build_comparators())

    def _build_comparators(self) -> QFrame:
        frame = QFrame()
        frame.setObjectName("comparators")
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        grid = QGridLayout(frame)
        grid.setContentsMargins(8, 4, 8, 4)
        grid.setHorizontalSpacing(18)
        grid.setVerticalSpacing(1)
        self._cmp_values: list[LiveText] = []
        for col, (name, head, note) in enumerate(_COMPARATORS):
            value = LiveText(name)
            caption = QLabel(note)
            caption.setWordWrap(True)
            caption.setStyleSheet(f"color:{GREY};")
            grid.addWidget(QLabel(f"<b>{head}</b>"), 0, col)
            grid.addWidget(value, 1, col)
            grid.addWidget(caption, 2, col)
            grid.setColumnStretch(col, 1)
            self._cmp_values.append(value)
        return frame

    def showOutlook(
        self,
        prediction: Prediction,
        outlook: EpspOutlook,
        fit: MappingFit,
        measured: ConditionData | None,
        lrate: float,
    ) -> None:
        """Show a prediction, its EPSP-ratio outlook and the comparators."""
        p, o = prediction, outlook
        color = DIRECTION_COLORS[o.direction]
        self._direction.setText(o.direction)
        if self._direction.styleSheet() != f"color:{color};":
            self._direction.setStyleSheet(f"color:{color};")
        spread = ""
        if p.seed_totals.size > 1:
            spread = f" ± {p.total_sd:.3f} " + grey(f"(SD over {p.seed_totals.size} seeds)")
        self._dwt.setText(
            f"<span style='font-size:{self._big_pt:g}pt;'>Predicted EPSP ratio "
            f"<b style='color:{color};'>{o.ratio:.2f}</b></span> "
            f"[{o.low:.2f}{DASH}{o.high:.2f}] "
            + grey(f"(± 1 SD: fit {o.sd_fit:.2f}, spike timing {o.sd_timing:.2f})")
            + f"<br>raw total dWt <b>{signed(p.total)}</b>{spread} over {p.n_windows} windows "
            + grey(f"(no clear change while the interval is within 1 ± {o.band:.2f})")
        )
        self._dwt.setToolTip(f"<p>{html(o.rule)}.</p><p>Mapping: {html(o.basis)}.</p>")
        parts = [grey(f"mapping fitted to {html(fit.dataset)}, χ² {fit.chi2:.2f} on {fit.dof} dof")]
        if measured is not None:
            m = measured
            parts.append(
                f"measured in the paper ({m.minus_hz:g} → {m.plus_hz:g} Hz): "
                f"<b>{m.mean:.2f} ± {m.sem:.2f}</b> (n = {m.n})"
            )
        parts.append(
            f"Axon weight <b>{p.weight_ratio:.2f}</b> " + grey(f"(uncalibrated, lrate {lrate:g})")
        )
        self._ratios.setText(" &nbsp;·&nbsp; ".join(parts))
        self._ratios.setToolTip(_RATIOS_TIP.format(basis=html(fit.basis)))
        self._show_comparators(p)

    def _show_comparators(self, p: Prediction) -> None:
        raw = DIRECTION_COLORS[p.direction]
        self._cmp_values[0].setText(
            f"<b style='color:{raw};'>{signed(p.total)}</b> dWt → {p.direction} "
            + grey(f"(|dWt| < {DIRECTION_THRESHOLD_DWT:g}: no change)")
        )
        self._cmp_values[1].setText(f"<b>{p.hebbian:,.0f}</b> Ca units·ms (always ≥ 0)")
        chl_direction = p.chl_direction
        chl = signed(p.chl, 4) if p.chl != 0 else "0"
        self._cmp_values[2].setText(
            f"<b style='color:{DIRECTION_COLORS[chl_direction]};'>{chl}</b> kHz² → {chl_direction}"
        )

    def showError(self, message: str) -> None:
        """Say that there is no prediction, and why."""
        self._direction.setText("—")
        self._direction.setStyleSheet("color:#c62828;")
        self._dwt.setText(f"<span style='color:#c62828;'>No prediction: {html(message)}</span>")
        self._ratios.setText("")
        for value in self._cmp_values:
            value.setText("—")


class BiasNote(QLabel):
    """The onset-bias note of flat protocols (object name ``biasNote``).

    Its height is reserved whether it is shown or not, so the plots below it do not jump
    when a protocol becomes flat; the full text is also in the tooltip.

    Parameters
    ----------
    parent
        Parent widget.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("biasNote")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setStyleSheet(
            "QLabel { background:#fff8e1; border:1px solid #ffb300; border-radius:3px;"
            " padding:3px 6px; color:#3e2723; }"
        )
        policy = self.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # the layout keeps its room: nothing jumps
        self.setSizePolicy(policy)
        self.setFixedHeight(_NOTE_LINES * self.fontMetrics().lineSpacing() + 10)
        self.hide()

    def showFor(
        self,
        prediction: Prediction,
        alternative: Prediction | None,
        experiment: Experiment,
        params: KinaseParams,
        compensated: bool,
    ) -> None:
        """Show the note for a flat protocol, or hide it.

        ``alternative`` is the prediction with the other ``d_scale`` (``None`` when the
        protocol is not flat); the note is shown when it is given and
        ``|prediction.total| >= BIAS_NOTE_MIN_DWT``.
        """
        p, alt = prediction, alternative
        if alt is None or abs(p.total) < BIAS_NOTE_MIN_DWT:
            self.hide()
            return
        first, last = experiment.induction.phases[0], experiment.induction.phases[-1]
        if compensated:
            now = f"with onset compensation (DScale {params.d_scale:g})"
            other = f"Without it (DScale 1): {signed(alt.total)}"
        else:
            now = f"with DScale {params.d_scale:g}"
            other = (
                f"With onset compensation (DScale {ONSET_COMPENSATED_D_SCALE:g}): "
                f"{signed(alt.total)}"
            )
        if p.total > 0:
            why = (
                "the model's onset bias: each window starts from rest after the gap and "
                "CaP rises ahead of CaD"
            )
        else:
            why = "CaD weighted more than the onset bias needs (over-compensation)"
        text = (
            f"<b>Flat protocol ({first.pre.rate_hz:g} → {last.pre.rate_hz:g} Hz):</b> "
            f"{signed(p.total)} {now} is {why}, not a rate change. {other}."
        )
        self.setText(text)
        self.setToolTip(f"<p>{text}</p>" + _why_tip(experiment.induction.gap_ms))
        self.show()


def _why_tip(gap_ms: float) -> str:
    return (
        "<p>With the Axon v2 defaults and quiet gaps between windows "
        f"({gap_ms:g} ms here), every window starts with the cascade at rest. "
        "CaP (CaMKII) follows the calcium faster than CaD (DAPK1), so at the readout "
        "CaP is still ahead and the window reads as potentiation even when the "
        "prediction and outcome rates are equal. The bias grows with the rate squared. "
        "In back-to-back windows (no gap, Axon's own regime) flat protocols settle "
        "near zero.</p><p>Onset compensation weights CaD by "
        f"{ONSET_COMPENSATED_D_SCALE:g} in the readout (the older Axon value).</p>"
    )
