"""Constants of the kinase (CaMKII / DAPK1) learning-rule cascade.

The defaults are those of the Axon v2 simulator. Calcium quantities are in arbitrary,
dimensionless calcium units (the rule only compares them with each other); times are in
milliseconds. The model advances in fixed 1 ms steps, one Axon "cycle".
"""

from __future__ import annotations

import math
from typing import Any, Final, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

__all__ = ["AXON_DT_MS", "ONSET_COMPENSATED_D_SCALE", "KinaseParams"]

AXON_DT_MS: Final = 1.0
"""Integration step of the cascade (ms): one Axon cycle."""

ONSET_COMPENSATED_D_SCALE: Final = 1.05
"""Older Axon value of ``d_scale`` that offsets the bias of CaP rising ahead of CaD."""

_TAU_FIELDS: Final = ("ca_syn_tau_ms", "m_tau_ms", "p_tau_ms", "d_tau_ms")
_POSITIVE_FIELDS: Final = ("spike_ca_syn", "syn_ca_gain", "p_scale", "d_scale", "lrate")


class KinaseParams(BaseModel):
    """Parameters of the kinase cascade; immutable, validated, Axon v2 defaults.

    Each step of ``dt_ms`` the presynaptic and postsynaptic spike-driven calcium traces
    relax towards ``spike_ca_syn`` times the spike indicator with time constant
    ``ca_syn_tau_ms``; their product times ``syn_ca_gain`` is the synaptic calcium ``ca``,
    which drives three cascaded first-order integrators: CaM (``m_tau_ms``), CaP (CaMKII,
    ``p_tau_ms``) and CaD (DAPK1, ``d_tau_ms``). A theta window's weight change is
    ``p_scale * CaP - d_scale * CaD`` read at the window's end.

    Examples
    --------
    >>> p = KinaseParams.axon_defaults()
    >>> p.replace(d_scale=1.05).d_scale
    1.05
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        allow_inf_nan=False,
        validate_default=True,
    )

    spike_ca_syn: float = Field(
        default=8.0,
        description="Calcium drive of one spike into the CaSyn traces (calcium units).",
    )
    ca_syn_tau_ms: float = Field(
        default=30.0,
        description="Time constant of the pre- and postsynaptic CaSyn traces (ms).",
    )
    syn_ca_gain: float = Field(
        default=8.0,
        description="Gain on the product CaSyn_pre * CaSyn_post that forms ca (unitless).",
    )
    m_tau_ms: float = Field(
        default=5.0, description="Time constant of CaM, the first integrator of ca (ms)."
    )
    p_tau_ms: float = Field(
        default=40.0, description="Time constant of CaP (CaMKII, LTP side), fed by CaM (ms)."
    )
    d_tau_ms: float = Field(
        default=40.0, description="Time constant of CaD (DAPK1, LTD side), fed by CaP (ms)."
    )
    p_scale: float = Field(default=1.0, description="Weight of CaP in the readout (unitless).")
    d_scale: float = Field(
        default=1.0,
        description=(
            "Weight of CaD in the readout (unitless); values above 1 compensate the bias "
            "of CaP rising ahead of CaD at the start of each window (older Axon: 1.05)."
        ),
    )
    dt_ms: float = Field(
        default=AXON_DT_MS,
        description="Integration step (ms); fixed at one 1 ms Axon cycle.",
    )
    lrate: float = Field(
        default=0.04,
        description="Learning rate of the optional (uncalibrated) dWt-to-weight mapping.",
    )

    @field_validator(*_TAU_FIELDS)
    @classmethod
    def _tau_at_least_one_step(cls, value: float, info: ValidationInfo) -> float:
        if not value >= AXON_DT_MS:
            raise ValueError(
                f"{info.field_name}: {value:g} ms is shorter than the {AXON_DT_MS:g} ms "
                "integration step; the Euler update divides by the time constant and would "
                "overshoot (use at least 1 ms)"
            )
        return value

    @field_validator(*_POSITIVE_FIELDS)
    @classmethod
    def _strictly_positive(cls, value: float, info: ValidationInfo) -> float:
        if not value > 0:
            raise ValueError(
                f"{info.field_name}: {value:g} must be positive (a zero or negative gain "
                "or scale removes or inverts its stage of the cascade)"
            )
        return value

    @field_validator("dt_ms")
    @classmethod
    def _fixed_step(cls, value: float) -> float:
        if not math.isclose(value, AXON_DT_MS, rel_tol=0.0, abs_tol=1e-12):
            raise ValueError(
                f"dt_ms: {value:g} ms is not supported; the cascade and its time constants "
                f"are defined on {AXON_DT_MS:g} ms Axon cycles"
            )
        return AXON_DT_MS

    @classmethod
    def axon_defaults(cls) -> Self:
        """Return the Axon v2 default parameters.

        Returns
        -------
        KinaseParams
            ``SpikeCaSyn = 8``, ``CaSynTau = 30 ms``, ``SynCaGain = 8``, ``MTau = 5 ms``,
            ``PTau = DTau = 40 ms``, ``PScale = DScale = 1``, ``dt = 1 ms``, ``lrate = 0.04``.
        """
        return cls()

    def replace(self, **changes: Any) -> Self:
        """Return a validated copy with some fields changed.

        Parameters
        ----------
        **changes
            New field values by name.

        Returns
        -------
        KinaseParams
            The new parameters.

        Raises
        ------
        pydantic.ValidationError
            If a name is unknown or a value is out of range.
        """
        return self.model_validate({**self.model_dump(), **changes})
