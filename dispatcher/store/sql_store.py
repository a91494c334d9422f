"""The store's methods, written once for both databases on top of four primitives each store provides.

A concrete store (:mod:`.sqlite`, :mod:`.postgres`) supplies how to talk to its database, and nothing of what is said:

- ``dialect``: a :class:`~.sql.Dialect`, which renders the shared statements;
- ``_read(query, args)``: rows of one read;
- ``_write(work)``: ``work(conn)`` in one transaction, committed before it returns;
- ``_statement(query, args)``: one write statement, atomic on its own, as ``(rowcount, rows)``:
  the outbox's hot path (claim, record_attempt, heartbeat) is single statements, because
  every round trip is latency a busy worker pays once per row;
- ``_serialise(conn, scope, key)``: inside a write, serialise the writes of one scope (and key) across
  processes: a PostgreSQL advisory lock; nothing in SQLite, whose writes are serial already.
"""

from __future__ import annotations

import json
from datetime import datetime
from dataclasses import replace
from typing import Any, Callable, Iterable, Self, Sequence, TypeVar

from ..domain.states import DeliveryState, IncidentStatus
from . import sql
from .base import (DUE_NOW, UPDATE_KINDS, AttemptRow, DeliveryRow, EventRow, IncidentRow, NewDelivery, StoreBehind,
                   StoreError)
from .inbox_sql import INBOX_RELEASE
from .keys import stored_key
from .tables_sql import FeatureTables
from .times import loaded

__all__ = ["SQLStore"]
T = TypeVar("T")


