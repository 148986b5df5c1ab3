"""Pydantic models of a rigctl experiment: induction protocol, probe schedule, metadata.

Every model is frozen and forbids unknown fields, so a typo in a stimulation parameter
fails loudly instead of being silently ignored. Units are part of every field name. The
defaults reproduce the theta-cycle experiment of Jang, Flores, O'Reilly & Zito (2026):
ten 200 ms windows of a 100 ms *prediction* and a 100 ms *outcome* phase, 400 ms apart.

Validators state the physical reason for a refusal; the file loader turns them into one
sentence that names the file, the field path and the offending value.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any, Final, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "FORMAT",
    "SCHEMA_VERSION",
    "DerivedFrom",
    "Experiment",
    "Induction",
    "Metadata",
    "Phase",
    "PostDrive",
    "ProbePulse",
    "ProbeSchedule",
    "StimTrain",
    "TestStep",
]

FORMAT: Final = "rigctl.experiment"
"""Value of the ``format`` key that identifies a rigctl experiment file."""

SCHEMA_VERSION: Final = 1
"""Schema version written by this release; older files are migrated on load."""

#: Absolute sanity bound on any current in a protocol file. The rig file holds the real,
#: usually much lower, safety limit; this only rejects values that are clearly typos.
ABS_MAX_CURRENT_PA = 5000.0

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

Number = Annotated[float, Strict()]
"""A physical value: a JSON/TOML number (an integer is fine), never true/false or text."""

Whole = Annotated[int, Strict()]
"""A count or seed: a whole number, never true/false, 2.0 or text."""

Flag = Annotated[bool, Strict()]
"""A switch: exactly true or false, never 0/1 or "yes"."""


def _no_control(value: object) -> object:
    # Before stripping: a trailing newline is refused, not silently trimmed away.
    if isinstance(value, str) and _CONTROL.search(value):
        raise PydanticCustomError(
            "control_character",
            "must not contain control characters (newline, tab, NUL, ...)",
        )
    return value


def _no_control_in_text(value: str) -> str:
    if _CONTROL_IN_TEXT.search(value):
        raise PydanticCustomError(
            "control_character",
            "must not contain control characters other than newlines and tabs",
        )
    return value


_Strip = StringConstraints(strip_whitespace=True)
OneLine = Annotated[str, Strict(), _Strip, BeforeValidator(_no_control)]
"""One line of text (names, terminals): never a number, no control characters."""

Text = Annotated[str, Strict(), AfterValidator(_no_control_in_text)]
"""Free text: never a number; newlines and tabs allowed, other control characters refused."""


def _not_bool(value: object) -> object:
    if isinstance(value, bool):
        raise PydanticCustomError("not_bool", "must be the number 1, not true/false")
    return value


Version = Annotated[Literal[1], BeforeValidator(_not_bool)]
"""A schema version field: the number 1, never ``true`` (which Python equates with 1)."""


def _iso_datetime(value: object) -> object:
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "datetime_text", 'must be a date and time as text, e.g. "2026-01-31T14:00:00"'
        )
    return value


_Name = Annotated[OneLine, StringConstraints(min_length=1, max_length=64)]


def refuse(field: str, message: str) -> PydanticCustomError:
    """Build a validation error for ``field`` (relative to the model) with a physical reason.

    The field travels in the error context, so the loader can report the full path
    without parsing the message.
    """
    return PydanticCustomError(
        "physical", message.replace("{", "(").replace("}", ")"), {"field": field}
    )


class FrozenModel(BaseModel):
    """Base of every protocol model: immutable, strict about unknown fields."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        validate_default=True,
        allow_inf_nan=False,
        str_strip_whitespace=True,
    )

    def replace(self, **changes: Any) -> Self:
        """Return a validated copy with ``changes`` applied (fields by name)."""
        data = self.model_dump()
        data.update(
            {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in changes.items()}
        )
        return type(self).model_validate(data)


