"""The shared store: PostgreSQL, for several `notify serve` and `notify worker` processes on one or many hosts.

The same contract and the same rows as :class:`~dispatcher.store.sqlite.SQLiteStore`.
What SQLite gets from having one writer at a time, this store gets from row locks:

- an id is allocated by ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` on its
  counter row, which stays locked until the incident is committed;
- a monitoring group opens one incident: a transaction-scoped advisory lock on its
  dedup key serialises the look-up and the insert;
- a timer fires once: events are unique per (incident, key) and inserted
  ``ON CONFLICT DO NOTHING``, together with their notices, in one transaction;
- a delivery is sent by one process: :meth:`PostgresStore.claim` locks due rows
  ``FOR UPDATE SKIP LOCKED`` and leases them until an expiry; a row whose lease
  expired (its owner died) is taken over and marked possibly duplicated;
- the inbox of monitoring webhooks has one owner at a time: its claim takes a
  transaction-scoped advisory lock first, so two workers never split a group's
  "firing" and "resolved" between them.

Connections come from a small pool: the sender calls the store from many threads.
"""

from __future__ import annotations

import json
import math
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus

from .base import (UPDATE_KINDS, AttemptRow, DeliveryRow, EventRow, InboxRow, IncidentRow, StoreBehind,
                   StoreError, StoreRejected)
from .inbox_sql import (INBOX_BUSY, INBOX_COLUMNS, INBOX_DONE, INBOX_FAILED, INBOX_GIVE_UP, INBOX_PAGE,
                        INBOX_RELEASE, InboxViews, choose)
from .keys import stored_key
from .pg_schema import MIGRATIONS, SCHEMA_VERSION
from .requests_sql import RequestSeals
from .urls import mask_store_url, store_passwords

__all__ = ["SCHEMA_VERSION", "PostgresStore", "mask_url"]

T = TypeVar("T")

_INCIDENT_COLUMNS = ("id, class, status, drill, started, created, fields, meta, acked_at, acked_by, resolved_at,"
                     " updates, last_update_at")
_DELIVERY_COLUMNS = ("id, key, incident_id, step, person, display, role, channel, target, masked_target, template,"
                     " status, attempts, reason, detail, fallback_of, skip, fallbacks, warning, delivered_to, kind,"
                     " notice, possible_duplicate, next_attempt_at")
_ATTEMPT_COLUMNS = ("at, incident_id, class, step, person, role, channel, masked_target, attempt, outcome, reason,"
                    " detail, latency_ms, fallback_of, delivered_to, kind, possible_duplicate")

POOL_SIZE = 10  # connections per process: enough for the sender's threads, which hold one only per statement
_RETRIES = 3  # a transaction PostgreSQL aborted as a deadlock victim is run again (it was rolled back whole)


NO_SCHEMA = ("the search_path names no existing schema; create it first (CREATE SCHEMA ...) "
             "or fix options=-csearch_path=... in NOTIFY_STORE_URL")