class SQLStore(FeatureTables):
    """Incidents, outbox, timeline and attempt log over SQL; the other tables' methods come from FeatureTables."""

    dialect: sql.Dialect
    migrations: Sequence[Any]  # the store's schema, numbered alike in both (schema.py, pg_schema.py)
    path: str  # the file, or the URL with its password masked: what messages name
    upgraded: tuple[int, int]

    # Provided by each store (see the module docstring).
    def _read(self, query: str, args: Iterable[Any] = ()) -> list[tuple]: raise NotImplementedError
    def _write(self, work: Callable[[Any], T]) -> T: raise NotImplementedError
    def _statement(self, query: str, args: Iterable[Any] = ()) -> tuple[int, list[tuple]]: raise NotImplementedError
    def _serialise(self, conn: Any, scope: str, key: str | None = None) -> None: raise NotImplementedError
    def close(self) -> None: raise NotImplementedError
    def schema_version(self) -> int: raise NotImplementedError
    def upgrade(self) -> tuple[int, int]: raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- schema -----------------------------------------------------------------

    def _settle_schema(self, upgrade: bool) -> None:
        """At open: create a new store's tables, upgrade when asked, refuse a schema this notify cannot use."""
        version, target = self.schema_version(), len(self.migrations)
        if version == 0 or upgrade:
            self.upgraded = self.upgrade()
        elif version < target:
            raise StoreBehind(f"store {self.path} is at schema {version}, this notify needs {target}: "
                              "run `notify db upgrade`")
        elif version > target:
            raise StoreError(f"store {self.path} is at schema {version}, newer than this notify "
                             f"({target}): upgrade notify")

    def _migrate(self, conn: Any, before: int) -> None:
        """Apply the migrations after version `before` (SQL scripts, or data steps given the placeholder)."""
        for step in self.migrations[before:]:
            if callable(step):
                step(conn, self.dialect.placeholder)
                continue
            for statement in filter(str.strip, step.split(";")):
                conn.execute(statement)
        conn.execute(self.dialect.q(sql.SET_VERSION), (str(len(self.migrations)),))

    # -- incidents -----------------------------------------------------------

    def peek_id(self, prefix: str, year: int) -> str:
        """The id the next allocation would give, without allocating it."""
        rows = self._read(self.dialect.q(sql.COUNTER), (prefix, year))
        return sql.format_id(prefix, year, (rows[0][0] if rows else 0) + 1)

    def incident(self, incident_id: str) -> IncidentRow | None:
        rows = self._read(self.dialect.q(sql.INCIDENT), (incident_id,))
        return sql.incident_row(rows[0]) if rows else None

    def open_by_dedup_key(self, dedup_key: str) -> IncidentRow | None:
        """The unresolved incident a monitoring group (or other dedup key) opened, if any."""
        rows = self._read(self.dialect.q(sql.OPEN_BY_DEDUP), (stored_key(dedup_key),))
        return sql.incident_row(rows[0]) if rows else None

    def incidents(self, *, open_only: bool = False) -> list[IncidentRow]:
        query = sql.INCIDENTS.format(where=f" WHERE status != '{IncidentStatus.RESOLVED}'" if open_only else "")
        return [sql.incident_row(r) for r in self._read(query)]

    def open_incident(self, incident: dict[str, Any], deliveries: Iterable[NewDelivery], *,
                      prefix: str, year: int, now: datetime,
                      events: Iterable[tuple[str, str, str]] = ()) -> tuple[str, bool]:
        """Store an incident, its 'triggered' event, its planned deliveries and `events` atomically.

        `events` are more timeline events, (key, kind, detail), each recorded once by key (as
        record_event would, in the same transaction: a webhook's alerts). Allocates the id when it
        has none. Returns (id, created); when the id exists already (or, with `dedup_open`, its group
        is open already) nothing is written and created is False. Times are aware datetimes.
        """
        if incident.get("dedup_key"):  # a monitoring group's key may be longer than an index holds
            incident = {**incident, "dedup_key": stored_key(incident["dedup_key"])}
        more = [(stored_key(key), kind, detail) for key, kind, detail in events]
        planned = list(deliveries)
        q, t = self.dialect.q, self.dialect.t
        now, started = t(now, "now"), t(incident["started"], "started")

        def work(conn: Any) -> tuple[str, bool]:
            if incident.get("dedup_open"):  # a monitoring group already open: the same incident, never a second
                self._serialise(conn, "dedup", incident["dedup_key"])  # the look-up and the insert, one group at a time
                found = conn.execute(q(sql.OPEN_ID_BY_DEDUP), (incident["dedup_key"],)).fetchone()
                if found:
                    return found[0], False
            incident_id = incident["id"] or self._allocate(conn, prefix, year)
            if conn.execute(q(sql.INSERT_INCIDENT), (
                    incident_id, incident["class"], bool(incident["drill"]), incident["dedup_key"] or incident_id,
                    started, now, _json(incident["fields"]), _json(incident.get("meta", {})))
                            ).rowcount != 1:  # that id exists (typed by hand, or another process won the race)
                return incident_id, False
            # 'triggered' first, then the others: one statement for the timeline (a new incident has no events yet)
            conn.cursor().executemany(q(sql.INSERT_EVENT), [
                (incident_id, "triggered", "triggered", now, None, incident["fields"].get("summary", "")),
                *((incident_id, key, kind, now, None, detail) for key, kind, detail in more)])
            if planned:  # one batch: their ids are not needed
                conn.cursor().executemany(q(sql.INSERT_DELIVERY), [sql.delivery_values(incident_id, d, now, rank)
                                                                   for d, rank in zip(planned, sql.lead_ranks(planned))])
            return incident_id, True

        return self._write(work)

    def _allocate(self, conn: Any, prefix: str, year: int) -> str:
        """The next free id, skipping numbers taken by ids a user typed by hand."""
        q = self.dialect.q
        value = conn.execute(q(sql.NEXT_NUMBER), (prefix, year)).fetchone()[0]
        while conn.execute(q(sql.ID_TAKEN), (sql.format_id(prefix, year, value),)).fetchone():
            value = conn.execute(q(sql.SKIP_NUMBER), (prefix, year)).fetchone()[0]
        return sql.format_id(prefix, year, value)

    def _insert_delivery(self, conn: Any, incident_id: str, d: NewDelivery, now: Any, rank: int | None = None) -> int | None:
        """Insert one planned delivery (`now` in the dialect's form); None when its idempotency key exists already."""
        row = conn.execute(self.dialect.q(sql.INSERT_DELIVERY + " RETURNING id"),
                           sql.delivery_values(incident_id, d, now, rank)).fetchone()
        return int(row[0]) if row else None

    # -- the timeline --------------------------------------------------------------

    def record_event(self, incident_id: str, key: str, kind: str, at: datetime, detail: str = "", by: str | None = None,
                     deliveries: Iterable[NewDelivery] = (), status: IncidentStatus | None = None,
                     cancel: Iterable[int] = (), cancel_reason: str = "",
                     meta: dict[str, Any] | None = None) -> bool:
        """Record a timeline event once (by key) with its notices and an optional status change.

        In the same transaction, the deliveries `cancel` names that are still pending (none sent yet)
        are skipped with `cancel_reason` (an ack's queued pages), and `meta` replaces the incident's.

        Returns False, writing nothing, when the event was recorded before: timers are idempotent,
        across processes too (a second insert of the key waits for the first to commit, then does
        nothing). A read answers the repeat without a write transaction (events are never deleted):
        every tick asks again about each timer already fired, for every open incident.
        """
        key = stored_key(key)
        q, at = self.dialect.q, self.dialect.t(at, "at")
        if self._read(q(sql.EVENT_SEEN), (incident_id, key)):
            return False
        planned, cancelled = list(deliveries), [int(i) for i in cancel]

        def work(conn: Any) -> bool:
            if conn.execute(q(sql.INSERT_EVENT), (incident_id, key, kind, at, by, detail)).rowcount != 1:
                return False
            for d in planned:
                self._insert_delivery(conn, incident_id, d, at)
            if cancelled:
                in_ids, id_args = self.dialect.ids(cancelled)
                conn.execute(q(sql.CANCEL_PENDING + in_ids), (cancel_reason, at, incident_id, *id_args))
            if meta is not None:
                conn.execute(q(sql.SET_META), (_json(meta), incident_id))
            if status == IncidentStatus.ACKNOWLEDGED:
                conn.execute(q(sql.ACKNOWLEDGE), (at, by, incident_id))
            elif status == IncidentStatus.RESOLVED:
                conn.execute(q(sql.RESOLVE), (at, incident_id))
                conn.execute(q(sql.SKIP_TIMER_NOTICES), (incident_id,))
                conn.execute(q(sql.SKIP_HELD), (incident_id,))
            if kind in UPDATE_KINDS:  # only a counted update restarts the cadence (see incidents.post_update)
                conn.execute(q(sql.COUNT_UPDATE), (kind == "update", at, incident_id))
            return True

        return self._write(work)

    def record_reclassification(self, incident_id: str, key: str, kind: str, at: datetime, detail: str, by: str, *,
                                was: str, klass: str, meta: dict[str, Any], cancel: Iterable[tuple[int, str]] = (),
                                release: bool = False, reopen: bool = False,
                                deliveries: Iterable[NewDelivery] = ()) -> bool:
        """Record a class change or confirmation once (by key), with its effects, in one transaction.

        The incident takes `klass` and `meta` only if its class is still `was` and it is not resolved;
        `reopen` makes it open again, unacknowledged (the new class's escalation runs); `cancel` skips
        waiting deliveries (id, why); `release` makes its held deliveries pending; the new class's pages
        and the notices are inserted. Returns False, writing nothing, when the key
        was recorded before or the incident changed meanwhile (the caller reads it again).
        """
        key = stored_key(key)
        q, at = self.dialect.q, self.dialect.t(at, "at")
        if self._read(q(sql.EVENT_SEEN), (incident_id, key)):
            return False
        cancelled, planned = list(cancel), list(deliveries)

        def work(conn: Any) -> bool:
            if conn.execute(q(sql.INSERT_EVENT), (incident_id, key, kind, at, by, detail)).rowcount != 1:
                return False
            changed = conn.execute(q(sql.RECLASSIFY), (klass, _json(meta), reopen, reopen, reopen, incident_id, was))
            if changed.rowcount != 1:
                raise _Changed  # rolls the event back with it
            for delivery_id, why in cancelled:
                conn.execute(q(sql.CANCEL_WAITING), (why, at, delivery_id))
            if release:
                conn.execute(q(sql.RELEASE_HELD), (at, incident_id))
            for d in planned:
                self._insert_delivery(conn, incident_id, d, at)
            return True

        try:
            return self._write(work)
        except _Changed:
            return False

    def events(self, incident_id: str) -> list[EventRow]:
        return [EventRow(loaded(at), *rest) for at, *rest in self._read(self.dialect.q(sql.EVENTS), (incident_id,))]

    # -- the outbox -----------------------------------------------------------

    def deliveries(self, incident_id: str, step: int | None = None) -> list[DeliveryRow]:
        query, args = sql.DELIVERIES, [incident_id]
        if step is not None:
            query, args = query + " AND step = %s", args + [step]
        return [sql.delivery_row(r) for r in self._read(self.dialect.q(query + " ORDER BY id"), args)]

    def pages_to(self, target: str, channel: str, *, limit: int = 50) -> list[DeliveryRow]:
        """The latest pages to people sent to `target` on `channel` (not the skipped or unsent), newest first."""
        rows = self._read(self.dialect.q(sql.PAGES_TO), (target, channel, limit))
        return [sql.delivery_row(r) for r in rows]

    def pending_ids(self, incident_id: str, step: int) -> list[int]:
        """The ids of an incident's deliveries of one step still waiting to be sent."""
        return [r[0] for r in self._read(self.dialect.q(sql.PENDING_IDS), (incident_id, step))]

    def claim(self, owner: str, now: datetime, lease_until: datetime, *, limit: int = 100,
              incident_id: str | None = None, ids: Iterable[int] | None = None,
              skip_channels: Iterable[str] = (), leads_only: bool = False) -> list[DeliveryRow]:
        """Lease due rows (pending and due, or in flight with an expired lease), pages first (sql.CLAIM), in
        that order; rows of `skip_channels` (no room in the sender now) are left. `leads_only`: only new
        incidents' leads (Priority.LEAD, sql.LEADS). PostgreSQL skips rows another process is leasing
        (SKIP LOCKED). A row taken over from an expired lease may
        have been sent by its dead owner: it and its later attempts are marked possibly duplicated."""
        now, lease_until = self.dialect.t(now, "now"), self.dialect.t(lease_until, "lease_until")
        clauses, args = [sql.DUE], [now, now]
        if incident_id is not None:
            clauses, args = clauses + ["incident_id = %s"], args + [incident_id]
        if ids is not None:
            id_list, id_args = self.dialect.ids(list(ids))
            clauses, args = clauses + [f"id IN {id_list}"], [*args, *id_args]
        if skipped := sorted(set(skip_channels)):
            clauses, args = clauses + [f"channel NOT IN ({', '.join(['%s'] * len(skipped))})"], [*args, *skipped]
        if leads_only:
            clauses.append(sql.LEADS)
        query = sql.CLAIM.format(where=" AND ".join(clauses), lock=self.dialect.claim_lock)
        _, rows = self._statement(self.dialect.q(query), (*args, limit, owner, lease_until, now))
        return [sql.delivery_row(r) for r in sorted(rows, key=sql.claim_order)]

    def requeue(self, ids: Iterable[int], now: datetime) -> int:
        """Put finally-failed deliveries back in the outbox, due now (`notify retry`)."""
        return self._for_ids(sql.REQUEUE, (self.dialect.t(now, "now"),), ids)

    def renew(self, owner: str, lease_until: datetime) -> int:
        """Extend every lease an owner holds to `lease_until` (its sends still run), never shorten one; how many."""
        lease_until = self.dialect.t(lease_until, "lease_until")
        return self._statement(self.dialect.q(sql.RENEW), (lease_until, owner, lease_until))[0]

    def release(self, owner: str, ids: Iterable[int] | None = None) -> int:
        """Give back every lease an owner holds (clean shutdown), or those of these rows (claimed but not
        started): the rows are due again at once, and not as possibly duplicated (they were not sent)."""
        if ids is not None:
            return self._for_ids(sql.RELEASE + " AND id IN ", (owner,), ids)
        q = self.dialect.q

        def work(conn: Any) -> int:
            conn.execute(q(INBOX_RELEASE), (owner,))
            return conn.execute(q(sql.RELEASE), (owner,)).rowcount

        return self._write(work)

    def add_fallback(self, original: DeliveryRow, d: NewDelivery, now: datetime) -> int | None:
        """Plan a fallback for a failed delivery, of its rank (a lead's leads); None when it was planned already."""
        now = self.dialect.t(now, "now")
        planned = replace(d, fallback_of=original.id, kind=original.kind, notice=original.notice)
        rank = lambda conn: conn.execute(self.dialect.q(sql.RANK_OF), (original.id,)).fetchone()[0]
        return self._write(lambda conn: self._insert_delivery(conn, original.incident_id, planned, now, rank(conn)))

    def confirm(self, delivery_id: int, now: datetime) -> bool:
        """Record a provider's report that an accepted delivery arrived; False when it was not accepted."""
        return self._statement(self.dialect.q(sql.CONFIRM), (self.dialect.t(now, "now"), delivery_id))[0] == 1

    def set_warning(self, delivery_id: int, warning: str) -> None:
        self._statement(self.dialect.q(sql.SET_WARNING), (warning, delivery_id))

    def record_attempt(self, delivery: DeliveryRow, attempt: AttemptRow, *, final_status: DeliveryState | None,
                       next_attempt_at: datetime | None = None) -> None:
        """Append one attempt row and settle the delivery, in one transaction.

        Final: the delivery takes its outcome and leaves the outbox. Not final: it goes back
        to pending, due again at `next_attempt_at`, so any worker can continue the retries.
        """
        t = self.dialect.t
        at = t(attempt.at, "attempt.at")
        logged = (delivery.id, at, attempt.incident_id, attempt.klass, attempt.step, attempt.person,
                  attempt.role, attempt.channel, attempt.masked_target, attempt.attempt, attempt.outcome,
                  attempt.reason, attempt.detail, attempt.latency_ms, attempt.fallback_of, attempt.delivered_to,
                  attempt.kind, bool(attempt.possible_duplicate), attempt.provider_id)
        settled = (attempt.attempt, final_status or DeliveryState.PENDING, attempt.reason, attempt.detail,
                   attempt.delivered_to, attempt.provider_id, t(None if final_status else next_attempt_at, "next_attempt_at"), at, delivery.id)
        q = self.dialect.q
        if self.dialect.insert_in_cte:
            self._statement(q(f"WITH logged AS ({sql.INSERT_ATTEMPT}) {sql.SETTLE}"), (*logged, *settled))
            return

        def work(conn: Any) -> None:
            conn.execute(q(sql.INSERT_ATTEMPT), logged)
            conn.execute(q(sql.SETTLE), settled)

        self._write(work)

    def next_due(self) -> datetime | None:
        """When the earliest pending delivery is due (None: nothing waiting; DUE_NOW: one is due at once)."""
        due_now, earliest = self._read(sql.NEXT_DUE)[0]
        return DUE_NOW if due_now else loaded(earliest)

    # -- log, metrics and workers ---------------------------------------------------

    def attempts(self, *, incident_id: str | None = None, since: datetime | None = None,
                 limit: int | None = None) -> list[AttemptRow]:
        clauses, args = list[str](), list[Any]()
        if incident_id:
            clauses, args = clauses + ["incident_id = %s"], args + [incident_id]
        if since:
            clauses, args = clauses + ["at >= %s"], args + [self.dialect.t(since, "since")]
        query = sql.ATTEMPTS.format(where=f" WHERE {' AND '.join(clauses)}" if clauses else "")
        if limit:
            query += f" LIMIT {int(limit)}"
        rows = [AttemptRow(loaded(row[0]), *row[1:9], DeliveryState(row[9]), *row[10:-2],
                           possible_duplicate=bool(row[-2]), provider_id=row[-1])
                for row in self._read(self.dialect.q(query), args)]
        return list(reversed(rows))

    def stats(self, now: datetime) -> dict[str, float]:
        """Store-wide numbers for metrics: open incidents, SLA breaches, the outbox and its oldest due row."""
        open_incidents = self._read(sql.OPEN_COUNT)[0][0]
        breaches = self._read(sql.BREACH_COUNT)[0][0]
        pending, oldest = self._read(self.dialect.q(sql.DUE_BACKLOG), (self.dialect.t(now, "now"),))[0]
        age = (now - loaded(oldest)).total_seconds() if oldest else 0.0
        return {"open_incidents": open_incidents, "sla_breaches": breaches, "pending": pending,
                "oldest_due_age": max(age, 0.0)}

    def heartbeat(self, worker: str, now: datetime) -> None:
        now = self.dialect.t(now, "now")
        self._statement(self.dialect.q(sql.HEARTBEAT), (worker, now, now))

    def last_heartbeat(self) -> datetime | None:
        rows = self._read(sql.LAST_HEARTBEAT)
        return loaded(rows[0][0]) if rows else None

    def _for_ids(self, query: str, args: tuple, ids: Iterable[int]) -> int:
        """Run a statement ending in "id IN " for these ids; how many rows it changed."""
        id_list = list(ids)
        if not id_list:
            return 0
        in_ids, id_args = self.dialect.ids(id_list)
        return self._statement(self.dialect.q(query + in_ids), (*args, *id_args))[0]


class _Changed(Exception):
    """The incident changed between the read a reclassification was planned from and its write."""


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)

