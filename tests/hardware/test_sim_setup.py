"""The simulated rig supports the set-up: series resistance, recruitment curve, intensity."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from rigctl import protocol as proto
from rigctl.hardware import LimitError, RigError, RigFileError, SimRig, load_rig, loads_rig
from rigctl.hardware.intensity import IntensityControl, check_intensity, intensity_control
from rigctl.hardware.sim import CellParams, simulate_cell
from rigctl.hardware.sim.recruitment import recruitment_curve, series_resistance_mohm
from tests.conftest import ROOT

FS = 20_000.0


def test_series_resistance_is_seeded_between_10_and_25_mohm() -> None:
    values = [series_resistance_mohm(s) for s in range(50)]
    assert all(10.0 <= v <= 25.0 for v in values)
    assert len({round(v, 6) for v in values}) == 50
    assert series_resistance_mohm(7) == series_resistance_mohm(7)
    assert SimRig(load_rig(), seed=7).cell.params.series_resistance_mohm == values[7]


def test_the_recorded_vm_jumps_by_i_times_rs_at_a_current_step() -> None:
    p = CellParams(noise_mv=0.0, drift_mv=0.0, series_resistance_mohm=20.0)
    cmd = np.zeros(4000)
    cmd[1000:3000] = -100.0
    v = simulate_cell(cmd, np.zeros(4000, np.uint8), FS, p).vm_mv
    q = replace(p, series_resistance_mohm=0.0)
    v0 = simulate_cell(cmd, np.zeros(4000, np.uint8), FS, q).vm_mv
    np.testing.assert_allclose(v - v0, cmd * 0.020)  # -100 pA x 20 MΩ = -2 mV
    # The jump at the edge is instantaneous; the membrane then charges with tau_m.
    assert v[1000] - v[999] == pytest.approx(-2.0 + (v0[1000] - v0[999]))


def test_recruitment_curve_has_a_threshold_rises_and_saturates() -> None:
    c = recruitment_curve(3, 100.0)
    assert c.relative(100.0) == pytest.approx(1.0)
    assert c.relative(c.threshold_ua) == 0.0 and c.relative(0.0) == 0.0
    xs = np.linspace(0, 500, 200)
    ys = [c.relative(float(x)) for x in xs]
    assert np.all(np.diff(ys) >= 0)
    assert ys[-1] == pytest.approx(c.saturation, rel=0.01) and 1.2 < c.saturation < 5
    assert recruitment_curve(4, 100.0) != c  # cell-dependent


def probe_epsp(rig: SimRig, n: int = 8) -> float:
    exp = proto.paper_condition(25, 50)
    sweep = proto.compile_probe(exp.probes)
    prepared = rig.prepare(sweep, "probe")
    amps = []
    for _ in range(n):
        v = rig.run(prepared).vm_mv
        amps.append(v[602 * 20 : 650 * 20].max() - v[550 * 20 : 600 * 20].mean())
    return float(np.mean(amps))


def test_intensity_sets_the_epsp_like_the_front_panel() -> None:
    rig = SimRig(load_rig(), seed=11)
    assert rig.stim_intensity_ua == 100.0  # the rig file's reference intensity
    at_ref = probe_epsp(rig)
    assert 4.0 < at_ref < 6.0
    rig.set_stim_intensity_ua(rig.cell.recruitment.threshold_ua * 0.9)  # type: ignore[union-attr]
    assert probe_epsp(rig) < 1.0  # below threshold: noise only
    rig.set_stim_intensity_ua(300.0)
    assert probe_epsp(rig) > at_ref * 1.15
    assert isinstance(rig, IntensityControl)


def test_an_intensity_outside_the_isolators_range_is_refused() -> None:
    rig = SimRig(load_rig())
    for bad in (-1.0, 501.0, float("nan")):
        with pytest.raises(LimitError, match="max_intensity_ua") as info:
            rig.set_stim_intensity_ua(bad)
        assert info.value.limit == "max_intensity_ua"
    assert rig.stim_intensity_ua == 100.0
    assert check_intensity(rig.definition, 500.0) == 500.0


SIM_TEXT = (ROOT / "hardware" / "sim.toml").read_text(encoding="utf-8")


def test_rig_files_state_the_intensity_mode() -> None:
    assert load_rig().stimulator.intensity == "analog"
    ni = load_rig(ROOT / "hardware" / "ni-x-series-multiclamp700b.toml")
    assert ni.stimulator.intensity == "manual" and ni.stimulator.max_intensity_ua == 1000.0


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('intensity_terminal = "SimDev1/ao1"\n', "", "stimulator.intensity"),
        ("intensity_ua_per_v = 100.0", "intensity_ua_per_v = 10.0", "max_intensity_ua"),
        ("amplitude_ua = 100.0", "amplitude_ua = 900.0", "amplitude_ua"),
        ('intensity = "analog"', 'intensity = "knob"', "stimulator.intensity"),
    ],
)
def test_bad_intensity_settings_name_the_field(old: str, new: str, field: str) -> None:
    assert old in SIM_TEXT
    with pytest.raises(RigFileError, match=field) as info:
        loads_rig(SIM_TEXT.replace(old, new), "bad.toml")
    assert "\n" not in str(info.value) and str(info.value).startswith("bad.toml")


def test_an_analog_intensity_on_a_backend_that_cannot_drive_it_is_one_sentence() -> None:
    from tests.engine.rigs import WrappedRig

    rig = WrappedRig()
    with pytest.raises(RigError, match='set intensity = "manual"'):
        intensity_control(rig)
    manual = SIM_TEXT.replace('intensity = "analog"', 'intensity = "manual"')
    rig.definition = loads_rig(manual)
    assert intensity_control(rig) is None
