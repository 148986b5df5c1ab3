"""KinaseParams: Axon v2 defaults, immutability and validation with physical reasons."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rigctl.plasticity import ONSET_COMPENSATED_D_SCALE, KinaseParams


def test_axon_v2_defaults() -> None:
    p = KinaseParams.axon_defaults()
    assert p == KinaseParams()
    assert p.model_dump() == {
        "spike_ca_syn": 8.0,
        "ca_syn_tau_ms": 30.0,
        "syn_ca_gain": 8.0,
        "m_tau_ms": 5.0,
        "p_tau_ms": 40.0,
        "d_tau_ms": 40.0,
        "p_scale": 1.0,
        "d_scale": 1.0,
        "dt_ms": 1.0,
        "lrate": 0.04,
    }
    assert ONSET_COMPENSATED_D_SCALE == 1.05


def test_frozen_hashable_and_strict() -> None:
    p = KinaseParams()
    with pytest.raises(ValidationError):
        p.d_scale = 1.05  # type: ignore[misc]
    assert hash(p) == hash(KinaseParams())
    with pytest.raises(ValidationError, match="extra"):
        KinaseParams(dscale=1.05)  # type: ignore[call-arg]


@pytest.mark.parametrize("name", ["ca_syn_tau_ms", "m_tau_ms", "p_tau_ms", "d_tau_ms"])
@pytest.mark.parametrize("value", [0.999, 0.0, -5.0])
def test_time_constants_cover_one_step(name: str, value: float) -> None:
    with pytest.raises(ValidationError, match=rf"{name}.*integration step"):
        KinaseParams.model_validate({name: value})
    assert getattr(KinaseParams.model_validate({name: 1.0}), name) == 1.0


@pytest.mark.parametrize("name", ["spike_ca_syn", "syn_ca_gain", "p_scale", "d_scale", "lrate"])
@pytest.mark.parametrize("value", [0.0, -1.0])
def test_gains_and_scales_are_positive(name: str, value: float) -> None:
    with pytest.raises(ValidationError, match=rf"{name}.*must be positive"):
        KinaseParams.model_validate({name: value})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_values_are_refused(value: float) -> None:
    with pytest.raises(ValidationError):
        KinaseParams(p_tau_ms=value)
    with pytest.raises(ValidationError):
        KinaseParams(d_scale=value)


def test_step_is_fixed_at_one_ms() -> None:
    assert KinaseParams(dt_ms=1).dt_ms == 1.0
    with pytest.raises(ValidationError, match=r"dt_ms.*1 ms Axon cycles"):
        KinaseParams(dt_ms=0.5)


def test_replace_validates() -> None:
    p = KinaseParams().replace(d_scale=ONSET_COMPENSATED_D_SCALE)
    assert p.d_scale == 1.05
    assert p.p_scale == 1.0
    with pytest.raises(ValidationError):
        KinaseParams().replace(d_tau_ms=0.5)
    with pytest.raises(ValidationError):
        KinaseParams().replace(tau=3.0)
