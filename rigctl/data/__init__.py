"""The data files shipped inside the package: rig files, the protocol library, datasets.

They are found with :mod:`importlib.resources`, so an installed rigctl finds them from any
working folder. These package copies are the source of truth; the top-level ``hardware/``,
``protocols/`` and ``resources/datasets/`` folders of a checkout are browsable copies that
``scripts/sync_data.py`` regenerates (a test checks they are identical).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

__all__ = [
    "PAPER_DATASET",
    "SHIPPED_RIGS",
    "dataset_path",
    "protocol_dir",
    "protocol_paths",
    "resolve_rig",
    "rig_path",
]

SHIPPED_RIGS: dict[str, str] = {
    "sim": "sim.toml",
    "ni-example": "ni-x-series-multiclamp700b.toml",
}
"""Names accepted by ``--rig`` for the shipped rig files (name -> file in ``data/rigs``)."""

PAPER_DATASET = "jang2026-normalized-epsp.json"
"""The file name of the paper's dataset in ``data/datasets``."""


def _root() -> Path:
    root = resources.files(__name__)
    # pip always unpacks wheels, so the package data is a real folder; a zipped import of
    # rigctl (which nothing installs) would need the files extracted first.
    if not isinstance(root, Path):  # pragma: no cover - not produced by any installer
        raise RuntimeError(f"rigctl's data files are not in a folder ({root}); reinstall rigctl")
    return root


def rig_path(name: str) -> Path:
    """The shipped rig file called ``name`` (a key of :data:`SHIPPED_RIGS`).

    Raises
    ------
    KeyError
        ``name`` is not a shipped rig; the message lists the names there are.
    """
    try:
        file = SHIPPED_RIGS[name]
    except KeyError:
        there = ", ".join(SHIPPED_RIGS)
        raise KeyError(f"{name!r} is not a shipped rig (there are: {there})") from None
    return _root() / "rigs" / file


def resolve_rig(spec: str | os.PathLike[str] | None) -> Path:
    """The rig file that ``--rig spec`` means.

    ``None`` is the simulated rig, a shipped rig's name (``"sim"``, ``"ni-example"``) is
    that file, anything else is a path.
    """
    if spec is None:
        return rig_path("sim")
    if isinstance(spec, str) and spec in SHIPPED_RIGS:
        return rig_path(spec)
    return Path(spec)


def protocol_dir() -> Path:
    """The folder of the shipped protocol library (inside the installed package)."""
    return _root() / "protocols"


def protocol_paths() -> list[Path]:
    """The protocol files of the shipped library, sorted by name."""
    return sorted(protocol_dir().glob("*.json"))


def dataset_path(name: str = PAPER_DATASET) -> Path:
    """A shipped dataset file (default: the paper's normalized EPSPs)."""
    return _root() / "datasets" / name
