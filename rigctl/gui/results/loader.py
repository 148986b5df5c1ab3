"""Heavy reading off the GUI thread: one job at a time, progress, and one sentence on failure.

:class:`Loader` runs a function in a :class:`QThread`; the function gets a
``progress(done, total)`` callback. Its result comes back in :attr:`Loader.finished_ok`,
an expected failure (the engine's one-sentence errors, ``OSError``) as its message in
:attr:`Loader.failed`, anything else as one sentence naming its type, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, QThread, pyqtSignal

from rigctl.engine.group import GroupError
from rigctl.engine.journal import DataFolderError, describe_os_error
from rigctl.io.abf import AbfImportError

__all__ = ["Job", "Loader"]

Job = Callable[[Callable[[int, int], None]], Any]
"""A function of the progress callback that returns the result."""

_RUNNING: set[QThread] = set()
"""Threads still running, kept alive until they end even if their tab is deleted first."""


class _Thread(QThread):
    progressed = pyqtSignal(int, int)
    succeeded = pyqtSignal(object)
    errored = pyqtSignal(str)

    def __init__(self, job: Job, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job = job

    def run(self) -> None:
        try:
            result = self._job(self.progressed.emit)
        except (GroupError, DataFolderError, AbfImportError, ValueError) as exc:
            self.errored.emit(str(exc))
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            self.errored.emit(where + describe_os_error(exc))
        except Exception as exc:  # the tab shows one sentence, never a traceback
            self.errored.emit(f"could not read the recordings ({type(exc).__name__}: {exc})")
        else:
            self.succeeded.emit(result)


class Loader(QObject):
    """Runs one job at a time in a worker thread; later jobs wait for the running one."""

    progressed = pyqtSignal(int, int)
    finished_ok = pyqtSignal(object)
    failed = pyqtSignal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: _Thread | None = None
        self._running = False

    def busy(self) -> bool:
        """Whether a job's result has not been delivered yet."""
        return self._running

    def start(self, job: Job) -> bool:
        """Start ``job``; False (and nothing started) while another job is running."""
        if self._running:
            return False
        self.wait()  # the previous thread has delivered; let it end before the next
        th = _Thread(job)  # no parent: a closing tab never destroys a running thread
        _RUNNING.add(th)
        th.finished.connect(lambda: _RUNNING.discard(th))
        th.progressed.connect(self.progressed)
        th.succeeded.connect(self._succeeded)
        th.errored.connect(self._errored)
        self._thread = th
        self._running = True
        th.start()
        return True

    def _succeeded(self, result: object) -> None:
        self._running = False
        self.finished_ok.emit(result)

    def _errored(self, text: str) -> None:
        self._running = False
        self.failed.emit(text)

    def wait(self) -> None:
        """Block until the running thread (if any) has ended (for closing the window)."""
        if self._thread is not None:
            self._thread.wait()
