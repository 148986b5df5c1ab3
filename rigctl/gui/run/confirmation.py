"""What the user confirms before a recording starts, and the two questions the Run tab asks.

:class:`RunConfirmation` collects the rig, its gains, the protocol, the set-up record and
the data folder; :func:`confirmation_box` shows it (not yet executed, so tests can read
it); :func:`ask_abort` asks before *Abort* cuts the sweep in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import QMessageBox, QWidget

from rigctl.engine import RunOptions
from rigctl.engine.setup import SetupRecord
from rigctl.gui.widgets.dialogs import ask_choice
from rigctl.hardware import RigDefinition
from rigctl.protocol import Experiment

__all__ = ["RED", "RunConfirmation", "ask_abort", "confirmation_box"]

RED = QColor(198, 40, 40)
"""The colour of a concern (and of every error in the Run tab)."""


@dataclass(frozen=True)
class RunConfirmation:
    """What the user confirms before a run: the rig, its gains, the protocol, the folder.

    Attributes
    ----------
    rig_name, backend, device
        The rig file's name, backend (``"sim"`` or ``"nidaq"``) and device.
    amplifier_model, amplifier_mode
        The amplifier and its mode as entered in the rig file (``"I-Clamp"`` expected).
    primary_gain
        The amplifier's primary output gain.
    vm_mv_per_mv
        Primary output scaling before the gain (mV per mV of membrane potential).
    command_pa_per_v
        Command sensitivity (pA per V at the DAQ output).
    feedback_mohm, lowpass_khz
        Feedback resistor and Bessel filter.
    stimulator_model
        The stimulus isolator.
    stimulator_amplitude_ua
        Its front-panel amplitude as recorded in the rig file (``None``: not recorded).
    sample_rate_hz
        Acquisition rate.
    protocol_name
        The experiment's name.
    interval_s, baseline_min, followup_min
        The probe schedule.
    folder
        The data folder the run writes.
    fast
        Dry run without waits between sweeps (simulated rig only).
    auto_induction
        The induction starts when the baseline is over (else by hand).
    setup
        The cell's set-up record carried into the recording (``None``: none).
    """

    rig_name: str
    backend: str
    device: str
    amplifier_model: str
    amplifier_mode: str
    primary_gain: float
    vm_mv_per_mv: float
    command_pa_per_v: float
    feedback_mohm: float
    lowpass_khz: float
    stimulator_model: str
    stimulator_amplitude_ua: float | None
    sample_rate_hz: float
    protocol_name: str
    interval_s: float
    baseline_min: float
    followup_min: float
    folder: Path
    fast: bool
    auto_induction: bool
    setup: SetupRecord | None = None

    @classmethod
    def of(
        cls,
        definition: RigDefinition,
        experiment: Experiment,
        folder: Path,
        options: RunOptions,
    ) -> RunConfirmation:
        """Collect what to confirm from the rig definition, experiment, folder and options."""
        probes = experiment.probes
        return cls(
            rig_name=definition.name,
            backend=definition.backend,
            device=definition.device,
            amplifier_model=definition.amplifier.model,
            amplifier_mode=definition.amplifier.mode,
            primary_gain=definition.amplifier.primary_gain,
            vm_mv_per_mv=definition.channels.vm.mv_per_mv,
            command_pa_per_v=definition.channels.command.scale_pa_per_v,
            feedback_mohm=definition.amplifier.feedback_resistor_mohm,
            lowpass_khz=definition.amplifier.lowpass_khz,
            stimulator_model=definition.stimulator.model,
            stimulator_amplitude_ua=definition.stimulator.amplitude_ua,
            sample_rate_hz=definition.sample_rate_hz,
            protocol_name=experiment.metadata.name,
            interval_s=probes.interval_s,
            baseline_min=probes.baseline_min,
            followup_min=probes.followup_min,
            folder=folder,
            fast=options.fast,
            auto_induction=options.auto_induction,
            setup=options.setup,
        )

    def rows(self) -> list[tuple[str, str]]:
        """Label and value of every line shown, in order."""
        backend = (
            "simulated CA1 neuron" if self.backend == "sim" else "NI-DAQmx (National Instruments)"
        )
        amplitude = (
            "not recorded in the rig file: check the front panel"
            if self.stimulator_amplitude_ua is None
            else f"{self.stimulator_amplitude_ua:g} µA (front panel)"
        )
        total = self.vm_mv_per_mv * self.primary_gain
        return [
            ("Protocol", self.protocol_name),
            (
                "Schedule",
                f"baseline {self.baseline_min:g} min, induction, follow-up "
                f"{self.followup_min:g} min; a probe every {self.interval_s:g} s",
            ),
            (
                "Induction onset",
                "automatic, when the baseline is over"
                if self.auto_induction
                else "by hand (press “Start induction now”)",
            ),
            ("Rig", self.rig_name),
            ("Backend", f"{backend}, device {self.device}, {self.sample_rate_hz / 1000:g} kHz"),
            ("Amplifier", f"{self.amplifier_model}, mode {self.amplifier_mode}"),
            (
                "Primary gain",
                f"× {self.primary_gain:g}  (Vm output {self.vm_mv_per_mv:g} mV/mV × "  # noqa: RUF001
                f"{self.primary_gain:g} = {total:g} mV/mV)",
            ),
            ("Command scaling", f"{self.command_pa_per_v:g} pA/V"),
            (
                "Feedback, filter",
                f"{self.feedback_mohm:g} MΩ, low-pass {self.lowpass_khz:g} kHz",
            ),
            ("Stimulator", f"{self.stimulator_model}, amplitude {amplitude}"),
            (
                "Timing",
                "dry run: as fast as possible, no waits between sweeps"
                if self.fast
                else "real time",
            ),
            ("Set-up", self._setup_text()),
            ("Data folder", str(self.folder)),
        ]

    def _setup_text(self) -> str:
        s = self.setup
        if s is None:
            return "none carried into the recording"
        who = ", ".join(x for x in (s.slice_id, s.cell_id) if x)
        found = s.describe().removeprefix("set-up: ")
        return f"{who + ': ' if who else ''}{found or 'no valid measure'}"

    def concerns(self) -> list[str]:
        """What deserves a second look before starting (one sentence each)."""
        out = []
        if self.amplifier_mode != "I-Clamp":
            out.append(
                f"The amplifier is entered as {self.amplifier_mode}; the experiment needs "
                "current clamp (I-Clamp)."
            )
        if self.stimulator_amplitude_ua is None:
            out.append(
                "The stimulator amplitude is not recorded in the rig file; note it "
                "(Notes) once the run has started."
            )
        return out

    def text(self) -> str:
        """Plain-text form: one ``label: value`` line each, then the concerns."""
        lines = [f"{label}: {value}" for label, value in self.rows()]
        lines += [f"Check: {c}" for c in self.concerns()]
        return "\n".join(lines)

    def html(self) -> str:
        """Rich-text form for the dialog (a table, the concerns in red)."""
        rows = "".join(
            f"<tr><td align='right' style='padding-right:8px;color:#555'>{escape(k)}:</td>"
            f"<td><b>{escape(v)}</b></td></tr>"
            for k, v in self.rows()
        )
        concerns = "".join(
            f"<p style='color:{RED.name()}'>⚠ {escape(c)}</p>" for c in self.concerns()
        )
        return f"<table cellspacing='2'>{rows}</table>{concerns}"


def confirmation_box(parent: QWidget, confirmation: RunConfirmation) -> QMessageBox:
    """The start dialog for ``confirmation`` (built, not shown)."""
    box = QMessageBox(parent)
    box.setObjectName("runConfirmation")
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Start the recording?")
    box.setText("Check the rig and its gains before the first sweep:")
    box.setInformativeText(confirmation.html())
    box.setTextFormat(Qt.TextFormat.RichText)
    start = box.addButton("Start", QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(start)
    box.setEscapeButton(cancel)
    return box


def ask_abort(parent: QWidget) -> bool:
    """Ask whether to abort the recording now (modal); ``True``: abort."""
    return ask_choice(
        parent,
        "Abort the recording?",
        "Abort the recording now?",
        "The sweep in flight is cut, the outputs go to rest and the recording is "
        "marked aborted. To end it cleanly after this sweep, use Stop instead.",
        [
            (True, "Abort now", QMessageBox.ButtonRole.DestructiveRole),
            (False, "Keep recording", QMessageBox.ButtonRole.RejectRole),
        ],
        safe=False,
    )
