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
from datetime import datetime
from typing import Any, Sequence

from ..domain.priority import Priority, lead_of, priority_of
from ..domain.states import DeliveryState, IncidentStatus
from .base import DeliveryRow, IncidentRow, NewDelivery
from .ranking import CLAIM_ORDER
from .times import as_text, aware, loaded

# The states the statements name, spelled once (StrEnum: each is its stored value).
_OPEN, _ACKED, _RESOLVED = IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED, IncidentStatus.RESOLVED
_PENDING, _IN_FLIGHT, _SKIPPED = DeliveryState.PENDING, DeliveryState.IN_FLIGHT, DeliveryState.SKIPPED
_HELD = DeliveryState.HELD
_FAILED = ", ".join(f"'{s}'" for s in DeliveryState if s.is_failure)

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
    # PostgreSQL's times are timestamptz, given to psycopg as datetimes; SQLite's are UTC ISO 8601 text.
    native_times: bool

    def t(self, value: datetime | None, what: str = "time") -> Any:
        """A time argument as this database takes it (None stays None); a naive or non-datetime one is refused."""
        if value is None:
            return None
        return aware(value, what) if self.native_times else as_text(value, what)

    def q(self, statement: str) -> str:
        """The statement in this dialect's placeholder style."""
        return statement if self.placeholder == "%s" else statement.replace("%s", self.placeholder)

    def ids(self, ids: Sequence[int]) -> tuple[str, tuple[Any, ...]]:
        """(SQL, args) for "id IN <SQL>": a bound array in PostgreSQL (one statement text for any
        number of ids), one placeholder per id in SQLite (which has no arrays)."""
        if self.placeholder == "%s":
            return "(SELECT unnest(%s::bigint[]))", ([int(i) for i in ids],)
        return f"({','.join('?' * len(ids))})", tuple(int(i) for i in ids)


SQLITE = Dialect("sqlite", "?", claim_lock="", insert_in_cte=False, native_times=False)
POSTGRES = Dialect("postgresql", "%s", claim_lock=" FOR UPDATE SKIP LOCKED", insert_in_cte=True,
                   native_times=True)

INCIDENT_COLUMNS = ("id, class, status, drill, started, created, fields, meta, acked_at, acked_by, resolved_at,"
                    " updates, last_update_at")
DELIVERY_COLUMNS = ("id, key, incident_id, step, person, display, role, channel, target, masked_target, template,"
                    " status, attempts, reason, detail, fallback_of, skip, fallbacks, warning, delivered_to, kind,"
                    " notice, possible_duplicate, next_attempt_at")
ATTEMPT_COLUMNS = ("at, incident_id, class, step, person, role, channel, masked_target, attempt, outcome, reason,"
                   " detail, latency_ms, fallback_of, delivered_to, kind, possible_duplicate, provider_id")

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
OPEN_BY_DEDUP = (f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE dedup_key = %s AND status != '{_RESOLVED}'"
                 " ORDER BY created LIMIT 1")
OPEN_ID_BY_DEDUP = (f"SELECT id FROM incidents WHERE dedup_key = %s AND status != '{_RESOLVED}'"
                    " ORDER BY created LIMIT 1")
INCIDENTS = f"SELECT {INCIDENT_COLUMNS} FROM incidents{{where}} ORDER BY created, id"
INSERT_INCIDENT = ("INSERT INTO incidents (id, class, status, drill, dedup_key, started, created, fields, meta)"
                   f" VALUES (%s, %s, '{_OPEN}', %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING")

# -- the timeline ("by" is quoted: a keyword in PostgreSQL) ----------------------------------

INSERT_EVENT = ('INSERT INTO events (incident_id, key, kind, at, "by", detail) VALUES (%s,%s,%s,%s,%s,%s)'
                " ON CONFLICT (incident_id, key) DO NOTHING")
