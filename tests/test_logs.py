"""The log file: per user (platformdirs), rotated, movable by RIGCTL_LOG_DIR; --verbose."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest

from rigctl import logs
from rigctl.cli import main
from tests.conftest import PROTOCOLS


@pytest.fixture(autouse=True)
def quiet_afterwards() -> Iterator[None]:
    yield
    logs.setup_logging()  # no stderr handler left for the tests that follow


def _flush() -> None:
    for handler in logging.getLogger("rigctl").handlers:
        handler.flush()


def test_default_folder_is_the_users_log_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(logs.LOG_DIR_ENV, raising=False)
    assert logs.log_dir() == Path(platformdirs.user_log_dir("rigctl", appauthor=False))
    assert logs.log_path() == logs.log_dir() / logs.LOG_FILENAME


def test_log_file_in_the_env_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(logs.LOG_DIR_ENV, str(tmp_path / "a" / "b"))
    path = logs.setup_logging()
    assert path == tmp_path / "a" / "b" / "rigctl.log"
    logging.getLogger("rigctl.test").info("hello %s", "log")
    logging.getLogger("rigctl.test").debug("not without --verbose")
    _flush()
    text = path.read_text(encoding="utf-8")
    assert "hello log" in text and "rigctl.test" in text and "not without" not in text


def test_log_file_is_rotated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(logs.LOG_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(logs, "MAX_BYTES", 2_000)
    path = logs.setup_logging()
    assert path is not None
    for i in range(400):
        logging.getLogger("rigctl.test").warning("line %d %s", i, "x" * 40)
    _flush()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["rigctl.log", *(f"rigctl.log.{i}" for i in range(1, logs.BACKUPS + 1))]
    assert all(p.stat().st_size <= 2_000 for p in tmp_path.iterdir())
    assert "line 399" in path.read_text(encoding="utf-8")


def test_setup_twice_keeps_one_file_handler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(logs.LOG_DIR_ENV, str(tmp_path))
    logs.setup_logging()
    logs.setup_logging(verbose=True)
    logs.setup_logging()
    ours = [h for h in logging.getLogger("rigctl").handlers if getattr(h, "_rigctl_handler", 0)]
    assert len(ours) == 1


def test_unwritable_log_folder_never_stops_rigctl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(logs.LOG_DIR_ENV, str(blocker / "logs"))
    assert logs.setup_logging() is None
    err = capsys.readouterr().err
    assert "cannot write the log file" in err and err.count("\n") == 1
    assert main(["show", str(PROTOCOLS / "theta-25-50.json")]) == 0


def test_verbose_prints_debug_to_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(logs.LOG_DIR_ENV, str(tmp_path))
    protocol = str(PROTOCOLS / "theta-25-50.json")
    assert main(["show", protocol]) == 0
    assert "DEBUG" not in capsys.readouterr().err
    assert main(["--verbose", "show", protocol]) == 0
    err = capsys.readouterr().err
    assert "DEBUG" in err and "rigctl.cli" in err and "show" in err
    _flush()
    assert "DEBUG" in (tmp_path / "rigctl.log").read_text(encoding="utf-8")