class PostgresStore(InboxViews, RequestSeals):
    """Incidents, outbox, timeline and attempt log in one PostgreSQL schema; safe to share between threads."""

    def __init__(self, pool: "_Pool", name: str) -> None:
        self._pool = pool
        self.name = name  # the URL with its password masked: safe to print
        self.path = name  # what SQLiteStore calls its file, for messages
        self.upgraded = (0, 0)  # (from, to) when this open applied migrations

    # -- opening -----------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, upgrade: bool = False, pool_size: int = POOL_SIZE,
             timeout: float | None = None) -> "PostgresStore":
        """Open the store, creating its tables when the schema is empty; refuse one that is behind unless upgrading."""
        store = cls(_Pool(url, pool_size, timeout), mask_url(url))
        try:
            store._pool.check()
            version = store.schema_version()
            if version == 0 or upgrade:
                store.upgraded = store.upgrade()
            elif version < SCHEMA_VERSION:
                raise StoreBehind(f"store {store.name} is at schema {version}, this notify needs {SCHEMA_VERSION}: "
                                  "run `notify db upgrade`")
            elif version > SCHEMA_VERSION:
                raise StoreError(f"store {store.name} is at schema {version}, newer than this notify "
                                 f"({SCHEMA_VERSION}): upgrade notify")
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def open_readonly(cls, url: str) -> "PostgresStore | None":
        """Open an existing store for reading, or None when its schema has no tables yet."""
        store = cls(_Pool(url, 2), mask_url(url))
        try:
            store._pool.check()
            if store.schema_version() == 0:
                if store.current_schema() is None:  # no tables, and nowhere to create them: say so now
                    raise StoreError(f"store {store.name}: {NO_SCHEMA}")
                store.close()
                return None
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self._pool.close()

    def schema_version(self) -> int:
        with self._connection() as conn:
            return _version(conn)

    def current_schema(self) -> str | None:
        """The schema tables are created in; None when the search_path names none that exists."""
        with self._connection() as conn:
            return conn.execute("SELECT current_schema()").fetchone()[0]

    def upgrade(self) -> tuple[int, int]:
        """Apply pending migrations in one transaction; returns (from, to) versions.

        The version is read under an advisory lock, so two processes opening a new schema at
        the same moment apply it once (PostgreSQL's DDL is transactional: all or nothing).
        """
        def apply(conn: psycopg.Connection) -> int:
            if conn.execute("SELECT current_schema()").fetchone()[0] is None:
                raise StoreError(f"store {self.name}: {NO_SCHEMA}")
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('notify:upgrade:' || current_schema(), 0))")
            before = _version(conn)
            for step in MIGRATIONS[before:]:
                if callable(step):  # a data step
                    step(conn, "%s")
                    continue
                for statement in filter(str.strip, step.split(";")):
                    conn.execute(statement)
            conn.execute("INSERT INTO meta VALUES ('schema_version', %s) ON CONFLICT (key) DO UPDATE "
                         "SET value = EXCLUDED.value", (str(SCHEMA_VERSION),))
            return before

        return self._write(apply), SCHEMA_VERSION

    # -- transactions -----------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection in autocommit mode; a database failure becomes a StoreError naming the store."""
        with _store_errors(self.name, self._pool.passwords), self._pool.connection() as conn:
            yield conn

    def _write(self, work: Callable[[psycopg.Connection], T]) -> T:
        """Run `work` in one transaction; a deadlock victim is rolled back whole and run again."""
        work = self._sealing(work)  # this thread's signed request, recorded with its effect (see requests_sql)

        with self._connection() as conn:  # retried inside: its error wrapper would hide the deadlock

            def transaction() -> T:
                with conn.transaction():
                    return work(conn)

            return _deadlock_retries()(transaction)

    def _statement(self, query: str, args: Iterable[Any] = ()) -> tuple[int, list[tuple]]:
        """One write statement, atomic on its own: one round trip, no BEGIN/COMMIT around it; (rowcount, rows).

        The outbox's hot path (claim, record_attempt, heartbeat) is written as single statements,
        because every round trip is latency a busy worker pays once per row.
        """
        with self._connection() as conn:

            def statement() -> tuple[int, list[tuple]]:
                cursor = conn.execute(query, tuple(args))
                return cursor.rowcount, cursor.fetchall() if cursor.description else []

            return _deadlock_retries()(statement)

    def _read(self, query: str, args: Iterable[Any] = ()) -> list[tuple]:
        with self._connection() as conn:
            return conn.execute(query, tuple(args)).fetchall()

    # -- incidents -----------------------------------------------------------

    def peek_id(self, prefix: str, year: int) -> str:
        """The id the next allocation would give, without allocating it."""
        rows = self._read("SELECT value FROM counters WHERE prefix = %s AND year = %s", (prefix, year))
        return _format_id(prefix, year, (rows[0][0] if rows else 0) + 1)

    def incident(self, incident_id: str) -> IncidentRow | None:
        rows = self._read(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = %s", (incident_id,))
        return _incident(rows[0]) if rows else None

    def open_by_dedup_key(self, dedup_key: str) -> IncidentRow | None:
        """The unresolved incident a monitoring group (or other dedup key) opened, if any."""
        dedup_key = stored_key(dedup_key)
        rows = self._read(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE dedup_key = %s AND status != 'resolved'"
                          " ORDER BY created LIMIT 1", (dedup_key,))
        return _incident(rows[0]) if rows else None

    def incidents(self, *, open_only: bool = False) -> list[IncidentRow]:
        where = " WHERE status != 'resolved'" if open_only else ""
        return [_incident(r) for r in self._read(f"SELECT {_INCIDENT_COLUMNS} FROM incidents{where} "
                                                 "ORDER BY created, id")]

    def open_incident(self, incident: dict[str, Any], deliveries: Iterable[dict[str, Any]], *,
                      prefix: str, year: int, now: str,
                      events: Iterable[tuple[str, str, str]] = ()) -> tuple[str, bool]:
        """Store an incident, its 'triggered' event, its planned deliveries and `events` atomically.

        `events` are more timeline events, (key, kind, detail), each recorded once by key (as
        record_event would, in the same transaction: a webhook's alerts).

        Allocates the id when it has none. Returns (id, created); when the id exists already
        (or, with `dedup_open`, its group is open already) nothing is written and created is False.
        """
        if incident.get("dedup_key"):  # a monitoring group's key may be longer than an index holds
            incident = {**incident, "dedup_key": stored_key(incident["dedup_key"])}
        events = [(stored_key(key), kind, detail) for key, kind, detail in events]
        planned, more = list(deliveries), list(events)

        def write(conn: psycopg.Connection) -> tuple[str, bool]:
            if incident.get("dedup_open"):  # a monitoring group already open: the same incident, never a second
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('notify:dedup:' || current_schema()"
                             " || ':' || %s, 0))", (incident["dedup_key"],))
                found = conn.execute("SELECT id FROM incidents WHERE dedup_key = %s AND status != 'resolved' "
                                     "ORDER BY created LIMIT 1", (incident["dedup_key"],)).fetchone()
                if found:
                    return found[0], False
            incident_id = incident["id"] or self._allocate(conn, prefix, year)
            inserted = conn.execute(
                "INSERT INTO incidents (id, class, status, drill, dedup_key, started, created, fields, meta)"
                " VALUES (%s, %s, 'open', %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING RETURNING id",
                (incident_id, incident["class"], bool(incident["drill"]), incident["dedup_key"] or incident_id,
                 incident["started"], now, json.dumps(incident["fields"], sort_keys=True),
                 json.dumps(incident.get("meta", {}), sort_keys=True))).fetchone()
            if inserted is None:  # that id exists (typed by hand, or another process won the race)
                return incident_id, False
            conn.execute("INSERT INTO events (incident_id, key, kind, at, detail) VALUES (%s, 'triggered', "
                         "'triggered', %s, %s)", (incident_id, now, incident["fields"].get("summary", "")))
            for key, kind, detail in more:
                conn.execute("INSERT INTO events (incident_id, key, kind, at, detail) VALUES (%s,%s,%s,%s,%s)"
                             " ON CONFLICT (incident_id, key) DO NOTHING", (incident_id, key, kind, now, detail))
            for d in planned:
                self._insert_delivery(conn, incident_id, d, now)
            return incident_id, True

        return self._write(write)

    @staticmethod
    def _allocate(conn: psycopg.Connection, prefix: str, year: int) -> str:
        """The next free id; the counter row stays locked until the transaction ends, so ids never repeat."""
        value = conn.execute("INSERT INTO counters VALUES (%s, %s, 1) ON CONFLICT (prefix, year) DO UPDATE "
                             "SET value = counters.value + 1 RETURNING value", (prefix, year)).fetchone()[0]
        while True:  # skip numbers taken by ids a user typed by hand
            candidate = _format_id(prefix, year, value)
            if not conn.execute("SELECT 1 FROM incidents WHERE id = %s", (candidate,)).fetchone():
                return candidate
            value = conn.execute("UPDATE counters SET value = value + 1 WHERE prefix = %s AND year = %s "
                                 "RETURNING value", (prefix, year)).fetchone()[0]

    @staticmethod
    def _insert_delivery(conn: psycopg.Connection, incident_id: str, d: dict[str, Any], now: str) -> int | None:
        """Insert one planned delivery; None when its idempotency key exists already."""
        key = d["key"].replace("{incident}", incident_id)
        row = conn.execute(
            "INSERT INTO deliveries (key, incident_id, step, person, display, role, channel, target, masked_target,"
            " template, status, fallback_of, skip, fallbacks, kind, notice, created, updated)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (key) DO NOTHING RETURNING id",
            (key, incident_id, d["step"], d["person"], d["display"], d["role"], d["channel"], d["target"],
             d["masked_target"], d["template"], "skipped" if d.get("skip") else "pending", d.get("fallback_of"),
             d.get("skip"), json.dumps(d.get("fallbacks", [])), d.get("kind", "step"),
             json.dumps(d.get("notice", {})), now, now)).fetchone()
        return int(row[0]) if row else None

    # -- the timeline --------------------------------------------------------------

    def record_event(self, incident_id: str, key: str, kind: str, at: str, detail: str = "", by: str | None = None,
                     deliveries: Iterable[dict[str, Any]] = (), status: str | None = None) -> bool:
        """Record a timeline event once (by key) with its notices and an optional status change.

        Returns False, writing nothing, when the event was recorded before: timers are idempotent,
        across processes too (a second insert of the key waits for the first to commit, then does nothing).
        """
        key = stored_key(key)
        planned = list(deliveries)

        def write(conn: psycopg.Connection) -> bool:
            inserted = conn.execute('INSERT INTO events (incident_id, key, kind, at, "by", detail) '
                                    "VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT (incident_id, key) DO NOTHING RETURNING id",
                                    (incident_id, key, kind, at, by, detail)).fetchone()
            if inserted is None:
                return False
            for d in planned:
                self._insert_delivery(conn, incident_id, d, at)
            self._apply_status(conn, incident_id, kind, status, at, by)
            return True

        return self._write(write)

    @staticmethod
    def _apply_status(conn: psycopg.Connection, incident_id: str, kind: str, status: str | None, at: str,
                      by: str | None) -> None:
        if status == "acknowledged":
            conn.execute("UPDATE incidents SET status = 'acknowledged', acked_at = %s, acked_by = %s "
                         "WHERE id = %s AND status = 'open'", (at, by, incident_id))
        elif status == "resolved":
            conn.execute("UPDATE incidents SET status = 'resolved', resolved_at = %s WHERE id = %s", (at, incident_id))
            # Timer notices are moot once resolved; pages and updates already accepted still go out.
            conn.execute("UPDATE deliveries SET status = 'skipped', skip = 'incident resolved' WHERE incident_id = %s"
                         " AND status = 'pending' AND kind IN ('escalation', 'reminder', 'overdue')", (incident_id,))
        if kind in UPDATE_KINDS:  # only a counted update restarts the cadence (see incidents.post_update)
            conn.execute("UPDATE incidents SET updates = updates + 1, last_update_at = CASE WHEN %s THEN %s "
                         "ELSE last_update_at END WHERE id = %s", (kind == "update", at, incident_id))

    def events(self, incident_id: str) -> list[EventRow]:
        rows = self._read('SELECT at, kind, key, "by", detail FROM events WHERE incident_id = %s ORDER BY at, id',
                          (incident_id,))
        return [EventRow(*row) for row in rows]

    # -- deliveries -----------------------------------------------------------

    def deliveries(self, incident_id: str, step: int | None = None) -> list[DeliveryRow]:
        query, args = f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE incident_id = %s", [incident_id]
        if step is not None:
            query, args = query + " AND step = %s", args + [step]
        return [_delivery(r) for r in self._read(query + " ORDER BY id", args)]

    def pending_ids(self, incident_id: str, step: int) -> list[int]:
        """The ids of an incident's deliveries of one step still waiting to be sent."""
        return [r[0] for r in self._read("SELECT id FROM deliveries WHERE incident_id = %s AND step = %s AND "
                                         "status = 'pending' ORDER BY id", (incident_id, step))]

    def claim(self, owner: str, now: str, lease_until: str, *, limit: int = 100,
              incident_id: str | None = None, ids: Iterable[int] | None = None) -> list[DeliveryRow]:
        """Lease due rows: pending ones whose next try has come, and in-flight ones whose lease expired.

        Rows another process is leasing at this moment are skipped, not waited for (SKIP LOCKED),
        so workers never queue behind each other. A row taken over from an expired lease may have
        been sent by its dead owner: it is marked possibly duplicated, and so is every attempt it
        gets from now on.
        """
        clauses = ["((status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= %s))"
                   " OR (status = 'in-flight' AND lease_until < %s))"]
        args: list[Any] = [now, now]
        if incident_id is not None:
            clauses, args = clauses + ["incident_id = %s"], args + [incident_id]
        if ids is not None:
            clauses, args = clauses + ["id = ANY(%s::bigint[])"], args + [[int(i) for i in ids]]
        query = (f"WITH due AS (SELECT id, status FROM deliveries WHERE {' AND '.join(clauses)}"
                 f" ORDER BY next_attempt_at IS NOT NULL, next_attempt_at, id LIMIT %s FOR UPDATE SKIP LOCKED)"
                 f" UPDATE deliveries AS d SET status = 'in-flight', lease_owner = %s, lease_until = %s,"
                 f" possible_duplicate = d.possible_duplicate OR due.status = 'in-flight', updated = %s"
                 f" FROM due WHERE d.id = due.id"
                 f" RETURNING {', '.join('d.' + c.strip() for c in _DELIVERY_COLUMNS.split(','))}")
        _, rows = self._statement(query, (*args, limit, owner, lease_until, now))
        return sorted((_delivery(r) for r in rows), key=lambda d: d.id)

    def requeue(self, ids: Iterable[int], now: str) -> int:
        """Put finally-failed deliveries back in the outbox, due now (`notify retry`)."""
        id_list = [int(i) for i in ids]
        if not id_list:
            return 0
        return self._statement("UPDATE deliveries SET status = 'pending', next_attempt_at = NULL, updated = %s "
                               "WHERE status IN ('failed-transient', 'failed-permanent') AND id = ANY(%s::bigint[])",
                               (now, id_list))[0]

    def renew(self, owner: str, lease_until: str) -> int:
        """Extend every lease an owner holds to `lease_until` (its sends still run), never shorten one; how many."""
        return self._statement("UPDATE deliveries SET lease_until = %s WHERE status = 'in-flight' AND lease_owner = %s"
                               " AND lease_until < %s",
                               (lease_until, owner, lease_until))[0]

    def release(self, owner: str) -> int:
        """Give back every lease an owner holds (clean shutdown): its rows are due again at once."""
        def work(conn: psycopg.Connection) -> int:
            conn.execute(INBOX_RELEASE, (owner,))
            return conn.execute("UPDATE deliveries SET status = 'pending', lease_owner = NULL, lease_until = NULL "
                                "WHERE status = 'in-flight' AND lease_owner = %s", (owner,)).rowcount

        return self._write(work)

    def add_fallback(self, original: DeliveryRow, d: dict[str, Any], now: str) -> int | None:
        """Plan a fallback delivery for a failed one; None when it was planned already."""
        planned = {**d, "fallback_of": original.id, "kind": original.kind, "notice": original.notice}
        return self._write(lambda conn: self._insert_delivery(conn, original.incident_id, planned, now))

    def set_warning(self, delivery_id: int, warning: str) -> None:
        self._statement("UPDATE deliveries SET warning = %s WHERE id = %s", (warning, delivery_id))

    def record_attempt(self, delivery: DeliveryRow, attempt: AttemptRow, *, final_status: str | None,
                       next_attempt_at: str | None = None) -> None:
        """Append one attempt row and settle the delivery, in one transaction.

        Final: the delivery takes its outcome and leaves the outbox. Not final: it goes back
        to pending, due again at `next_attempt_at`, so any worker can continue the retries.
        """
        self._statement(
            f"WITH logged AS (INSERT INTO attempts (delivery_id, {_ATTEMPT_COLUMNS}) VALUES ({','.join(['%s'] * 18)}))"
            " UPDATE deliveries SET attempts = %s, status = %s, reason = %s, detail = %s,"
            " delivered_to = COALESCE(%s, delivered_to), next_attempt_at = %s, lease_owner = NULL,"
            " lease_until = NULL, updated = %s WHERE id = %s",
            (delivery.id, attempt.at, attempt.incident_id, attempt.klass, attempt.step, attempt.person,
             attempt.role, attempt.channel, attempt.masked_target, attempt.attempt, attempt.outcome,
             attempt.reason, attempt.detail, attempt.latency_ms, attempt.fallback_of, attempt.delivered_to,
             attempt.kind, bool(attempt.possible_duplicate),
             attempt.attempt, final_status or "pending", attempt.reason, attempt.detail,
             attempt.delivered_to, None if final_status else next_attempt_at, attempt.at, delivery.id))

    def next_due(self) -> str | None:
        """When the earliest pending delivery is due (None: nothing waiting; "": one is due at once)."""
        rows = self._read("SELECT MIN(COALESCE(next_attempt_at, '')) FROM deliveries WHERE status = 'pending'")
        return rows[0][0] if rows and rows[0][0] is not None else None

    # -- log and workers ---------------------------------------------------------

    def attempts(self, *, incident_id: str | None = None, since: str | None = None,
                 limit: int | None = None) -> list[AttemptRow]:
        clauses: list[str] = []
        args: list[Any] = []
        if incident_id:
            clauses, args = clauses + ["incident_id = %s"], args + [incident_id]
        if since:
            clauses, args = clauses + ["at >= %s"], args + [since]
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
                                     "WHERE status IN ('pending', 'in-flight') "
                                     "AND COALESCE(next_attempt_at, created) <= %s", (now,))[0]
        age = (datetime.fromisoformat(now) - datetime.fromisoformat(oldest)).total_seconds() if oldest else 0.0
        return {"open_incidents": open_incidents, "sla_breaches": breaches, "pending": pending,
                "oldest_due_age": max(age, 0.0)}

    def heartbeat(self, worker: str, now: str) -> None:
        self._statement("INSERT INTO workers VALUES (%s, %s, %s) ON CONFLICT (id) DO UPDATE SET seen = EXCLUDED.seen",
                        (worker, now, now))

    def last_heartbeat(self) -> str | None:
        rows = self._read("SELECT MAX(seen) FROM workers")
        return rows[0][0] if rows else None

    # -- the inbox: monitoring webhooks before triage --------------------------------

    def enqueue(self, source: str, dedup_key: str, body: str, received: str) -> int:
        """Store a webhook as received; committed before this returns.

        An id is drawn at INSERT but seen by others only at COMMIT: two webhooks of one group
        stored at once (an HA Alertmanager pair) could become visible out of id order. A lock per
        group makes the second draw its id after the first committed.
        """
        dedup_key = stored_key(dedup_key)
        def work(conn: psycopg.Connection) -> int:
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('notify:inbox-group:' || current_schema()"
                         " || ':' || %s, 0))", (dedup_key,))
            return conn.execute("INSERT INTO inbox (source, dedup_key, body, received) VALUES (%s, %s, %s, %s)"
                                " RETURNING id", (source, dedup_key, body, received)).fetchone()[0]

        return self._write(work)

    def claim_inbox(self, owner: str, now: str, lease_until: str, *, limit: int) -> list[InboxRow]:
        """Lease the oldest waiting webhooks, unless another owner is handling the inbox right now."""
        def work(conn: psycopg.Connection) -> list[tuple]:
            # Claims queue here one at a time; each then sees the leases of the claim before it.
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('notify:inbox:' || current_schema(), 0))")
            if conn.execute(INBOX_BUSY, (owner, now)).fetchone():
                return []
            ids = choose(lambda after, size: conn.execute(INBOX_PAGE, (now, owner, after, size)).fetchall(), limit)
            if not ids:
                return []
            return conn.execute(f"UPDATE inbox SET lease_owner = %s, lease_until = %s WHERE id = ANY(%s::bigint[]) "
                                f"RETURNING {INBOX_COLUMNS}", (owner, lease_until, ids)).fetchall()

        return sorted((InboxRow(*row) for row in self._write(work)), key=lambda row: row.id)

    def inbox_done(self, inbox_id: int, owner: str) -> bool:
        """Delete a handled row; False when `owner` no longer holds it (its lease expired and was taken)."""
        return self._statement(INBOX_DONE, (inbox_id, owner))[0] == 1

    def inbox_failed(self, inbox_id: int, owner: str, error: str, retry_at: str | None) -> bool:
        """Record a failed try (retry_at None: give up now); False when `owner` no longer holds the row."""
        query, args = ((INBOX_GIVE_UP, (error, inbox_id, owner)) if retry_at is None
                       else (INBOX_FAILED, (error, retry_at, inbox_id, owner)))
        return self._statement(query, args)[0] == 1

    def release_inbox(self, owner: str) -> int:
        return self._statement(INBOX_RELEASE, (owner,))[0]

    def _for_ids(self, query: str, args: tuple, ids: Iterable[int]) -> int:
        """Run an inbox statement ending in "id IN " for these ids; how many rows it changed."""
        id_list = [int(i) for i in ids]
        if not id_list:
            return 0
        return self._statement(query + "(SELECT unnest(%s::bigint[]))", (*args, id_list))[0]


