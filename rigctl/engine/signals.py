"""Plain-Python signals: how the engine reports to whoever listens (GUI, CLI, tests).

Callbacks run on the emitting thread (the runner's worker); a GUI hops to its own
thread through queued Qt connections. A callback that raises is logged (``logging``,
with its traceback), kept in the ``errors`` list, and never stops the run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["Signal"]

T = TypeVar("T")

_log = logging.getLogger(__name__)


class Signal(Generic[T]):
    """A thread-safe list of callbacks taking one argument."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._callbacks: list[Callable[[T], Any]] = []
        self._lock = threading.Lock()
        self.errors: list[BaseException] = []

    def connect(self, callback: Callable[[T], Any]) -> Callable[[T], Any]:
        """Call ``callback(value)`` on every emission; returns it (usable as a decorator)."""
        with self._lock:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[[T], Any]) -> None:
        """Stop calling ``callback``."""
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def emit(self, value: T) -> None:
        """Call every connected callback with ``value``."""
        with self._lock:
            callbacks = list(self._callbacks)
        for cb in callbacks:
            try:
                cb(value)
            except Exception as exc:  # a listener's bug must not stop an experiment
                _log.exception("a listener of %s raised; the run goes on", self.name)
                self.errors.append(exc)