class StimTrain(FrozenModel):
    """Presynaptic stimulation in one phase: a train of TTL pulses to the stimulus isolator.

    Pulse ``k`` of a regular train starts at ``onset_ms + k * 1000 / rate_hz`` after the
    phase onset, for every such time that falls inside the phase. A jittered train moves
    each pulse by a uniform random offset of at most ``jitter_ms`` (seeded, reproducible).
    """

    rate_hz: Number = Field(gt=0, le=500, description="Pulse rate (Hz).")
    pulse_width_us: Number = Field(
        default=100.0, gt=0, le=5000, description="TTL pulse width (µs)."
    )
    onset_ms: Number = Field(
        default=0.0, ge=0, description="Delay of the first pulse after the phase onset (ms)."
    )
    timing: Literal["regular", "jittered"] = "regular"
    jitter_ms: Number = Field(
        default=0.0, ge=0, description="Largest shift of a jittered pulse (ms), uniform."
    )
    seed: Whole = Field(default=0, ge=0, description="Random seed of a jittered train.")

    @property
    def period_ms(self) -> float:
        """Inter-pulse interval of the regular train (ms)."""
        return 1000.0 / self.rate_hz

    @model_validator(mode="after")
    def _physical(self) -> StimTrain:
        period_us = 1e6 / self.rate_hz
        if self.pulse_width_us >= period_us / 2:
            raise refuse(
                "rate_hz",
                f"{self.rate_hz:g} Hz is too fast for {self.pulse_width_us:g} µs "
                f"pulses (the pulse must be shorter than half the inter-pulse interval, "
                f"{period_us:g} µs); lower the rate or the pulse width",
            )
        if self.timing == "jittered":
            room_ms = (period_us - 2 * self.pulse_width_us) / 2000.0
            if self.jitter_ms > room_ms:
                raise refuse(
                    "jitter_ms",
                    f"{self.jitter_ms:g} ms would let neighbouring pulses overlap "
                    f"at {self.rate_hz:g} Hz (at most {room_ms:.4g} ms)",
                )
        return self


class PostDrive(FrozenModel):
    """Postsynaptic drive in one phase: a current step sized to make the cell fire.

    ``target_rate_hz`` is the firing rate wanted; ``current_pa`` is the step that produces
    it in this cell (``null`` until calibrated, in which case nothing is injected). The
    step starts ``lag_ms`` after the phase onset and lasts to the end of the phase; the
    target spike train (used by the plasticity preview) starts at the same moment.
    """

    target_rate_hz: Number = Field(
        ge=0, le=200, description="Wanted postsynaptic firing rate (Hz); 0 = no drive."
    )
    current_pa: Number | None = Field(
        default=None,
        ge=-ABS_MAX_CURRENT_PA,
        le=ABS_MAX_CURRENT_PA,
        description="Current step producing the target rate (pA); null until calibrated.",
    )
    lag_ms: Number = Field(
        default=0.0, ge=0, description="Delay of the step and of the first spike (ms)."
    )

    @model_validator(mode="after")
    def _physical(self) -> PostDrive:
        if self.target_rate_hz == 0 and self.current_pa not in (None, 0.0):
            raise refuse(
                "current_pa",
                f"{self.current_pa:g} pA is injected although target_rate_hz "
                "is 0 (no postsynaptic drive); set the current to null or 0",
            )
        return self


class Phase(FrozenModel):
    """One phase of a theta window (e.g. *prediction*, *outcome*)."""

    name: _Name
    duration_ms: Number = Field(gt=0, le=10_000, description="Phase length (ms).")
    pre: StimTrain
    post: PostDrive

    @model_validator(mode="after")
    def _fits(self) -> Phase:
        if self.pre.onset_ms >= self.duration_ms:
            raise refuse(
                "pre.onset_ms",
                f"the first pulse at {self.pre.onset_ms:g} ms falls outside "
                f"the {self.duration_ms:g} ms phase",
            )
        if self.post.target_rate_hz > 0 and self.post.lag_ms >= self.duration_ms:
            raise refuse(
                "post.lag_ms",
                f"a {self.post.lag_ms:g} ms lag leaves no drive in the "
                f"{self.duration_ms:g} ms phase",
            )
        if self.pre.pulse_width_us / 1000.0 > self.duration_ms - self.pre.onset_ms:
            raise refuse(
                "pre.pulse_width_us",
                f"a {self.pre.pulse_width_us:g} µs pulse at "
                f"{self.pre.onset_ms:g} ms would not end inside the {self.duration_ms:g} ms phase",
            )
        if self.pre.timing == "regular":
            last_end = (
                self.pre.onset_ms
                + (self.pulse_count() - 1) * self.pre.period_ms
                + self.pre.pulse_width_us / 1000.0
            )
            if last_end > self.duration_ms + 1e-9:
                raise refuse(
                    "pre.rate_hz",
                    f"at {self.pre.rate_hz:g} Hz the last pulse ends at "
                    f"{last_end:g} ms, after the {self.duration_ms:g} ms phase; adjust the rate, "
                    "onset or phase length",
                )
        return self

    def pulse_count(self) -> int:
        """Number of presynaptic pulses in this phase (what the rate says)."""
        span_ms = self.duration_ms - self.pre.onset_ms
        return max(0, math.ceil(span_ms * self.pre.rate_hz / 1000.0 - 1e-9))

    def post_spike_count(self) -> int:
        """Number of spikes in the target postsynaptic train of this phase."""
        if self.post.target_rate_hz == 0:
            return 0
        span_ms = self.duration_ms - self.post.lag_ms
        return max(0, math.ceil(span_ms * self.post.target_rate_hz / 1000.0 - 1e-9))