# -- connections ------------------------------------------------------------------------

_RETRYABLE = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)


def _deadlock_retries() -> Any:
    """A fresh tenacity schedule (its state is per call): a deadlock victim, rolled back whole, runs again
    after 10, then 20 ms; the third failure is raised."""
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_incrementing

    return Retrying(retry=retry_if_exception_type(_RETRYABLE), stop=stop_after_attempt(_RETRIES),
                    wait=wait_incrementing(start=0.01, increment=0.01), reraise=True)


class _Pool:
    """Up to `size` autocommit connections, opened on demand and reused; a broken one is dropped.

    A connection idle for a while is pinged before it is handed out, so a database restart
    costs a reconnect, not a failed write.
    """

    IDLE_CHECK = 2.0  # seconds idle after which a connection is pinged before use
    WAIT = 30.0  # seconds a caller waits for a free connection

    def __init__(self, url: str, size: int, timeout: float | None = None) -> None:
        self.passwords = store_passwords(url)
        try:
            params = conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise StoreError(f"NOTIFY_STORE_URL: {mask_url(url)} is not a valid PostgreSQL URL: "
                             f"{_one_line(exc, self.passwords)}") from None
        if params.get("password"):
            self.passwords = tuple(sorted({*self.passwords, params["password"]}, key=len, reverse=True))
        self._url = url
        # A hung server (accepting, never answering) holds a connect this long; libpq's minimum is 2 s.
        connect_timeout = str(max(2, math.ceil(timeout))) if timeout else "10"
        self._extra = {k: v for k, v in (("connect_timeout", connect_timeout), ("application_name", "notify"))
                       if k not in params}
        self.wait = timeout or self.WAIT
        self._idle: list[tuple[psycopg.Connection, float]] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)
        self._closed = False
        self.name = mask_url(url)

    def check(self) -> None:
        """Connect once now, so that a wrong URL fails at open with a clear message."""
        with _store_errors(self.name, self.passwords, opening=True), self.connection():
            pass

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        if not self._slots.acquire(timeout=self.wait):
            raise StoreError(f"store {self.name}: no free database connection after {self.wait:g} s")
        try:
            conn = self._take()
            try:
                yield conn
            finally:
                self._give_back(conn)
        finally:
            self._slots.release()

    def _take(self) -> psycopg.Connection:
        while True:
            with self._lock:
                if not self._idle:
                    break
                conn, since = self._idle.pop()
            if time.monotonic() - since < self.IDLE_CHECK:
                return conn
            try:
                conn.execute("SELECT 1")
                return conn
            except psycopg.Error:  # closed by the server (restart, idle timeout): open another
                conn.close()
        return psycopg.connect(self._url, autocommit=True, **self._extra)

    def _give_back(self, conn: psycopg.Connection) -> None:
        if self._closed or conn.closed or conn.broken or conn.info.transaction_status != TransactionStatus.IDLE:
            conn.close()
            return
        with self._lock:
            self._idle.append((conn, time.monotonic()))

    def close(self) -> None:
        self._closed = True
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            conn.close()


