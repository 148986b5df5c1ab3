"""Rig definition files (TOML): channels, scaling, amplifier settings and safety limits.

A rig file describes one physical (or simulated) rig. Safety limits live here, in
physical units, and never in protocol files: a shared protocol cannot raise them.
Errors are reported as one line naming the file, the field and the limit.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from rigctl.protocol import Problem, problems_of

__all__ = [
    "DEFAULT_RIG_PATH",
    "AmplifierSettings",
    "Channels",
    "CommandChannel",
    "Limits",
    "RigDefinition",
    "RigFileError",
    "SimCellSettings",
    "StimChannel",
    "StimulatorSettings",
    "VmChannel",
    "load_rig",
    "loads_rig",
]

DEFAULT_RIG_PATH = Path(__file__).resolve().parents[2] / "hardware" / "sim.toml"
"""The default rig: the simulated CA1 neuron (``hardware/sim.toml``)."""

MAX_RIG_FILE_BYTES = 262_144

_Terminal = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


def _refuse(field: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(
        "physical", message.replace("{", "(").replace("}", ")"), {"field": field}
    )


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class CommandChannel(_Model):
    """Analog output driving the amplifier's current-clamp command input."""

    terminal: _Terminal = "Dev1/ao0"
    scale_pa_per_v: float = Field(
        default=400.0, gt=0, le=1e6, description="Amplifier command sensitivity (pA per V)."
    )
    range_v: float = Field(default=10.0, gt=0, le=10, description="AO output range (±V).")


class StimChannel(_Model):
    """TTL to the stimulus isolator: a DO line, or an AO channel giving ``high_v`` pulses."""

    kind: Literal["do", "ao"] = "do"
    terminal: _Terminal = "Dev1/port0/line0"
    high_v: float = Field(default=5.0, gt=0, le=10, description="Pulse level of an AO stim (V).")


class VmChannel(_Model):
    """Analog input reading the amplifier's primary output (membrane potential)."""

    terminal: _Terminal = "Dev1/ai0"
    mv_per_mv: float = Field(
        default=10.0, gt=0, le=1000, description="Primary output scaling before gain (mV/mV)."
    )
    range_v: float = Field(default=5.0, gt=0, le=10, description="AI input range (±V).")
    terminal_config: Literal["differential", "rse", "nrse", "pseudodifferential"] = "differential"


class Channels(_Model):
    """The three logical channels of the rig."""

    command: CommandChannel = Field(default_factory=CommandChannel)
    stim: StimChannel = Field(default_factory=StimChannel)
    vm: VmChannel = Field(default_factory=VmChannel)


class AmplifierSettings(_Model):
    """Amplifier state, entered by hand (MultiClamp telegraphs are not readable on Linux)."""

    model: Annotated[str, StringConstraints(max_length=100)] = "MultiClamp 700B"
    mode: Literal["I-Clamp", "I=0", "V-Clamp"] = "I-Clamp"
    primary_gain: float = Field(default=2.0, gt=0, le=2000, description="Primary output gain.")
    feedback_resistor_mohm: float = Field(default=500.0, gt=0, le=50_000)
    lowpass_khz: float = Field(default=10.0, gt=0, le=100, description="Bessel filter (kHz).")


class StimulatorSettings(_Model):
    """Stimulus isolator; its amplitude is set by hand on the front panel and recorded."""

    model: Annotated[str, StringConstraints(max_length=100)] = "ISO-Flex"
    amplitude_ua: float | None = Field(
        default=None, gt=0, le=100_000, description="Front-panel amplitude (µA), asked at run."
    )
    follows_ttl_width: bool = Field(
        default=True, description="Output duration follows the TTL width (else its own setting)."
    )
    ttl_threshold_v: float = Field(default=2.0, gt=0, le=10, description="TTL input threshold (V).")


class Limits(_Model):
    """Safety limits in physical units; a sweep beyond any of them is refused before output."""

    max_command_pa: float = Field(default=600.0, gt=0, le=20_000, description="Max |command| (pA).")
    max_stim_rate_hz: float = Field(
        default=100.0, gt=0, le=1000, description="Max pulse rate (Hz)."
    )
    min_interpulse_ms: float = Field(
        default=5.0, gt=0, le=10_000, description="Min interval between pulse onsets (ms)."
    )
    max_pulse_width_us: float = Field(
        default=500.0, gt=0, le=100_000, description="Max TTL width (µs)."
    )
    max_sweep_s: float = Field(default=120.0, gt=0, le=3600, description="Max sweep length (s).")
    max_duty_cycle: float = Field(
        default=0.05, gt=0, le=1, description="Max fraction of a sweep the stim line is high."
    )


class SimCellSettings(_Model):
    """Parameters of the simulated CA1 neuron and synapse (only for ``backend = "sim"``)."""

    seed: int = Field(default=0, ge=0)
    resting_mv: float = Field(default=-65.0, ge=-90, le=-40)
    input_resistance_mohm: float = Field(default=150.0, ge=20, le=1000)
    tau_m_ms: float = Field(default=25.0, ge=2, le=200)
    epsp_mv: float = Field(default=5.0, gt=0, le=30, description="Mean baseline EPSP (mV).")
    epsp_cv: float = Field(default=0.15, ge=0, le=1, description="Trial-to-trial CV of EPSPs.")
    noise_mv: float = Field(default=0.15, ge=0, le=5, description="Recording noise (mV RMS).")
    variability: float = Field(
        default=0.0,
        ge=0,
        le=0.5,
        description=(
            "Cell-to-cell spread (CV) of the cell's properties, of how much plasticity it "
            "expresses and of the slow EPSP trend over a recording (seeded by the cell seed)."
        ),
    )
    plasticity: bool = True
    expression_tau_s: float = Field(
        default=30.0, ge=0, le=3600, description="Time constant of plasticity expression (s)."
    )
    expression_lrate: float = Field(
        default=0.03378,
        gt=0,
        le=1,
        description=(
            "Expression scale: learning rate of Axon's dWt -> weight mapping for the "
            "simulated synapse. Basis of the default: fitted (SEM-weighted least squares, "
            "rigctl.plasticity.calibration.fit_mapping, Axon v2 kinase defaults) to the mean "
            "normalized EPSP at 30-35 min of all four conditions of Jang et al. 2026 "
            "(25-25, 25-50, 50-25, 50-50 Hz): 0.03378 ± 0.0092 (SE)."
        ),
    )


