"""The Run tab's progress view: state, message, sweeps, times, pauses and induction rates.

:class:`StatusView` only shows what the panel hands it; every label has an object name
(``runState``, ``runMessage``, ``runTime``, ``runLastProbe``, ``runInduction``,
``runInductionRate``), so tests and scripts read it through Qt.
"""

from __future__ import annotations

import math
from typing import Final

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor, QFont
from PyQt6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from rigctl.engine import RunState, RunStatus
from rigctl.gui.run.confirmation import RED
from rigctl.gui.run.data import PhaseRateInfo, SweepInfo

__all__ = ["BLUE", "GREEN", "GREY", "StatusView", "clock", "label"]

GREEN = QColor(46, 125, 50)
AMBER = QColor(230, 81, 0)
BLUE = QColor(21, 101, 192)
GREY = QColor(97, 97, 97)

_STATE_TEXT: Final = {
    RunState.IDLE: ("Ready", GREY),
    RunState.CALIBRATING: ("Calibrating currents", BLUE),
    RunState.BASELINE: ("Baseline", BLUE),
    RunState.INDUCTION: ("Induction", AMBER),
    RunState.FOLLOWUP: ("Follow-up", BLUE),
    RunState.PAUSED: ("Paused", AMBER),
    RunState.STOPPING: ("Stopping", AMBER),
    RunState.DONE: ("Done", GREEN),
    RunState.STOPPED: ("Stopped", GREEN),
    RunState.ABORTED: ("Aborted", RED),
    RunState.FAILED: ("Failed", RED),
}


def clock(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) of a duration; negative values get a minus sign."""
    if not math.isfinite(seconds):
        return "—"
    sign = "−" if seconds < 0 else ""  # noqa: RUF001 (a real minus sign)
    s = round(abs(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{sign}{h}:{m:02d}:{sec:02d}" if h else f"{sign}{m}:{sec:02d}"


def label(name: str, *, wrap: bool = True, selectable: bool = False) -> QLabel:
    """A plain-text label with an object name."""
    widget = QLabel()
    widget.setObjectName(name)
    widget.setWordWrap(wrap)
    widget.setTextFormat(Qt.TextFormat.PlainText)
    if selectable:
        widget.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return widget


def rate_text(rate: PhaseRateInfo) -> str:
    """One phase's count-based verdict, e.g. ``theta 25 Hz: 2.0 of 3 spikes … ✗ missed``."""
    mean = rate.achieved_hz / rate.target_hz * rate.expected_per_window if rate.target_hz else 0.0
    count = (
        f"{mean:.1f} of {rate.expected_per_window} spikes per window"
        if rate.expected_per_window
        else f"{rate.achieved_hz:.1f} Hz"
    )
    missed = f", off in {rate.windows_missed} of {rate.n_windows} windows" * bool(
        rate.windows_missed
    )
    latency = (
        f", first spike {rate.first_latency_ms:.1f} ms"
        if math.isfinite(rate.first_latency_ms)
        else ""
    )
    mark = "✓" if rate.ok else "✗ missed"
    return f"{rate.phase} {rate.target_hz:g} Hz: {count}{missed}{latency} {mark}"


def induction_text(info: SweepInfo) -> str:
    """How much of the induction was delivered (``""``: all of it, or not known)."""
    if info.complete:
        return ""
    how = {"abort": "aborted", "halt": "halted", "fault": "cut by a fault"}.get(
        str(info.cut), "cut short"
    )
    return f"Induction {how} after {info.windows_delivered} of {info.windows_planned} windows"


