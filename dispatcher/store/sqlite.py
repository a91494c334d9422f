"""The embedded store: one SQLite file, WAL mode, versioned schema.

Every write that must be atomic (an id allocated with its incident and all its
planned deliveries) happens in one ``BEGIN IMMEDIATE`` transaction, so two
tired engineers triggering the same id at once page nobody twice.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from .base import AttemptRow, DeliveryRow, IncidentRow, StoreBehind, StoreError

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE counters (prefix TEXT NOT NULL, year INTEGER NOT NULL, value INTEGER NOT NULL,
                           PRIMARY KEY (prefix, year));
    CREATE TABLE incidents (
        id TEXT PRIMARY KEY, class TEXT NOT NULL, status TEXT NOT NULL, drill INTEGER NOT NULL,
        dedup_key TEXT NOT NULL, started TEXT NOT NULL, created TEXT NOT NULL, fields TEXT NOT NULL,
        acked_at TEXT, acked_by TEXT, resolved_at TEXT);
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, incident_id TEXT NOT NULL REFERENCES incidents(id),
        step INTEGER NOT NULL, person TEXT NOT NULL, display TEXT NOT NULL, role TEXT NOT NULL,
        channel TEXT NOT NULL, target TEXT NOT NULL, masked_target TEXT NOT NULL, template TEXT NOT NULL,
        status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, reason TEXT, detail TEXT,
        fallback_of INTEGER REFERENCES deliveries(id), skip TEXT, delivered_to TEXT,
        fallbacks TEXT NOT NULL DEFAULT '[]', warning TEXT,
        next_attempt_at TEXT, lease_until TEXT, created TEXT NOT NULL, updated TEXT NOT NULL);
    CREATE INDEX deliveries_by_incident ON deliveries (incident_id, step);
    CREATE TABLE attempts (
        id INTEGER PRIMARY KEY, delivery_id INTEGER NOT NULL REFERENCES deliveries(id),
        at TEXT NOT NULL, incident_id TEXT NOT NULL, class TEXT NOT NULL, step INTEGER NOT NULL,
        person TEXT NOT NULL, role TEXT NOT NULL, channel TEXT NOT NULL, masked_target TEXT NOT NULL,
        attempt INTEGER NOT NULL, outcome TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL,
        latency_ms REAL NOT NULL, fallback_of INTEGER, delivered_to TEXT);
    CREATE INDEX attempts_by_incident ON attempts (incident_id, at);
    CREATE INDEX attempts_by_time ON attempts (at);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class SQLiteStore:
    """Incidents, outbox and attempt log in one SQLite file; safe to share between threads."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self._conn = conn
        self._lock = threading.Lock()  # one connection, serialised: SQLite writes are serial anyway
        self.path = path

    # -- opening -----------------------------------------------------------

    @classmethod
    def open(cls, path: str) -> "SQLiteStore":
        """Open the store, creating it at the current schema when new."""
        if path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"NOTIFY_STORE_URL: cannot create {Path(path).parent}: {exc.strerror}") from None
        store = cls(_connect(path), path)
        version = store.schema_version()
        if version == 0:
            store.upgrade()
        elif version < SCHEMA_VERSION:
            raise StoreBehind(f"store {path} is at schema {version}, this notify needs {SCHEMA_VERSION}: "
                              "run `notify db upgrade`")
        return store

    @classmethod
    def open_readonly(cls, path: str) -> "SQLiteStore | None":
        if path == ":memory:" or not os.path.exists(path):
            return None
        return cls(_connect(f"file:{path}?mode=ro", uri=True), path)

    def close(self) -> None:
        self._conn.close()

    def schema_version(self) -> int:
        row = self._conn.execute("SELECT name FROM sqlite_master WHERE name = 'meta'").fetchone()
        if row is None:
            return 0
        value = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(value[0]) if value else 0

    def upgrade(self) -> tuple[int, int]:
        """Apply pending migrations; returns (from, to) versions."""
        before = self.schema_version()
        with self._tx() as conn:
            for script in MIGRATIONS[before:]:
                for statement in filter(str.strip, script.split(";")):
                    conn.execute(statement)
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        return before, SCHEMA_VERSION

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- incidents -----------------------------------------------------------

    def peek_id(self, prefix: str, year: int) -> str:
        """The id the next allocation would give, without allocating it."""
        row = self._conn.execute("SELECT value FROM counters WHERE prefix = ? AND year = ?", (prefix, year)).fetchone()
        return _format_id(prefix, year, (row[0] if row else 0) + 1)

    def incident(self, incident_id: str) -> IncidentRow | None:
        row = self._conn.execute("SELECT id, class, status, drill, started, created, fields FROM incidents "
                                 "WHERE id = ?", (incident_id,)).fetchone()
        if row is None:
            return None
        return IncidentRow(row[0], row[1], row[2], bool(row[3]), row[4], row[5], json.loads(row[6]))

    def open_incident(self, incident: dict[str, Any], deliveries: Iterable[dict[str, Any]], *,
                      prefix: str, year: int, now: str) -> tuple[str, bool]:
        """Store an incident and its planned deliveries atomically; allocate its id when it has none.

        Returns (id, created). When the id exists already nothing is written and created is False.
        """
        with self._tx() as conn:
            incident_id = incident["id"] or self._allocate(conn, prefix, year)
            if conn.execute("SELECT 1 FROM incidents WHERE id = ?", (incident_id,)).fetchone():
                return incident_id, False
            conn.execute("INSERT INTO incidents (id, class, status, drill, dedup_key, started, created, fields) "
                         "VALUES (?, ?, 'open', ?, ?, ?, ?, ?)",
                         (incident_id, incident["class"], int(incident["drill"]), incident["dedup_key"] or incident_id,
                          incident["started"], now, json.dumps(incident["fields"], sort_keys=True)))
            for d in deliveries:
                self._insert_delivery(conn, incident_id, d, now)
            return incident_id, True

    @staticmethod
    def _allocate(conn: sqlite3.Connection, prefix: str, year: int) -> str:
        conn.execute("INSERT INTO counters VALUES (?, ?, 1) ON CONFLICT (prefix, year) DO UPDATE "
                     "SET value = value + 1", (prefix, year))
        while True:  # skip numbers taken by ids a user typed by hand
            value = conn.execute("SELECT value FROM counters WHERE prefix = ? AND year = ?",
                                 (prefix, year)).fetchone()[0]
            candidate = _format_id(prefix, year, value)
            if not conn.execute("SELECT 1 FROM incidents WHERE id = ?", (candidate,)).fetchone():
                return candidate
            conn.execute("UPDATE counters SET value = value + 1 WHERE prefix = ? AND year = ?", (prefix, year))

    @staticmethod
    def _insert_delivery(conn: sqlite3.Connection, incident_id: str, d: dict[str, Any], now: str) -> int:
        key = d["key"].replace("{incident}", incident_id)
        cursor = conn.execute(
            "INSERT INTO deliveries (key, incident_id, step, person, display, role, channel, target, masked_target,"
            " template, status, fallback_of, skip, fallbacks, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (key, incident_id, d["step"], d["person"], d["display"], d["role"], d["channel"], d["target"],
             d["masked_target"], d["template"], "skipped" if d.get("skip") else "pending", d.get("fallback_of"),
             d.get("skip"), json.dumps(d.get("fallbacks", [])), now, now))
        return int(cursor.lastrowid)

    # -- deliveries -----------------------------------------------------------

    def deliveries(self, incident_id: str, step: int | None = None) -> list[DeliveryRow]:
        query = ("SELECT id, key, incident_id, step, person, display, role, channel, target, masked_target, template,"
                 " status, attempts, reason, detail, fallback_of, skip, fallbacks, warning, delivered_to"
                 " FROM deliveries WHERE incident_id = ?")
        args: tuple[Any, ...] = (incident_id,)
        if step is not None:
            query, args = query + " AND step = ?", args + (step,)
        return [DeliveryRow(*row[:-3], fallbacks=json.loads(row[-3]), warning=row[-2], delivered_to=row[-1])
                for row in self._conn.execute(query + " ORDER BY id", args)]

    def add_fallback(self, original: DeliveryRow, d: dict[str, Any], now: str) -> int | None:
        """Plan a fallback delivery for a failed one; None when it was planned already."""
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM deliveries WHERE key = ?", (d["key"],)).fetchone():
                return None
            return self._insert_delivery(conn, original.incident_id, {**d, "fallback_of": original.id}, now)

    def set_warning(self, delivery_id: int, warning: str) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE deliveries SET warning = ? WHERE id = ?", (warning, delivery_id))

    def record_attempt(self, delivery: DeliveryRow, attempt: AttemptRow, *, final_status: str | None) -> None:
        """Append one attempt row and update the delivery, in one transaction."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO attempts (delivery_id, at, incident_id, class, step, person, role, channel,"
                " masked_target, attempt, outcome, reason, detail, latency_ms, fallback_of, delivered_to)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (delivery.id, attempt.at, attempt.incident_id, attempt.klass, attempt.step, attempt.person,
                 attempt.role, attempt.channel, attempt.masked_target, attempt.attempt, attempt.outcome,
                 attempt.reason, attempt.detail, attempt.latency_ms, attempt.fallback_of, attempt.delivered_to))
            conn.execute("UPDATE deliveries SET attempts = ?, status = COALESCE(?, status), reason = ?, detail = ?,"
                         " delivered_to = COALESCE(?, delivered_to), updated = ? WHERE id = ?",
                         (attempt.attempt, final_status, attempt.reason, attempt.detail, attempt.delivered_to,
                          attempt.at, delivery.id))

    # -- log --------------------------------------------------------------------

    def attempts(self, *, incident_id: str | None = None, since: str | None = None,
                 limit: int | None = None) -> list[AttemptRow]:
        clauses, args = [], []
        if incident_id:
            clauses, args = clauses + ["incident_id = ?"], args + [incident_id]
        if since:
            clauses, args = clauses + ["at >= ?"], args + [since]
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        query = ("SELECT at, incident_id, class, step, person, role, channel, masked_target, attempt, outcome, reason,"
                 f" detail, latency_ms, fallback_of, delivered_to FROM attempts{where} ORDER BY id DESC")
        if limit:
            query += f" LIMIT {int(limit)}"
        rows = [AttemptRow(*row) for row in self._conn.execute(query, args)]
        return list(reversed(rows))


def _connect(target: str, uri: bool = False) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(target, uri=uri, isolation_level=None, check_same_thread=False, timeout=30)
        if not uri:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open store {target}: {exc}") from None


def _format_id(prefix: str, year: int, value: int) -> str:
    return f"{prefix}-{year}-{value:03d}"
