"""The slice log: cells per slice, set-up failures, and which slices have had an induction.

The paper's rules: after 3-4 failed cells change the slice; never reuse a slice that has
received an induction. The log is one SQLite file in the data root (WAL mode, so readers
such as a listing tool never block the rig), its schema versioned with
``PRAGMA user_version``. A database that is locked or written by a newer rigctl gives one
clear sentence (:class:`SliceLogError`), never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "SCHEMA_VERSION",
    "SLICE_LOG_NAME",
    "CellEntry",
    "SliceLog",
    "SliceLogError",
    "SliceStatus",
]

SLICE_LOG_NAME = "rigctl-slices.sqlite"
"""File name of the slice log in the data root."""

SCHEMA_VERSION = 1
"""Schema version this rigctl writes (``PRAGMA user_version``)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS slices (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    induced_at TEXT,
    note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS cells (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slice_id TEXT NOT NULL REFERENCES slices(id),
    created TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT 'setup'
        CHECK (outcome IN ('setup', 'failed', 'recorded')),
    reason TEXT NOT NULL DEFAULT '',
    setup_s REAL,
    recording TEXT
);
CREATE INDEX IF NOT EXISTS cells_by_slice ON cells(slice_id);
"""


class SliceLogError(RuntimeError):
    """The slice log cannot be used; the message is one sentence for the user."""


@dataclass(frozen=True)
class SliceStatus:
    """One slice: how many cells, how many failed set-ups, whether it had an induction."""

    slice_id: str
    cells: int
    failures: int
    induced: bool


@dataclass(frozen=True)
class CellEntry:
    """One cell of the log."""

    cell_id: str
    slice_id: str
    created: str
    outcome: str
    reason: str
    setup_s: float | None
    recording: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat()


class SliceLog:
    """The slice log in ``root`` (created on first use).

    Parameters
    ----------
    root
        The data root (folder); the log is ``root / SLICE_LOG_NAME``.
    failure_limit
        Warn to change the slice after this many failed set-ups (default 3).
    timeout_s
        How long to wait for another writer before reporting the log as locked.
    """

    def __init__(
        self, root: str | os.PathLike[str], *, failure_limit: int = 3, timeout_s: float = 2.0
    ) -> None:
        if failure_limit < 1:
            raise ValueError(f"failure_limit {failure_limit!r} must be at least 1")
        self.path = Path(root) / SLICE_LOG_NAME
        self.failure_limit = failure_limit
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=timeout_s, check_same_thread=False, isolation_level=None
            )
        except (OSError, sqlite3.Error) as exc:
            raise SliceLogError(f"the slice log {self.path} cannot be opened ({exc})") from None
        try:
            self._migrate()
        except SliceLogError:
            self._db.close()
            raise

    # ------------------------------------------------------------------ plumbing

    def _error(self, exc: sqlite3.Error) -> SliceLogError:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            return SliceLogError(
                f"the slice log {self.path} is locked by another program; close it and try again"
            )
        if "not a database" in text or "malformed" in text:
            return SliceLogError(f"{self.path} is not a usable slice log ({exc})")
        return SliceLogError(f"the slice log {self.path} cannot be used ({exc})")

    @contextlib.contextmanager
    def _tx(self, write: bool) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._error(exc) from None

    def _migrate(self) -> None:
        try:
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise SliceLogError(
                    f"the slice log {self.path} was written by a newer rigctl (schema "
                    f"{version}; this one reads up to {SCHEMA_VERSION}); update rigctl"
                )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        if version < SCHEMA_VERSION:
            with self._tx(write=True) as db:
                # one statement at a time: executescript would commit mid-transaction
                for stmt in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                    db.execute(stmt)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> SliceLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing

    def new_slice(self, slice_id: str | None = None, note: str = "") -> str:
        """Register a slice (default id: ``slice-N``); returns its id."""
        with self._tx(write=True) as db:
            if slice_id is None:
                n = int(db.execute("SELECT COUNT(*) FROM slices").fetchone()[0]) + 1
                slice_id = f"slice-{n}"
                while db.execute("SELECT 1 FROM slices WHERE id = ?", (slice_id,)).fetchone():
                    n += 1
                    slice_id = f"slice-{n}"
            db.execute(
                "INSERT OR IGNORE INTO slices (id, created, note) VALUES (?, ?, ?)",
                (slice_id, _now(), note),
            )
        return slice_id

    def new_cell(self, slice_id: str) -> str:
        """Register a cell being set up on ``slice_id`` (created if new); returns its id."""
        with self._tx(write=True) as db:
            db.execute(
                "INSERT OR IGNORE INTO slices (id, created) VALUES (?, ?)", (slice_id, _now())
            )
            cur = db.execute(
                "INSERT INTO cells (slice_id, created) VALUES (?, ?)", (slice_id, _now())
            )
            return f"cell-{cur.lastrowid}"

    def _cell_row(self, cell_id: str) -> int:
        try:
            return int(cell_id.removeprefix("cell-"))
        except ValueError:
            raise SliceLogError(f"{cell_id!r} is not a cell id of the slice log") from None

    def _set_cell(self, cell_id: str, **values: object) -> None:
        row = self._cell_row(cell_id)
        cols = ", ".join(f"{k} = ?" for k in values)
        with self._tx(write=True) as db:
            cur = db.execute(f"UPDATE cells SET {cols} WHERE id = ?", (*values.values(), row))
            if cur.rowcount != 1:
                raise SliceLogError(f"the slice log {self.path} has no cell {cell_id}")

    def setup_failed(self, cell_id: str, reason: str, setup_s: float | None = None) -> None:
        """Record that the set-up of ``cell_id`` failed (too long, lost the seal, ...)."""
        self._set_cell(cell_id, outcome="failed", reason=reason, setup_s=setup_s)

    def recorded(self, cell_id: str, recording: str, setup_s: float | None = None) -> None:
        """Record that ``cell_id`` went on to a recording (its folder)."""
        self._set_cell(cell_id, outcome="recorded", recording=recording, setup_s=setup_s)

    def mark_induced(self, slice_id: str) -> None:
        """Record that ``slice_id`` has received an induction (never record from it again)."""
        with self._tx(write=True) as db:
            db.execute(
                "INSERT OR IGNORE INTO slices (id, created) VALUES (?, ?)", (slice_id, _now())
            )
            db.execute(
                "UPDATE slices SET induced_at = COALESCE(induced_at, ?) WHERE id = ?",
                (_now(), slice_id),
            )

    # ------------------------------------------------------------------ reading

    def status(self, slice_id: str) -> SliceStatus:
        """Cells, failed set-ups and induction of ``slice_id`` (zeros for an unknown slice)."""
        with self._tx(write=False) as db:
            row = db.execute("SELECT induced_at FROM slices WHERE id = ?", (slice_id,)).fetchone()
            cells, failures = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(outcome = 'failed'), 0) FROM cells "
                "WHERE slice_id = ?",
                (slice_id,),
            ).fetchone()
        return SliceStatus(slice_id, int(cells), int(failures), bool(row and row[0]))

    def warnings(self, slice_id: str) -> list[str]:
        """What the user must hear before recording another cell on ``slice_id``."""
        st = self.status(slice_id)
        out = []
        if st.induced:
            out.append(f"{slice_id} has received an induction: do not record another cell from it")
        if st.failures >= self.failure_limit:
            out.append(
                f"{slice_id} has had {st.failures} failed set-ups (limit "
                f"{self.failure_limit}): change the slice"
            )
        return out

    def cells(self, slice_id: str | None = None) -> list[CellEntry]:
        """Every cell (of one slice, if given), oldest first."""
        query = "SELECT id, slice_id, created, outcome, reason, setup_s, recording FROM cells"
        args: tuple[str, ...] = ()
        if slice_id is not None:
            query += " WHERE slice_id = ?"
            args = (slice_id,)
        with self._tx(write=False) as db:
            rows = db.execute(query + " ORDER BY id", args).fetchall()
        return [CellEntry(f"cell-{r[0]}", r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]

    def slices(self) -> list[SliceStatus]:
        """Every slice, oldest first."""
        with self._tx(write=False) as db:
            ids = [r[0] for r in db.execute("SELECT id FROM slices ORDER BY created, id")]
        return [self.status(i) for i in ids]
