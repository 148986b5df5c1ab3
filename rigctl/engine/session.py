"""The rig session: the one owner of the open rig (no Qt).

A :class:`RigSession` loads a rig file, opens its rig, and lends the rig to one user at a
time (a dry-run sweep, a calibration, a recording). Everyone else asks the session: the
Rig and Run tabs, the ``rigctl`` commands and the simulated study. It builds the
recording runners (:meth:`RigSession.runner`) and the dry-run jobs
(:meth:`RigSession.dry_run_job`) on a lease, so a second user is refused with one clear
sentence while the rig is busy, and it puts the outputs at rest when a lease ends with an
error and when the rig is closed, even while it is lent.

Options of the simulated rig (real-time pacing, the cell's seed) are :class:`RigOptions`
given when the rig is opened; pacing can be changed between leases
(:meth:`RigSession.set_paced`). The session asks the rig for a capability
(:class:`~rigctl.hardware.PacedRig`) and never names a backend.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final

from rigctl.data import resolve_rig
from rigctl.engine.dry_run import JobOutcome, RigJob, SweepStarted, Work
from rigctl.engine.runner import ExperimentRunner, RunOptions, RunResult, RunState
from rigctl.hardware import (
    Chunk,
    PacedRig,
    Rig,
    RigDefinition,
    RigError,
    load_rig,
    open_rig,
)

if TYPE_CHECKING:
    from rigctl import protocol as proto

__all__ = [
    "CLOSE_TIMEOUT_S",
    "NoRigError",
    "RigBusyError",
    "RigLease",
    "RigOpenError",
    "RigOpener",
    "RigOptions",
    "RigSession",
    "default_opener",
    "opened",
]

_log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S: Final = 10.0
"""Longest wait for a lent rig to be given back when the session closes."""


@dataclass(frozen=True)
class RigOptions:
    """How to open a rig.

    Attributes
    ----------
    paced
        Play simulated sweeps in real time, as a rig would (a real rig always is).
    seed
        The simulated cell's seed (``None``: the rig file's).
    """

    paced: bool = False
    seed: int | None = None


RigOpener = Callable[[RigDefinition, RigOptions], Rig]
"""Opens the rig a rig file describes (default :func:`default_opener`)."""


def default_opener(definition: RigDefinition, options: RigOptions) -> Rig:
    """Open the backend ``definition`` names (:func:`rigctl.hardware.open_rig`)."""
    return open_rig(definition, paced=options.paced, seed=options.seed)


class RigBusyError(RigError):
    """The rig is lent to someone else; the message says to whom."""


class NoRigError(RigError):
    """No rig is open (none was chosen, it could not be opened, or it was closed)."""


class RigOpenError(RigError):
    """The rig file was read but its rig could not be opened; the message says why."""


class RigLease:
    """The rig lent to one user; give it back with :meth:`release` (or use ``with``).

    Leaving a ``with`` block with an exception puts the outputs at rest before the rig is
    given back.

    Attributes
    ----------
    rig
        The rig, to use through the :class:`~rigctl.hardware.Rig` protocol only (never
        close it: the session does).
    holder
        Who has the rig ("recording", "calibration", "induction sweep", ...).
    """

    def __init__(self, session: RigSession, rig: Rig, holder: str) -> None:
        self.rig = rig
        self.holder = holder
        self._session = session
        self._released = False
        self._on_abort: Callable[[], None] | None = None

    @property
    def released(self) -> bool:
        """Whether the rig was given back."""
        return self._released

    def on_abort(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (any thread) when the session must take the rig back."""
        self._on_abort = callback

    def abort(self) -> None:
        """Ask the holder to stop now: the holder's abort, then the rig's own."""
        callback = self._on_abort
        try:
            if callback is not None:
                callback()
        finally:
            self.rig.abort()

    def release(self, *, failed: bool = False) -> None:
        """Give the rig back (idempotent); ``failed`` puts the outputs at rest first."""
        if failed:
            try:
                self.rig.safe_state()
            except Exception:  # never lose the rig because resting it failed: say so
                _log.exception("%s: the outputs could not be set to rest", self.holder)
        self._session._give_back(self)

    def __enter__(self) -> Rig:
        return self.rig

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release(failed=exc is not None)


