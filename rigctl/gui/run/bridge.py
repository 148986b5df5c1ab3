"""Carries a runner's reports from its worker thread to the GUI thread.

The engine's plain-Python signals call back on the runner's thread. A
:class:`RunBridge` connects to them and re-emits each report as a Qt signal; the panel
connects those to its slots with ``Qt.ConnectionType.QueuedConnection``, so every slot
runs on the GUI thread after the emit returned. The bridge is a bare ``QObject``
without a parent: the worker thread never holds a widget.

Reports that can arrive faster than anyone can look at them are coalesced on the
worker side so that a dry run (hundreds of sweeps per second) never floods the event
loop: live Vm chunks are collected per sweep and announced by at most one pending
:attr:`RunBridge.chunksReady`; the progress snapshot is kept as the latest only and
announced by at most one pending :attr:`RunBridge.progressReady`. The GUI takes them
with :meth:`RunBridge.takeChunks` and :meth:`RunBridge.takeProgress`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from rigctl.engine import ExperimentRunner, RunResult, RunState, RunStatus, SweepRecord
from rigctl.engine.signals import Signal
from rigctl.gui.run.data import SweepInfo
from rigctl.hardware import Chunk

__all__ = ["LiveChunks", "RunBridge"]


@dataclass
class LiveChunks:
    """Vm chunks of the sweep being acquired, taken from the bridge in one go.

    Attributes
    ----------
    sweep_number
        1-based number of the sweep in the recording.
    segment
        ``"baseline"``, ``"induction"`` or ``"followup"``.
    n_total, sample_rate_hz
        Length and rate of the whole sweep.
    new_sweep
        The sweep started since the last take (the trace is to be reset).
    chunks
        The chunks received since the last take, in order.
    """

    sweep_number: int
    segment: str
    n_total: int
    sample_rate_hz: float
    new_sweep: bool
    chunks: list[Chunk] = field(default_factory=list)


class RunBridge(QObject):
    """Re-emits one runner's engine signals as Qt signals (see the module docstring).

    Every Qt signal carries the bridge first, so a slot can ignore reports of a run it
    no longer shows.

    Parameters
    ----------
    runner
        The runner to listen to; call :meth:`attach` before starting it.

    Signals
    -------
    stateChanged(RunBridge, RunState)
        The runner's state changed.
    sweepAcquired(RunBridge, SweepInfo)
        A sweep was acquired and analysed (its analysis, without arrays).
    warning(RunBridge, str, float)
        A warning (health flag, rate miss, failure) and the experiment time (s).
    finished(RunBridge, RunResult)
        The run ended; nothing is reported after it.
    chunksReady(RunBridge)
        Live Vm chunks wait in :meth:`takeChunks` (at most one pending emission).
    progressReady(RunBridge)
        A new progress snapshot waits in :meth:`takeProgress` (at most one pending).
    """

    stateChanged = pyqtSignal(object, object)  # noqa: N815 (Qt signal naming)
    sweepAcquired = pyqtSignal(object, object)  # noqa: N815 (Qt signal naming)
    warning = pyqtSignal(object, str, float)
    finished = pyqtSignal(object, object)
    chunksReady = pyqtSignal(object)  # noqa: N815 (Qt signal naming)
    progressReady = pyqtSignal(object)  # noqa: N815 (Qt signal naming)

    def __init__(self, runner: ExperimentRunner) -> None:
        super().__init__()
        self.runner = runner
        self._lock = threading.Lock()
        self._live: LiveChunks | None = None
        self._chunks_pending = False
        self._progress: RunStatus | None = None
        self._progress_pending = False
        self._attached = False
        self.chunk_count = 0

    # ------------------------------------------------------------------ wiring

    def attach(self) -> None:
        """Listen to the runner's signals (before it starts)."""
        if self._attached:
            return
        for signal, slot in self._wiring():
            signal.connect(slot)
        self._attached = True

    def detach(self) -> None:
        """Stop listening to the runner (idempotent)."""
        if not self._attached:
            return
        for signal, slot in self._wiring():
            signal.disconnect(slot)
        self._attached = False

    def _wiring(self) -> list[tuple[Signal[Any], Callable[[Any], None]]]:
        """Each runner signal the bridge listens to, with its handler."""
        r = self.runner
        return [
            (r.state_changed, self._on_state),
            (r.sweep_acquired, self._on_sweep),
            (r.warning, self._on_warning),
            (r.progress, self._on_progress),
            (r.chunk, self._on_chunk),
            (r.finished, self._on_finished),
        ]

    # ------------------------------------------------------------------ GUI side

    def takeChunks(self) -> LiveChunks | None:
        """The chunks received since the last call (``None``: none)."""
        with self._lock:
            live = self._live
            self._chunks_pending = False
            if live is None or not live.chunks:
                return None
            taken = LiveChunks(
                live.sweep_number,
                live.segment,
                live.n_total,
                live.sample_rate_hz,
                live.new_sweep,
                live.chunks,
            )
            live.chunks = []
            live.new_sweep = False
            return taken

    def takeProgress(self) -> RunStatus | None:
        """The latest progress snapshot not yet taken (``None``: none)."""
        with self._lock:
            status, self._progress = self._progress, None
            self._progress_pending = False
            return status

    # ------------------------------------------------------------------ worker side

    def _on_state(self, state: RunState) -> None:
        self.stateChanged.emit(self, state)

    def _on_sweep(self, record: SweepRecord) -> None:
        self.sweepAcquired.emit(self, SweepInfo.of(record))

    def _on_warning(self, text: str) -> None:
        self.warning.emit(self, text, self.runner.status().experiment_time_s)

    def _on_progress(self, status: RunStatus) -> None:
        with self._lock:
            self._progress = status
            announce = not self._progress_pending
            self._progress_pending = True
        if announce:
            self.progressReady.emit(self)

    def _on_chunk(self, chunk: Chunk) -> None:
        fresh: LiveChunks | None = None
        if chunk.start == 0:
            status = self.runner.status()
            fresh = LiveChunks(
                status.sweeps_done + 1,
                status.segment,
                chunk.n_total,
                chunk.sample_rate_hz,
                new_sweep=True,
            )
        with self._lock:
            self.chunk_count += 1
            if fresh is not None:
                self._live = fresh  # a new sweep: what was not drawn of the last one is dropped
            if self._live is None:
                return
            self._live.chunks.append(chunk)
            announce = not self._chunks_pending
            self._chunks_pending = True
        if announce:
            self.chunksReady.emit(self)

    def _on_finished(self, result: RunResult) -> None:
        self.finished.emit(self, result)
