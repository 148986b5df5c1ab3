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


BACKENDS = ("SimRig", "NidaqRig")
"""Concrete rig backends: only rigctl/hardware may name them."""


def test_nothing_outside_hardware_names_a_backend() -> None:
    import ast

    offenders = []
    for path in sorted((ROOT / "rigctl").rglob("*.py")):
        if (ROOT / "rigctl" / "hardware") in path.parents:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)
            if isinstance(node, ast.alias):
                name = node.name
            if name in BACKENDS:
                offenders.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)} {name}")
    assert offenders == []


def test_the_rig_room_is_made_of_small_files_and_functions() -> None:
    import ast

    engine = ROOT / "rigctl" / "engine"
    room = sorted((ROOT / "rigctl" / "gui" / "rig").glob("*.py"))
    for path in [*room, engine / "session.py", engine / "dry_run.py"]:
        text = path.read_text(encoding="utf-8")
        assert text.count("\n") <= 600, path
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef) and node.end_lineno is not None:
                body = node.body[1:] if ast.get_docstring(node) else node.body
                lines = (node.end_lineno - body[0].lineno + 1) if body else 0
                assert lines <= 60, f"{path.name}: {node.name} has {lines} lines of code"
