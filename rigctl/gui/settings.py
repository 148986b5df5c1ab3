"""What the app remembers between sessions, with typed getters and setters (QSettings).

One place knows the keys and how each value is stored; the windows ask
:class:`AppSettings`. Everything read back is checked: a value of the wrong type, a
number that is not finite or an analysis window that ends before it starts is ignored
(the default is used) rather than crashing the app or reaching an analysis.

Tests pass ``QSettings(path, QSettings.Format.IniFormat)`` so they never touch the
user's settings.
"""

from __future__ import annotations

import math
import os
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Final

from PyQt6.QtCore import QByteArray, QSettings, QStandardPaths

from rigctl.data import protocol_dir
from rigctl.engine.analysis import AnalysisSettings

__all__ = ["MAX_RECENT", "AppSettings"]

MAX_RECENT: Final = 8
"""Number of files kept in *Open Recent*."""

_RECENT = "recentFiles"
_RIG_FILE = "rigFile"
_DATA_FOLDER = "dataFolder"
_PROTOCOL_FOLDER = "protocolFolder"
_ANALYSIS = "analysis/"
_GEOMETRY = "window/geometry"
_STATE = "window/state"
_SPLITTERS = "window/splitters/"
_WINDOW = "summary_window_min"
_SIGNED = frozenset({"spike_threshold_mv"})  # the only analysis setting that may be < 0