EVENT_SEEN = "SELECT 1 FROM events WHERE incident_id = %s AND key = %s"
EVENTS = 'SELECT at, kind, key, "by", detail FROM events WHERE incident_id = %s ORDER BY at, id'
ACKNOWLEDGE = (f"UPDATE incidents SET status = '{_ACKED}', acked_at = %s, acked_by = %s "
               f"WHERE id = %s AND status = '{_OPEN}'")
RESOLVE = f"UPDATE incidents SET status = '{_RESOLVED}', resolved_at = %s WHERE id = %s"
# Timer notices are moot once resolved; pages and updates already accepted still go out.
SKIP_TIMER_NOTICES = (f"UPDATE deliveries SET status = '{_SKIPPED}', skip = 'incident resolved'"
                      f" WHERE incident_id = %s AND status = '{_PENDING}'"
                      " AND kind IN ('escalation', 'reminder', 'overdue', 'target', 'breach')")
# Held notices (a needs-review incident's customer notice) never go out once it is resolved unconfirmed.
# A call held by quiet hours (store/holds_sql.py) says that instead.
SKIP_HELD = (f"UPDATE deliveries SET status = '{_SKIPPED}', skip = CASE WHEN reason LIKE 'quiet hours%%'"
             " THEN 'incident resolved before quiet hours ended' ELSE 'incident resolved before its class was confirmed'"
             f" END, reason = NULL WHERE incident_id = %s AND status = '{_HELD}'")
# An ack's queued pages to people: those not sent yet (pending) are skipped, saying why; in flight ones go out.
CANCEL_PENDING = (f"UPDATE deliveries SET status = '{_SKIPPED}', skip = %s, updated = %s WHERE incident_id = %s"
                  f" AND status = '{_PENDING}' AND id IN ")
SET_META = "UPDATE incidents SET meta = %s WHERE id = %s"
COUNT_UPDATE = ("UPDATE incidents SET updates = updates + 1, last_update_at = CASE WHEN %s THEN %s "
                "ELSE last_update_at END WHERE id = %s")

# -- reclassification (see SQLStore.record_reclassification) ---------------------------------

# Compare-and-set on the class: a reclassification planned from a class another process changed meanwhile
# (or on an incident resolved meanwhile) writes nothing.
RECLASSIFY = (f"UPDATE incidents SET class = %s, meta = %s, status = CASE WHEN %s THEN '{_OPEN}' ELSE status END,"
              " acked_at = CASE WHEN %s THEN NULL ELSE acked_at END,"
              " acked_by = CASE WHEN %s THEN NULL ELSE acked_by END"
              f" WHERE id = %s AND class = %s AND status != '{_RESOLVED}'")
# Only what is still waiting is cancelled: a page a sender holds (in-flight) goes out and is recorded as sent.
CANCEL_WAITING = (f"UPDATE deliveries SET status = '{_SKIPPED}', skip = %s, reason = NULL, updated = %s"
                  f" WHERE id = %s AND status IN ('{_PENDING}', '{_HELD}')")
# Released once: a second confirmation finds nothing held, and the released rows are claimed once each.
# A call or text held by quiet hours (store/holds_sql.py) waits for working hours or the SLA, not for a class.
RELEASE_HELD = (f"UPDATE deliveries SET status = '{_PENDING}', reason = NULL, updated = %s"
                f" WHERE incident_id = %s AND status = '{_HELD}' AND COALESCE(reason, '') NOT LIKE 'quiet hours%%'")

# -- the outbox ------------------------------------------------------------------------

INSERT_DELIVERY = (
    "INSERT INTO deliveries (key, incident_id, step, person, display, role, channel, target, masked_target,"
    " template, status, fallback_of, skip, fallbacks, kind, notice, created, updated, reason, priority)"
    " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (key) DO NOTHING")
