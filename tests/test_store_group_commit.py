"""Group commit in the SQLite store: writes from many threads share a commit, and stay all-or-nothing each."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from dispatcher.store import StoreError, open_store


@pytest.fixture
def store(tmp_path: Path):
    s = open_store(f"sqlite:///{tmp_path / 'notify.db'}")
    yield s
    s.close()


def counting_commits(store) -> list[str]:
    seen: list[str] = []
    store._conn.set_trace_callback(lambda sql: seen.append(sql) if sql.strip().upper() == "COMMIT" else None)
    return seen


def insert(prefix: str, fail: Exception | None = None):
    def work(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO counters VALUES (?, 2026, 1)", (prefix,))
        if fail is not None:
            raise fail
        return prefix
    return work


def queued_behind_a_held_lock(store, works: dict[str, object]) -> dict[str, object]:
    """Start a writer per work while the connection is held, so all but the first queue up; then let go."""
    results: dict[str, object] = {}

    def run(name: str, work) -> None:
        try:
            results[name] = store._write(work)
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            results[name] = exc

    threads = []
    with store._lock:
        for name, work in works.items():
            thread = threading.Thread(target=run, args=(name, work))
            thread.start()
            threads.append(thread)
            if len(threads) == 1:  # the first writer leads: wait until it has taken its own group
                while store._queue:
                    time.sleep(0.001)
        while len(store._queue) < len(works) - 1:
            time.sleep(0.001)
    for thread in threads:
        thread.join(10)
    return results


def stored(store) -> set[str]:
    return {r[0] for r in store._read("SELECT prefix FROM counters")}


def test_writes_that_arrive_during_a_commit_share_the_next_one(store) -> None:
    commits = counting_commits(store)
    results = queued_behind_a_held_lock(store, {f"W{i}": insert(f"W{i}") for i in range(6)})
    assert results == {f"W{i}": f"W{i}" for i in range(6)}
    assert stored(store) == {f"W{i}" for i in range(6)}
    assert len(commits) == 2  # the first writer alone, then the five that queued behind it together


def test_a_failing_write_is_rolled_back_alone_and_raises_in_its_own_thread(store) -> None:
    works = {"A": insert("A"), "B": insert("B"), "bad": insert("BAD", ValueError("boom")), "C": insert("C")}
    results = queued_behind_a_held_lock(store, works)
    assert isinstance(results["bad"], ValueError)
    assert (results["A"], results["B"], results["C"]) == ("A", "B", "C")
    assert stored(store) == {"A", "B", "C"}


def test_a_database_error_in_one_write_is_a_store_error_for_that_write_only(store) -> None:
    def bad(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    results = queued_behind_a_held_lock(store, {"A": insert("A"), "B": insert("B"), "bad": bad, "C": insert("C")})
    assert isinstance(results["bad"], StoreError) and "no_such_table" in str(results["bad"])
    assert stored(store) == {"A", "B", "C"}


def test_a_failed_commit_fails_every_write_of_the_group_and_stores_none(store) -> None:
    def orphan(conn: sqlite3.Connection) -> str:
        conn.execute("PRAGMA defer_foreign_keys = ON")  # the violation surfaces at COMMIT
        conn.execute("INSERT INTO events (incident_id, key, kind, at) VALUES ('NOPE', 'k', 'x', 'now')")
        return "orphan"

    results = queued_behind_a_held_lock(store, {"A": insert("A"), "B": insert("B"), "orphan": orphan})
    assert results["A"] == "A"  # the first writer committed alone, before the others queued
    assert all(isinstance(results[name], sqlite3.IntegrityError) for name in ("B", "orphan"))
    assert stored(store) == {"A"}
    store._write(insert("D"))  # and the store goes on working
    assert stored(store) == {"A", "D"}


def test_many_threads_recording_attempts_lose_nothing(store) -> None:
    record = {"id": "OUT-2026-001", "class": "outage", "drill": False, "dedup_key": "OUT-2026-001",
              "started": datetime.fromisoformat("2026-11-26T03:12:00+00:00"), "fields": {"summary": "x"}}
    store.open_incident(record, [], prefix="OUT", year=2026, now=datetime.fromisoformat("2026-11-26T03:12:00+00:00"))
    keys = [f"k{i}" for i in range(400)]
    barrier = threading.Barrier(16)

    def worker(part: list[str]) -> list[bool]:
        barrier.wait()
        return [store.record_event("OUT-2026-001", key, "alert", datetime.fromisoformat("2026-11-26T03:13:00+00:00"))
                for key in part]

    results: list[list[bool]] = [[] for _ in range(16)]
    threads = [threading.Thread(target=lambda n=n: results.__setitem__(n, worker(keys[n::16] + keys[:3])))
               for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    flat = [r for part in results for r in part]
    assert flat.count(True) == 400  # each key recorded once: the three keys every thread repeats lose the race
    assert {e.key for e in store.events("OUT-2026-001")} >= set(keys)
