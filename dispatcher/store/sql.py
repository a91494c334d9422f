"""The SQL both stores run, written once (with ``%s`` placeholders), and the :class:`Dialect` that renders it.

SQLite (3.35 or later) and PostgreSQL share almost all of it: ``INSERT ... ON
CONFLICT`` (``EXCLUDED`` included), ``RETURNING``, ``UPDATE ... FROM`` a CTE.
What a dialect changes is small and listed on :class:`Dialect`: the placeholder,
how a list of ids is bound, whether a claim locks its rows, and whether a CTE
may hold an INSERT. How each store makes a write atomic (SQLite's one writer
under ``BEGIN IMMEDIATE``, PostgreSQL's row and advisory locks) stays in its module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

from .base import DeliveryRow, IncidentRow

__all__ = ["POSTGRES", "SQLITE", "Dialect"]


@dataclass(frozen=True)
class Dialect:
    """How one database spells what the shared statements leave open."""

    name: str
    placeholder: str  # "?" (sqlite3) or "%s" (psycopg)
    # A claim's lock on the rows it picks: PostgreSQL skips rows another worker is leasing right now;
    # SQLite needs none, its one writer at a time (BEGIN IMMEDIATE) already serialises claims.
    claim_lock: str
    # PostgreSQL runs an INSERT inside a WITH, so an attempt and its delivery's new state are one
    # statement (one round trip); SQLite cannot, and runs two in one transaction (no round trip to save).
    insert_in_cte: bool

    def q(self, statement: str) -> str:
        """The statement in this dialect's placeholder style."""
        return statement if self.placeholder == "%s" else statement.replace("%s", self.placeholder)

    def ids(self, ids: Sequence[int]) -> tuple[str, tuple[Any, ...]]:
        """(SQL, args) for "id IN <SQL>": a bound array in PostgreSQL (one statement text for any
        number of ids), one placeholder per id in SQLite (which has no arrays)."""
        if self.placeholder == "%s":
            return "(SELECT unnest(%s::bigint[]))", ([int(i) for i in ids],)
        return f"({','.join('?' * len(ids))})", tuple(int(i) for i in ids)


SQLITE = Dialect("sqlite", "?", claim_lock="", insert_in_cte=False)
POSTGRES = Dialect("postgresql", "%s", claim_lock=" FOR UPDATE SKIP LOCKED", insert_in_cte=True)

INCIDENT_COLUMNS = ("id, class, status, drill, started, created, fields, meta, acked_at, acked_by, resolved_at,"
                    " updates, last_update_at")
DELIVERY_COLUMNS = ("id, key, incident_id, step, person, display, role, channel, target, masked_target, template,"
                    " status, attempts, reason, detail, fallback_of, skip, fallbacks, warning, delivered_to, kind,"
                    " notice, possible_duplicate, next_attempt_at")
ATTEMPT_COLUMNS = ("at, incident_id, class, step, person, role, channel, masked_target, attempt, outcome, reason,"
                   " detail, latency_ms, fallback_of, delivered_to, kind, possible_duplicate")

SET_VERSION = ("INSERT INTO meta VALUES ('schema_version', %s) ON CONFLICT (key) DO UPDATE "
               "SET value = EXCLUDED.value")

# -- incidents and ids -----------------------------------------------------------------

COUNTER = "SELECT value FROM counters WHERE prefix = %s AND year = %s"
# The counter row stays locked (PostgreSQL) or the store is (SQLite) until the incident is committed.
NEXT_NUMBER = ("INSERT INTO counters VALUES (%s, %s, 1) ON CONFLICT (prefix, year) DO UPDATE "
               "SET value = counters.value + 1 RETURNING value")
SKIP_NUMBER = "UPDATE counters SET value = value + 1 WHERE prefix = %s AND year = %s RETURNING value"
ID_TAKEN = "SELECT 1 FROM incidents WHERE id = %s"
INCIDENT = f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = %s"
OPEN_BY_DEDUP = (f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE dedup_key = %s AND status != 'resolved'"
                 " ORDER BY created LIMIT 1")
OPEN_ID_BY_DEDUP = "SELECT id FROM incidents WHERE dedup_key = %s AND status != 'resolved' ORDER BY created LIMIT 1"
INCIDENTS = f"SELECT {INCIDENT_COLUMNS} FROM incidents{{where}} ORDER BY created, id"
INSERT_INCIDENT = ("INSERT INTO incidents (id, class, status, drill, dedup_key, started, created, fields, meta)"
                   " VALUES (%s, %s, 'open', %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING")

# -- the timeline ("by" is quoted: a keyword in PostgreSQL) ----------------------------------

INSERT_TRIGGERED = ("INSERT INTO events (incident_id, key, kind, at, detail) VALUES (%s, 'triggered', 'triggered',"
                    " %s, %s)")
INSERT_EVENT = ('INSERT INTO events (incident_id, key, kind, at, "by", detail) VALUES (%s,%s,%s,%s,%s,%s)'
                " ON CONFLICT (incident_id, key) DO NOTHING")
EVENT_SEEN = "SELECT 1 FROM events WHERE incident_id = %s AND key = %s"
EVENTS = 'SELECT at, kind, key, "by", detail FROM events WHERE incident_id = %s ORDER BY at, id'
ACKNOWLEDGE = ("UPDATE incidents SET status = 'acknowledged', acked_at = %s, acked_by = %s "
               "WHERE id = %s AND status = 'open'")
RESOLVE = "UPDATE incidents SET status = 'resolved', resolved_at = %s WHERE id = %s"
# Timer notices are moot once resolved; pages and updates already accepted still go out.
SKIP_TIMER_NOTICES = ("UPDATE deliveries SET status = 'skipped', skip = 'incident resolved' WHERE incident_id = %s"
                      " AND status = 'pending' AND kind IN ('escalation', 'reminder', 'overdue')")
