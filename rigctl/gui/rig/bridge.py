"""Carries a dry-run job's reports from its thread to the GUI thread (queued signals)."""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import QObject, Qt, pyqtBoundSignal, pyqtSignal

from rigctl.engine.dry_run import JobOutcome, RigJob, SweepStarted
from rigctl.hardware import Chunk

__all__ = ["JobBridge", "JobBuilder"]

JobBuilder = Callable[
    [
        Callable[[SweepStarted], None],
        Callable[[Chunk], None],
        Callable[[JobOutcome], None],
    ],
    RigJob,
]
"""Builds a job from its three callbacks (started, chunk, ended)."""


def _queued(signal: pyqtBoundSignal, slot: Callable[..., None]) -> None:
    """Connect ``slot`` so that it always runs on the GUI thread, after the emit returns."""
    # PyQt6's stubs lack connect()'s connection-type argument.
    signal.connect(slot, Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]


class JobBridge(QObject):
    """Relays every report of the jobs it builds to GUI-thread slots, with the job.

    Parameters
    ----------
    on_started, on_chunk, on_ended
        Called on the GUI thread with ``(job, report)``.
    """

    started = pyqtSignal(object, object)  # job, SweepStarted
    chunk = pyqtSignal(object, object)  # job, Chunk (numpy Vm)
    ended = pyqtSignal(object, object)  # job, JobOutcome

    def __init__(
        self,
        on_started: Callable[[RigJob, SweepStarted], None],
        on_chunk: Callable[[RigJob, Chunk], None],
        on_ended: Callable[[RigJob, JobOutcome], None],
    ) -> None:
        super().__init__()
        _queued(self.started, on_started)
        _queued(self.chunk, on_chunk)
        _queued(self.ended, on_ended)

    def build(self, builder: JobBuilder) -> RigJob:
        """Build a job whose callbacks (called on its thread) emit this bridge's signals."""
        box: list[RigJob] = []  # the job exists before it can report
        job = builder(
            lambda info: self.started.emit(box[0], info),
            lambda piece: self.chunk.emit(box[0], piece),
            lambda outcome: self.ended.emit(box[0], outcome),
        )
        box.append(job)
        return job