def _default_phases() -> tuple[Phase, ...]:
    return (
        Phase(
            name="prediction",
            duration_ms=100.0,
            pre=StimTrain(rate_hz=25.0),
            post=PostDrive(target_rate_hz=25.0),
        ),
        Phase(
            name="outcome",
            duration_ms=100.0,
            pre=StimTrain(rate_hz=50.0),
            post=PostDrive(target_rate_hz=50.0),
        ),
    )


class Induction(FrozenModel):
    """The induction sweep: theta windows of ordered phases, repeated with quiet gaps.

    The sweep is ``lead_in_ms`` of rest, then ``repeats`` times a window followed by its
    gap. Phases are laid back to back from the window onset; ``window_ms`` (if given) may
    leave quiet time after the last phase, and ``null`` means "the phases' total".
    """

    phases: tuple[Phase, ...] = Field(default_factory=_default_phases, min_length=1, max_length=32)
    window_ms: Number | None = Field(
        default=200.0, gt=0, le=60_000, description="Theta window length (ms)."
    )
    repeats: Whole = Field(default=10, ge=1, le=1000, description="Number of theta windows.")
    gap_ms: Number = Field(
        default=400.0, ge=0, le=600_000, description="Quiet time after each window (ms)."
    )
    lead_in_ms: Number = Field(
        default=200.0, ge=0, le=60_000, description="Rest before the first window (ms)."
    )

    @property
    def phases_ms(self) -> float:
        """Summed length of the phases (ms)."""
        return math.fsum(p.duration_ms for p in self.phases)

    @property
    def effective_window_ms(self) -> float:
        """Window length actually used (``window_ms`` or the phases' total)."""
        return self.window_ms if self.window_ms is not None else self.phases_ms

    @property
    def duration_ms(self) -> float:
        """Length of the whole induction sweep (ms)."""
        return self.lead_in_ms + self.repeats * (self.effective_window_ms + self.gap_ms)

    @model_validator(mode="after")
    def _fits(self) -> Induction:
        names = [p.name for p in self.phases]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise refuse("phases", f"phase names must be unique ({', '.join(dup)} repeats)")
        if self.window_ms is not None and self.phases_ms > self.window_ms + 1e-9:
            raise refuse(
                "window_ms",
                f"the phases last {self.phases_ms:g} ms and do not fit in a "
                f"{self.window_ms:g} ms window",
            )
        if self.duration_ms > 3_600_000:
            raise refuse(
                "repeats",
                f"the induction would last {self.duration_ms / 60000:.1f} min "
                "(at most 60 min in one sweep)",
            )
        return self


class ProbePulse(FrozenModel):
    """The single presynaptic test pulse of a probe sweep."""

    time_ms: Number = Field(default=600.0, ge=0, description="Pulse time in the sweep (ms).")
    pulse_width_us: Number = Field(default=100.0, gt=0, le=5000, description="Width (µs).")
    paired_interval_ms: Number | None = Field(
        default=None,
        ge=10,
        le=1000,
        description="Optional second pulse this long after the first (ms), for the "
        "paired-pulse ratio; none by default.",
    )

    @property
    def times_ms(self) -> tuple[float, ...]:
        """Start times of the probe's pulses in the sweep (ms): one, or two when paired."""
        if self.paired_interval_ms is None:
            return (self.time_ms,)
        return (self.time_ms, self.time_ms + self.paired_interval_ms)


