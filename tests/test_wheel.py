"""The built wheel works on its own: installed outside the checkout, run from another folder.

The wheel is built from a copy of the checkout, installed with ``--no-deps --no-index``
into a fresh venv whose only view of the dependencies is a ``.pth`` file naming this
environment's package folders (nothing is downloaded for the install, and this
environment's editable rigctl is not seen: ``.pth`` files of an added folder are not run).
The commands then run from an empty working folder with ``PYTHONPATH`` unset.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
)


def _offline_build_backend() -> bool:
    """Whether this environment has the build backend pyproject.toml asks for."""
    try:
        major = int(version("setuptools").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return False
    return major >= 77


def _dependency_dirs() -> list[str]:
    """The folders this interpreter imports third-party packages from (not the checkout)."""
    stdlib = {sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")}
    return [
        p
        for p in sys.path
        if p
        and p not in stdlib
        and Path(p).is_dir()
        and Path(p).resolve() != ROOT  # the checkout itself; its .venv may hold the deps
        and Path(p).name != "lib-dynload"
    ]


def _run(args: list[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=300,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )
    assert isinstance(res, subprocess.CompletedProcess)
    return res


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the checkout with the wheel built from it installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=_IGNORE)  # the build must not litter the checkout
    dist = tmp / "dist"
    build: list[str | Path] = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "-q",
        "-w",
        dist,
        src,
    ]
    if _offline_build_backend():
        build.insert(5, "--no-build-isolation")  # else pip fetches the backend once
    res = _run(build)
    assert res.returncode == 0, res.stdout + res.stderr
    (wheel,) = dist.glob("rigctl-*.whl")

    env_dir = tmp / "venv"
    res = _run([sys.executable, "-m", "venv", "--without-pip", env_dir])
    assert res.returncode == 0, res.stderr
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    res = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    purelib = Path(res.stdout.strip())
    (purelib / "_rigctl_test_deps.pth").write_text(
        "\n".join(_dependency_dirs()) + "\n", encoding="utf-8"
    )
    install: list[str | Path] = [sys.executable, "-m", "pip", "--python", python, "install", "-q"]
    res = _run([*install, "--no-deps", "--no-index", wheel])
    assert res.returncode == 0, res.stdout + res.stderr
    return env_dir


def _rigctl(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = venv / ("Scripts/rigctl.exe" if os.name == "nt" else "bin/rigctl")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(RIGCTL_DATA_ROOT=str(cwd / "data"), QT_QPA_PLATFORM="offscreen")
    return _run([exe, *args], cwd=cwd, env=env)


def test_installed_wheel_runs_end_to_end(venv: Path, tmp_path: Path) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    code = "import rigctl.data as d; print(d.__file__); print(d.rig_path('sim'))"
    res = _run([python, "-c", code], cwd=work, env={"PATH": os.environ.get("PATH", "")})
    assert res.returncode == 0, res.stderr
    for line in res.stdout.split():
        assert Path(line).is_relative_to(venv) and not Path(line).is_relative_to(ROOT)

    listed = _rigctl(venv, work, "protocols", "--paths")
    assert listed.returncode == 0, listed.stderr
    files = listed.stdout.split()
    assert len(files) >= 6 and all(Path(f).is_relative_to(venv) for f in files)
    theta = next(f for f in files if f.endswith("theta-25-50.json"))

    res = _rigctl(venv, work, "validate", *files)
    assert res.returncode == 0 and res.stdout.count(": ok") == len(files), res.stdout + res.stderr
    res = _rigctl(venv, work, "predict", theta)
    assert res.returncode == 0, res.stderr
    assert "predicted EPSP ratio" in res.stdout and "measured (paper, 25-50)" in res.stdout

    res = _rigctl(venv, work, "run", theta, "--rig", "sim", "--fast", "--seed", "1")
    assert res.returncode == 0, res.stdout + res.stderr
    (folder,) = (work / "data" / "recordings").iterdir()
    assert folder.name.startswith("theta-25-50-")
    assert (folder / "recording.nwb").stat().st_size > 10_000
    assert "-> LTP" in res.stdout and f"NWB: {folder / 'recording.nwb'}" in res.stdout

    res = _rigctl(venv, work, "gui", "--screenshot", "shot.png", "--rig", "sim")
    assert res.returncode == 0, res.stdout + res.stderr
    assert (work / "shot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in work.iterdir()) == ["data", "shot.png"]  # nothing else