DELIVERIES = f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE incident_id = %s"
# The latest pages sent (or being sent) to one address: whom an SMS reply from that number answers for.
PAGES_TO = (f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE target = %s AND channel = %s"
            f" AND kind IN ('step', 'escalation') AND status NOT IN ('{_SKIPPED}', '{_PENDING}', '{_HELD}')"
            " ORDER BY id DESC LIMIT %s")
PENDING_IDS = f"SELECT id FROM deliveries WHERE incident_id = %s AND step = %s AND status = '{_PENDING}' ORDER BY id"
# The first term is implied by the rest; spelled out, it lets SQLite use the claim's partial index too.
DUE = (f"status IN ('{_PENDING}', '{_IN_FLIGHT}')"
       f" AND ((status = '{_PENDING}' AND (next_attempt_at IS NULL OR next_attempt_at <= %s))"
       f" OR (status = '{_IN_FLIGHT}' AND lease_until < %s))")
# One statement: pick the due rows ({where}) in priority order (ranking.CLAIM_ORDER: pages first, then the
# longest due), LIMIT, lease them, return them with the keys of that order (RETURNING's order is arbitrary).
# A row taken over from an expired lease may have been sent by its dead owner: it is marked possibly duplicated.
CLAIM = ("WITH due AS (SELECT id AS due_id, status AS was FROM deliveries WHERE {where}"
         f" ORDER BY {CLAIM_ORDER} LIMIT %s{{lock}})"
         f" UPDATE deliveries SET status = '{_IN_FLIGHT}', lease_owner = %s, lease_until = %s,"
         f" possible_duplicate = possible_duplicate OR was = '{_IN_FLIGHT}', updated = %s"
         f" FROM due WHERE id = due_id RETURNING {DELIVERY_COLUMNS}, priority, COALESCE(next_attempt_at, created)")
# While a burst's webhooks wait to be triaged, only each new incident's lead (claim's leads_only), so that
# the triage which makes the other incidents' leads gets the CPU (domain/priority.py). A range of the claim's
# index: a claim that finds no lead reads no other row.
LEADS = f"priority <= {int(Priority.LEAD)}"
REQUEUE = (f"UPDATE deliveries SET status = '{_PENDING}', next_attempt_at = NULL, updated = %s"
           f" WHERE status IN ({_FAILED}) AND id IN ")
RENEW = (f"UPDATE deliveries SET lease_until = %s WHERE status = '{_IN_FLIGHT}' AND lease_owner = %s"
         " AND lease_until < %s")
RELEASE = (f"UPDATE deliveries SET status = '{_PENDING}', lease_owner = NULL, lease_until = NULL "
           f"WHERE status = '{_IN_FLIGHT}' AND lease_owner = %s")
# A provider's report that an accepted message arrived (nothing calls it yet: see DeliveryState).
CONFIRM = (f"UPDATE deliveries SET status = '{DeliveryState.CONFIRMED}', updated = %s"
           f" WHERE id = %s AND status = '{DeliveryState.ACCEPTED}'")
SET_WARNING = "UPDATE deliveries SET warning = %s WHERE id = %s"
RANK_OF = "SELECT priority FROM deliveries WHERE id = %s"
INSERT_ATTEMPT = f"INSERT INTO attempts (delivery_id, {ATTEMPT_COLUMNS}) VALUES ({','.join(['%s'] * 19)})"
SETTLE = ("UPDATE deliveries SET attempts = %s, status = %s, reason = %s, detail = %s,"
          " delivered_to = COALESCE(%s, delivered_to), provider_id = COALESCE(%s, provider_id), next_attempt_at = %s,"
          " lease_owner = NULL, lease_until = NULL, queued_route = NULL, queued_since = NULL, updated = %s WHERE id = %s")
# (any due at once, the earliest next try): a pending row without a next try is due now.
NEXT_DUE = f"SELECT COUNT(*) > COUNT(next_attempt_at), MIN(next_attempt_at) FROM deliveries WHERE status = '{_PENDING}'"

