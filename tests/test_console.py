"""Windows-safe I/O: legacy console encodings, closed pipes, busy files, option help."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rigctl import protocol as proto
from rigctl.cli import build_parser, main
from rigctl.cli._console import ASCII_FALLBACKS, BROKEN_PIPE_STATUS, make_console_safe
from rigctl.protocol import io as proto_io
from tests.conftest import PROTOCOLS, ROOT


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONIOENCODING")}
    env.update(PYTHONPATH=str(ROOT), **extra)
    return env


def _rigctl(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "rigctl", *args],
        capture_output=True,
        cwd=cwd,
        env=_env(**env),
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def short_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fast run of the 25 -> 50 Hz protocol with 1 min baseline and 2 min follow-up."""
    root = tmp_path_factory.mktemp("rec")
    exp = proto.load(PROTOCOLS / "theta-25-50.json")
    short = root / "short.json"
    proto.save(exp.replace(probes=exp.probes.replace(baseline_min=1, followup_min=2)), short)
    folder = root / "run"
    args = ["run", str(short), "--out", str(folder), "--fast", "--no-nwb", "--seed", "1"]
    assert main(args) == 0
    return folder


def test_cp1252_console_prints_ascii_stand_ins(short_recording: Path) -> None:
    files = [str(p.relative_to(ROOT)) for p in sorted(PROTOCOLS.glob("*.json"))]
    predict = _rigctl("predict", *files, PYTHONIOENCODING="cp1252")
    assert predict.returncode == 0, predict.stderr.decode("cp1252")
    text = predict.stdout.decode("cp1252")
    assert "Hebbian coincidence int ca dt" in text  # ∫ has no cp1252 code
    assert "± " in text  # ± has one: kept
    show = _rigctl("show", "protocols/ramp-10-25-50-jittered.json", PYTHONIOENCODING="cp1252")
    assert show.returncode == 0, show.stderr.decode("cp1252")
    assert "µs" in show.stdout.decode("cp1252") and "->" in show.stdout.decode("cp1252")
    summary = _rigctl(
        "summarize", str(short_recording), "--window", "0", "1", PYTHONIOENCODING="cp1252"
    )
    assert summary.returncode == 0, summary.stderr.decode("cp1252")
    assert b"Traceback" not in summary.stderr and summary.stdout.strip()


def test_ascii_console_falls_back_for_every_symbol() -> None:
    res = _rigctl("show", "protocols/ramp-10-25-50-jittered.json", PYTHONIOENCODING="ascii")
    assert res.returncode == 0, res.stderr.decode("ascii", "replace")
    text = res.stdout.decode("ascii")  # would raise if anything non-ASCII got through
    assert "(jitter +/-" in text and "us" in text


def test_make_console_safe_leaves_utf8_alone_and_fixes_legacy(tmp_path: Path) -> None:
    with (tmp_path / "u.txt").open("w", encoding="utf-8") as utf8:
        make_console_safe(utf8)
        assert utf8.errors == "strict"
    with (tmp_path / "c.txt").open("w", encoding="cp1252") as legacy:
        make_console_safe(legacy)
        legacy.write("".join(ASCII_FALLBACKS) + " ok")
    written = (tmp_path / "c.txt").read_text(encoding="cp1252")
    assert written.startswith("int ->") and written.endswith(" ok")


@pytest.mark.parametrize("command", ["devices", "schema", "protocols"])
def test_a_closed_pipe_ends_quietly(command: str) -> None:
    # The reader is gone before rigctl writes a byte: deterministic, unlike racing `head`.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "rigctl", command],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=_env(),
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert proc.stderr == b""  # no traceback, no "Exception ignored" at exit
    assert proc.returncode == BROKEN_PIPE_STATUS


def test_head_reads_the_first_line(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rigctl", "schema"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == b"{\n"
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) in (0, BROKEN_PIPE_STATUS)  # 0 if it all fit in the pipe
    assert b"Traceback" not in err and b"Exception ignored" not in err


# --------------------------------------------------------------------------- busy files


def test_write_atomic_retries_while_another_program_holds_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "p.json"
    target.write_bytes(b"old")
    real_replace = os.replace
    calls: list[str] = []
    pauses: list[float] = []

    def busy_twice(src: str, dst: str) -> None:
        calls.append(str(dst))
        if len(calls) <= 2:
            raise PermissionError(13, "The process cannot access the file", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", busy_twice)
    monkeypatch.setattr(time, "sleep", pauses.append)
    assert proto.write_atomic(target, b"new") == target
    assert target.read_bytes() == b"new"
    assert len(calls) == 3 and pauses == list(proto_io.REPLACE_RETRY_S[:2])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]


def test_write_atomic_gives_up_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "p.json"
    target.write_bytes(b"old")
    pauses: list[float] = []

    def always_busy(src: str, dst: str) -> None:
        raise PermissionError(13, "The process cannot access the file", str(dst))

    monkeypatch.setattr(os, "replace", always_busy)
    monkeypatch.setattr(time, "sleep", pauses.append)
    with pytest.raises(PermissionError):
        proto.write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert pauses == list(proto_io.REPLACE_RETRY_S)
    assert 0.5 <= sum(pauses) <= 2.0  # about a second, then the user hears about it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]  # no temp file left


# --------------------------------------------------------------------------- portability

_POSIX_ONLY = re.compile(
    r"\bos\.(fork|getuid|geteuid|getgid|killpg|setsid|uname|getpgid|mkfifo)\b"
    r"|\bsignal\.(SIGKILL|SIGHUP|SIGQUIT|SIGUSR1|SIGUSR2|SIGALRM|alarm|pause)\b"
    r"|^\s*(import|from)\s+(fcntl|pwd|grp|termios|resource|posix)\b"
    r"|[\"']/tmp/"
)


def test_no_posix_only_calls_in_the_package() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in sorted((ROOT / "rigctl").rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _POSIX_ONLY.search(line)
    ]
    assert found == [], "POSIX-only calls (guard them for Windows):\n" + "\n".join(found)


# --------------------------------------------------------------------------- help texts


def _parsers(
    parser: argparse.ArgumentParser, name: str
) -> list[tuple[str, argparse.ArgumentParser]]:
    out = [(name, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                out += _parsers(sub, f"{name} {sub_name}")
    return out


def test_every_option_and_command_has_help() -> None:
    missing = []
    for name, parser in _parsers(build_parser(), "rigctl"):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._VersionAction):
                continue
            if isinstance(action, argparse._SubParsersAction):
                helps = {a.dest: a.help for a in action._choices_actions}
                missing += [f"{name} {cmd}" for cmd in action.choices if not helps.get(cmd)]
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []
