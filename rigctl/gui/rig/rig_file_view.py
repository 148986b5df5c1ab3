"""The rig-file view: which file, the channels, amplifier, stimulator and safety limits."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Final

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from rigctl.gui.rig._widgets import DASH, MISS
from rigctl.gui.widgets.scroll import scrolling
from rigctl.hardware import RigDefinition

__all__ = ["LIMIT_ROWS", "RigFileView"]

LIMIT_ROWS: Final = (
    ("max_command_pa", "Max |command|", "{:g} pA"),
    ("max_stim_rate_hz", "Max stimulation rate", "{:g} Hz"),
    ("min_interpulse_ms", "Min inter-pulse interval", "{:g} ms"),
    ("max_pulse_width_us", "Max pulse width", "{:g} µs"),
    ("max_sweep_s", "Max sweep length", "{:g} s"),
    ("max_duty_cycle", "Max stim duty cycle", "{:.3g} %"),
)
"""The safety limits shown: rig-file field, label, format."""

_GROUPS: Final = (
    (
        "Rig",
        (
            ("name", "Name"),
            ("backend", "Backend"),
            ("device", "Device"),
            ("sample_rate", "Sample rate"),
            ("chunk", "Live chunk"),
        ),
    ),
    (
        "Channels",
        (
            ("channels.command", "Command\n(AO → amplifier)"),
            ("channels.stim", "Stimulation\n(TTL → isolator)"),
            ("channels.vm", "Vm\n(amplifier → AI)"),
        ),
    ),
    (
        "Amplifier (confirm)",
        (
            ("amplifier.model", "Model"),
            ("amplifier.mode", "Mode"),
            ("amplifier.primary_gain", "Primary gain"),
            ("amplifier.feedback", "Feedback resistor"),
            ("amplifier.lowpass", "Bessel filter"),
        ),
    ),
    (
        "Stimulus isolator",
        (
            ("stimulator.model", "Model"),
            ("stimulator.amplitude", "Amplitude"),
            ("stimulator.duration", "Output duration"),
            ("stimulator.threshold", "TTL threshold"),
        ),
    ),
    ("Safety limits", tuple((f"limits.{key}", label) for key, label, _ in LIMIT_ROWS)),
)

_AMP_NOTE: Final = (
    "Not readable on Linux: check these against the amplifier (MultiClamp Commander) "
    "before running."
)


class RigFileView(QScrollArea):
    """Everything a rig file says, for the user to check by eye.

    Every value is a ``QLabel`` named ``field.<key>`` (``field.name``,
    ``field.channels.vm``, ``field.limits.max_command_pa``, ...) beside a label named
    ``fieldName.<key>``; the *Choose…* button is :attr:`chooseButton`.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fields: dict[str, QLabel] = {}
        self._names: dict[str, QLabel] = {}
        self.chooseButton = QPushButton("Choose…")
        self.chooseButton.setObjectName("chooseRigFile")
        self.chooseButton.setToolTip("Open another rig file (TOML)")
        self._file_label = QLabel(DASH)
        self._file_label.setObjectName("rigFile")
        self._file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._file_label.setWordWrap(True)

        inner = QWidget()
        layout = QVBoxLayout(inner)
        layout.setContentsMargins(0, 0, 4, 0)
        for title, rows in _GROUPS:
            box = QGroupBox(title)
            box.setLayout(self._form(rows, first=title == "Rig"))
            layout.addWidget(box)
        layout.addStretch(1)
        scrolling(inner, self, width=(380, 460))

    def _form(self, rows: Sequence[tuple[str, str]], *, first: bool) -> QFormLayout:
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(4)
        if first:
            file_widget = QWidget()
            file_row = QHBoxLayout(file_widget)
            file_row.setContentsMargins(0, 0, 0, 0)
            file_row.addWidget(self._file_label, 1)
            file_row.addWidget(self.chooseButton, 0, Qt.AlignmentFlag.AlignTop)
            file_name = QLabel("File:")
            form.addRow(file_name, file_widget)
            form.setAlignment(file_name, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        if rows[0][0] == "amplifier.model":
            note = QLabel(_AMP_NOTE)
            note.setWordWrap(True)
            note.setStyleSheet("color: #8d6e00;")
            form.addRow(note)
        for key, label in rows:
            name = QLabel(f"{label}:")
            name.setObjectName(f"fieldName.{key}")
            value = QLabel(DASH)
            value.setObjectName(f"field.{key}")
            value.setTextFormat(Qt.TextFormat.RichText)
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            if key.startswith("limits."):
                name.setToolTip(f"{key} in the rig file")
                value.setToolTip(f"{key} in the rig file")
            self._fields[key] = value
            self._names[key] = name
            form.addRow(name, value)
        return form

    def markLimit(self, limit: str | None) -> None:
        """Show the limit a refused sweep exceeded in red (``None``: clear the marks)."""
        for label in self._names.values():
            label.setStyleSheet("")
        if limit is not None and f"limits.{limit}" in self._names:
            style = f"color: {MISS.name()}; font-weight: bold;"
            self._names[f"limits.{limit}"].setStyleSheet(style)

    def showDefinition(self, path: Path, d: RigDefinition) -> None:
        """Show the rig file ``path`` and what it defines."""
        self._file_label.setText(
            f"<b>{escape(path.name)}</b><br>"
            f"<span style='color:#666'>{escape(str(path.parent))}</span>"
        )
        self._file_label.setToolTip(str(path))
        f = self._fields
        f["name"].setText(escape(d.name))
        f["name"].setToolTip(d.description)
        f["backend"].setText(
            "simulated CA1 neuron" if d.backend == "sim" else "NI-DAQmx (National Instruments)"
        )
        f["device"].setText(escape(d.device))
        f["sample_rate"].setText(f"{d.sample_rate_hz / 1000:g} kHz")
        f["chunk"].setText(f"{d.chunk_ms:g} ms")
        self._show_channels(d)
        amp = d.amplifier
        f["amplifier.model"].setText(escape(amp.model))
        f["amplifier.mode"].setText(amp.mode)
        f["amplifier.primary_gain"].setText(f"× {amp.primary_gain:g}")  # noqa: RUF001
        f["amplifier.feedback"].setText(f"{amp.feedback_resistor_mohm:g} MΩ")
        f["amplifier.lowpass"].setText(f"{amp.lowpass_khz:g} kHz")
        st = d.stimulator
        f["stimulator.model"].setText(escape(st.model))
        f["stimulator.amplitude"].setText(
            "set on the front panel; asked at run time"
            if st.amplitude_ua is None
            else f"{st.amplitude_ua:g} µA (front panel)"
        )
        f["stimulator.duration"].setText(
            "follows the TTL width" if st.follows_ttl_width else "set on the isolator"
        )
        f["stimulator.threshold"].setText(f"{st.ttl_threshold_v:g} V")
        for key, _, fmt in LIMIT_ROWS:
            value = float(getattr(d.limits, key))
            f[f"limits.{key}"].setText(
                fmt.format(value * 100.0 if key == "max_duty_cycle" else value)
            )
        self.markLimit(None)

    def _show_channels(self, d: RigDefinition) -> None:
        ch = d.channels
        command_max = ch.command.scale_pa_per_v * ch.command.range_v
        self._fields["channels.command"].setText(
            f"<b>{escape(ch.command.terminal)}</b><br>{ch.command.scale_pa_per_v:g} pA/V, "
            f"±{ch.command.range_v:g} V (±{command_max:g} pA)"
        )
        if ch.stim.kind == "do":
            stim = "digital line (TTL)"
        else:
            stim = f"analog output, {ch.stim.high_v:g} V pulses"
        self._fields["channels.stim"].setText(f"<b>{escape(ch.stim.terminal)}</b><br>{stim}")
        self._fields["channels.vm"].setText(
            f"<b>{escape(ch.vm.terminal)}</b><br>{ch.vm.mv_per_mv:g} mV/mV × gain "  # noqa: RUF001
            f"{d.amplifier.primary_gain:g} = {d.vm_volts_per_mv * 1000:g} mV/mV<br>"
            f"±{ch.vm.range_v:g} V (±{d.vm_range_mv:.4g} mV), {ch.vm.terminal_config}"
        )