class RigSession:
    """The one owner of the open rig: opens, lends, builds runners and jobs, closes.

    Parameters
    ----------
    opener
        Opens the rig of a rig file (default :func:`default_opener`). It may raise
        :class:`~rigctl.hardware.RigError` (driver missing, device absent) or
        ``ImportError`` (backend not installed); the session then has no rig.
    options
        How rigs are opened (pacing, seed).

    Notes
    -----
    Every method may be called from any thread.
    """

    def __init__(self, opener: RigOpener | None = None, *, options: RigOptions | None = None):
        self._opener = default_opener if opener is None else opener
        self._options = RigOptions() if options is None else options
        self._lock = threading.Lock()  # guards the fields below; never held while waiting
        self._returned = threading.Condition(self._lock)
        self._changing = threading.Lock()  # one open or close at a time
        self._rig: Rig | None = None
        self._definition: RigDefinition | None = None
        self._path: Path | None = None
        self._rig_text = ""
        self._lease: RigLease | None = None

    # ------------------------------------------------------------------ what is open

    @property
    def rig(self) -> Rig | None:
        """The open rig (``None``: none is open). Use it only through a lease."""
        return self._rig

    @property
    def definition(self) -> RigDefinition | None:
        """The rig file loaded last (also when its rig could not be opened)."""
        return self._definition

    @property
    def path(self) -> Path | None:
        """Where :attr:`definition` came from (``None`` for a definition given directly)."""
        return self._path

    @property
    def rig_text(self) -> str:
        """The rig file's text, kept with every recording."""
        return self._rig_text

    @property
    def options(self) -> RigOptions:
        """How the rig is opened (pacing, seed)."""
        return self._options

    @property
    def busy(self) -> bool:
        """Whether the rig is lent."""
        return self._lease is not None

    @property
    def holder(self) -> str | None:
        """Who has the rig (``None``: nobody)."""
        lease = self._lease
        return None if lease is None else lease.holder

    @property
    def can_pace(self) -> bool:
        """Whether the open rig can run faster than real time (a simulation)."""
        return isinstance(self._rig, PacedRig)

    # ------------------------------------------------------------------ open, close

    def open_file(self, path: str | os.PathLike[str] | None = None) -> str | None:
        """Load the rig file ``path`` (default: the simulated rig) and open its rig.

        Parameters
        ----------
        path
            The rig file (TOML).

        Returns
        -------
        str or None
            What went wrong closing the previous rig (``None``: nothing).

        Raises
        ------
        RigFileError
            The file cannot be used; the previous rig stays open.
        RigBusyError
            The rig is lent; nothing changed.
        RigOpenError
            The file was loaded (:attr:`definition`) but its rig could not be opened.
        """
        p = resolve_rig(None if path is None else str(path))
        definition = load_rig(p)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise RigError(f"{p}: cannot read the rig file ({exc.strerror})") from None
        return self.open(definition, path=p.resolve(), rig_text=text)

    def open(
        self, definition: RigDefinition, *, path: Path | None = None, rig_text: str = ""
    ) -> str | None:
        """Close the rig that is open and open the one ``definition`` describes.

        Returns what went wrong closing the previous rig (``None``: nothing); raises
        :class:`RigBusyError` while lent and :class:`RigOpenError` if the new rig cannot
        be opened (then no rig is open, but :attr:`definition` is the new one).
        """
        with self._changing:
            return self._open(definition, path, rig_text)

    def _open(self, definition: RigDefinition, path: Path | None, rig_text: str) -> str | None:
        with self._lock:
            self._refuse_if_lent("change the rig")
            previous, self._rig = self._rig, None
            self._definition, self._path, self._rig_text = definition, path, rig_text
        problem = _rest_and_close(previous)
        name = path.name if path is not None else definition.name
        try:
            rig = self._opener(definition, self._options)
        except RigError as exc:
            raise RigOpenError(f"{name}: {exc}") from exc
        except ImportError as exc:
            raise RigOpenError(
                f"{name}: the {definition.backend} backend cannot be loaded ({exc}); "
                "the simulated rig (hardware/sim.toml) is available"
            ) from exc
        except Exception as exc:  # a bug in a backend: never take the caller down
            _log.exception("opening %s failed", name)
            raise RigOpenError(
                f"{name}: the rig could not be opened ({type(exc).__name__}: {exc})"
            ) from exc
        if isinstance(rig, PacedRig):
            rig.set_paced(self._options.paced)
        with self._lock:
            self._rig = rig
        return problem

    def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> str | None:
        """Take the rig back (aborting its holder), put it at rest and close it.

        Idempotent. While the rig is lent, the holder is asked to abort and given up to
        ``timeout_s`` to give the rig back; the outputs are rested and the rig closed
        either way.

        Returns
        -------
        str or None
            What went wrong (every step is tried), or ``None``.
        """
        with self._changing:
            return self._close(timeout_s)

    def _close(self, timeout_s: float) -> str | None:
        with self._lock:
            lease = self._lease
        problems: list[str] = []
        if lease is not None:
            try:
                lease.abort()
            except Exception as exc:  # the holder's abort failed: go on closing
                _log.exception("aborting the %s failed", lease.holder)
                problems.append(f"aborting the {lease.holder}: {exc}")
            with self._lock:
                if not self._returned.wait_for(lambda: self._lease is None, timeout_s):
                    problems.append(f"the {lease.holder} did not stop within {timeout_s:g} s")
                    self._lease = None
        with self._lock:
            rig, self._rig = self._rig, None
        problem = _rest_and_close(rig)
        if problem:
            problems.append(problem)
        return "; ".join(problems) or None

    def set_paced(self, paced: bool) -> None:
        """Play simulated sweeps in real time (``True``) or as fast as possible.

        Kept for rigs opened later; refused (:class:`RigBusyError`) while the rig is lent.
        Rigs that are always real time ignore it.
        """
        with self._lock:
            self._refuse_if_lent("change the pacing")
            self._options = replace(self._options, paced=paced)
            rig = self._rig
        if isinstance(rig, PacedRig):
            rig.set_paced(paced)

    # ------------------------------------------------------------------ lending

    def lease(self, holder: str) -> RigLease:
        """Lend the rig to ``holder`` until the lease is released.

        Raises
        ------
        NoRigError
            No rig is open.
        RigBusyError
            The rig is lent to someone else (the message says to whom).
        """
        with self._lock:
            if self._rig is None:
                raise NoRigError("no rig is open: choose a rig file first")
            self._refuse_if_lent(f"start the {holder}")
            lease = RigLease(self, self._rig, holder)
            self._lease = lease
            return lease

    def runner(
        self,
        experiment: proto.Experiment,
        folder: str | Path,
        options: RunOptions | None = None,
    ) -> ExperimentRunner:
        """A recording runner on the rig, lent until the run ends.

        The lease ends when the runner reports ``finished``; start (or run) the runner.
        Raises :class:`NoRigError` or :class:`RigBusyError` like :meth:`lease`.
        """
        lease = self.lease("recording")
        try:
            runner = ExperimentRunner(
                lease.rig, experiment, folder, options, rig_text=self._rig_text
            )
        except BaseException:
            lease.release(failed=True)
            raise
        lease.on_abort(runner.abort)

        def ended(result: RunResult) -> None:
            lease.release(failed=result.state == RunState.FAILED)

        runner.finished.connect(ended)
        return runner

    def dry_run_job(
        self,
        work: Work,
        *,
        name: str,
        on_started: Callable[[SweepStarted], None],
        on_chunk: Callable[[Chunk], None],
        on_ended: Callable[[JobOutcome], None],
    ) -> RigJob:
        """A dry run (sweep or calibration) on the rig, lent until the job ends.

        The lease ends just before ``on_ended`` is called; start the job. Raises
        :class:`NoRigError` or :class:`RigBusyError` like :meth:`lease`.
        """
        lease = self.lease(name)

        def ended(outcome: JobOutcome) -> None:
            lease.release()  # the job rested the outputs itself if it failed
            on_ended(outcome)

        job = RigJob(
            lease.rig, work, on_started=on_started, on_chunk=on_chunk, on_ended=ended, name=name
        )
        lease.on_abort(job.cancel)
        return job

    # ------------------------------------------------------------------ internals

    def _refuse_if_lent(self, what: str) -> None:
        """Raise :class:`RigBusyError` if lent (call with the lock held)."""
        lease = self._lease
        if lease is not None:
            raise RigBusyError(
                f"the rig is in use by the {lease.holder}: wait for it to finish or abort it "
                f"before you {what}"
            )

    def _give_back(self, lease: RigLease) -> None:
        with self._lock:
            lease._released = True
            if self._lease is lease:
                self._lease = None
                self._returned.notify_all()


def _rest_and_close(rig: Rig | None) -> str | None:
    """Rest and close ``rig``; say what failed (every step is tried)."""
    if rig is None:
        return None
    problems: list[str] = []
    for step in (rig.safe_state, rig.close):
        try:
            step()
        except RigError as exc:
            problems.append(str(exc))
        except Exception as exc:  # a bug in a backend: report it, go on closing
            _log.exception("closing the rig failed")
            problems.append(f"{type(exc).__name__}: {exc}")
    return "; ".join(problems) or None


@contextmanager
def opened(
    definition: RigDefinition,
    options: RigOptions | None = None,
    *,
    opener: RigOpener | None = None,
    rig_text: str = "",
) -> Iterator[RigSession]:
    """A session with ``definition``'s rig open, closed (at rest) on leaving the block."""
    session = RigSession(opener, options=options)
    session.open(definition, rig_text=rig_text)
    try:
        yield session
    finally:
        problem = session.close()
        if problem:
            _log.error("closing the rig: %s", problem)
