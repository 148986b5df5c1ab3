"""Shared fixtures: repository paths, a fresh experiment as plain data, a private data root."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rigctl import protocol as proto

ROOT = Path(__file__).resolve().parent.parent
PROTOCOLS = ROOT / "protocols"


@pytest.fixture(scope="session")
def _test_data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data-root")


@pytest.fixture(autouse=True)
def private_data_root(_test_data_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Outputs without --out go to a temporary data root, never the user's data folder."""
    monkeypatch.setenv("RIGCTL_DATA_ROOT", str(_test_data_root))
    return _test_data_root


@pytest.fixture
def paper_data() -> dict[str, Any]:
    """The 25 -> 50 Hz paper experiment as the JSON data of a file."""
    data: dict[str, Any] = json.loads(proto.dumps(proto.paper_condition(25, 50)))
    return data


@pytest.fixture(autouse=True)
def log_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """rigctl's log file goes to a temporary folder in tests (never the user's)."""
    path = tmp_path_factory.getbasetemp() / "logs"
    monkeypatch.setenv("RIGCTL_LOG_DIR", str(path))
    return path
