"""A corpus of hostile protocol and rig files (written on demand into a folder).

Each entry is ``(id, content)`` where ``content`` is bytes, or one of the special
markers ``FIFO``, ``DEVZERO``, ``FOLDER``, ``MISSING`` for paths that are not files.
``ACCEPTED`` lists the ids that are valid files (they must load and behave); every other
entry must be refused with a line naming the file.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rigctl.hardware import DEFAULT_RIG_PATH
from tests.conftest import ROOT

FIFO, DEVZERO, FOLDER, MISSING = b"<fifo>", b"<dev/zero>", b"<folder>", b"<missing>"

PAPER = json.loads((ROOT / "protocols" / "theta-25-50.json").read_text(encoding="utf-8"))
RIG = DEFAULT_RIG_PATH.read_text(encoding="utf-8")


def _edit(fn: Callable[[dict[str, Any]], None]) -> bytes:
    data = copy.deepcopy(PAPER)
    fn(data)
    return json.dumps(data).encode()


def _set(path: str, value: Any) -> bytes:
    """The paper protocol with the dotted ``path`` (``induction.phases.0.pre``) set."""

    def fn(data: dict[str, Any]) -> None:
        node: Any = data
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        node[parts[-1]] = value

    return _edit(fn)


def _raw(path: str, literal: bytes) -> bytes:
    """The paper protocol with the JSON text at ``path`` replaced by ``literal`` verbatim."""
    return _set(path, "@@RAW@@").replace(b'"@@RAW@@"', literal, 1)


def _long(jittered: bool = False) -> bytes:
    def fn(data: dict[str, Any]) -> None:
        pre: dict[str, Any] = {"rate_hz": 500, "pulse_width_us": 100}
        if jittered:
            pre.update(timing="jittered", jitter_ms=0.5, seed=3)
        data["induction"] = {
            "phases": [
                {
                    "name": f"p{i}",
                    "duration_ms": 10_000,
                    "pre": pre,
                    "post": {"target_rate_hz": 50, "current_pa": 200},
                }
                for i in range(6)
            ],
            "window_ms": 60_000,
            "gap_ms": 0,
            "repeats": 59,
            "lead_in_ms": 60_000,
        }

    return _edit(fn)


def _long_too() -> bytes:
    def fn(data: dict[str, Any]) -> None:
        data["induction"]["repeats"] = 1000
        data["induction"]["gap_ms"] = 600_000

    return _edit(fn)


P0 = "induction.phases.0"
GOOD_PROTOCOL = json.dumps(PAPER).encode()

PROTOCOLS: list[tuple[str, bytes]] = [
    ("rate-true", _set(f"{P0}.pre.rate_hz", True)),
    ("rate-string", _set(f"{P0}.pre.rate_hz", "25")),
    ("rate-padded-string", _set(f"{P0}.pre.rate_hz", " 1.6e2 ")),
    ("repeats-true", _set("induction.repeats", True)),
    ("repeats-float", _set("induction.repeats", 10.0)),
    ("repeats-string", _set("induction.repeats", "10")),
    ("created-zero", _set("metadata.created", 0)),
    ("created-true", _set("metadata.created", True)),
    ("name-number", _set("metadata.name", 5)),
    ("name-newline", _set("metadata.name", "a\nb")),
    ("name-nul", _set("metadata.name", "a\x00b")),
    ("tag-newline", _set("metadata.tags", ["ok", "x\ny"])),
    ("phase-name-tab", _set(f"{P0}.name", "pre\tdiction")),
    ("author-number", _set("metadata.author", 42)),
    ("description-null", _set("metadata.description", None)),
    ("current-string", _set(f"{P0}.post.current_pa", "100")),
    ("current-true", _set(f"{P0}.post.current_pa", True)),
    ("seed-true", _set(f"{P0}.pre.seed", True)),
    ("seed-float", _set(f"{P0}.pre.seed", 1.5)),
    ("timing-number", _set(f"{P0}.pre.timing", 1)),
    ("format-number", _set("format", 1)),
    ("schema-true", _set("schema_version", True)),
    ("schema-float", _set("schema_version", 1.0)),
    ("interval-true", _set("probes.interval_s", True)),
    ("step-string", _set("probes.test_step.amplitude_pa", "-10")),
    ("nan", _raw(f"{P0}.pre.rate_hz", b"NaN")),
    ("infinity", _raw("induction.gap_ms", b"Infinity")),
    ("minus-infinity", _raw("induction.gap_ms", b"-Infinity")),
    ("float-overflow", _raw("induction.gap_ms", b"1e400")),
    ("huge-int", _raw("induction.repeats", b"9" * 30)),
    ("giant-int", _raw("induction.repeats", b"9" * 5000)),
    ("dup-top", b'{"format": "rigctl.experiment", "format": "rigctl.experiment"}'),
    ("dup-nested", _raw(f"{P0}.pre.rate_hz", b'25, "rate_hz": 26')),
    ("deep-json", b"[" * 100_000 + b"]" * 100_000),
    ("deep-40", b'{"a":' * 40 + b"1" + b"}" * 40),
    ("bom-garbage", b"\xef\xbb\xbf{"),
    ("utf16", GOOD_PROTOCOL.decode().encode("utf-16")),
    ("latin1", GOOD_PROTOCOL.replace(b'"name": "', b'"name": "\xe9', 1)),
    ("empty", b""),
    ("whitespace", b"  \n\t "),
    ("null", b"null"),
    ("list", b"[]"),
    ("truncated", GOOD_PROTOCOL[: len(GOOD_PROTOCOL) // 2]),
    ("trailing-comma", GOOD_PROTOCOL[:-1] + b",}"),
    ("comment", b"// hi\n" + GOOD_PROTOCOL),
    ("too-large", b'{"metadata": {"description": "' + b"x" * 1_100_000 + b'"}}'),
    ("binary", bytes(range(256)) * 4),
    ("nul-bytes", b"\x00" * 100),
    ("fifo", FIFO),
    ("dev-zero", DEVZERO),
    ("folder", FOLDER),
    ("missing", MISSING),
    ("phases-33", _set("induction.phases", [PAPER["induction"]["phases"][0]] * 33)),
    ("phases-dict", _set("induction.phases", {"a": 1})),
    ("pre-null", _set(f"{P0}.pre", None)),
    ("post-list", _set(f"{P0}.post", [1, 2])),
    ("onset-huge", _set(f"{P0}.pre.onset_ms", 1e300)),
    ("duration-tiny", _set(f"{P0}.duration_ms", 1e-300)),
    ("name-long", _set("metadata.name", "x" * 300)),
    ("extra-field", _set("metadata.colour", "red")),
    ("typo", _set(f"{P0}.pre.rat_hz", 25)),
    ("too-long-induction", _long_too()),
    ("baseline-huge", _set("probes.baseline_min", 1e308)),
    ("key-newline", _set("metadata.na\nme", "x")),
    ("key-huge", _set("metadata." + "k" * 100_000, 1)),
    ("name-surrogate", _raw("metadata.name", b'"\\ud800x"')),
    ("name-line-separator", _set("metadata.name", "a\u2028b")),
    ("trailing-newline-name", _set("metadata.name", "theta\n")),
]


def _merging_jitter(data: dict[str, Any]) -> None:
    """Jittered pulses kept inside their phase: the last of one phase can end where the
    first of the next starts (both clamped to the boundary): valid, but they merge."""
    first, second = data["induction"]["phases"]
    first["pre"] = {"rate_hz": 10, "onset_ms": 90, "timing": "jittered", "jitter_ms": 40}
    second["pre"] = {"rate_hz": 10, "onset_ms": 0, "timing": "jittered", "jitter_ms": 40}


# Valid files the rig must still refuse (or handle) without output before the refusal.
PROTOCOLS_VALID: list[tuple[str, bytes]] = [
    ("good", GOOD_PROTOCOL),
    ("bom-good", b"\xef\xbb\xbf" + GOOD_PROTOCOL),
    ("long-500hz", _long()),
    ("long-500hz-jittered", _long(jittered=True)),
    ("current-3000", _set(f"{P0}.post.current_pa", 3000)),
    ("rate-over-rig-limit", _set(f"{P0}.pre.rate_hz", 200)),
    ("short-pulse", _set(f"{P0}.pre.pulse_width_us", 10)),
    ("short-step", _set(f"{P0}.post.lag_ms", 99.99)),
    ("jitter-merges", _edit(_merging_jitter)),
]
"""Valid protocols: ``validate`` may refuse some (sampling), runs must refuse most."""


def _rig(old: str, new: str) -> bytes:
    assert old in RIG, old
    return RIG.replace(old, new, 1).encode()


def _drop_section(name: str) -> bytes:
    out, skip = [], False
    for line in RIG.splitlines():
        if line.startswith("["):
            skip = line.strip() == f"[{name}]"
        if not skip:
            out.append(line)
    return "\n".join(out).encode()


RIGS: list[tuple[str, bytes]] = [
    ("no-limits", _drop_section("limits")),
    ("no-command", _drop_section("channels.command")),
    ("no-vm", _drop_section("channels.vm")),
    ("no-stim", _drop_section("channels.stim")),
    ("no-amplifier", _drop_section("amplifier")),
    ("no-scale", _rig("scale_pa_per_v = 400.0", "")),
    ("no-mv-per-mv", _rig("mv_per_mv = 10.0", "")),
    ("no-terminal", _rig('terminal = "SimDev1/ao0"', "")),
    ("no-max-command", _rig("max_command_pa = 600.0", "")),
    ("limit-string", _rig("max_command_pa = 600.0", 'max_command_pa = "600"')),
    ("limit-true", _rig("max_command_pa = 600.0", "max_command_pa = true")),
    ("limit-nan", _rig("max_command_pa = 600.0", "max_command_pa = nan")),
    ("limit-inf", _rig("max_command_pa = 600.0", "max_command_pa = inf")),
    ("limit-over-ao", _rig("max_command_pa = 600.0", "max_command_pa = 5000")),
    ("rate-true", _rig("sample_rate_hz = 20000", "sample_rate_hz = true")),
    ("rate-string", _rig("sample_rate_hz = 20000", 'sample_rate_hz = "20000"')),
    ("name-newline", _rig('name = "Simulated CA1 rig"', 'name = "a\\nb"')),
    ("name-nul", _rig('name = "Simulated CA1 rig"', 'name = "a\\u0000b"')),
    ("name-number", _rig('name = "Simulated CA1 rig"', "name = 3")),
    ("name-date", _rig('name = "Simulated CA1 rig"', "name = 1979-05-27")),
    ("terminal-number", _rig('terminal = "SimDev1/ao0"', "terminal = 5")),
    ("plasticity-int", _rig("plasticity = true", "plasticity = 1")),
    ("plasticity-string", _rig("plasticity = true", 'plasticity = "yes"')),
    ("seed-true", _rig("seed = 0", "seed = true")),
    ("seed-float", _rig("seed = 0", "seed = 1.5")),
    ("deep-inline", b"x = " + b"{a = " * 2000 + b"1" + b"}" * 2000),
    ("deep-array", b"x = " + b"[" * 5000 + b"]" * 5000),
    ("deep-40", b"x = " + b"[" * 40 + b"]" * 40),
    ("giant-int", _rig("seed = 0", "seed = " + "9" * 5000)),
    ("huge-int", _rig("seed = 0", "seed = " + "9" * 30)),
    ("dup-key", _rig("seed = 0", "seed = 0\nseed = 1")),
    ("dup-table", _rig("[sim]", "[limits]\n[sim]")),
    ("utf16", RIG.encode("utf-16")),
    ("empty", b""),
    ("nul-byte", RIG.encode() + b"\x00"),
    ("binary", bytes(range(256)) * 4),
    ("fifo", FIFO),
    ("dev-zero", DEVZERO),
    ("folder", FOLDER),
    ("missing", MISSING),
    ("ao-stim-no-high", _rig('kind = "do"', 'kind = "ao"')),
    ("backend-unknown", _rig('backend = "sim"', 'backend = "labview"')),
    ("schema-true", _rig("schema_version = 1", "schema_version = true")),
    ("schema-2", _rig("schema_version = 1", "schema_version = 2")),
    ("format-wrong", _rig('format = "rigctl.rig"', 'format = "rigctl.experiment"')),
    ("unknown-section", RIG.encode() + b"\n[extras]\nx = 1\n"),
    ("too-large", RIG.encode() + b"\n# " + b"x" * 300_000 + b"\n"),
    ("sample-too-slow", _rig("max_pulse_width_us = 500.0", "max_pulse_width_us = 40.0")),
    ("limit-huge-float", _rig("max_command_pa = 600.0", "max_command_pa = 1e400")),
    ("key-newline", RIG.encode() + b'\n[extra]\n"a\\nb" = 1\n'),
    ("gain-too-high", _rig("primary_gain = 2.0", "primary_gain = 200.0")),
    ("bad-utf8", RIG.encode().replace(b"seed = 0", b"seed = 0 # caf\xe9", 1)),
]

RIGS_VALID: list[tuple[str, bytes]] = [
    ("good", RIG.encode()),
    ("bom", b"\xef\xbb\xbf" + RIG.encode()),
    ("v-clamp", _rig('mode = "I-Clamp"', 'mode = "V-Clamp"')),
    ("i-zero", _rig('mode = "I-Clamp"', 'mode = "I=0"')),
    ("short-sweeps", _rig("max_sweep_s = 120.0", "max_sweep_s = 0.5")),
    ("low-rate-limit", _rig("max_stim_rate_hz = 100.0", "max_stim_rate_hz = 20.0")),
]
"""Valid rig files: they load, and runs that break them are refused before output."""


def materialize(folder: Path, name: str, content: bytes) -> Path:
    """Write ``content`` (or make the special path) as ``folder/name``; return the path."""
    path = folder / name
    if content is FIFO:
        os.mkfifo(path)
    elif content is DEVZERO:
        return Path("/dev/zero")
    elif content is FOLDER:
        path.mkdir()
    elif content is MISSING:
        return folder / f"{name}-does-not-exist"
    else:
        path.write_bytes(content)
    return path