class TestStep(FrozenModel):
    """The small hyperpolarizing current step that monitors input resistance and seal."""

    __test__ = False  # not a pytest test class

    amplitude_pa: Number = Field(
        default=-10.0,
        ge=-50,
        lt=0,
        description="Step amplitude (pA); hyperpolarizing, typically -5 to -10 pA.",
    )
    start_ms: Number = Field(default=100.0, ge=0, description="Step onset in the sweep (ms).")
    duration_ms: Number = Field(default=200.0, gt=0, le=5000, description="Step length (ms).")


class ProbeSchedule(FrozenModel):
    """Probe sweeps before (baseline) and after (follow-up) the induction."""

    interval_s: Number = Field(
        default=20.0, ge=5, le=300, description="Time between probe sweeps (s), 15-30 s usual."
    )
    baseline_min: Number = Field(
        default=5.0, gt=0, le=60, description="Baseline recording before induction (min)."
    )
    followup_min: Number = Field(
        default=45.0, gt=0, le=240, description="Follow-up recording after induction (min)."
    )
    sweep_ms: Number = Field(
        default=1000.0, gt=0, le=10_000, description="Length of one probe sweep (ms)."
    )
    probe: ProbePulse = Field(default_factory=ProbePulse)
    test_step: TestStep = Field(default_factory=TestStep)

    @model_validator(mode="after")
    def _fits(self) -> ProbeSchedule:
        step_end = self.test_step.start_ms + self.test_step.duration_ms
        if step_end >= self.sweep_ms:
            raise refuse(
                "test_step",
                f"the step ends at {step_end:g} ms, not before the end of the "
                f"{self.sweep_ms:g} ms sweep",
            )
        if self.probe.times_ms[-1] + 50.0 > self.sweep_ms:
            raise refuse(
                "probe.paired_interval_ms" if len(self.probe.times_ms) > 1 else "probe.time_ms",
                f"a pulse at {self.probe.times_ms[-1]:g} ms leaves less than the "
                f"50 ms an EPSP needs before the {self.sweep_ms:g} ms sweep ends",
            )
        inside = [t for t in self.probe.times_ms if self.test_step.start_ms <= t < step_end]
        if inside:
            raise refuse(
                "probe.time_ms",
                f"the probe pulse at {inside[0]:g} ms falls inside the "
                f"test step ({self.test_step.start_ms:g}-{step_end:g} ms); the EPSP must not "
                "ride on the step",
            )
        if self.interval_s * 1000.0 < self.sweep_ms:
            raise refuse(
                "interval_s",
                f"{self.interval_s:g} s is shorter than one {self.sweep_ms:g} ms probe sweep",
            )
        if self.baseline_min * 60.0 < self.interval_s:
            raise refuse(
                "baseline_min",
                f"{self.baseline_min:g} min holds no probe at a {self.interval_s:g} s interval",
            )
        return self

    @property
    def baseline_count(self) -> int:
        """Number of baseline probe sweeps."""
        return max(1, math.floor(self.baseline_min * 60.0 / self.interval_s + 1e-9))

    @property
    def followup_count(self) -> int:
        """Number of follow-up probe sweeps."""
        return max(1, math.floor(self.followup_min * 60.0 / self.interval_s + 1e-9))


class DerivedFrom(FrozenModel):
    """The protocol an edited one was made from (see :mod:`rigctl.protocol.identity`)."""

    name: Annotated[OneLine, StringConstraints(min_length=1, max_length=200)]
    content_hash: Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")]


class Metadata(FrozenModel):
    """Who made the protocol, what it is for."""

    name: Annotated[OneLine, StringConstraints(min_length=1, max_length=200)]
    description: Annotated[Text, StringConstraints(max_length=10_000)] = ""
    author: Annotated[OneLine, StringConstraints(max_length=200)] = ""
    created: Annotated[datetime | None, BeforeValidator(_iso_datetime)] = None
    tags: tuple[_Name, ...] = Field(default=(), max_length=64)
    derived_from: DerivedFrom | None = None


class Experiment(FrozenModel):
    """A complete experiment: baseline probes, the induction, follow-up probes."""

    format: Literal["rigctl.experiment"] = FORMAT
    schema_version: Version = SCHEMA_VERSION
    metadata: Metadata
    induction: Induction = Field(default_factory=Induction)
    probes: ProbeSchedule = Field(default_factory=ProbeSchedule)
