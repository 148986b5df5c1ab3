"""Where rigctl keeps its data: one rule for the app and the command line (no Qt).

The data root is, in order of precedence: the ``--data-root`` option (passed in as
``override``), the ``RIGCTL_DATA_ROOT`` environment variable, or the user data folder of
the platform (:func:`platformdirs.user_data_path`: ``~/.local/share/rigctl`` on Linux,
``%LOCALAPPDATA%/rigctl`` on Windows, ``~/Library/Application Support/rigctl`` on macOS).
Recordings go to ``DATA_ROOT/recordings/<protocol>-<date>-<time>``; other outputs to
their own sub-folder (``studies``, ``sweeps``, ``compiled``).
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

import platformdirs

__all__ = [
    "DATA_ROOT_ENV",
    "data_root",
    "new_output_path",
    "recordings_dir",
    "slug",
]

DATA_ROOT_ENV = "RIGCTL_DATA_ROOT"
"""The environment variable that moves the data root."""


def data_root(override: str | os.PathLike[str] | None = None) -> Path:
    """The folder under which rigctl writes its data (see the module docstring)."""
    if override is not None and str(override):
        return Path(override).expanduser()
    env = os.environ.get(DATA_ROOT_ENV, "")
    if env:
        return Path(env).expanduser()
    return platformdirs.user_data_path("rigctl", appauthor=False)


def recordings_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The folder that new recordings go to: ``DATA_ROOT/recordings``."""
    return data_root(override) / "recordings"


def slug(name: str) -> str:
    """``name`` as a file-name part: lower case, runs of other characters as one ``-``."""
    return re.sub(r"[^a-z0-9.]+", "-", name.lower()).strip("-.") or "output"


def new_output_path(
    parent: str | os.PathLike[str], name: str, suffix: str = "", *, now: datetime | None = None
) -> Path:
    """A path ``parent/<name>-<YYYYmmdd-HHMMSS><suffix>`` that does not exist yet.

    ``name`` passes through :func:`slug`; a second output in the same second gets ``-2``,
    the next ``-3`` and so on. Nothing is created.
    """
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = f"{slug(name)}-{stamp}"
    folder = Path(parent)
    path = folder / f"{base}{suffix}"
    n = 2
    while path.exists():
        path = folder / f"{base}-{n}{suffix}"
        n += 1
    return path
