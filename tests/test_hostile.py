"""Every command over a corpus of hostile files: no traceback, no hang, one line per problem.

Each file of :mod:`tests.hostile_corpus` goes through ``validate``, ``show``, ``compile``,
``predict``, ``sweep`` and ``run`` in-process (``rigctl.cli.main``) under a watchdog that
fails the test after 20 s instead of hanging the suite. An invalid file must be refused
with exit status 1 and every line must start with the file's path; a run that is refused
must leave no data folder.
"""

from __future__ import annotations

import contextlib
import io
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from rigctl.cli import main
from tests import hostile_corpus as hc

WATCHDOG_S = 20


class Hang(Exception):  # noqa: N818 - what happened
    pass


@contextlib.contextmanager
def watchdog(seconds: int = WATCHDOG_S) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread if the block lasts longer than ``seconds``."""

    def fire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def call(argv: list[str]) -> tuple[int, str]:
    """Run ``rigctl argv`` in-process; (exit status, stdout + stderr). No exception escapes."""
    out, err = io.StringIO(), io.StringIO()
    with watchdog(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exc:  # argparse
            status = int(exc.code or 0)
    return status, out.getvalue() + err.getvalue()


def _commands(f: Path, tmp: Path) -> list[list[str]]:
    return [
        ["validate", str(f)],
        ["show", str(f)],
        ["compile", str(f), "--out", str(tmp / "out.npz")],
        ["predict", str(f)],
        ["sweep", str(f), "--out", str(tmp / "sweep.npz")],
        ["run", str(f), "--fast", "--no-nwb", "--out", str(tmp / "run")],
    ]


@pytest.mark.parametrize(("name", "content"), hc.PROTOCOLS, ids=[n for n, _ in hc.PROTOCOLS])
def test_hostile_protocol_files_are_refused_by_every_command(
    tmp_path: Path, name: str, content: bytes
) -> None:
    f = hc.materialize(tmp_path, f"{name}.json", content)
    for argv in _commands(f, tmp_path):
        status, text = call(argv)
        lines = [ln for ln in text.splitlines() if ln.strip()]
        assert status == 1, (argv[0], text)
        assert lines, argv[0]
        for line in lines:
            assert line.startswith(f"{f}: "), (argv[0], line)
            assert "Traceback" not in line
    assert not (tmp_path / "run").exists()
    assert not (tmp_path / "out.npz").exists() and not (tmp_path / "sweep.npz").exists()


REFUSED_BY_THE_RIG = ["current-3000", "rate-over-rig-limit", "short-pulse", "short-step"]


@pytest.mark.parametrize("name", REFUSED_BY_THE_RIG)
def test_valid_protocols_a_rig_refuses_leave_nothing_behind(tmp_path: Path, name: str) -> None:
    f = hc.materialize(tmp_path, f"{name}.json", dict(hc.PROTOCOLS_VALID)[name])
    for argv in _commands(f, tmp_path)[4:]:
        status, text = call(argv)
        assert status == 1 and text.startswith(f"{f}: refused, nothing was output: "), text
    assert not (tmp_path / "run").exists() and not (tmp_path / "sweep.npz").exists()


def test_long_protocols_stay_fast(tmp_path: Path) -> None:
    for name in ("long-500hz", "long-500hz-jittered"):
        f = hc.materialize(tmp_path, f"{name}.json", dict(hc.PROTOCOLS_VALID)[name])
        assert call(["validate", str(f)]) == (0, f"{f}: ok\n")
        status, text = call(["show", str(f)])
        assert status == 0 and "1770000 pulses" in text
        status, text = call(["compile", str(f), "--out", str(tmp_path / "x.npz")])
        assert status == 1 and "over compile's budget of 6,000,000 samples" in text
        assert "--rate 1666 or lower" in text
        status, text = call(["run", str(f), "--fast", "--no-nwb", "--out", str(tmp_path / "r")])
        assert status == 1 and "max_sweep_s" in text and not (tmp_path / "r").exists()


@pytest.mark.parametrize(("name", "content"), hc.RIGS, ids=[n for n, _ in hc.RIGS])
def test_hostile_rig_files_are_refused(tmp_path: Path, name: str, content: bytes) -> None:
    rig = hc.materialize(tmp_path, f"{name}.toml", content)
    protocol = tmp_path / "p.json"
    protocol.write_bytes(hc.GOOD_PROTOCOL)
    for argv in (
        ["sweep", str(protocol), "--rig", str(rig), "--which", "probe", "--out", "s.npz"],
        ["run", str(protocol), "--rig", str(rig), "--fast", "--no-nwb", "--out", "r"],
    ):
        status, text = call([*argv[:-1], str(tmp_path / argv[-1])])
        lines = [ln for ln in text.splitlines() if ln.strip()]
        assert status == 1 and lines, text
        assert all(ln.startswith(f"{rig}: ") for ln in lines), text
    assert not (tmp_path / "r").exists() and not (tmp_path / "s.npz").exists()


@pytest.mark.parametrize("name", ["v-clamp", "i-zero", "short-sweeps", "low-rate-limit"])
def test_valid_rig_files_that_refuse_the_paper_run(tmp_path: Path, name: str) -> None:
    rig = hc.materialize(tmp_path, f"{name}.toml", dict(hc.RIGS_VALID)[name])
    protocol = tmp_path / "p.json"
    protocol.write_bytes(hc.GOOD_PROTOCOL)
    argv = ["run", str(protocol), "--rig", str(rig), "--fast", "--no-nwb"]
    status, text = call([*argv, "--out", str(tmp_path / "r")])
    assert status == 1 and text.startswith(f"{protocol}: refused, nothing was output: ")
    assert f"(rig file {rig}: " in text
    assert not (tmp_path / "r").exists()


def test_corpus_sizes() -> None:
    assert len(hc.PROTOCOLS) >= 60 and len(hc.RIGS) >= 45