class AppSettings:
    """Typed access to the settings rigctl keeps (recent files, rig, folders, layout).

    Parameters
    ----------
    settings
        The store: the user's ``QSettings()`` in the app, an INI file in tests.
    """

    def __init__(self, settings: QSettings) -> None:
        self._s = settings

    @property
    def store(self) -> QSettings:
        """The underlying ``QSettings``."""
        return self._s

    def fileName(self) -> str:
        """Where the settings are kept (a file, or a registry path on Windows)."""
        return self._s.fileName()

    # ------------------------------------------------------------------ plain values

    def _text(self, key: str) -> str:
        value = self._s.value(key, "")
        return value if isinstance(value, str) else ""

    def _set_text(self, key: str, value: str) -> None:
        if value:
            self._s.setValue(key, value)
        else:
            self._s.remove(key)
        self._s.sync()

    def _path(self, key: str) -> Path | None:
        text = self._text(key)
        return Path(text) if text else None

    def _set_path(self, key: str, path: str | os.PathLike[str] | None) -> None:
        self._set_text(key, str(Path(path).absolute()) if path is not None else "")

    def _bytes(self, key: str) -> QByteArray | None:
        value = self._s.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def _set_bytes(self, key: str, value: QByteArray) -> None:
        self._s.setValue(key, value)
        self._s.sync()

    # ------------------------------------------------------------------ files and folders

    def recentFiles(self) -> list[str]:
        """Recently opened or saved protocol files, most recent first."""
        value = self._s.value(_RECENT, [])
        if isinstance(value, str):  # an INI file holding one entry gives a plain string
            value = [value]
        if not isinstance(value, list):
            return []
        return [str(v) for v in value if isinstance(v, str) and v][:MAX_RECENT]

    def setRecentFiles(self, paths: list[str]) -> None:
        """Keep ``paths`` (most recent first; at most :data:`MAX_RECENT`)."""
        self._s.setValue(_RECENT, list(paths[:MAX_RECENT]))
        self._s.sync()

    def rigFile(self) -> Path | None:
        """The rig file opened last in the Rig tab (``None``: never one)."""
        return self._path(_RIG_FILE)

    def setRigFile(self, path: str | os.PathLike[str] | None) -> None:
        """Remember ``path`` as the rig file to open next time (``None`` forgets it)."""
        self._set_path(_RIG_FILE, path)

    def dataFolder(self) -> Path | None:
        """The folder new recordings went to last (``None``: the data root's default)."""
        return self._path(_DATA_FOLDER)

    def setDataFolder(self, path: str | os.PathLike[str] | None) -> None:
        """Remember the folder under which new recordings go (``None`` forgets it)."""
        self._set_path(_DATA_FOLDER, path)

    def protocolFolder(self) -> Path | None:
        """The folder a protocol was last opened from or saved to (``None``: never)."""
        return self._path(_PROTOCOL_FOLDER)

    def setProtocolFolder(self, path: str | os.PathLike[str] | None) -> None:
        """Remember the folder of the protocol just opened or saved."""
        self._set_path(_PROTOCOL_FOLDER, path)

    def openFolder(self) -> Path:
        """Where *Open* starts: the last protocol folder, else the shipped library."""
        last = self.protocolFolder()
        return last if last is not None and last.is_dir() else protocol_dir()

    def saveFolder(self) -> Path:
        """Where *Save As* starts: the last protocol folder, else the user's documents.

        The shipped library is never proposed for saving (it is part of the install).
        """
        last = self.protocolFolder()
        if last is not None and last.is_dir() and last.resolve() != protocol_dir().resolve():
            return last
        docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        return Path(docs) if docs and Path(docs).is_dir() else Path.home()

    # ------------------------------------------------------------------ analysis

    def analysisSettings(self) -> AnalysisSettings:
        """The analysis settings last used (defaults for anything unset or unusable)."""
        values: dict[str, Any] = {}
        for f in fields(AnalysisSettings):
            raw = self._s.value(_ANALYSIS + f.name)
            value = _window(raw) if f.name == _WINDOW else _number(raw)
            if isinstance(value, float) and value < 0.0 and f.name not in _SIGNED:
                value = None
            if value is not None:
                values[f.name] = value
        settings = AnalysisSettings(**values)
        if settings.search_start_ms >= settings.search_stop_ms:
            default = AnalysisSettings()
            settings = replace(
                settings,
                search_start_ms=default.search_start_ms,
                search_stop_ms=default.search_stop_ms,
            )
        return settings

    def setAnalysisSettings(self, settings: AnalysisSettings) -> None:
        """Remember ``settings`` (every field, as text: readable in the INI file)."""
        for f in fields(AnalysisSettings):
            value = getattr(settings, f.name)
            if f.name == _WINDOW:
                self._s.setValue(_ANALYSIS + f.name, [repr(float(v)) for v in value])
            else:
                self._s.setValue(_ANALYSIS + f.name, repr(float(value)))
        self._s.sync()

    # ------------------------------------------------------------------ window layout

    def windowGeometry(self) -> QByteArray | None:
        """The main window's saved geometry (``QMainWindow.saveGeometry``)."""
        return self._bytes(_GEOMETRY)

    def setWindowGeometry(self, geometry: QByteArray) -> None:
        """Remember the main window's geometry."""
        self._set_bytes(_GEOMETRY, geometry)

    def windowState(self) -> QByteArray | None:
        """The main window's saved tool bar and dock state (``saveState``)."""
        return self._bytes(_STATE)

    def setWindowState(self, state: QByteArray) -> None:
        """Remember the main window's tool bar and dock state."""
        self._set_bytes(_STATE, state)

    def splitterState(self, name: str) -> QByteArray | None:
        """The saved state of the splitter called ``name`` (its object name)."""
        return self._bytes(_SPLITTERS + name)

    def setSplitterState(self, name: str, state: QByteArray) -> None:
        """Remember the state of the splitter called ``name``."""
        self._set_bytes(_SPLITTERS + name, state)

    def clearLayout(self) -> None:
        """Forget the window geometry, tool bar state and splitter positions."""
        for key in (_GEOMETRY, _STATE, _SPLITTERS.rstrip("/")):
            self._s.remove(key)
        self._s.sync()


def _number(raw: object) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw)
        except ValueError:
            return None
    else:
        return None
    return value if math.isfinite(value) else None


def _window(raw: object) -> tuple[float, float] | None:
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        return None
    lo, hi = _number(raw[0]), _number(raw[1])
    if lo is None or hi is None or not 0.0 <= lo < hi:
        return None
    return (lo, hi)
