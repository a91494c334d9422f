"""The SQLite store shared with another process: reads never wait for a writer, a write waits its turn."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from pathlib import Path

import pytest

from dispatcher.store import open_store
from dispatcher.store.sqlite import SQLiteStore

T0 = datetime.fromisoformat("2026-11-26T03:00:00+00:00")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "notify.db"


def record(dedup_key: str) -> dict:
    return {"id": "", "class": "outage", "drill": False, "dedup_key": dedup_key, "dedup_open": True, "started": T0,
            "fields": {"summary": "API down"}, "meta": {}}


def other_process_writing(path: Path) -> sqlite3.Connection:
    """A connection of its own holding the write lock, as the sender child's store does while it commits."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO counters VALUES ('OTHER', 2026, 1)")
    return conn


def test_reads_answer_while_another_connection_holds_the_write_lock(path: Path) -> None:
    store = open_store(f"sqlite:///{path}")
    incident_id, _ = store.open_incident(record("grp-1"), [], prefix="OUT", year=2026, now=T0)
    other = other_process_writing(path)
    try:
        assert store.incident(incident_id).id == incident_id  # the committed state, without waiting
        assert store.peek_id("OTHER", 2026) == "OTHER-2026-001"  # the other write is not committed yet
        assert store.schema_version() > 0
    finally:
        other.execute("ROLLBACK")
        other.close()
        store.close()


def test_a_write_waits_for_the_other_writer_then_commits(path: Path) -> None:
    store = open_store(f"sqlite:///{path}")
    other = other_process_writing(path)
    result: list = []
    writer = threading.Thread(target=lambda: result.append(
        store.open_incident(record("grp-2"), [], prefix="OUT", year=2026, now=T0)))
    writer.start()
    other.execute("COMMIT")  # whenever the writer asked for the lock, it gets it now
    other.close()
    writer.join(timeout=60)
    assert result == [("OUT-2026-001", True)]
    assert store.peek_id("OTHER", 2026) == "OTHER-2026-002"  # and it sees what the other committed
    store.close()


def test_a_write_after_a_commit_elsewhere_is_read_back_at_once(path: Path) -> None:
    writer, reader = open_store(f"sqlite:///{path}"), open_store(f"sqlite:///{path}")
    incident_id, _ = writer.open_incident(record("grp-3"), [], prefix="OUT", year=2026, now=T0)
    assert reader.incident(incident_id) is not None and reader.open_by_dedup_key("grp-3").id == incident_id
    writer.close()
    reader.close()


def test_an_in_memory_store_reads_its_own_writes() -> None:
    store = SQLiteStore.open(":memory:")  # one connection: a second would be another, empty, database
    incident_id, _ = store.open_incident(record("grp-4"), [], prefix="OUT", year=2026, now=T0)
    assert store.incident(incident_id) is not None
    store.close()


def test_writes_together_commit_at_the_end_of_the_block_and_their_thread_reads_them_before(path: Path) -> None:
    store, other = open_store(f"sqlite:///{path}"), open_store(f"sqlite:///{path}")
    try:
        with store.writes_together():
            first, _ = store.open_incident(record("grp-5"), [], prefix="OUT", year=2026, now=T0)
            second, _ = store.open_incident(record("grp-6"), [], prefix="OUT", year=2026, now=T0)
            assert store.open_by_dedup_key("grp-5").id == first  # this thread reads its writes
            assert other.incident(first) is None  # nobody else sees them before the block ends
        assert [other.incident(i).id for i in (first, second)] == ["OUT-2026-001", "OUT-2026-002"]
    finally:
        store.close()
        other.close()


def test_an_exception_in_writes_together_rolls_back_every_write_of_the_block(path: Path) -> None:
    store = open_store(f"sqlite:///{path}")
    try:
        with pytest.raises(SystemExit), store.writes_together():
            store.open_incident(record("grp-7"), [], prefix="OUT", year=2026, now=T0)
            raise SystemExit("killed between two writes")
        assert store.open_by_dedup_key("grp-7") is None
        assert store.open_incident(record("grp-7"), [], prefix="OUT", year=2026, now=T0) == ("OUT-2026-001", True)
    finally:
        store.close()


def test_a_failed_write_in_writes_together_is_undone_alone(path: Path) -> None:
    store = open_store(f"sqlite:///{path}")
    try:
        with store.writes_together():
            kept, _ = store.open_incident(record("grp-8"), [], prefix="OUT", year=2026, now=T0)
            with pytest.raises(sqlite3.IntegrityError):  # a bug in the SQL: raised as it is, its savepoint undone
                store._write(lambda conn: conn.execute("INSERT INTO counters VALUES ('OUT', 2026, 9)"))
        assert store.incident(kept) is not None
    finally:
        store.close()
