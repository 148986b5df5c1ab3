"""Rig files: the shipped ones load; bad ones are refused with one line naming the field."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from rigctl.hardware import DEFAULT_RIG_PATH, RigFileError, load_rig, loads_rig
from rigctl.hardware.definition import REQUIRED_RIG_KEYS
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
        # strict types
        (
            "max_command_pa = 600.0",
            'max_command_pa = "600"',
            "limits.max_command_pa: must be a number (got a string '600')",
        ),
        (
            "max_command_pa = 600.0",
            "max_command_pa = true",
            "limits.max_command_pa: must be a number (got true/false",
        ),
        ("max_command_pa = 600.0", "max_command_pa = nan", "limits.max_command_pa: nan is not"),
        ("max_command_pa = 600.0", "max_command_pa = inf", "limits.max_command_pa: inf is not"),
        ("sample_rate_hz = 20000", "sample_rate_hz = true", "sample_rate_hz: must be a number"),
        ('terminal = "SimDev1/ao0"', "terminal = 5", "channels.command.terminal: must be text"),
        ("plasticity = true", "plasticity = 1", "sim.plasticity: must be true or false"),
        ("plasticity = true", 'plasticity = "yes"', "sim.plasticity: must be true or false"),
        ("seed = 0", "seed = true", "sim.seed: must be a whole number"),
        ("seed = 0", "seed = 1.5", "sim.seed: must be a whole number"),
        ("seed = 0", "seed = " + "9" * 30, "sim.seed: the number (30 digits) is far too large"),
        ("seed = 0", "seed = " + "9" * 5000, "holds a number with thousands of digits (line "),
        ("schema_version = 1", "schema_version = true", "schema_version: must be the number 1"),
        ('name = "Simulated CA1 rig"', 'name = "a\\nb"', "name: must not contain control"),
        ('name = "Simulated CA1 rig"', "name = 1979-05-27", "name: must be text in quotes"),
        # required: no silent defaults for limits, channels or scalings
        ("scale_pa_per_v = 400.0", "", "channels.command.scale_pa_per_v: is required"),
        ("mv_per_mv = 10.0", "", "channels.vm.mv_per_mv: is required but missing"),
        ('terminal = "SimDev1/ai0"', "", "channels.vm.terminal: is required but missing"),
        ("max_command_pa = 600.0", "", "limits.max_command_pa: is required but missing"),
        ('mode = "I-Clamp"', "", "amplifier.mode: is required but missing"),
        ('kind = "do"', 'kind = "ao"', "channels.stim.high_v: is required for an AO"),
        ("[limits]", "[limits_old]", "limits_old: is not a known field"),
        (
            "primary_gain = 2.0",
            "primary_gain = 200.0",
            "channels.vm.range_v: ±5 V at 10 mV/mV x gain 200 reads only ±2.5 mV",
        ),
        ("seed = 0", "seed = 0\nseed = 1", "is not valid TOML (Cannot overwrite a value (at line"),
        ("seed = 0", "x = " + "[" * 40 + "]" * 40, "is nested more than 32 levels deep"),
        ("seed = 0", "x = " + "{a = " * 3000 + "1" + "}" * 3000, "32 levels deep (line "),
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


def _drop_section(text: str, header: str) -> str:
    out, skip = [], False
    for line in text.splitlines():
        if line.startswith("["):
            skip = line.strip() == header
        if not skip:
            out.append(line)
    return "\n".join(out)


@pytest.mark.parametrize(
    "header", ["[limits]", "[channels.command]", "[channels.vm]", "[channels.stim]", "[amplifier]"]
)
def test_missing_sections_are_named_not_defaulted(tmp_path: Path, header: str) -> None:
    f = tmp_path / "rig.toml"
    f.write_text(_drop_section(GOOD, header))
    with pytest.raises(RigFileError) as info:
        load_rig(f)
    want = f"{f}: {header.strip('[]')}: is required but missing (a rig file must state it"
    assert any(line.startswith(want) for line in info.value.lines()), info.value.lines()


def test_fifo_device_and_bom(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    box: list[BaseException] = []

    def attempt() -> None:
        try:
            load_rig(fifo)
        except BaseException as exc:
            box.append(exc)

    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(10)  # opening a FIFO for reading would block forever
    assert not t.is_alive(), "reading a FIFO hung"
    assert isinstance(box[0], RigFileError) and "named pipe (FIFO)" in str(box[0])
    with pytest.raises(RigFileError, match=r"^/dev/zero: is a device, not a rig file"):
        load_rig("/dev/zero")
    f = tmp_path / "bom.toml"
    f.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert load_rig(f) == load_rig()


def test_examples_state_every_required_key() -> None:
    for path in (DEFAULT_RIG_PATH, ROOT / "hardware" / "ni-x-series-multiclamp700b.toml"):
        load_rig(path)
    assert "limits.max_command_pa" in REQUIRED_RIG_KEYS
    assert "channels.command.scale_pa_per_v" in REQUIRED_RIG_KEYS
