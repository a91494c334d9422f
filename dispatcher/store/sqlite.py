"""The embedded store: one SQLite file, WAL mode, versioned schema.

Every write that must be atomic (an id allocated with its incident and all its
planned deliveries; a timer's event with its notices) happens in one
``BEGIN IMMEDIATE`` transaction, so two tired engineers triggering the same id
at once page nobody twice, and a timer fires once however often it is ticked.

Writes are group-committed (see :meth:`SQLiteStore._write`): writes from other
threads that arrive while a commit is in progress share the next transaction,
each in its own savepoint, and its one COMMIT. Every write is still atomic and
durable (``synchronous=FULL``: the WAL is synced at each commit) before the
call returns; what changes is that one fsync covers many of them, so the
disk's sync rate no longer caps how many incidents or attempts per second one
process records.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

from .base import (UPDATE_KINDS, AttemptRow, DeliveryRow, EventRow, InboxRow, IncidentRow, StoreBehind,
                   StoreError)
from .inbox_sql import (INBOX_BUSY, INBOX_COLUMNS, INBOX_DONE, INBOX_FAILED, INBOX_GIVE_UP, INBOX_PAGE,
                        INBOX_RELEASE, InboxViews, choose)
from .keys import stored_key
from .requests_sql import RequestSeals
from .schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

T = TypeVar("T")

_INCIDENT_COLUMNS = ("id, class, status, drill, started, created, fields, meta, acked_at, acked_by, resolved_at,"
                     " updates, last_update_at")
_DELIVERY_COLUMNS = ("id, key, incident_id, step, person, display, role, channel, target, masked_target, template,"
                     " status, attempts, reason, detail, fallback_of, skip, fallbacks, warning, delivered_to, kind,"
                     " notice, possible_duplicate, next_attempt_at")
_ATTEMPT_COLUMNS = ("at, incident_id, class, step, person, role, channel, masked_target, attempt, outcome, reason,"
                    " detail, latency_ms, fallback_of, delivered_to, kind, possible_duplicate")


class SQLiteStore(InboxViews, RequestSeals):
    """Incidents, outbox, timeline and attempt log in one SQLite file; safe to share between threads."""

    def __init__(self, conn: sqlite3.Connection, path: str, reader: sqlite3.Connection | None = None) -> None:
        self._conn = conn
        self._lock = threading.Lock()  # one connection, serialised: SQLite writes are serial anyway
        # Reads use their own connection: in WAL mode a reader never waits for a writer, so a read
        # does not queue behind a group's COMMIT (an fsync), nor behind another process's write.
        self._reader = reader or conn
        self._reader_lock = threading.Lock() if reader is not None else self._lock
        self.path = path
        self._placeholder = "?"
        self.upgraded = (0, 0)  # (from, to) when this open applied migrations
        self._queue: list[_Write] = []  # writes waiting for the next group commit
        self._queue_lock = threading.Lock()
        self._leading = False  # a thread is committing a group; the next one waits in the queue

    # -- opening -----------------------------------------------------------

    @classmethod
    def open(cls, path: str, *, upgrade: bool = False) -> "SQLiteStore":
        """Open the store, creating it when new; refuse one that is behind unless upgrading."""
        if path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                # People's phone numbers and addresses, and alert bodies: readable by notify's user only.
                # SQLite gives its -wal and -shm files the database file's permissions.
                os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            except OSError as exc:
                raise StoreError(f"cannot create the state directory {Path(path).parent} or the store in it "
                                 f"(NOTIFY_STATE_DIR or NOTIFY_STORE_URL): {exc.strerror}") from None
        store = cls(_connect(path), path, None if path == ":memory:" else _connect(path, wal=False))
        version = store.schema_version()
        if version == 0 or upgrade:
            store.upgraded = store.upgrade()
        elif version < SCHEMA_VERSION:
            store.close()
            raise StoreBehind(f"store {path} is at schema {version}, this notify needs {SCHEMA_VERSION}: "
                              "run `notify db upgrade`")
        elif version > SCHEMA_VERSION:
            store.close()
            raise StoreError(f"store {path} is at schema {version}, newer than this notify ({SCHEMA_VERSION}): "
                             "upgrade notify")
        return store

    @classmethod
    def open_readonly(cls, path: str) -> "SQLiteStore | None":
        if path == ":memory:" or not os.path.exists(path):
            return None
        return cls(_connect(f"file:{path}?mode=ro", uri=True), path)

    def close(self) -> None:
        self._conn.close()
        if self._reader is not self._conn:
            self._reader.close()

    def schema_version(self) -> int:
        with self._reader_lock, _store_errors(self.path):
            return _version(self._reader)

    def upgrade(self) -> tuple[int, int]:
        """Apply pending migrations in one transaction; returns (from, to) versions.

        The version is read inside the write lock, so two processes creating a new store at
        the same moment apply the schema once.
        """
        def work(conn: sqlite3.Connection) -> int:
            before = _version(conn)
            for step in MIGRATIONS[before:]:
                if callable(step):  # a data step
                    step(conn, "?")
                    continue
                for statement in filter(str.strip, step.split(";")):
                    conn.execute(statement)
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            return before

        return self._write(work), SCHEMA_VERSION

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(conn)`` in a write transaction that is committed before this returns.

        The first writer commits at once. Writers that arrive during that commit queue up; when it
        is done, the first of them commits the whole queue in one transaction, each write in its
        own savepoint: a write that fails is rolled back alone and raises in its own thread, the
        others commit. A failed BEGIN or COMMIT fails every write of the group, and none of them
        is stored. A database failure is a StoreError naming the store; an IntegrityError (a bug
        in our SQL) is raised as it is.
        """
        write = _Write(self._sealing(work))  # wrapped here, in the caller's thread (see requests_sql)
        with self._queue_lock:
            self._queue.append(write)
            if not self._leading:
                self._leading = write.lead = True
        while not write.done:
            if write.lead:
                write.lead = False
                self._commit_queue()
                continue
            write.wake.wait()
            write.wake.clear()
        if write.error is not None:
            raise write.error
        return write.result  # type: ignore[return-value]

    def _commit_queue(self) -> None:
        """Commit every queued write as one group, then hand the lead to the first write queued since."""
        with self._queue_lock:
            group, self._queue = self._queue, []
        try:
            with self._lock:
                self._run_group(group)
        except BaseException as exc:  # noqa: BLE001 - never leave a writer waiting; each gets the failure
            for write in group:
                if write.error is None:
                    write.error, write.result = exc, None
        finally:
            with self._queue_lock:
                following = self._queue[0] if self._queue else None
                if following is not None:
                    following.lead = True
                else:
                    self._leading = False
            for write in group:
                write.done = True
                write.wake.set()
            if following is not None:
                following.wake.set()

    def _run_group(self, group: list["_Write"]) -> None:
        """One transaction for the group, one savepoint per write (none for a write alone)."""
        conn = self._conn
        try:
            _begin_immediate(conn)
        except sqlite3.Error as exc:
            _fail_all(group, _as_store_error(exc, self.path))
            return
        try:
            for write in group:
                if len(group) == 1:
                    write.result = write.work(conn)  # its failure rolls the transaction back, below
                    continue
                conn.execute("SAVEPOINT write")
                try:
                    write.result = write.work(conn)
                except Exception as exc:  # noqa: BLE001 - raised again in the writer's own thread
                    write.error = _as_store_error(exc, self.path)
                    if not _undo_savepoint(conn):
                        raise StoreError(f"store {self.path}: a failed write took the transaction with it; "
                                         "nothing of it was stored") from None
                    continue
                conn.execute("RELEASE write")
            conn.execute("COMMIT")
        except BaseException as exc:
            _rollback(conn)
            _fail_all(group, _as_store_error(exc, self.path))  # nothing of this group was stored
            if not isinstance(exc, Exception):
                raise

    def _read(self, query: str, args: Iterable[Any] = ()) -> list[tuple]:
        with self._reader_lock, _store_errors(self.path):
            return self._reader.execute(query, tuple(args)).fetchall()

    # -- incidents -----------------------------------------------------------

    def peek_id(self, prefix: str, year: int) -> str:
        """The id the next allocation would give, without allocating it."""
        rows = self._read("SELECT value FROM counters WHERE prefix = ? AND year = ?", (prefix, year))
        return _format_id(prefix, year, (rows[0][0] if rows else 0) + 1)

    def incident(self, incident_id: str) -> IncidentRow | None:
        rows = self._read(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?", (incident_id,))
        return _incident(rows[0]) if rows else None

    def open_by_dedup_key(self, dedup_key: str) -> IncidentRow | None:
        """The unresolved incident a monitoring group (or other dedup key) opened, if any."""
        dedup_key = stored_key(dedup_key)
        rows = self._read(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE dedup_key = ? AND status != 'resolved'",
                          (dedup_key,))
        return _incident(rows[0]) if rows else None

    def incidents(self, *, open_only: bool = False) -> list[IncidentRow]:
        where = " WHERE status != 'resolved'" if open_only else ""
        return [_incident(r) for r in self._read(f"SELECT {_INCIDENT_COLUMNS} FROM incidents{where} ORDER BY created")]

    def open_incident(self, incident: dict[str, Any], deliveries: Iterable[dict[str, Any]], *,
                      prefix: str, year: int, now: str,
                      events: Iterable[tuple[str, str, str]] = ()) -> tuple[str, bool]:
        """Store an incident, its 'triggered' event, its planned deliveries and `events` atomically.

        `events` are more timeline events, (key, kind, detail), each recorded once by key (as
        record_event would, in the same transaction: a webhook's alerts). Allocates the id when it
        has none. Returns (id, created); when the id exists already nothing is written and created
        is False.
        """
        if incident.get("dedup_key"):  # a monitoring group's key may be longer than an index holds
            incident = {**incident, "dedup_key": stored_key(incident["dedup_key"])}
        events = [(stored_key(key), kind, detail) for key, kind, detail in events]
        more = list(events)
        def work(conn: sqlite3.Connection) -> Any:
            if incident.get("dedup_open"):  # a monitoring group already open: the same incident, never a second
                found = conn.execute("SELECT id FROM incidents WHERE dedup_key = ? AND status != 'resolved'",
                                     (incident["dedup_key"],)).fetchone()
                if found:
                    return found[0], False
            incident_id = incident["id"] or self._allocate(conn, prefix, year)
            if conn.execute("SELECT 1 FROM incidents WHERE id = ?", (incident_id,)).fetchone():
                return incident_id, False
            conn.execute("INSERT INTO incidents (id, class, status, drill, dedup_key, started, created, fields, meta)"
                         " VALUES (?, ?, 'open', ?, ?, ?, ?, ?, ?)",
                         (incident_id, incident["class"], int(incident["drill"]), incident["dedup_key"] or incident_id,
                          incident["started"], now, json.dumps(incident["fields"], sort_keys=True),
                          json.dumps(incident.get("meta", {}), sort_keys=True)))
            conn.execute("INSERT INTO events (incident_id, key, kind, at, detail) VALUES (?, 'triggered', "
                         "'triggered', ?, ?)", (incident_id, now, incident["fields"].get("summary", "")))
            if more:
                conn.executemany("INSERT INTO events (incident_id, key, kind, at, detail) VALUES (?,?,?,?,?)"
                                 " ON CONFLICT (incident_id, key) DO NOTHING",
                                 [(incident_id, key, kind, now, detail) for key, kind, detail in more])
            self._insert_deliveries(conn, incident_id, deliveries, now)
            return incident_id, True

        return self._write(work)

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
    def _insert_delivery(conn: sqlite3.Connection, incident_id: str, d: dict[str, Any], now: str) -> int | None:
        """Insert one planned delivery; None when its idempotency key exists already."""
        cursor = conn.execute(_INSERT_DELIVERY, _delivery_values(incident_id, d, now))
        return int(cursor.lastrowid) if cursor.rowcount else None

    @staticmethod
    def _insert_deliveries(conn: sqlite3.Connection, incident_id: str, planned: Iterable[dict[str, Any]],
                           now: str) -> None:
        """Insert planned deliveries in one statement (their ids are not needed), each once by key."""
        conn.executemany(_INSERT_DELIVERY, [_delivery_values(incident_id, d, now) for d in planned])

    # -- the timeline --------------------------------------------------------------

    def record_event(self, incident_id: str, key: str, kind: str, at: str, detail: str = "", by: str | None = None,
                     deliveries: Iterable[dict[str, Any]] = (), status: str | None = None) -> bool:
        """Record a timeline event once (by key) with its notices and an optional status change.

        Returns False, writing nothing, when the event was recorded before: timers are idempotent.
        A read answers that case without a write transaction (events are never deleted): every tick
        asks again about each timer already fired, for every open incident.
        """
        key = stored_key(key)
        if self._read("SELECT 1 FROM events WHERE incident_id = ? AND key = ?", (incident_id, key)):
            return False

        def work(conn: sqlite3.Connection) -> Any:
            cursor = conn.execute("INSERT INTO events (incident_id, key, kind, at, by, detail) VALUES (?,?,?,?,?,?)"
                                  " ON CONFLICT (incident_id, key) DO NOTHING",
                                  (incident_id, key, kind, at, by, detail))
            if not cursor.rowcount:
                return False
            for d in deliveries:
                self._insert_delivery(conn, incident_id, d, at)
            self._apply_status(conn, incident_id, kind, status, at, by)
            return True

        return self._write(work)

    @staticmethod
    def _apply_status(conn: sqlite3.Connection, incident_id: str, kind: str, status: str | None, at: str,
                      by: str | None) -> None:
        if status == "acknowledged":
            conn.execute("UPDATE incidents SET status = 'acknowledged', acked_at = ?, acked_by = ? "
                         "WHERE id = ? AND status = 'open'", (at, by, incident_id))
        elif status == "resolved":
            conn.execute("UPDATE incidents SET status = 'resolved', resolved_at = ? WHERE id = ?", (at, incident_id))
            # Timer notices are moot once resolved; pages and updates already accepted still go out.
            conn.execute("UPDATE deliveries SET status = 'skipped', skip = 'incident resolved' WHERE incident_id = ?"
                         " AND status = 'pending' AND kind IN ('escalation', 'reminder', 'overdue')", (incident_id,))
        if kind in UPDATE_KINDS:  # only a counted update restarts the cadence (see incidents.post_update)
            conn.execute("UPDATE incidents SET updates = updates + 1, last_update_at = CASE WHEN ? THEN ? "
                         "ELSE last_update_at END WHERE id = ?", (kind == "update", at, incident_id))

    def events(self, incident_id: str) -> list[EventRow]:
        rows = self._read("SELECT at, kind, key, by, detail FROM events WHERE incident_id = ? ORDER BY at, id",
                          (incident_id,))
        return [EventRow(*row) for row in rows]

    # -- deliveries -----------------------------------------------------------

    def deliveries(self, incident_id: str, step: int | None = None) -> list[DeliveryRow]:
        query, args = f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE incident_id = ?", [incident_id]
        if step is not None:
            query, args = query + " AND step = ?", args + [step]
        return [_delivery(r) for r in self._read(query + " ORDER BY id", args)]

    def pending_ids(self, incident_id: str, step: int) -> list[int]:
        """The ids of an incident's deliveries of one step still waiting to be sent."""
        return [r[0] for r in self._read("SELECT id FROM deliveries WHERE incident_id = ? AND step = ? AND "
                                         "status = 'pending' ORDER BY id", (incident_id, step))]

    def claim(self, owner: str, now: str, lease_until: str, *, limit: int = 100,
              incident_id: str | None = None, ids: Iterable[int] | None = None) -> list[DeliveryRow]:
        """Lease due rows: pending ones whose next try has come, and in-flight ones whose lease expired.

        A row taken over from an expired lease may have been sent by its dead owner: it is
        marked possibly duplicated, and so is every attempt it gets from now on.
        """
        clauses = ["((status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?))"
                   " OR (status = 'in-flight' AND lease_until < ?))"]
        args: list[Any] = [now, now]
        if incident_id is not None:
            clauses, args = clauses + ["incident_id = ?"], args + [incident_id]
        if ids is not None:
            id_list = list(ids) or [-1]
            clauses.append(f"id IN ({','.join('?' * len(id_list))})")
            args += id_list
        def work(conn: sqlite3.Connection) -> list[tuple]:
            found = conn.execute(f"SELECT id, status FROM deliveries WHERE {' AND '.join(clauses)} "
                                 f"ORDER BY next_attempt_at IS NOT NULL, next_attempt_at, id LIMIT ?",
                                 (*args, limit)).fetchall()
            for row_id, status in found:
                conn.execute("UPDATE deliveries SET status = 'in-flight', lease_owner = ?, lease_until = ?, "
                             "possible_duplicate = possible_duplicate OR ?, updated = ? WHERE id = ?",
                             (owner, lease_until, int(status == "in-flight"), now, row_id))
            if not found:
                return []
            marks = ",".join("?" * len(found))
            return conn.execute(f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE id IN ({marks}) ORDER BY id",
                                [r[0] for r in found]).fetchall()

        return [_delivery(r) for r in self._write(work)]

    def requeue(self, ids: Iterable[int], now: str) -> int:
        """Put finally-failed deliveries back in the outbox, due now (`notify retry`)."""
        id_list = list(ids)
        if not id_list:
            return 0
        def work(conn: sqlite3.Connection) -> Any:
            return conn.execute(f"UPDATE deliveries SET status = 'pending', next_attempt_at = NULL, updated = ? "
                                f"WHERE status IN ('failed-transient', 'failed-permanent') AND id IN "
                                f"({','.join('?' * len(id_list))})", (now, *id_list)).rowcount

        return self._write(work)

    def renew(self, owner: str, lease_until: str) -> int:
        """Extend every lease an owner holds to `lease_until` (its sends still run), never shorten one; how many."""
        def work(conn: sqlite3.Connection) -> Any:
            return conn.execute("UPDATE deliveries SET lease_until = ? WHERE status = 'in-flight' AND lease_owner = ?"
                                " AND lease_until < ?", (lease_until, owner, lease_until)).rowcount

        return self._write(work)

    def release(self, owner: str) -> int:
        """Give back every lease an owner holds (clean shutdown): its rows are due again at once."""
        def work(conn: sqlite3.Connection) -> Any:
            conn.execute(_q(INBOX_RELEASE), (owner,))
            return conn.execute("UPDATE deliveries SET status = 'pending', lease_owner = NULL, lease_until = NULL "
                                "WHERE status = 'in-flight' AND lease_owner = ?", (owner,)).rowcount

        return self._write(work)

    def add_fallback(self, original: DeliveryRow, d: dict[str, Any], now: str) -> int | None:
        """Plan a fallback delivery for a failed one; None when it was planned already."""
        def work(conn: sqlite3.Connection) -> Any:
            return self._insert_delivery(conn, original.incident_id,
                                         {**d, "fallback_of": original.id, "kind": original.kind,
                                          "notice": original.notice}, now)

        return self._write(work)

    def set_warning(self, delivery_id: int, warning: str) -> None:
        def work(conn: sqlite3.Connection) -> Any:
            conn.execute("UPDATE deliveries SET warning = ? WHERE id = ?", (warning, delivery_id))

        return self._write(work)

    def record_attempt(self, delivery: DeliveryRow, attempt: AttemptRow, *, final_status: str | None,
                       next_attempt_at: str | None = None) -> None:
        """Append one attempt row and settle the delivery, in one transaction.

        Final: the delivery takes its outcome and leaves the outbox. Not final: it goes back
        to pending, due again at `next_attempt_at`, so any worker can continue the retries.
        """
        def work(conn: sqlite3.Connection) -> Any:
            conn.execute(
                f"INSERT INTO attempts (delivery_id, {_ATTEMPT_COLUMNS}) VALUES ({','.join('?' * 18)})",
                (delivery.id, attempt.at, attempt.incident_id, attempt.klass, attempt.step, attempt.person,
                 attempt.role, attempt.channel, attempt.masked_target, attempt.attempt, attempt.outcome,
                 attempt.reason, attempt.detail, attempt.latency_ms, attempt.fallback_of, attempt.delivered_to,
                 attempt.kind, int(attempt.possible_duplicate)))
            conn.execute("UPDATE deliveries SET attempts = ?, status = ?, reason = ?, detail = ?,"
                         " delivered_to = COALESCE(?, delivered_to), next_attempt_at = ?, lease_owner = NULL,"
                         " lease_until = NULL, updated = ? WHERE id = ?",
                         (attempt.attempt, final_status or "pending", attempt.reason, attempt.detail,
                          attempt.delivered_to, None if final_status else next_attempt_at, attempt.at, delivery.id))

        return self._write(work)

    def next_due(self) -> str | None:
        """When the earliest pending delivery is due (None: nothing waiting)."""
        rows = self._read("SELECT MIN(COALESCE(next_attempt_at, '')) FROM deliveries WHERE status = 'pending'")
        return rows[0][0] if rows and rows[0][0] is not None else None

    # -- log and workers ---------------------------------------------------------

    def attempts(self, *, incident_id: str | None = None, since: str | None = None,
                 limit: int | None = None) -> list[AttemptRow]:
        clauses, args = [], []
        if incident_id:
            clauses, args = clauses + ["incident_id = ?"], args + [incident_id]
        if since:
            clauses, args = clauses + ["at >= ?"], args + [since]
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        query = f"SELECT {_ATTEMPT_COLUMNS} FROM attempts{where} ORDER BY id DESC"
        if limit:
            query += f" LIMIT {int(limit)}"
        rows = [AttemptRow(*row[:-1], possible_duplicate=bool(row[-1])) for row in self._read(query, args)]
        return list(reversed(rows))

    def stats(self, now: str) -> dict[str, float]:
        """Store-wide numbers for metrics: open incidents, SLA breaches, the outbox and its oldest due row."""
        open_incidents = self._read("SELECT COUNT(*) FROM incidents WHERE status != 'resolved'")[0][0]
        breaches = self._read("SELECT COUNT(*) FROM events WHERE kind = 'escalation'")[0][0]
        pending, oldest = self._read("SELECT COUNT(*), MIN(COALESCE(next_attempt_at, created)) FROM deliveries "
                                     "WHERE status IN ('pending', 'in-flight') AND COALESCE(next_attempt_at, created) <= ?",
                                     (now,))[0]
        age = (datetime.fromisoformat(now) - datetime.fromisoformat(oldest)).total_seconds() if oldest else 0.0
        return {"open_incidents": open_incidents, "sla_breaches": breaches, "pending": pending,
                "oldest_due_age": max(age, 0.0)}

    def heartbeat(self, worker: str, now: str) -> None:
        def work(conn: sqlite3.Connection) -> Any:
            conn.execute("INSERT INTO workers VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET seen = ?",
                         (worker, now, now, now))

        return self._write(work)

    def last_heartbeat(self) -> str | None:
        rows = self._read("SELECT MAX(seen) FROM workers")
        return rows[0][0] if rows else None

    # -- the inbox: monitoring webhooks before triage --------------------------------

    def enqueue(self, source: str, dedup_key: str, body: str, received: str) -> int:
        """Store a webhook as received; committed (with whatever else is queued to commit) before this returns."""
        dedup_key = stored_key(dedup_key)
        def work(conn: sqlite3.Connection) -> int:
            return conn.execute("INSERT INTO inbox (source, dedup_key, body, received) VALUES (?, ?, ?, ?)",
                                (source, dedup_key, body, received)).lastrowid

        return self._write(work)

    def claim_inbox(self, owner: str, now: str, lease_until: str, *, limit: int) -> list[InboxRow]:
        """Lease the oldest waiting webhooks, unless another owner is handling the inbox right now.

        One owner at a time, oldest first, no row before an older one of its group that is not
        free (see inbox_sql.choose): a group's "resolved" is never handled before its "firing".
        """
        def work(conn: sqlite3.Connection) -> list[tuple]:
            if conn.execute(_q(INBOX_BUSY), (owner, now)).fetchone():
                return []
            ids = choose(lambda after, size: conn.execute(_q(INBOX_PAGE), (now, owner, after, size)).fetchall(),
                         limit)
            conn.executemany("UPDATE inbox SET lease_owner = ?, lease_until = ? WHERE id = ?",
                             [(owner, lease_until, i) for i in ids])
            marks = ",".join("?" * len(ids))
            return conn.execute(f"SELECT {INBOX_COLUMNS} FROM inbox WHERE id IN ({marks}) ORDER BY id",
                                ids).fetchall() if ids else []

        return [InboxRow(*row) for row in self._write(work)]

    def inbox_done(self, inbox_id: int, owner: str) -> bool:
        """Delete a handled row; False when `owner` no longer holds it (its lease expired and was taken)."""
        return self._write(lambda conn: conn.execute(_q(INBOX_DONE), (inbox_id, owner)).rowcount) == 1

    def inbox_failed(self, inbox_id: int, owner: str, error: str, retry_at: str | None) -> bool:
        """Record a failed try (retry_at None: give up now); False when `owner` no longer holds the row."""
        query, args = ((INBOX_GIVE_UP, (error, inbox_id, owner)) if retry_at is None
                       else (INBOX_FAILED, (error, retry_at, inbox_id, owner)))
        return self._write(lambda conn: conn.execute(_q(query), args).rowcount) == 1

    def release_inbox(self, owner: str) -> int:
        return self._write(lambda conn: conn.execute(_q(INBOX_RELEASE), (owner,)).rowcount)

    def _for_ids(self, query: str, args: tuple, ids: Iterable[int]) -> int:
        """Run an inbox statement ending in "id IN " for these ids; how many rows it changed."""
        id_list = [int(i) for i in ids]
        if not id_list:
            return 0
        sql = _q(query) + f"({','.join('?' * len(id_list))})"
        return self._write(lambda conn: conn.execute(sql, (*args, *id_list)).rowcount)


def _q(query: str) -> str:
    """A query shared with the PostgreSQL store, in SQLite's placeholder style."""
    return query.replace("%s", "?")


_INSERT_DELIVERY = (
    "INSERT INTO deliveries (key, incident_id, step, person, display, role, channel, target, masked_target,"
    " template, status, fallback_of, skip, fallbacks, kind, notice, created, updated)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (key) DO NOTHING")


def _delivery_values(incident_id: str, d: dict[str, Any], now: str) -> tuple:
    return (d["key"].replace("{incident}", incident_id), incident_id, d["step"], d["person"], d["display"], d["role"],
            d["channel"], d["target"], d["masked_target"], d["template"], "skipped" if d.get("skip") else "pending",
            d.get("fallback_of"), d.get("skip"), json.dumps(d.get("fallbacks", [])), d.get("kind", "step"),
            json.dumps(d.get("notice", {})), now, now)


def _incident(row: tuple) -> IncidentRow:
    return IncidentRow(row[0], row[1], row[2], bool(row[3]), row[4], row[5], json.loads(row[6]), json.loads(row[7]),
                       *row[8:])


def _delivery(row: tuple) -> DeliveryRow:
    return DeliveryRow(*row[:17], fallbacks=json.loads(row[17]), warning=row[18], delivered_to=row[19],
                       kind=row[20], notice=json.loads(row[21]), possible_duplicate=bool(row[22]),
                       next_attempt_at=row[23])


def _version(conn: sqlite3.Connection) -> int:
    if conn.execute("SELECT name FROM sqlite_master WHERE name = 'meta'").fetchone() is None:
        return 0
    value = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(value[0]) if value else 0


class _Write:
    """One queued write: its work, and its result or error once its group is committed."""

    __slots__ = ("work", "result", "error", "done", "lead", "wake")

    def __init__(self, work: Callable[[sqlite3.Connection], Any]) -> None:
        self.work = work
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False  # its group's COMMIT (or failure) is over
        self.lead = False  # this writer's thread commits the next group
        self.wake = threading.Event()


def _as_store_error(exc: BaseException, path: str) -> BaseException:
    """As _store_errors: a database failure becomes a StoreError; a constraint bug or any other error stays."""
    if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
        error = StoreError(f"store {path}: {exc}")
        error.__suppress_context__ = True
        return error
    return exc


BUSY_TIMEOUT = 30.0  # seconds a write waits for another process's write before it fails
_BUSY_STEP = 0.0002


def _begin_immediate(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, waiting for another process's write transaction in steps of 0.2 ms.

    SQLite's own busy handler backs off 1, 2, 5, 10 ... 100 ms, which a write in another process
    (`notify serve`'s sender child records each attempt) costs this process again and again, while
    the other's transaction takes a fraction of a millisecond. Reads keep the connection's busy
    timeout; the write lock is asked for here without it, under the connection lock.
    """
    conn.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
            time.sleep(_BUSY_STEP)
    finally:
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")


def _undo_savepoint(conn: sqlite3.Connection) -> bool:
    """Roll one write of a group back to its savepoint; False when the whole transaction is gone."""
    try:
        conn.execute("ROLLBACK TO write")
        conn.execute("RELEASE write")
    except sqlite3.Error:
        return False
    return conn.in_transaction


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def _fail_all(group: list[_Write], error: BaseException) -> None:
    """Nothing of this group was stored: every write that had not failed on its own gets `error`."""
    for write in group:
        if write.error is None:
            write.error, write.result = error, None


@contextmanager
def _store_errors(path: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.IntegrityError:
        raise  # a bug in our SQL, not an outage: let it show
    except sqlite3.Error as exc:
        raise StoreError(f"store {path}: {exc}") from None


def _connect(target: str, uri: bool = False, *, wal: bool = True) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(target, uri=uri, isolation_level=None, check_same_thread=False, timeout=30)
        if wal and not uri:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
        return conn
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open store {target}: {exc}") from None


def _format_id(prefix: str, year: int, value: int) -> str:
    return f"{prefix}-{year}-{value:03d}"