# An ack's queued pages to people: those not sent yet (pending) are skipped, saying why; in flight ones go out.
CANCEL_PENDING = ("UPDATE deliveries SET status = 'skipped', skip = %s, updated = %s WHERE incident_id = %s"
                  " AND status = 'pending' AND id IN ")
SET_META = "UPDATE incidents SET meta = %s WHERE id = %s"
COUNT_UPDATE = ("UPDATE incidents SET updates = updates + 1, last_update_at = CASE WHEN %s THEN %s "
                "ELSE last_update_at END WHERE id = %s")

# -- the outbox ------------------------------------------------------------------------

INSERT_DELIVERY = (
    "INSERT INTO deliveries (key, incident_id, step, person, display, role, channel, target, masked_target,"
    " template, status, fallback_of, skip, fallbacks, kind, notice, created, updated)"
    " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (key) DO NOTHING")
DELIVERIES = f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE incident_id = %s"
# The latest pages sent (or being sent) to one address: whom an SMS reply from that number answers for.
PAGES_TO = (f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE target = %s AND channel = %s"
            " AND kind IN ('step', 'escalation') AND status NOT IN ('skipped', 'pending') ORDER BY id DESC LIMIT %s")
PENDING_IDS = "SELECT id FROM deliveries WHERE incident_id = %s AND step = %s AND status = 'pending' ORDER BY id"
DUE = ("((status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= %s))"
       " OR (status = 'in-flight' AND lease_until < %s))")
# One statement: pick the due rows ({where}, then LIMIT), lease them, return them. A row taken over
# from an expired lease may have been sent by its dead owner: it is marked possibly duplicated.
CLAIM = ("WITH due AS (SELECT id AS due_id, status AS was FROM deliveries WHERE {where}"
         " ORDER BY next_attempt_at IS NOT NULL, next_attempt_at, id LIMIT %s{lock})"
         " UPDATE deliveries SET status = 'in-flight', lease_owner = %s, lease_until = %s,"
         " possible_duplicate = possible_duplicate OR was = 'in-flight', updated = %s"
         f" FROM due WHERE id = due_id RETURNING {DELIVERY_COLUMNS}")
REQUEUE = ("UPDATE deliveries SET status = 'pending', next_attempt_at = NULL, updated = %s"
           " WHERE status IN ('failed-transient', 'failed-permanent') AND id IN ")
RENEW = "UPDATE deliveries SET lease_until = %s WHERE status = 'in-flight' AND lease_owner = %s AND lease_until < %s"
RELEASE = ("UPDATE deliveries SET status = 'pending', lease_owner = NULL, lease_until = NULL "
           "WHERE status = 'in-flight' AND lease_owner = %s")
SET_WARNING = "UPDATE deliveries SET warning = %s WHERE id = %s"
INSERT_ATTEMPT = f"INSERT INTO attempts (delivery_id, {ATTEMPT_COLUMNS}) VALUES ({','.join(['%s'] * 18)})"
SETTLE = ("UPDATE deliveries SET attempts = %s, status = %s, reason = %s, detail = %s,"
          " delivered_to = COALESCE(%s, delivered_to), next_attempt_at = %s, lease_owner = NULL,"
          " lease_until = NULL, updated = %s WHERE id = %s")
NEXT_DUE = "SELECT MIN(COALESCE(next_attempt_at, '')) FROM deliveries WHERE status = 'pending'"

# -- the log, metrics and workers ----------------------------------------------------------

ATTEMPTS = f"SELECT {ATTEMPT_COLUMNS} FROM attempts{{where}} ORDER BY id DESC"
OPEN_COUNT = "SELECT COUNT(*) FROM incidents WHERE status != 'resolved'"
BREACH_COUNT = "SELECT COUNT(*) FROM events WHERE kind = 'escalation'"
DUE_BACKLOG = ("SELECT COUNT(*), MIN(COALESCE(next_attempt_at, created)) FROM deliveries "
               "WHERE status IN ('pending', 'in-flight') AND COALESCE(next_attempt_at, created) <= %s")
HEARTBEAT = "INSERT INTO workers VALUES (%s, %s, %s) ON CONFLICT (id) DO UPDATE SET seen = EXCLUDED.seen"
LAST_HEARTBEAT = "SELECT MAX(seen) FROM workers"


# -- rows ---------------------------------------------------------------------------------

def delivery_values(incident_id: str, d: dict[str, Any], now: str) -> tuple:
    """INSERT_DELIVERY's arguments for a planned delivery of an incident (its key's placeholder filled in)."""
    return (d["key"].replace("{incident}", incident_id), incident_id, d["step"], d["person"], d["display"], d["role"],
            d["channel"], d["target"], d["masked_target"], d["template"], "skipped" if d.get("skip") else "pending",
            d.get("fallback_of"), d.get("skip"), json.dumps(d.get("fallbacks", [])), d.get("kind", "step"),
            json.dumps(d.get("notice", {})), now, now)


def incident_row(row: Sequence[Any]) -> IncidentRow:
    return IncidentRow(row[0], row[1], row[2], bool(row[3]), row[4], row[5], json.loads(row[6]), json.loads(row[7]),
                       *row[8:])


def delivery_row(row: Sequence[Any]) -> DeliveryRow:
    return DeliveryRow(*row[:17], fallbacks=json.loads(row[17]), warning=row[18], delivered_to=row[19],
                       kind=row[20], notice=json.loads(row[21]), possible_duplicate=bool(row[22]),
                       next_attempt_at=row[23])


def format_id(prefix: str, year: int, value: int) -> str:
    return f"{prefix}-{year}-{value:03d}"
