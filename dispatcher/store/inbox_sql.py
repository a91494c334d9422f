"""The inbox's SQL, its claim rule and its methods, shared by both stores (SQL written with %s, see sql.Dialect)."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any, Callable, Iterable, Sequence

from .base import InboxRow
from .keys import stored_key
from .times import loaded

__all__ = ["GIVE_UP_AFTER", "INBOX_COLUMNS", "INBOX_COUNTS", "INBOX_DISCARD", "INBOX_DONE",
           "INBOX_FAILED", "INBOX_FRESH", "INBOX_GIVE_UP", "INBOX_LEASE", "INBOX_LIST", "INBOX_PAGE", "INBOX_RELEASE", "INBOX_RENEW", "INBOX_RETRY",
           "INSERT_INBOX", "InboxSQL", "choose", "counts", "listed"]

GIVE_UP_AFTER = 10  # failed attempts after which a row is kept for inspection but no longer tried

INBOX_COLUMNS = "id, source, dedup_key, body, received, attempts"

INSERT_INBOX = "INSERT INTO inbox (source, dedup_key, body, received) VALUES (%s, %s, %s, %s) RETURNING id"

# Rows still to be tried, oldest first, a page at a time, each with whether it is free to take now
# (never leased, lease expired, failed and due again, or already ours). (now, owner, after id, page size)
INBOX_PAGE = ("SELECT id, dedup_key, CASE WHEN lease_until IS NULL OR lease_until <= %s OR lease_owner = %s"
              f" THEN 1 ELSE 0 END FROM inbox WHERE attempts < {GIVE_UP_AFTER} AND id > %s ORDER BY id LIMIT %s")

# Lease the chosen rows. (owner, lease_until); the ids are appended, then RETURNING the columns.
INBOX_LEASE = "UPDATE inbox SET lease_owner = %s, lease_until = %s WHERE id IN "

# A handled row, deleted only while its owner still holds it. (id, owner)
INBOX_DONE = "DELETE FROM inbox WHERE id = %s AND lease_owner = %s"

# A failed row, while its owner still holds it: counted, its error kept, free again at retry_at.
# (error, retry_at, id, owner)
INBOX_FAILED = ("UPDATE inbox SET attempts = attempts + 1, error = %s, lease_owner = NULL, lease_until = %s "
                "WHERE id = %s AND lease_owner = %s")

# A row that can never be handled as it is (its body no longer parses): given up at once. (error, id, owner)
INBOX_GIVE_UP = (f"UPDATE inbox SET attempts = {GIVE_UP_AFTER}, error = %s, lease_owner = NULL, lease_until = NULL "
                 "WHERE id = %s AND lease_owner = %s")

# Extend an owner's hold on rows it is still handling. (lease_until, owner); the ids are appended.
INBOX_RENEW = "UPDATE inbox SET lease_until = %s WHERE lease_owner = %s AND id IN "

# Give back an owner's rows (a clean stop, or a dead sender child): their handling is safe to repeat. (owner)
INBOX_RELEASE = "UPDATE inbox SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = %s"

# What an operator sees (`notify inbox`): every row but the body, oldest first.
_LISTED = ("id", "source", "dedup_key", "received", "attempts", "error", "lease_owner", "lease_until")
INBOX_LIST = f"SELECT {', '.join(_LISTED)} FROM inbox ORDER BY id"

# An operator's retry of rows (after a fix): tried again at once, from the first attempt. Not a row being handled:
# freed under its owner, its group would be taken by another owner meanwhile. The ids are appended.
INBOX_RETRY = "UPDATE inbox SET attempts = 0, error = NULL, lease_until = NULL WHERE lease_owner IS NULL AND id IN "

# An operator's discard of rows that should never be handled. The ids are appended.
INBOX_DISCARD = "DELETE FROM inbox WHERE id IN "

# (waiting: still to be handled, failing: of those, failed at least once, given up: no longer tried).
# Given-up rows are not waiting, so an alert on a backlog clears once only they are left.
INBOX_COUNTS = (f"SELECT COALESCE(SUM(CASE WHEN attempts < {GIVE_UP_AFTER} THEN 1 ELSE 0 END), 0),"
                f" SUM(CASE WHEN attempts > 0 AND attempts < {GIVE_UP_AFTER} THEN 1 ELSE 0 END),"
                f" SUM(CASE WHEN attempts >= {GIVE_UP_AFTER} THEN 1 ELSE 0 END) FROM inbox")
# Is a webhook waiting that no worker has tried yet (a burst being triaged)? Failing rows wait for their
# retry and are not counted: one would otherwise hold the outbox to leads for minutes (app/worker.py).
INBOX_FRESH = "SELECT EXISTS (SELECT 1 FROM inbox WHERE attempts = 0)"

PAGE = 256


def listed(row: Sequence[Any]) -> dict[str, Any]:
    """An INBOX_LIST row as a dict, with its state: waiting, failing or given up."""
    item = dict(zip(_LISTED, row))
    item["received"], item["lease_until"] = loaded(item["received"]), loaded(item["lease_until"])
    item["state"] = ("given up" if item["attempts"] >= GIVE_UP_AFTER else "failing" if item["attempts"]
                     else "waiting")
    return item


def counts(row: Sequence[Any]) -> tuple[int, int, int]:
    """INBOX_COUNTS' row (SUM of no rows is NULL) as (waiting, failing, given up)."""
    waiting, failing, given_up = row
    return waiting, failing or 0, given_up or 0


