"""Quick picker for the paper's four theta-cycle conditions."""

from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QPushButton, QWidget

from rigctl.protocol import PAPER_CONDITIONS, Experiment, paper_condition, paper_condition_of

__all__ = ["PaperConditionPicker"]


class PaperConditionPicker(QWidget):
    """One button per condition of the paper (prediction → outcome rate).

    The button of the condition the shown protocol follows (by
    :func:`rigctl.protocol.paper_condition_of`: what its induction delivers, whatever the
    calibrated currents or the phase names) is checked, see :meth:`setCurrent`.

    Signals
    -------
    conditionPicked(float, float)
        The user asked for the condition with these prediction and outcome rates (Hz).
    """

    conditionPicked = pyqtSignal(float, float)  # noqa: N815 (Qt signal naming)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._group = QButtonGroup(self)
        self._group.setExclusive(False)
        self._buttons: dict[str, QPushButton] = {}
        self._current: str | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(QLabel("Paper condition (prediction → outcome):"))
        for key, (minus, plus) in PAPER_CONDITIONS.items():
            example = paper_condition(minus, plus)
            button = QPushButton(f"{minus:g} → {plus:g} Hz")
            button.setObjectName(f"paper-{key}")
            button.setCheckable(True)
            button.setToolTip(example.metadata.description)
            button.clicked.connect(lambda _checked, m=minus, p=plus: self._picked(m, p))
            self._group.addButton(button)
            layout.addWidget(button)
            self._buttons[key] = button

    def button(self, minus_hz: float, plus_hz: float) -> QPushButton:
        """The button of one condition."""
        return self._buttons[f"{minus_hz:g}-{plus_hz:g}"]

    def current(self) -> str | None:
        """Key (``"25-50"``) of the condition the shown protocol follows, if any."""
        return self._current

    def setCurrent(self, experiment: Experiment) -> None:
        """Check the button of the condition ``experiment`` follows (none if it follows none)."""
        match = paper_condition_of(experiment)
        self._current = None if match is None else f"{match[0]:g}-{match[1]:g}"
        self._sync()

    def _sync(self) -> None:
        for key, button in self._buttons.items():
            button.setChecked(key == self._current)

    def _picked(self, minus_hz: float, plus_hz: float) -> None:
        self._sync()  # the check follows the protocol shown, not the click
        self.conditionPicked.emit(minus_hz, plus_hz)
