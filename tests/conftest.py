"""Shared fixtures: repository paths and a fresh, valid experiment as plain data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rigctl import protocol as proto

ROOT = Path(__file__).resolve().parent.parent
PROTOCOLS = ROOT / "protocols"


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