def choose(page: Callable[[int, int], Sequence[tuple]], limit: int) -> list[int]:
    """The ids to lease: oldest first, skipping every row behind a row of its group that is not free.

    `page(after_id, size)` returns INBOX_PAGE's rows. A group's rows may share a batch (its one
    owner handles them in order); a group whose oldest row is leased by another owner or failing
    waits whole, so its "resolved" never overtakes its "firing", and two owners never split a group
    between them. Reading in pages from the oldest row,
    every row older than a chosen one has been seen: the cost is the rows read, not the backlog
    of one group times itself.
    """
    chosen: list[int] = []
    blocked: set[str] = set()
    after = 0
    while len(chosen) < limit:
        rows = page(after, PAGE)
        for row_id, group, free in rows:
            if group in blocked:
                continue
            if not free:
                blocked.add(group)
                continue
            chosen.append(row_id)
            if len(chosen) == limit:
                break
        if len(rows) < PAGE:
            break
        after = rows[-1][0]
    return chosen


class InboxSQL:
    """The inbox's methods. A store provides `dialect`, `_read`, `_write`, `_statement`, `_serialise` and
    `_for_ids(query, args, ids)`, which runs a statement ending in "id IN " for those ids (see sql_store)."""

    def enqueue(self, source: str, dedup_key: str, body: str, received: datetime) -> int:
        """Store a webhook as received; committed before this returns.

        PostgreSQL draws an id at INSERT but shows it to others only at COMMIT: two webhooks of
        one group stored at once (an HA Alertmanager pair) could become visible out of id order.
        A lock per group makes the second draw its id after the first committed.
        """
        return self.enqueue_many([(source, dedup_key, body)], received)[0]

    def enqueue_many(self, webhooks: Sequence[tuple[str, str, str]], received: datetime) -> list[int]:
        """Store webhooks, each (source, dedup_key, body), in this order, in one transaction: all or none;
        their ids, in order. A burst's webhooks then cost one transaction (and one fsync) together."""
        rows = [(source, stored_key(key), body) for source, key, body in webhooks]
        received = self.dialect.t(received, "received")
        insert = self.dialect.q(INSERT_INBOX)

        def work(conn: Any) -> list[int]:
            for key in sorted({key for _, key, _ in rows}):  # one order for every writer: none waits in a circle
                self._serialise(conn, "inbox-group", key)
            return [conn.execute(insert, (source, key, body, received)).fetchone()[0] for source, key, body in rows]

        return self._write(work)

    def writes_together(self) -> AbstractContextManager[None]:
        """The writes this thread makes inside the block commit together at its end, or none of them (the inbox's
        triage: an incident and a delete per webhook). Here each commits on its own; SQLite overrides it: there a
        commit is an fsync of the file, and a worker triaging a burst one webhook after another paid two each."""
        return nullcontext()

    def claim_inbox(self, owner: str, now: datetime, lease_until: datetime, *, limit: int) -> list[InboxRow]:
        """Lease the oldest waiting webhooks of the groups no other owner holds now.

        Several owners at once, each with groups of its own (a burst's webhooks are triaged by every
        sender, not the first alone): oldest first, no row before an older one of its group that is
        not free (see :func:`choose`), so a group's "resolved" is never handled before its "firing".
        Claims queue on one lock, so each sees the leases of the claim before it.
        """
        q = self.dialect.q
        now, lease_until = self.dialect.t(now, "now"), self.dialect.t(lease_until, "lease_until")

        def work(conn: Any) -> list[tuple]:
            self._serialise(conn, "inbox")  # claims queue here; each then sees the leases of the claim before it
            ids = choose(lambda after, size: conn.execute(q(INBOX_PAGE), (now, owner, after, size)).fetchall(), limit)
            if not ids:
                return []
            in_ids, id_args = self.dialect.ids(ids)
            return conn.execute(q(f"{INBOX_LEASE}{in_ids} RETURNING {INBOX_COLUMNS}"), (owner, lease_until, *id_args)).fetchall()

        rows = (InboxRow(row_id, source, group, body, loaded(received), attempts)
                for row_id, source, group, body, received, attempts in self._write(work))
        return sorted(rows, key=lambda row: row.id)

    def inbox_done(self, inbox_id: int, owner: str) -> bool:
        """Delete a handled row; False when `owner` no longer holds it (its lease expired and was taken)."""
        return self._statement(self.dialect.q(INBOX_DONE), (inbox_id, owner))[0] == 1

    def inbox_failed(self, inbox_id: int, owner: str, error: str, retry_at: datetime | None) -> bool:
        """Record a failed try (retry_at None: give up now); False when `owner` no longer holds the row."""
        query, args = ((INBOX_GIVE_UP, (error, inbox_id, owner)) if retry_at is None
                       else (INBOX_FAILED, (error, self.dialect.t(retry_at, "retry_at"), inbox_id, owner)))
        return self._statement(self.dialect.q(query), args)[0] == 1

    def release_inbox(self, owner: str) -> int:
        return self._statement(self.dialect.q(INBOX_RELEASE), (owner,))[0]

    def renew_inbox(self, owner: str, ids: Iterable[int], lease_until: datetime) -> int:
        """Extend `owner`'s hold on these rows; returns how many it still held.

        Queued on the claims' lock: a claim that read a lapsed hold as free leases the rows before this
        renewal (which then finds them another's) or after it (and sees them held), never over it.
        """
        id_list = list(ids)
        if not id_list:
            return 0
        in_ids, id_args = self.dialect.ids(id_list)
        query, until = self.dialect.q(INBOX_RENEW + in_ids), self.dialect.t(lease_until, "lease_until")

        def work(conn: Any) -> int:
            self._serialise(conn, "inbox")
            return conn.execute(query, (until, owner, *id_args)).rowcount

        return self._write(work)

    def inbox_rows(self) -> list[dict[str, Any]]:
        """Every stored webhook but its body, oldest first (`notify inbox`)."""
        return [listed(row) for row in self._read(INBOX_LIST)]

    def inbox_retry(self, ids: Iterable[int]) -> int:
        """Make rows due again at once from their first attempt; returns how many there were."""
        return self._for_ids(INBOX_RETRY, (), ids)

    def inbox_discard(self, ids: Iterable[int]) -> int:
        """Delete rows an operator has dealt with; returns how many there were."""
        return self._for_ids(INBOX_DISCARD, (), ids)

    def inbox_counts(self) -> tuple[int, int, int]:
        """(waiting, failing, given up): webhooks still to be handled, those failing, those no longer tried."""
        return counts(self._read(INBOX_COUNTS)[0])

    def webhooks_waiting(self) -> bool:
        """Whether a stored webhook waits for its first try (taken or not): a burst is being triaged."""
        return bool(self._read(INBOX_FRESH)[0][0])
