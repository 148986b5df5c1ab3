"""Disk and folder faults: NWB export and recover on a full or read-only disk, file modes.

The portable tests make the file system fail on purpose (a monkeypatched free-space check
or an ``OSError(ENOSPC)`` in the middle of the write). The others mount a real, tiny
``tmpfs`` (and remount it read-only); they are skipped where mounting is not permitted.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from pynwb import NWBHDF5IO  # type: ignore[import-untyped, unused-ignore]

from rigctl import protocol as proto
from rigctl.cli import main
from rigctl.engine import DataFolderError, ExperimentRunner, RunOptions, RunState, recover
from rigctl.engine.nwb import NwbExportError, export_nwb
from rigctl.hardware import SimRig, load_rig
from tests.conftest import PROTOCOLS, ROOT


class _Usage(NamedTuple):
    total: int
    used: int
    free: int


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exp = proto.load(PROTOCOLS / "theta-25-50.json")
    exp = exp.replace(probes=exp.probes.replace(baseline_min=1, followup_min=1))
    folder = tmp_path_factory.mktemp("faults") / "rec"
    result = ExperimentRunner(
        SimRig(load_rig(), seed=5), exp, folder, RunOptions(fast=True, write_nwb=False)
    ).run()
    assert result.state == RunState.DONE
    return folder


@pytest.fixture
def rec_copy(recording: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(recording, tmp_path / "rec"))


def _export_record(folder: Path) -> dict[str, Any]:
    outcome: dict[str, Any] = json.loads((folder / "recording.json").read_text())["nwb_export"]
    return outcome


def _one_sentence(text: str) -> None:
    assert text.strip() and "\n" not in text.strip() and "Traceback" not in text


# --------------------------------------------------------------------- portable faults


def test_full_disk_is_refused_before_writing_and_export_can_retry(
    rec_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _listing(rec_copy)
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: _Usage(10**9, 10**9, 4096))
    with pytest.raises(NwbExportError, match="the disk is full") as info:
        export_nwb(rec_copy)
    _one_sentence(str(info.value))
    outcome = _export_record(rec_copy)
    assert outcome["ok"] is False and "disk is full" in outcome["error"]
    after = _listing(rec_copy)
    assert {k: v for k, v in after.items() if k != "recording.json"} == {
        k: v for k, v in before.items() if k != "recording.json"
    }
    monkeypatch.undo()  # room again: the same export now works
    out = export_nwb(rec_copy)
    assert out.exists() and _export_record(rec_copy)["ok"] is True
    # recover keeps the export's outcome (it rebuilds recording.json from the journal)
    recover(rec_copy)
    assert _export_record(rec_copy)["ok"] is True


def test_enospc_in_the_middle_of_the_write_leaves_the_old_file(
    rec_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = export_nwb(rec_copy).read_bytes()
    real_fsync = os.fsync
    calls: list[int] = []

    def full(fd: int) -> None:  # the NWB's flush fails; the record's write after it works
        calls.append(fd)
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(NwbExportError, match="disk is full") as info:
        export_nwb(rec_copy)
    _one_sentence(str(info.value))
    monkeypatch.undo()
    assert (rec_copy / "recording.nwb").read_bytes() == old
    assert not [p for p in rec_copy.iterdir() if p.name.endswith(".tmp")]
    assert _export_record(rec_copy)["ok"] is False


def test_recover_on_an_unwritable_folder_is_one_sentence(
    rec_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rigctl.engine import journal

    def read_only(_path: object, _data: object) -> Path:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(journal, "write_atomic", read_only)
    with pytest.raises(DataFolderError, match="read-only disk"):
        recover(rec_copy)
    assert main(["recover", str(rec_copy)]) == 1
    captured = capsys.readouterr()
    _one_sentence(captured.err)
    assert "read-only" in captured.err


def test_recover_removes_and_reports_leftover_temporary_files(
    rec_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (rec_copy / ".recording.json.abc123.tmp").write_text("{")
    (rec_copy / "sweeps" / ".00009-followup.npz.x1.tmp").write_bytes(b"half")
    assert main(["recover", str(rec_copy)]) == 0
    out = capsys.readouterr().out
    assert "removed leftover temporary file: .recording.json.abc123.tmp" in out
    assert "sweeps/.00009-followup.npz.x1.tmp" in out
    assert not list(rec_copy.rglob("*.tmp"))
    header = json.loads((rec_copy / "recording.json").read_text())
    assert len(header["removed_tmp"]) == 2


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_saved_files_respect_the_umask(
    recording: Path, tmp_path: Path, mask: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = os.umask(mask)
    try:
        folder = Path(shutil.copytree(recording, tmp_path / "rec"))
        nwb = export_nwb(folder)
        recover(folder)
        proto.save(proto.paper_condition(25, 50), tmp_path / "p.json")
    finally:
        os.umask(old)
    want = 0o666 & ~mask
    for path in (nwb, folder / "recording.json", folder / "analysis.csv", tmp_path / "p.json"):
        assert path.stat().st_mode & 0o777 == want, path


def test_sweep_files_of_a_run_are_readable_by_the_lab(tmp_path: Path) -> None:
    exp = proto.load(PROTOCOLS / "theta-25-50.json")
    exp = exp.replace(probes=exp.probes.replace(baseline_min=1, followup_min=1))
    old = os.umask(0o022)
    try:
        ExperimentRunner(
            SimRig(load_rig(), seed=1), exp, tmp_path / "r", RunOptions(fast=True)
        ).run()
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "r").rglob("*") if p.is_file()]
    assert any(p.suffix == ".npz" for p in files) and any(p.suffix == ".nwb" for p in files)
    assert {p.stat().st_mode & 0o777 for p in files} == {0o644}


# --------------------------------------------------------------------- a real tmpfs


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 256 kB tmpfs mounted at a fresh folder (skips where mounting is not permitted)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
            capture_output=True,
            check=False,
        )
    except OSError:
        pytest.skip("mount is not available")
    if done.returncode != 0:
        pytest.skip("mounting a tmpfs is not permitted here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _rigctl(*args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "rigctl", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, check=False)


def test_export_to_a_full_tmpfs_exits_1_with_one_sentence(recording: Path, tmpfs: Path) -> None:
    done = _rigctl("export-nwb", str(recording), "--out", str(tmpfs / "x.nwb"))
    assert done.returncode == 1, done.stderr
    _one_sentence(done.stderr)
    assert "disk is full" in done.stderr
    assert list(tmpfs.iterdir()) == []


def test_real_enospc_mid_write_exits_1_without_a_crash(recording: Path, tmpfs: Path) -> None:
    # The free-space check is told there is room, so the write itself hits ENOSPC.
    code = (
        "import shutil, sys\n"
        "shutil.disk_usage = lambda p: shutil._ntuple_diskusage(1 << 40, 0, 1 << 40)\n"
        "from rigctl.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    done = _rigctl("export-nwb", str(recording), "--out", str(tmpfs / "x.nwb"), code=code)
    assert done.returncode == 1, done.stderr
    _one_sentence(done.stderr)
    assert "disk is full" in done.stderr
    assert list(tmpfs.iterdir()) == []  # no partial file, no temporary file


def test_read_only_folder_recover_and_export_then_retry(
    recording: Path, tmpfs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subprocess.run(["mount", "-o", "remount,size=64m", str(tmpfs)], check=True)
    folder = Path(shutil.copytree(recording, tmpfs / "rec"))
    (folder / ".analysis.csv.q1.tmp").write_text("half")
    before = _listing(folder)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    try:
        for args in (["recover", str(folder)], ["export-nwb", str(folder)]):
            assert main(args) == 1
            err = capsys.readouterr().err
            _one_sentence(err)
            assert "read-only" in err, err
        assert _listing(folder) == before
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(tmpfs)], check=True)
    assert main(["recover", str(folder)]) == 0
    assert not list(folder.rglob("*.tmp"))
    assert main(["export-nwb", str(folder)]) == 0
    with NWBHDF5IO(folder / "recording.nwb", "r") as io:
        assert len(io.read().acquisition) > 0
    assert _export_record(folder)["ok"] is True


def test_a_run_whose_nwb_export_fails_records_it_and_can_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rigctl.engine import nwb

    real = proto.write_atomic

    def full(path: Path, data: bytes) -> Path:  # the NWB does not fit; the record does
        if path.suffix == ".nwb":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(nwb, "write_atomic", full)
    exp = proto.load(PROTOCOLS / "theta-25-50.json")
    exp = exp.replace(probes=exp.probes.replace(baseline_min=1, followup_min=1))
    runner = ExperimentRunner(
        SimRig(load_rig(), seed=2), exp, tmp_path / "r", RunOptions(fast=True)
    )
    warnings: list[str] = []
    runner.warning.connect(warnings.append)
    result = runner.run()
    assert result.state == RunState.DONE and result.nwb_path is None
    assert any("NWB export failed" in w and "disk is full" in w for w in warnings), warnings
    outcome = _export_record(tmp_path / "r")
    assert outcome["ok"] is False and "disk is full" in outcome["error"]
    assert (
        not list((tmp_path / "r").rglob("*.tmp"))
        and not (tmp_path / "r" / "recording.nwb").exists()
    )
    monkeypatch.undo()
    assert main(["export-nwb", str(tmp_path / "r")]) == 0
    assert _export_record(tmp_path / "r")["ok"] is True
