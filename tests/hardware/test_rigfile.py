"""Rig files: the shipped ones load; bad ones are refused with one line naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from rigctl.hardware import DEFAULT_RIG_PATH, RigFileError, load_rig, loads_rig
from tests.conftest import ROOT

GOOD = DEFAULT_RIG_PATH.read_text()


def test_shipped_rig_files_load() -> None:
    sim = load_rig()
    assert sim.backend == "sim" and sim.sample_rate_hz == 20_000
    assert sim.vm_volts_per_mv == pytest.approx(0.02)  # -70 mV reads -1.4 V at gain 2
    ni = load_rig(ROOT / "hardware" / "ni-x-series-multiclamp700b.toml")
    assert ni.backend == "nidaq"
    assert ni.channels.command.terminal == "Dev1/ao0"
    assert ni.channels.stim.kind == "do" and ni.channels.vm.range_v == 5.0
    assert ni.channels.command.scale_pa_per_v == 400.0
    record = ni.settings_record()
    assert record["amplifier"]["primary_gain"] == 2.0  # type: ignore[index]
    assert "amplitude_ua" in record["stimulator"]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ('backend = "sim"', 'backend = "labview"', "backend: must be one of 'sim' or 'nidaq'"),
        (
            "max_command_pa = 600.0",
            "max_command_pa = -5",
            "limits.max_command_pa: must be greater than 0",
        ),
        (
            "max_command_pa = 600.0",
            "max_command_pa = 5000",
            "limits.max_command_pa: 5000 pA needs 12.5 V",
        ),
        (
            "sample_rate_hz = 20000",
            "sample_rate_hz = 1000",
            "sample_rate_hz: one sample at 1000 Hz",
        ),
        ("range_v = 5.0", "range_v = 50", "channels.vm.range_v: must be at most 10"),
        ("max_duty_cycle = 0.05", "max_duty_cycle = 2", "limits.max_duty_cycle: must be at most 1"),
        (
            "scale_pa_per_v = 400.0",
            "scale_pa_per_v = 0",
            "channels.command.scale_pa_per_v: must be greater than 0",
        ),
        (
            "[limits]",
            "[limits]\nmax_comand_pa = 3",
            "limits.max_comand_pa: is not a known field; did you mean 'max_command_pa'?",
        ),
        ('kind = "do"', 'kind = "counter"', "channels.stim.kind: must be one of 'do' or 'ao'"),
        ("max_sweep_s = 120.0", 'max_sweep_s = "long"', "limits.max_sweep_s: must be a number"),
        ('name = "Simulated CA1 rig"', "name = 3", "name: "),
        ("resting_mv = -65.0", "resting_mv = 10", "sim.resting_mv: must be at most -40"),
    ],
)
def test_bad_rig_files(tmp_path: Path, old: str, new: str, fragment: str) -> None:
    assert old in GOOD
    f = tmp_path / "rig.toml"
    f.write_text(GOOD.replace(old, new, 1))
    with pytest.raises(RigFileError) as info:
        load_rig(f)
    msg = str(info.value)
    assert msg.startswith(f"{f}: ") and "\n" not in msg
    assert fragment in msg, msg


def test_unreadable_rig_files(tmp_path: Path) -> None:
    with pytest.raises(RigFileError, match="does not exist"):
        load_rig(tmp_path / "none.toml")
    f = tmp_path / "x.toml"
    f.write_text("backend = [")
    with pytest.raises(RigFileError, match="is not valid TOML"):
        load_rig(f)
    with pytest.raises(RigFileError, match="is a folder"):
        load_rig(tmp_path)
    with pytest.raises(RigFileError, match="name: is required"):
        loads_rig('backend = "sim"', "inline")
