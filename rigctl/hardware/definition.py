"""Rig definition files (TOML): channels, scaling, amplifier settings and safety limits.

A rig file describes one physical (or simulated) rig. Safety limits live here, in
physical units, and never in protocol files: a shared protocol cannot raise them.
Errors are reported as one line naming the file, the field and the limit.
"""

from __future__ import annotations

import os
import re
import tomllib
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from rigctl.data import SHIPPED_RIGS, resolve_rig, rig_path
from rigctl.protocol import Problem, problems_of
from rigctl.protocol.io import (
    MAX_DEPTH,
    FileRefusedError,
    byte_position,
    check_tree,
    line_column,
    read_limited,
    too_deep_at,
)
from rigctl.protocol.models import Flag, Number, OneLine, Text, Version, Whole, refuse

__all__ = [
    "DEFAULT_RIG_PATH",
    "REQUIRED_RIG_KEYS",
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

DEFAULT_RIG_PATH = rig_path("sim")
"""The default rig: the simulated CA1 neuron (shipped as ``rigctl/data/rigs/sim.toml``)."""

MAX_RIG_FILE_BYTES = 262_144

MIN_VM_RANGE_MV = 100.0
"""Smallest membrane-potential span (±mV) the AI must read: rest near -70 mV, spikes."""

_GIANT_INT = re.compile(r"[0-9_]{1000,}")

_Terminal = Annotated[OneLine, StringConstraints(min_length=1, max_length=128)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class CommandChannel(_Model):
    """Analog output driving the amplifier's current-clamp command input."""

    terminal: _Terminal = "Dev1/ao0"
    scale_pa_per_v: Number = Field(
        default=400.0, gt=0, le=1e6, description="Amplifier command sensitivity (pA per V)."
    )
    range_v: Number = Field(default=10.0, gt=0, le=10, description="AO output range (±V).")


class StimChannel(_Model):
    """TTL to the stimulus isolator: a DO line, or an AO channel giving ``high_v`` pulses."""

    kind: Literal["do", "ao"] = "do"
    terminal: _Terminal = "Dev1/port0/line0"
    high_v: Number = Field(default=5.0, gt=0, le=10, description="Pulse level of an AO stim (V).")


class VmChannel(_Model):
    """Analog input reading the amplifier's primary output (membrane potential)."""

    terminal: _Terminal = "Dev1/ai0"
    mv_per_mv: Number = Field(
        default=10.0, gt=0, le=1000, description="Primary output scaling before gain (mV/mV)."
    )
    range_v: Number = Field(default=5.0, gt=0, le=10, description="AI input range (±V).")
    terminal_config: Literal["differential", "rse", "nrse", "pseudodifferential"] = "differential"


class Channels(_Model):
    """The three logical channels of the rig."""

    command: CommandChannel = Field(default_factory=CommandChannel)
    stim: StimChannel = Field(default_factory=StimChannel)
    vm: VmChannel = Field(default_factory=VmChannel)


class AmplifierSettings(_Model):
    """Amplifier state, entered by hand (MultiClamp telegraphs are not readable on Linux)."""

    model: Annotated[OneLine, StringConstraints(max_length=100)] = "MultiClamp 700B"
    mode: Literal["I-Clamp", "I=0", "V-Clamp"] = "I-Clamp"
    primary_gain: Number = Field(default=2.0, gt=0, le=2000, description="Primary output gain.")
    feedback_resistor_mohm: Number = Field(default=500.0, gt=0, le=50_000)
    lowpass_khz: Number = Field(default=10.0, gt=0, le=100, description="Bessel filter (kHz).")


class StimulatorSettings(_Model):
    """Stimulus isolator; its amplitude is set by hand on the front panel and recorded."""

    model: Annotated[OneLine, StringConstraints(max_length=100)] = "ISO-Flex"
    amplitude_ua: Number | None = Field(
        default=None, gt=0, le=100_000, description="Front-panel amplitude (µA), asked at run."
    )
    follows_ttl_width: Flag = Field(
        default=True, description="Output duration follows the TTL width (else its own setting)."
    )
    ttl_threshold_v: Number = Field(
        default=2.0, gt=0, le=10, description="TTL input threshold (V)."
    )
    intensity: Literal["manual", "analog"] = Field(
        default="manual",
        description="How the intensity is set: by hand on the front panel (logged), or by an "
        "AO line into the isolator's analog intensity input.",
    )
    max_intensity_ua: Number = Field(
        default=1000.0, gt=0, le=100_000, description="Highest intensity ever set (µA)."
    )
    intensity_terminal: _Terminal | None = Field(
        default=None, description="AO line driving the analog intensity input (analog only)."
    )
    intensity_ua_per_v: Number | None = Field(
        default=None, gt=0, le=100_000, description="Analog intensity input scale (µA per V)."
    )

    @model_validator(mode="after")
    def _intensity(self) -> StimulatorSettings:
        if self.intensity == "analog":
            if self.intensity_terminal is None or self.intensity_ua_per_v is None:
                raise refuse(
                    "intensity",
                    "an analog intensity needs intensity_terminal and intensity_ua_per_v",
                )
            volts = self.max_intensity_ua / self.intensity_ua_per_v
            if volts > 10.0:
                raise refuse(
                    "max_intensity_ua",
                    f"{self.max_intensity_ua:g} µA needs {volts:.3g} V at "
                    f"{self.intensity_ua_per_v:g} µA/V, beyond a ±10 V output",
                )
        if self.amplitude_ua is not None and self.amplitude_ua > self.max_intensity_ua:
            raise refuse(
                "amplitude_ua",
                f"{self.amplitude_ua:g} µA is over max_intensity_ua = {self.max_intensity_ua:g} µA",
            )
        return self


class Limits(_Model):
    """Safety limits in physical units; a sweep beyond any of them is refused before output."""

    max_command_pa: Number = Field(
        default=600.0, gt=0, le=20_000, description="Max |command| (pA)."
    )
    max_stim_rate_hz: Number = Field(
        default=100.0, gt=0, le=1000, description="Max pulse rate (Hz)."
    )
    min_interpulse_ms: Number = Field(
        default=5.0, gt=0, le=10_000, description="Min interval between pulse onsets (ms)."
    )
    max_pulse_width_us: Number = Field(
        default=500.0, gt=0, le=100_000, description="Max TTL width (µs)."
    )
    max_sweep_s: Number = Field(default=120.0, gt=0, le=3600, description="Max sweep length (s).")
    max_duty_cycle: Number = Field(
        default=0.05, gt=0, le=1, description="Max fraction of a sweep the stim line is high."
    )


class SimCellSettings(_Model):
    """Parameters of the simulated CA1 neuron and synapse (only for ``backend = "sim"``)."""

    seed: Whole = Field(default=0, ge=0)
    resting_mv: Number = Field(default=-65.0, ge=-90, le=-40)
    input_resistance_mohm: Number = Field(default=150.0, ge=20, le=1000)
    tau_m_ms: Number = Field(default=25.0, ge=2, le=200)
    epsp_mv: Number = Field(default=5.0, gt=0, le=30, description="Mean baseline EPSP (mV).")
    epsp_cv: Number = Field(default=0.15, ge=0, le=1, description="Trial-to-trial CV of EPSPs.")
    noise_mv: Number = Field(default=0.15, ge=0, le=5, description="Recording noise (mV RMS).")
    variability: Number = Field(
        default=0.0,
        ge=0,
        le=0.5,
        description=(
            "Cell-to-cell spread (CV) of the cell's properties, of how much plasticity it "
            "expresses and of the slow EPSP trend over a recording (seeded by the cell seed)."
        ),
    )
    plasticity: Flag = True
    expression_tau_s: Number = Field(
        default=30.0, ge=0, le=3600, description="Time constant of plasticity expression (s)."
    )
    expression_lrate: float = Field(
        default=0.03378,
        gt=0,
        le=1,
        description=(
            "Expression scale: learning rate of Axon's dWt -> weight mapping for the "
            "simulated synapse. Basis of the default: fitted (SEM-weighted least squares, "
            "rigctl.plasticity.mapping.fit_mapping, Axon v2 kinase defaults) to the mean "
            "normalized EPSP at 30-35 min of all four conditions of Jang et al. 2026 "
            "(25-25, 25-50, 50-25, 50-50 Hz): 0.03378 ± 0.0092 (SE)."
        ),
    )


class RigDefinition(_Model):
    """A rig: what it is, how its channels are wired and scaled, and its limits."""

    format: Literal["rigctl.rig"] = "rigctl.rig"
    schema_version: Version = 1
    name: Annotated[OneLine, StringConstraints(min_length=1, max_length=200)]
    description: Annotated[Text, StringConstraints(max_length=5000)] = ""
    backend: Literal["sim", "nidaq"] = "sim"
    device: _Terminal = "Dev1"
    sample_rate_hz: Number = Field(default=20_000.0, ge=1000, le=1_000_000)
    chunk_ms: Number = Field(default=50.0, ge=5, le=1000, description="Live-read chunk (ms).")
    channels: Channels = Field(default_factory=Channels)
    amplifier: AmplifierSettings = Field(default_factory=AmplifierSettings)
    stimulator: StimulatorSettings = Field(default_factory=StimulatorSettings)
    limits: Limits = Field(default_factory=Limits)
    sim: SimCellSettings = Field(default_factory=SimCellSettings)

    @model_validator(mode="after")
    def _consistent(self) -> RigDefinition:
        command_v = self.limits.max_command_pa / self.channels.command.scale_pa_per_v
        if command_v > self.channels.command.range_v:
            raise refuse(
                "limits.max_command_pa",
                f"{self.limits.max_command_pa:g} pA needs {command_v:.3g} V at "
                f"{self.channels.command.scale_pa_per_v:g} pA/V, beyond the "
                f"±{self.channels.command.range_v:g} V output range",
            )
        if (
            self.stimulator.ttl_threshold_v >= self.channels.stim.high_v
            and self.channels.stim.kind == "ao"
        ):
            raise refuse(
                "channels.stim.high_v",
                f"{self.channels.stim.high_v:g} V pulses do not reach the isolator's "
                f"{self.stimulator.ttl_threshold_v:g} V TTL threshold",
            )
        if self.vm_range_mv < MIN_VM_RANGE_MV:
            raise refuse(
                "channels.vm.range_v",
                f"±{self.channels.vm.range_v:g} V at {self.channels.vm.mv_per_mv:g} mV/mV x "
                f"gain {self.amplifier.primary_gain:g} reads only ±{self.vm_range_mv:.3g} mV of "
                f"membrane potential; at least ±{MIN_VM_RANGE_MV:g} mV is needed to see rest "
                "and spikes (lower amplifier.primary_gain or raise the range)",
            )
        if 1e6 / self.sample_rate_hz > self.limits.max_pulse_width_us:
            raise refuse(
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


REQUIRED_RIG_KEYS: tuple[str, ...] = (
    "name",
    "backend",
    "sample_rate_hz",
    "channels",
    "channels.command",
    "channels.command.terminal",
    "channels.command.scale_pa_per_v",
    "channels.command.range_v",
    "channels.stim",
    "channels.stim.kind",
    "channels.stim.terminal",
    "channels.vm",
    "channels.vm.terminal",
    "channels.vm.mv_per_mv",
    "channels.vm.range_v",
    "amplifier",
    "amplifier.mode",
    "amplifier.primary_gain",
    "limits",
    "limits.max_command_pa",
    "limits.max_stim_rate_hz",
    "limits.min_interpulse_ms",
    "limits.max_pulse_width_us",
    "limits.max_sweep_s",
    "limits.max_duty_cycle",
)
"""What a rig file must state: everything that sets a scaling, a channel or a safety limit.

A rig built in code may rely on the model defaults; a rig *file* may not, because a
missing ``[limits]`` or ``scale_pa_per_v`` silently falling back to a default would
decide how much current reaches a cell.
"""


def _missing_keys(data: dict[str, object]) -> list[Problem]:
    problems: list[Problem] = []
    for dotted in REQUIRED_RIG_KEYS:
        node: object = data
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue  # the parent is missing (reported itself) or of the wrong type
        if parts[-1] not in node:
            problems.append(
                Problem(dotted, "is required but missing (a rig file must state it; no default)")
            )
    data_stim = data.get("channels")
    stim = data_stim.get("stim") if isinstance(data_stim, dict) else None
    if isinstance(stim, dict) and stim.get("kind") == "ao" and "high_v" not in stim:
        problems.append(
            Problem("channels.stim.high_v", "is required for an AO stimulation channel")
        )
    return problems


def loads_rig(text: str, source: str = "<rig>") -> RigDefinition:
    """Parse and validate a rig definition from TOML text.

    Every key of :data:`REQUIRED_RIG_KEYS` must be present; a missing one is named.
    """
    try:
        data = tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise RigFileError(source, [Problem("", f"is not valid TOML ({exc})")]) from None
    except RecursionError:
        where = too_deep_at(text, toml=True) or "somewhere"
        raise RigFileError(
            source, [Problem("", f"is nested more than {MAX_DEPTH} levels deep ({where})")]
        ) from None
    except ValueError:  # an integer of thousands of digits (Python's int() limit)
        match = _GIANT_INT.search(text)
        where = f" ({line_column(text, match.start())})" if match else ""
        raise RigFileError(
            source, [Problem("", f"holds a number with thousands of digits{where}")]
        ) from None
    problem = check_tree(data)
    if problem is not None:
        raise RigFileError(source, [problem])
    problems: list[Problem] = []
    definition: RigDefinition | None = None
    try:
        definition = RigDefinition.model_validate(data)
    except ValidationError as exc:
        problems = problems_of(exc, RigDefinition)
    seen = {p.path for p in problems}
    problems += [p for p in _missing_keys(data) if p.path not in seen]
    if problems or definition is None:
        raise RigFileError(source, problems)
    return definition


def load_rig(path: str | os.PathLike[str] | None = None) -> RigDefinition:
    """Load a rig file (default: :data:`DEFAULT_RIG_PATH`, the simulated rig).

    Only a regular file of at most :data:`MAX_RIG_FILE_BYTES` is read; a UTF-8 byte order
    mark is accepted, as in protocol files. ``path`` may also name a shipped rig
    (``"sim"``, ``"ni-example"``).
    """
    p = resolve_rig(path)
    source = str(p)
    if not p.suffix and not p.exists():
        names = ", ".join(SHIPPED_RIGS)
        raise RigFileError(source, [Problem("", f"does not exist (nor a shipped rig: {names})")])
    try:
        raw = read_limited(p, MAX_RIG_FILE_BYTES, "rig file")
    except FileRefusedError as exc:
        raise RigFileError(source, [Problem("", str(exc))]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RigFileError(
            source,
            [Problem("", f"is not a UTF-8 text file (at {byte_position(raw, exc.start)})")],
        ) from None
    if "\x00" in text:
        raise RigFileError(source, [Problem("", "is not a text file (it holds NUL bytes)")])
    return loads_rig(text, source)