class StatusView(QGroupBox):
    """The *Progress* box: what the run is doing, how far it is, and what the user can do.

    Attributes
    ----------
    stateLabel, progressBar
        The state in large type, the sweeps done of planned.
    inductionButton, extendButton
        Manual induction onset and *Extend follow-up* (the panel wires them).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Progress", parent)
        self.setObjectName("runStatus")
        self.stateLabel = QLabel()
        self.stateLabel.setObjectName("runState")
        font = QFont()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.5)
        self.stateLabel.setFont(font)
        self._message = label("runMessage", selectable=True)
        self.progressBar = QProgressBar()
        self.progressBar.setTextVisible(True)
        self._time = label("runTime")
        self._last = label("runLastProbe")
        self._induction = label("runInduction")
        self._induction.setStyleSheet(f"color: {RED.name()}; font-weight: bold;")
        self._rates = QVBoxLayout()
        self._rates.setSpacing(0)
        self.inductionButton = QPushButton("Start induction now")
        self.inductionButton.setToolTip(
            "Manual onset: the induction runs at the next sweep slot (the baseline is stable)"
        )
        self.extendButton = QPushButton("Extend follow-up +5 min")
        self.extendButton.setToolTip("Add follow-up probes for 5 more minutes")
        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        buttons.addWidget(self.inductionButton)
        buttons.addWidget(self.extendButton)
        layout = QVBoxLayout(self)
        layout.setSpacing(4)
        for w in (self.stateLabel, self._message, self.progressBar, self._time, self._last):
            layout.addWidget(w)
        layout.addWidget(self._induction)
        layout.addLayout(self._rates)
        layout.addLayout(buttons)
        self.say("")
        self.showRates((), None)

    def say(self, text: str, *, error: bool = False) -> None:
        """Show a message under the state (empty: none)."""
        self._message.setText(text)
        self._message.setVisible(bool(text))
        color = RED.name() if error else "#333333"
        weight = "bold" if error else "normal"
        self._message.setStyleSheet(f"color: {color}; font-weight: {weight};")

    def message(self) -> str:
        """The message shown (``""``: none)."""
        return self._message.text()

    def showState(self, state: RunState, text: str | None = None) -> None:
        """Show the state (or ``text`` in its colour)."""
        word, color = _STATE_TEXT[state]
        self.stateLabel.setText(text if text is not None else word)
        self.stateLabel.setStyleSheet(f"color: {color.name()};")

    def showIdle(self, starting: bool) -> None:
        """No progress yet: no run, or a run opening its folder."""
        self.progressBar.setRange(0, 1)
        self.progressBar.setValue(0)
        self.progressBar.setFormat("starting…" if starting else "no run yet")
        for w in (self._time, self._last):
            w.setText("")
            w.setVisible(False)

    def showProgress(self, status: RunStatus, timing: str, remaining: str | None) -> None:
        """Sweeps done, the experiment time with ``timing``, pauses, time left, last EPSP."""
        self.progressBar.setFormat("%v / %m sweeps")
        planned = max(1, status.sweeps_planned)
        if self.progressBar.maximum() != planned:
            self.progressBar.setRange(0, planned)
        value = min(status.sweeps_done, planned)
        if self.progressBar.value() != value:
            self.progressBar.setValue(value)
        lines = [
            " · ".join(
                x for x in (f"Experiment time {clock(status.experiment_time_s)}", timing) if x
            )
        ]
        if status.pauses or status.skipped_probes:
            lines.append(
                f"Paused {status.pauses}× ({clock(status.paused_s)}); "  # noqa: RUF001
                f"{status.skipped_probes} probes skipped (their slot passed while paused)"
            )
        if remaining is not None:
            lines.append(remaining)
        self._time.setText("\n".join(lines))
        self._time.setVisible(True)
        epsp, norm = status.last_epsp_mv, status.last_normalized
        if epsp is not None and math.isfinite(epsp):
            ratio = f" = {norm:.2f} × baseline" if norm is not None and math.isfinite(norm) else ""  # noqa: RUF001
            self._last.setText(f"Last probe: EPSP {epsp:.2f} mV{ratio}")
        self._last.setVisible(epsp is not None and math.isfinite(epsp))

    def showRates(self, rates: tuple[PhaseRateInfo, ...], induction: SweepInfo | None) -> None:
        """The count-based verdict of every induction phase, and a cut induction."""
        while self._rates.count():
            item = self._rates.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for rate in rates:
            line = label("runInductionRate")
            line.setText(rate_text(rate))
            line.setStyleSheet(f"color: {(GREEN if rate.ok else RED).name()};")
            self._rates.addWidget(line)
        cut = induction_text(induction) if induction is not None else ""
        self._induction.setText(cut)
        self._induction.setVisible(bool(cut))