class RigDefinition(_Model):
    """A rig: what it is, how its channels are wired and scaled, and its limits."""

    format: Literal["rigctl.rig"] = "rigctl.rig"
    schema_version: Literal[1] = 1
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=5000)] = ""
    backend: Literal["sim", "nidaq"] = "sim"
    device: _Terminal = "Dev1"
    sample_rate_hz: float = Field(default=20_000.0, ge=1000, le=1_000_000)
    chunk_ms: float = Field(default=50.0, ge=5, le=1000, description="Live-read chunk (ms).")
    channels: Channels = Field(default_factory=Channels)
    amplifier: AmplifierSettings = Field(default_factory=AmplifierSettings)
    stimulator: StimulatorSettings = Field(default_factory=StimulatorSettings)
    limits: Limits = Field(default_factory=Limits)
    sim: SimCellSettings = Field(default_factory=SimCellSettings)

    @model_validator(mode="after")
    def _consistent(self) -> RigDefinition:
        command_v = self.limits.max_command_pa / self.channels.command.scale_pa_per_v
        if command_v > self.channels.command.range_v:
            raise _refuse(
                "limits.max_command_pa",
                f"{self.limits.max_command_pa:g} pA needs {command_v:.3g} V at "
                f"{self.channels.command.scale_pa_per_v:g} pA/V, beyond the "
                f"±{self.channels.command.range_v:g} V output range",
            )
        if (
            self.stimulator.ttl_threshold_v >= self.channels.stim.high_v
            and self.channels.stim.kind == "ao"
        ):
            raise _refuse(
                "channels.stim.high_v",
                f"{self.channels.stim.high_v:g} V pulses do not reach the isolator's "
                f"{self.stimulator.ttl_threshold_v:g} V TTL threshold",
            )
        if 1e6 / self.sample_rate_hz > self.limits.max_pulse_width_us:
            raise _refuse(
                "sample_rate_hz",
                f"one sample at {self.sample_rate_hz:g} Hz is longer than the "
                f"{self.limits.max_pulse_width_us:g} µs maximum pulse width",
            )
        return self

    @property
    def vm_volts_per_mv(self) -> float:
        """Volts at the AI per mV of membrane potential (scaling x primary gain)."""
        return self.channels.vm.mv_per_mv * self.amplifier.primary_gain / 1000.0

    @property
    def vm_range_mv(self) -> float:
        """Largest |Vm| (mV) the AI range can read."""
        return self.channels.vm.range_v / self.vm_volts_per_mv

    def settings_record(self) -> dict[str, object]:
        """What every saved sweep records about the rig (gains, scaling, isolator)."""
        return {
            "rig": self.name,
            "backend": self.backend,
            "device": self.device,
            "sample_rate_hz": self.sample_rate_hz,
            "command_pa_per_v": self.channels.command.scale_pa_per_v,
            "vm_mv_per_mv": self.channels.vm.mv_per_mv,
            "amplifier": self.amplifier.model_dump(mode="json"),
            "stimulator": self.stimulator.model_dump(mode="json"),
            "limits": self.limits.model_dump(mode="json"),
        }


class RigFileError(ValueError):
    """A rig file that cannot be used; ``str()`` is one line naming file, field and limit."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        first = problems[0].line(source)
        more = len(problems) - 1
        super().__init__(
            first if not more else f"{first} (and {more} more problem{'s' * (more > 1)})"
        )

    def lines(self) -> list[str]:
        """One line per problem."""
        return [p.line(self.source) for p in self.problems]


def loads_rig(text: str, source: str = "<rig>") -> RigDefinition:
    """Parse and validate a rig definition from TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RigFileError(source, [Problem("", f"is not valid TOML ({exc})")]) from None
    try:
        return RigDefinition.model_validate(data)
    except ValidationError as exc:
        raise RigFileError(source, problems_of(exc, RigDefinition)) from None


def load_rig(path: str | os.PathLike[str] | None = None) -> RigDefinition:
    """Load a rig file (default: :data:`DEFAULT_RIG_PATH`, the simulated rig)."""
    p = DEFAULT_RIG_PATH if path is None else Path(path)
    source = str(p)
    try:
        if p.is_dir():
            raise RigFileError(source, [Problem("", "is a folder, not a rig file")])
        raw = p.read_bytes()
    except FileNotFoundError:
        raise RigFileError(source, [Problem("", "does not exist")]) from None
    except OSError as exc:
        raise RigFileError(source, [Problem("", f"cannot be read ({exc.strerror})")]) from None
    if len(raw) > MAX_RIG_FILE_BYTES:
        raise RigFileError(source, [Problem("", "is larger than the 256 KiB a rig file may be")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RigFileError(source, [Problem("", "is not a UTF-8 text file")]) from None
    return loads_rig(text, source)
