"""The slice log: SQLite in the data root, versioned, WAL, readable while written."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest

from rigctl.engine.slicelog import (
    SCHEMA_VERSION,
    SLICE_LOG_NAME,
    SliceLog,
    SliceLogError,
    SliceStatus,
)


def test_cells_failures_and_induction_with_warnings(tmp_path: Path) -> None:
    with SliceLog(tmp_path) as log:
        assert log.path == tmp_path / SLICE_LOG_NAME
        s = log.new_slice()
        assert s == "slice-1" and log.new_slice() == "slice-2"
        cells = [log.new_cell(s) for _ in range(3)]
        assert log.warnings(s) == []
        log.setup_failed(cells[0], "set-up took 6 min")
        log.setup_failed(cells[1], "lost the seal")
        assert log.status(s) == SliceStatus(s, 3, 2, False)
        assert log.warnings(s) == []
        log.setup_failed(cells[2], "no EPSP")
        (w,) = log.warnings(s)
        assert "3 failed set-ups (limit 3): change the slice" in w
        c = log.new_cell("slice-2")
        log.recorded(c, "recordings/cell-4", setup_s=200.0)
        log.mark_induced("slice-2")
        log.mark_induced("slice-2")  # idempotent
        (w2,) = log.warnings("slice-2")
        assert "has received an induction: do not record another cell" in w2
        entries = log.cells()
        assert [e.cell_id for e in entries] == [*cells, c]
        assert entries[-1].outcome == "recorded" and entries[-1].setup_s == 200.0
        assert [e.reason for e in log.cells(s)] == ["set-up took 6 min", "lost the seal", "no EPSP"]
        assert [x.slice_id for x in log.slices()] == ["slice-1", "slice-2"]
        with pytest.raises(SliceLogError, match="no cell cell-99"):
            log.setup_failed("cell-99", "?")
        with pytest.raises(SliceLogError, match="not a cell id"):
            log.setup_failed("bogus", "?")
    # Reopened: the data is there, the schema version is set, WAL is on.
    with SliceLog(tmp_path, failure_limit=4) as again:
        assert again.status(s).failures == 3 and again.warnings(s) == []
    db = sqlite3.connect(tmp_path / SLICE_LOG_NAME)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_a_log_from_a_newer_rigctl_is_one_sentence(tmp_path: Path) -> None:
    SliceLog(tmp_path).close()
    db = sqlite3.connect(tmp_path / SLICE_LOG_NAME)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(SliceLogError, match="written by a newer rigctl") as info:
        SliceLog(tmp_path)
    assert "\n" not in str(info.value)


def test_a_file_that_is_not_a_database_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / SLICE_LOG_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(SliceLogError, match="is not a usable slice log"):
        SliceLog(tmp_path)


def test_a_locked_log_is_one_sentence_not_a_hang(tmp_path: Path) -> None:
    SliceLog(tmp_path).close()
    other = sqlite3.connect(tmp_path / SLICE_LOG_NAME, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        log = SliceLog(tmp_path, timeout_s=0.05)
        with pytest.raises(SliceLogError, match="is locked by another program"):
            log.new_cell("slice-1")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert log.new_cell("slice-1") == "cell-1"  # usable once the lock is gone
    log.close()


def test_readers_in_threads_see_committed_state_while_a_writer_holds_a_transaction(
    tmp_path: Path,
) -> None:
    log = SliceLog(tmp_path)
    log.new_cell("s")
    writer = sqlite3.connect(tmp_path / SLICE_LOG_NAME, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO cells (slice_id, created) VALUES ('s', 'now')")
    seen: list[int] = []
    errors: list[BaseException] = []
    parked = threading.Event()

    def reader() -> None:
        try:
            with SliceLog(tmp_path, timeout_s=0.05) as r:
                seen.append(r.status("s").cells)  # does not wait for the writer (WAL)
                parked.set()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            parked.set()

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert parked.is_set() and not errors and seen == [1, 1, 1, 1]
    writer.execute("COMMIT")
    writer.close()
    assert log.status("s").cells == 2
    log.close()


def _read_counts(root: str, n: int) -> list[int]:
    counts = []
    with SliceLog(root, timeout_s=5.0) as log:
        for _ in range(n):
            counts.append(log.status("p").cells)
    return counts


def test_reader_processes_while_writing(tmp_path: Path) -> None:
    SliceLog(tmp_path).close()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        pending = [pool.apply_async(_read_counts, (str(tmp_path), 200)) for _ in range(2)]
        with SliceLog(tmp_path, timeout_s=5.0) as log:
            for _ in range(50):
                log.new_cell("p")
        results = [p.get(60) for p in pending]
    for counts in results:
        assert all(0 <= c <= 50 for c in counts)
        assert counts == sorted(counts)  # never goes back: each read is a committed state
    with SliceLog(tmp_path) as log:
        assert log.status("p").cells == 50
