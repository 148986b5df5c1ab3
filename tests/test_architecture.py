"""Layering is enforced: import-linter contracts from pyproject.toml must hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_import_contracts_hold() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    res = subprocess.run(
        [str(exe), "--no-cache"], capture_output=True, text=True, cwd=ROOT, timeout=300, check=False
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 broken" in res.stdout


def test_pure_layers_do_not_pull_in_qt() -> None:
    code = (
        "import sys, rigctl.protocol, rigctl.cli; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PyQt6', 'pyqtgraph', 'nidaqmx')]; "
        "print(bad); sys.exit(bool(bad))"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert res.returncode == 0, res.stdout + res.stderr