# -- the log, metrics and workers ----------------------------------------------------------

ATTEMPTS = f"SELECT {ATTEMPT_COLUMNS} FROM attempts{{where}} ORDER BY id DESC"
OPEN_COUNT = f"SELECT COUNT(*) FROM incidents WHERE status != '{_RESOLVED}'"
BREACH_COUNT = "SELECT COUNT(*) FROM events WHERE kind = 'escalation'"
DUE_BACKLOG = ("SELECT COUNT(*), MIN(COALESCE(next_attempt_at, created)) FROM deliveries "
               f"WHERE status IN ('{_PENDING}', '{_IN_FLIGHT}') AND COALESCE(next_attempt_at, created) <= %s")
HEARTBEAT = "INSERT INTO workers VALUES (%s, %s, %s) ON CONFLICT (id) DO UPDATE SET seen = EXCLUDED.seen"
LAST_HEARTBEAT = "SELECT MAX(seen) FROM workers"


# -- rows ---------------------------------------------------------------------------------

def delivery_values(incident_id: str, d: NewDelivery, now: Any, rank: int | None = None) -> tuple:
    """INSERT_DELIVERY's arguments for a planned delivery of an incident.

    A held delivery (`hold`: why) is stored as status 'held': no claim picks it up until RELEASE_HELD.
    `now` is already in the dialect's form (see Dialect.t). `rank`: its priority when not its kind's and
    step's (a new incident's lead, see `lead_ranks`, and the fallbacks of one).
    """
    status = _SKIPPED if d.skip else _HELD if d.hold else _PENDING
    return (d.key.stored(incident_id), incident_id, d.step, d.person, d.display, d.role, d.channel, d.target,
            d.masked_target, d.template, status, d.fallback_of, d.skip,
            _json_list(d.fallbacks), d.kind, json.dumps(dict(d.notice)) if d.notice else "{}", now, now,
            d.hold if status == _HELD else None, int(priority_of(d.kind, d.step)) if rank is None else rank)


def _json_list(fallbacks: Sequence[tuple[str, str]]) -> str:
    """A row's fallbacks as stored; most rows have none, and json.dumps of nothing was 4 us of each insert."""
    return json.dumps([list(f) for f in fallbacks]) if fallbacks else "[]"


def lead_ranks(planned: Sequence[NewDelivery]) -> list[int | None]:
    """Each of a new incident's deliveries' rank: LEAD for its lead (domain.priority.lead_of), else its own."""
    lead = lead_of([(d.kind, d.step, not (d.skip or d.hold)) for d in planned])
    return [int(Priority.LEAD) if i == lead else None for i in range(len(planned))]


def claim_order(row: Sequence[Any]) -> tuple:
    """A claimed row's place in the claim's order (ranking.CLAIM_ORDER): CLAIM returns its keys last."""
    return row[-2], loaded(row[-1]), row[0]


def incident_row(row: Sequence[Any]) -> IncidentRow:
    return IncidentRow(row[0], row[1], IncidentStatus(row[2]), bool(row[3]), loaded(row[4]), loaded(row[5]),
                       json.loads(row[6]), json.loads(row[7]), loaded(row[8]), row[9], loaded(row[10]), row[11],
                       loaded(row[12]))


_STATES = {state.value: state for state in DeliveryState}  # a dict look-up: a claim builds a row per lease


def delivery_row(row: Sequence[Any]) -> DeliveryRow:
    return DeliveryRow(*row[:11], _STATES.get(row[11]) or DeliveryState(row[11]), *row[12:17], fallbacks=json.loads(row[17]),
                       warning=row[18], delivered_to=row[19],
                       kind=row[20], notice=json.loads(row[21]), possible_duplicate=bool(row[22]),
                       next_attempt_at=loaded(row[23]))


def format_id(prefix: str, year: int, value: int) -> str:
    return f"{prefix}-{year}-{value:03d}"
