"""The analog isolator intensity on an NI AO line, against the fake NI-DAQmx driver."""

from __future__ import annotations

import math

import pytest

from rigctl.hardware import LimitError, RigError, loads_rig
from rigctl.hardware.intensity import IntensityControl, intensity_control
from rigctl.hardware.nidaq.intensity import NidaqIntensity
from tests.conftest import ROOT
from tests.hardware.fake_nidaq import FakeNidaq

NI_TEXT = (ROOT / "hardware" / "ni-x-series-multiclamp700b.toml").read_text(encoding="utf-8")
ANALOG = NI_TEXT.replace(
    'intensity = "manual"',
    'intensity = "analog"\nintensity_terminal = "Dev1/ao1"\nintensity_ua_per_v = 100.0',
)


class _NoControlRig:
    def __init__(self, text: str) -> None:
        self.definition = loads_rig(text)


def test_the_intensity_is_written_as_volts_on_the_ao_line(fake_nidaq: FakeNidaq) -> None:
    rig = _NoControlRig(ANALOG)
    ctl = intensity_control(rig)  # type: ignore[arg-type]
    assert isinstance(ctl, NidaqIntensity) and isinstance(ctl, IntensityControl)
    assert math.isnan(ctl.stim_intensity_ua)
    ctl.set_stim_intensity_ua(250.0)
    assert fake_nidaq.line("Dev1/ao1") == pytest.approx(2.5)
    assert ctl.stim_intensity_ua == 250.0
    assert not any(t.state == "running" for t in fake_nidaq.tasks.values())


def test_out_of_range_is_refused_before_anything_is_written(fake_nidaq: FakeNidaq) -> None:
    ctl = NidaqIntensity(loads_rig(ANALOG))
    with pytest.raises(LimitError, match="max_intensity_ua"):
        ctl.set_stim_intensity_ua(1500.0)
    assert fake_nidaq.line("Dev1/ao1") == 0.0 and not fake_nidaq.calls


def test_missing_driver_is_one_sentence(fake_nidaq: FakeNidaq) -> None:
    fake_nidaq.driver_missing = True
    with pytest.raises(RigError, match="driver is not installed"):
        NidaqIntensity(loads_rig(ANALOG)).set_stim_intensity_ua(100.0)


def test_a_manual_isolator_cannot_be_driven() -> None:
    with pytest.raises(RigError, match="set by hand"):
        NidaqIntensity(loads_rig(NI_TEXT))
    assert intensity_control(_NoControlRig(NI_TEXT)) is None  # type: ignore[arg-type]
