from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rigctl import protocol as proto
from tests.conftest import PROTOCOLS


def _write(tmp_path: Path, content: str | bytes, name: str = "p.json") -> Path:
    f = tmp_path / name
    if isinstance(content, bytes):
        f.write_bytes(content)
    else:
        f.write_text(content, encoding="utf-8")
    return f


def _refusal(path: Path) -> str:
    with pytest.raises(proto.ProtocolFileError) as info:
        proto.load(path)
    msg = str(info.value)
    assert msg.startswith(str(path)) and "\n" not in msg
    return msg


def test_round_trip(tmp_path: Path) -> None:
    exp = proto.paper_condition(50, 25)
    f = proto.save(exp, tmp_path / "x.json")
    assert proto.load(f) == exp
    assert proto.loads(proto.dumps(exp)) == exp
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_save_is_atomic_when_serialisation_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = proto.save(proto.paper_condition(25, 25), tmp_path / "keep.json")
    before = target.read_bytes()

    def boom(*_: Any, **__: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        proto.save(proto.paper_condition(50, 50), target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.json"]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("", "truncated or not valid JSON"),
        ('{"format": "rigctl.experiment", "schema_version": 1, "metadata": {"na', "truncated"),
        ("format = 'toml'", "is not valid JSON"),
        ("[1, 2, 3]", "must hold a JSON object, not a list"),
        ('"just a string"', "not a string"),
        ('{"format": "rigctl.experiment", "format": "x"}', "appears twice"),
        ('{"rate_hz": NaN}', "NaN is not a number JSON allows"),
        ('{"rate_hz": Infinity}', "Infinity"),
        ('{"schema_version": 1}', "format: this is not a rigctl experiment file (it is missing"),
        ("[" * 100_000, "nested more than 32 levels deep"),
    ],
)
def test_malformed_files(tmp_path: Path, content: str, fragment: str) -> None:
    assert fragment in _refusal(_write(tmp_path, content))


def test_binary_and_missing_and_folder(tmp_path: Path) -> None:
    assert "not a text file" in _refusal(_write(tmp_path, b"\x89PNG\r\n\x1a\n\xff\xfe\x00"))
    assert "does not exist" in _refusal(tmp_path / "nope.json")
    assert "is a folder" in _refusal(tmp_path)


def test_size_cap(tmp_path: Path, paper_data: dict[str, Any]) -> None:
    paper_data["metadata"]["description"] = "x" * (proto.MAX_FILE_BYTES + 10)
    msg = _refusal(_write(tmp_path, json.dumps(paper_data)))
    assert "larger than the 1024 KiB" in msg


def test_several_problems_are_all_listed(tmp_path: Path, paper_data: dict[str, Any]) -> None:
    paper_data["induction"]["repeats"] = 0
    paper_data["induction"]["gap_ms"] = -1
    f = _write(tmp_path, json.dumps(paper_data))
    with pytest.raises(proto.ProtocolFileError) as info:
        proto.load(f)
    assert len(info.value.lines()) == 2
    assert "(and 1 more problem)" in str(info.value)


def test_migration_from_a_fake_old_version(tmp_path: Path, paper_data: dict[str, Any]) -> None:
    # Version 0 (fictional) called the field "stim_hz" and had no lead-in.
    old = json.loads(json.dumps(paper_data))
    old["schema_version"] = 0
    for ph in old["induction"]["phases"]:
        ph["pre"]["stim_hz"] = ph["pre"].pop("rate_hz")
    del old["induction"]["lead_in_ms"]

    def v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
        for ph in data["induction"]["phases"]:
            ph["pre"]["rate_hz"] = ph["pre"].pop("stim_hz")
        data["induction"]["lead_in_ms"] = 0.0
        return data

    f = _write(tmp_path, json.dumps(old))
    # Without the migration the old file is refused with a reason...
    assert "too old" in _refusal(f)
    # ...with it, it upgrades and validates.
    exp = proto.load(f, migrations={0: v0_to_v1})
    assert exp.induction.phases[1].pre.rate_hz == 50
    assert exp.induction.lead_in_ms == 0.0
    assert exp.schema_version == proto.SCHEMA_VERSION


def test_register_migration_refuses_duplicates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rigctl.protocol.io.MIGRATIONS", {})
    from rigctl.protocol import io

    io.register_migration(0)(lambda d: d)
    with pytest.raises(ValueError, match="already exists"):
        io.register_migration(0)(lambda d: d)


def test_json_schema_accepts_the_library_and_rejects_bad_data(paper_data: dict[str, Any]) -> None:
    schema = proto.json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for f in sorted(PROTOCOLS.glob("*.json")):
        validator.validate(json.loads(f.read_text()))
    paper_data["induction"]["phases"][0]["pre"]["rate_hz"] = -1
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(paper_data)
    paper_data["induction"]["phases"][0]["pre"]["rate_hz"] = 25
    paper_data["induction"]["bogus"] = 1
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(paper_data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(blob: bytes) -> None:
    try:
        proto.loads(blob, "fuzz.json")
    except proto.ProtocolFileError as exc:
        assert str(exc).startswith("fuzz.json: ")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_documents_never_crash(data: st.DataObject) -> None:
    # Replace one value somewhere in a valid document with arbitrary JSON.
    doc = json.loads(proto.dumps(proto.paper_condition(25, 50)))
    node: Any = doc
    while isinstance(node, dict | list) and node:
        keys = list(node.keys()) if isinstance(node, dict) else list(range(len(node)))
        key = data.draw(st.sampled_from(keys))
        if data.draw(st.booleans()) or not isinstance(node[key], dict | list):
            node[key] = data.draw(_json)
            break
        node = node[key]
    try:
        proto.loads(json.dumps(doc), "m.json")
    except proto.ProtocolFileError as exc:
        assert all(line.startswith("m.json: ") for line in exc.lines())


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_write_atomic_gives_the_umask_mode(tmp_path: Path, mask: int, mode: int) -> None:
    old = os.umask(mask)
    try:
        a = proto.write_atomic(tmp_path / "a.json", b"{}")
        b = proto.write_atomic(tmp_path / "b.bin", lambda tmp: tmp.write_bytes(b"by name"))
    finally:
        os.umask(old)
    assert a.stat().st_mode & 0o777 == mode and b.stat().st_mode & 0o777 == mode
    assert b.read_bytes() == b"by name"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.bin"]


def test_write_atomic_failure_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = proto.write_atomic(tmp_path / "a.json", b"old")

    def broken(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        proto.write_atomic(target, broken)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
