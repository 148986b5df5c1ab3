"""Unhandled exceptions in the app: logged, shown without blocking, the rig put at rest.

PyQt6 aborts the whole process when a slot raises and ``sys.excepthook`` is Python's
default, taking a recording with it. :class:`ErrorReporter` replaces ``sys.excepthook``
and ``threading.excepthook``: the traceback goes to the log file (:mod:`rigctl.logs`), a
non-modal message says what happened, and the app keeps running. When the error came
from code that drives the rig (an *acquisition path*), the ``rest_outputs`` callable the
composition root passes in puts the outputs at rest.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType

from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtWidgets import QMessageBox, QWidget

from rigctl.logs import log_path

__all__ = ["ACQUISITION_MODULES", "ACQUISITION_THREADS", "ErrorReporter", "in_acquisition_path"]

_log = logging.getLogger(__name__)

ACQUISITION_MODULES = ("rigctl.hardware", "rigctl.engine", "rigctl.gui.run", "rigctl.gui.rig")
"""Modules whose errors count as acquisition errors (they drive or record the rig)."""
ACQUISITION_THREADS = ("rigctl-runner", "rigctl-writer", "rigctl ")
"""Name prefixes of the threads that run sweeps or write recordings."""


def in_acquisition_path(tb: TracebackType | None, thread_name: str | None = None) -> bool:
    """Whether an exception with traceback ``tb`` came from code that drives the rig.

    Parameters
    ----------
    tb
        The exception's traceback.
    thread_name
        The thread it was raised in (``None``: the GUI thread).
    """
    if thread_name is not None and thread_name.startswith(ACQUISITION_THREADS):
        return True
    for frame, _line in traceback.walk_tb(tb):
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith(ACQUISITION_MODULES):
            return True
    return False


class ErrorReporter(QObject):
    """Handles every unhandled exception of the app once :meth:`install` is called.

    Parameters
    ----------
    parent
        The window the message is shown over.
    rest_outputs
        Puts the rig's outputs at rest (e.g. aborts the run in progress, or calls the
        open rig's ``safe_state``); called for acquisition errors, on the GUI thread
        (errors in other threads are handed over through a queued signal).

    Signals
    -------
    reported(str, bool)
        After each error: its one-line description and whether the outputs were put
        at rest. Always delivered on the GUI thread.
    """

    reported = pyqtSignal(str, bool)
    _show = pyqtSignal(str, bool)

    def __init__(
        self, parent: QWidget | None = None, *, rest_outputs: Callable[[], object] | None = None
    ) -> None:
        super().__init__(parent)
        self._parent = parent
        self._rest = rest_outputs
        self._count = 0
        self._box: QMessageBox | None = None
        self._previous: tuple[object, object] | None = None
        # Queued: shown on the GUI thread, after the hook returns (PyQt6's stubs lack
        # connect()'s connection-type argument).
        self._show.connect(self._on_show, Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]

    # ------------------------------------------------------------------ hooks

    def install(self) -> None:
        """Replace ``sys.excepthook`` and ``threading.excepthook`` (idempotent)."""
        if self._previous is None:
            self._previous = (sys.excepthook, threading.excepthook)
            sys.excepthook = self._sys_hook
            threading.excepthook = self._thread_hook

    def uninstall(self) -> None:
        """Put back the hooks that were there before :meth:`install`."""
        if self._previous is not None:
            sys_hook, thread_hook = self._previous
            sys.excepthook = sys_hook  # type: ignore[assignment]
            threading.excepthook = thread_hook  # type: ignore[assignment]
            self._previous = None

    def _sys_hook(
        self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        self.handle(kind, exc, tb)

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        self.handle(args.exc_type, args.exc_value, args.exc_traceback, thread_name=name)

    # ------------------------------------------------------------------ handling

    def handle(
        self,
        kind: type[BaseException],
        exc: BaseException | None,
        tb: TracebackType | None,
        *,
        thread_name: str | None = None,
    ) -> None:
        """Log the exception, rest the outputs if it came from acquisition, show it.

        Never raises: a failure while handling is logged too.
        """
        try:
            where = f" in thread {thread_name}" if thread_name else ""
            _log.error("unhandled exception%s", where, exc_info=(kind, exc or kind(), tb))
            text = f"{kind.__name__}: {exc}" if str(exc) else kind.__name__
            self._show.emit(text, in_acquisition_path(tb, thread_name))
        except Exception:  # pragma: no cover - last resort, never recurse into the hook
            traceback.print_exc()

    def errorCount(self) -> int:
        """How many errors were shown."""
        return self._count

    def messageBox(self) -> QMessageBox | None:
        """The (non-modal) message of the last error, ``None`` before the first."""
        return self._box

    def _on_show(self, text: str, acquisition: bool) -> None:
        rested = False
        if acquisition and self._rest is not None:
            try:
                self._rest()
                rested = True
            except Exception:
                _log.exception("could not put the outputs at rest after the error")
        self._count += 1
        box = self._box
        if box is None:
            box = QMessageBox(self._parent)
            box.setIcon(QMessageBox.Icon.Critical)
            box.setWindowTitle("Something went wrong")
            box.setStandardButtons(QMessageBox.StandardButton.Close)
            box.setModal(False)
            box.setWindowModality(Qt.WindowModality.NonModal)
            self._box = box
        more = f" ({self._count} errors so far)" if self._count > 1 else ""
        box.setText(f"An error occurred{more}: {text}")
        rest = "The rig's outputs were put at rest. " if rested else ""
        box.setInformativeText(
            f"{rest}rigctl keeps running; the details are in the log file {log_path()}."
        )
        box.show()
        self.reported.emit(text, rested)
