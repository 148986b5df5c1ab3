"""A table of invalid experiments and the one-line message each must produce."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from rigctl import protocol as proto

PRE0 = ("induction", "phases", 0, "pre")
POST0 = ("induction", "phases", 0, "post")


def _set(data: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _delete(data: dict[str, Any], path: tuple[str | int, ...]) -> None:
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]


# (id, edits as (path, value) — value _DEL deletes —, expected field path, message fragment)
_DEL = object()
CASES: list[tuple[str, list[tuple[tuple[str | int, ...], Any]], str, str]] = [
    (
        "negative rate",
        [((*PRE0, "rate_hz"), -5)],
        "induction.phases[0].pre.rate_hz",
        "greater than 0 (got -5)",
    ),
    ("zero rate", [((*PRE0, "rate_hz"), 0)], "induction.phases[0].pre.rate_hz", "greater than 0"),
    (
        "rate too fast for pulse",
        [((*PRE0, "rate_hz"), 400), ((*PRE0, "pulse_width_us"), 2000)],
        "induction.phases[0].pre.rate_hz",
        "too fast for 2000 µs pulses",
    ),
    ("absurd rate", [((*PRE0, "rate_hz"), 5000)], "induction.phases[0].pre.rate_hz", "at most 500"),
    (
        "zero pulse width",
        [((*PRE0, "pulse_width_us"), 0)],
        "induction.phases[0].pre.pulse_width_us",
        "greater than 0",
    ),
    (
        "pulse too long",
        [((*PRE0, "pulse_width_us"), 20000)],
        "induction.phases[0].pre.pulse_width_us",
        "at most 5000",
    ),
    (
        "rate as string",
        [((*PRE0, "rate_hz"), "fast")],
        "induction.phases[0].pre.rate_hz",
        "must be a number (got a string 'fast')",
    ),
    (
        "unknown timing",
        [((*PRE0, "timing"), "poisson")],
        "induction.phases[0].pre.timing",
        "'regular' or 'jittered'",
    ),
    (
        "jitter overlaps",
        [((*PRE0, "timing"), "jittered"), ((*PRE0, "jitter_ms"), 30)],
        "induction.phases[0].pre.jitter_ms",
        "neighbouring pulses overlap",
    ),
    (
        "negative jitter",
        [((*PRE0, "jitter_ms"), -1)],
        "induction.phases[0].pre.jitter_ms",
        "at least 0",
    ),
    (
        "onset outside phase",
        [((*PRE0, "onset_ms"), 150)],
        "induction.phases[0].pre.onset_ms",
        "outside the 100 ms phase",
    ),
    (
        "last pulse straddles phase end",
        [((*PRE0, "rate_hz"), 10.005)],
        "induction.phases[0].pre.rate_hz",
        "after the 100 ms phase",
    ),
    (
        "negative post rate",
        [((*POST0, "target_rate_hz"), -25)],
        "induction.phases[0].post.target_rate_hz",
        "at least 0",
    ),
    (
        "current without drive",
        [((*POST0, "target_rate_hz"), 0), ((*POST0, "current_pa"), 100)],
        "induction.phases[0].post.current_pa",
        "target_rate_hz is 0",
    ),
    (
        "absurd current",
        [((*POST0, "current_pa"), 1e6)],
        "induction.phases[0].post.current_pa",
        "at most 5000",
    ),
    (
        "lag beyond phase",
        [((*POST0, "lag_ms"), 100)],
        "induction.phases[0].post.lag_ms",
        "leaves no drive",
    ),
    (
        "zero-length phase",
        [(("induction", "phases", 0, "duration_ms"), 0)],
        "induction.phases[0].duration_ms",
        "greater than 0",
    ),
    (
        "empty phase name",
        [(("induction", "phases", 0, "name"), "  ")],
        "induction.phases[0].name",
        "must not be empty",
    ),
    (
        "duplicate phase names",
        [(("induction", "phases", 1, "name"), "prediction")],
        "induction.phases",
        "must be unique",
    ),
    ("no phases", [(("induction", "phases"), [])], "induction.phases", "at least 1"),
    (
        "phases exceed window",
        [(("induction", "window_ms"), 150)],
        "induction.window_ms",
        "do not fit in a 150 ms window",
    ),
    ("zero repeats", [(("induction", "repeats"), 0)], "induction.repeats", "at least 1"),
    ("fractional repeats", [(("induction", "repeats"), 2.5)], "induction.repeats", "whole number"),
    (
        "negative gap",
        [(("induction", "gap_ms"), -400)],
        "induction.gap_ms",
        "at least 0 (got -400)",
    ),
    (
        "depolarizing test step",
        [(("probes", "test_step", "amplitude_pa"), 10)],
        "probes.test_step.amplitude_pa",
        "less than 0",
    ),
    (
        "huge test step",
        [(("probes", "test_step", "amplitude_pa"), -500)],
        "probes.test_step.amplitude_pa",
        "at least -50",
    ),
    (
        "probe interval too short",
        [(("probes", "interval_s"), 1)],
        "probes.interval_s",
        "at least 5",
    ),
    (
        "test step past sweep end",
        [(("probes", "test_step", "duration_ms"), 950)],
        "probes.test_step",
        "not before the end",
    ),
    (
        "probe rides on test step",
        [(("probes", "probe", "time_ms"), 200)],
        "probes.probe.time_ms",
        "inside the test step",
    ),
    (
        "probe too late for an EPSP",
        [(("probes", "probe", "time_ms"), 980)],
        "probes.probe.time_ms",
        "less than the 50 ms",
    ),
    (
        "baseline shorter than interval",
        [(("probes", "baseline_min"), 0.1)],
        "probes.baseline_min",
        "holds no probe",
    ),
    (
        "unknown field",
        [((*PRE0, "rat_hz"), 25)],
        "induction.phases[0].pre.rat_hz",
        "did you mean 'rate_hz'",
    ),
    ("unknown top-level field", [(("inducton",), {})], "inducton", "did you mean 'induction'"),
    (
        "missing rate",
        [((*PRE0, "rate_hz"), _DEL)],
        "induction.phases[0].pre.rate_hz",
        "required but missing",
    ),
    ("missing metadata", [(("metadata",), _DEL)], "metadata", "required but missing"),
    ("empty name", [(("metadata", "name"), "")], "metadata.name", "must not be empty"),
    (
        "phases not a list",
        [(("induction", "phases"), {"name": "x"})],
        "induction.phases",
        "must be a list",
    ),
    ("pre not an object", [((*PRE0,), 25)], "induction.phases[0].pre", "must be an object"),
    ("bad created date", [(("metadata", "created"), "yesterday")], "metadata.created", "datetime"),
    ("wrong format", [(("format",), "axon.params")], "format", "not a rigctl experiment file"),
    ("future version", [(("schema_version",), 99)], "schema_version", "newer than this rigctl"),
    ("version as text", [(("schema_version",), "1")], "schema_version", "whole number"),
    # strict types: no bool -> number, no text -> number, no number -> text
    (
        "rate true",
        [((*PRE0, "rate_hz"), True)],
        "induction.phases[0].pre.rate_hz",
        "got true/false",
    ),
    (
        "rate numeric string",
        [((*PRE0, "rate_hz"), "25")],
        "induction.phases[0].pre.rate_hz",
        "must be a number (got a string '25')",
    ),
    (
        "rate padded string",
        [((*PRE0, "rate_hz"), " 1.6e2 ")],
        "induction.phases[0].pre.rate_hz",
        "must be a number",
    ),
    ("repeats true", [(("induction", "repeats"), True)], "induction.repeats", "whole number"),
    ("repeats 10.0", [(("induction", "repeats"), 10.0)], "induction.repeats", "whole number"),
    ("repeats text", [(("induction", "repeats"), "10")], "induction.repeats", "whole number"),
    ("created 0", [(("metadata", "created"), 0)], "metadata.created", "date and time as text"),
    (
        "created true",
        [(("metadata", "created"), True)],
        "metadata.created",
        "date and time as text",
    ),
    ("name number", [(("metadata", "name"), 5)], "metadata.name", "must be text in quotes"),
    ("name newline", [(("metadata", "name"), "a\nb")], "metadata.name", "control characters"),
    ("name NUL", [(("metadata", "name"), "a\x00b")], "metadata.name", "control characters"),
    ("tag newline", [(("metadata", "tags"), ["a\nb"])], "metadata.tags[0]", "control"),
    (
        "phase name tab",
        [(("induction", "phases", 0, "name"), "a\tb")],
        "induction.phases[0].name",
        "control characters",
    ),
    (
        "description NUL",
        [(("metadata", "description"), "x\x00")],
        "metadata.description",
        "control characters other than newlines",
    ),
    ("author number", [(("metadata", "author"), 42)], "metadata.author", "text in quotes"),
    (
        "current as text",
        [((*POST0, "current_pa"), "100")],
        "induction.phases[0].post.current_pa",
        "must be a number (got a string '100')",
    ),
    (
        "current true",
        [((*POST0, "current_pa"), True)],
        "induction.phases[0].post.current_pa",
        "got true/false",
    ),
    ("seed true", [((*PRE0, "seed"), True)], "induction.phases[0].pre.seed", "whole number"),
    ("seed 1.5", [((*PRE0, "seed"), 1.5)], "induction.phases[0].pre.seed", "whole number"),
    ("timing number", [((*PRE0, "timing"), 1)], "induction.phases[0].pre.timing", "one of"),
    ("version true", [(("schema_version",), True)], "schema_version", "whole number"),
    ("interval true", [(("probes", "interval_s"), True)], "probes.interval_s", "a number"),
    (
        "step as text",
        [(("probes", "test_step", "amplitude_pa"), "-10")],
        "probes.test_step.amplitude_pa",
        "must be a number",
    ),
    ("tags not a list", [(("metadata", "tags"), "a,b")], "metadata.tags", "must be a list"),
    (
        "phases of numbers",
        [(("induction", "phases"), [1])],
        "induction.phases[0]",
        "must be an object",
    ),
    ("window as text", [(("induction", "window_ms"), "200")], "induction.window_ms", "a number"),
]


@pytest.mark.parametrize(
    ("edits", "path", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_invalid_input_is_refused_with_one_clear_line(
    paper_data: dict[str, Any],
    tmp_path: Path,
    edits: list[tuple[tuple[str | int, ...], Any]],
    path: str,
    fragment: str,
) -> None:
    data = copy.deepcopy(paper_data)
    for where, value in edits:
        if value is _DEL:
            _delete(data, where)
        else:
            _set(data, where, value)
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(data))
    with pytest.raises(proto.ProtocolFileError) as info:
        proto.load(f)
    lines = info.value.lines()
    expected_prefix = f"{f}: {path}: "
    match = [ln for ln in lines if ln.startswith(expected_prefix)]
    assert match, f"no problem at {path!r} in {lines}"
    assert fragment in match[0], match[0]
    # One sentence for the user: a single line naming the file, never a traceback.
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(f))
    assert "Traceback" not in msg and "pydantic" not in msg.lower()


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 40