@contextmanager
def _store_errors(name: str, passwords: tuple[str, ...], *, opening: bool = False) -> Iterator[None]:
    try:
        yield
    except psycopg.IntegrityError:
        raise  # a bug in our SQL, not an outage: let it show
    except (psycopg.DataError, pg_errors.ProgramLimitExceeded) as exc:  # this value, never: not "retry later"
        raise StoreRejected(f"store {name} cannot hold this value: {_one_line(exc, passwords)}") from None
    except psycopg.Error as exc:
        what = f"cannot open store {name}" if opening else f"store {name}"
        raise StoreError(f"{what}: {_one_line(exc, passwords)}") from None


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, fit to print (any text: it never raises)."""
    return mask_store_url(url)


def _one_line(exc: BaseException, passwords: tuple[str, ...]) -> str:
    """A driver's message on one line, without the password (it may quote the whole URL)."""
    text = " ".join(str(exc).split())
    for password in passwords:
        text = text.replace(password, "***")
    return text


def _version(conn: psycopg.Connection) -> int:
    if conn.execute("SELECT to_regclass('meta')").fetchone()[0] is None:
        return 0
    value = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(value[0]) if value else 0


def _incident(row: tuple) -> IncidentRow:
    return IncidentRow(row[0], row[1], row[2], bool(row[3]), row[4], row[5], json.loads(row[6]), json.loads(row[7]),
                       *row[8:])


def _delivery(row: tuple) -> DeliveryRow:
    return DeliveryRow(*row[:17], fallbacks=json.loads(row[17]), warning=row[18], delivered_to=row[19],
                       kind=row[20], notice=json.loads(row[21]), possible_duplicate=bool(row[22]),
                       next_attempt_at=row[23])


def _format_id(prefix: str, year: int, value: int) -> str:
    return f"{prefix}-{year}-{value:03d}"
