"""Carries the set-up's reports from the rig threads to the Cell tab (queued signals)."""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import QObject, Qt, pyqtBoundSignal, pyqtSignal

__all__ = ["CellBridge", "queued"]


def queued(signal: pyqtBoundSignal, slot: Callable[..., None]) -> None:
    """Connect ``slot`` so that it always runs on the GUI thread."""
    signal.connect(slot, Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]


class CellBridge(QObject):
    """Carries the set-up's reports from the rig threads to the GUI thread."""

    pulse = pyqtSignal(object, object)  # TestPulseResult, SweepResult
    probe = pyqtSignal(object)  # ProbeOutcome
    warning = pyqtSignal(str)
    over_limit = pyqtSignal(float)  # set-up seconds when the clock first passes its limit
    done = pyqtSignal(str, str)  # activity, error ("" when it ended normally)
