"""The store's schema as numbered migrations; `notify db upgrade` applies the missing ones.

Written in the SQL that SQLite and PostgreSQL share where possible; a
PostgreSQL store keeps its own list with the same numbers.
"""

from __future__ import annotations

from typing import Any, Callable

from .keys import hash_long_keys
from .ranking import add_priority
from .scrub import mask_stored_urls

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

V1 = """
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
CREATE INDEX attempts_by_time ON attempts (at)
"""

# Leases, lifecycle notices, the incident timeline and worker heartbeats.
V2 = """
ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
ALTER TABLE deliveries ADD COLUMN kind TEXT NOT NULL DEFAULT 'step';
ALTER TABLE deliveries ADD COLUMN notice TEXT NOT NULL DEFAULT '{}';
ALTER TABLE deliveries ADD COLUMN possible_duplicate INTEGER NOT NULL DEFAULT 0;
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
ALTER TABLE attempts ADD COLUMN kind TEXT NOT NULL DEFAULT 'step';
ALTER TABLE attempts ADD COLUMN possible_duplicate INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN meta TEXT NOT NULL DEFAULT '{}';
ALTER TABLE incidents ADD COLUMN updates INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN last_update_at TEXT;
CREATE TABLE events (
    id INTEGER PRIMARY KEY, incident_id TEXT NOT NULL REFERENCES incidents(id), key TEXT NOT NULL,
    kind TEXT NOT NULL, at TEXT NOT NULL, by TEXT, detail TEXT NOT NULL DEFAULT '',
    UNIQUE (incident_id, key));
CREATE TABLE workers (id TEXT PRIMARY KEY, started TEXT NOT NULL, seen TEXT NOT NULL);
CREATE INDEX incidents_by_dedup_key ON incidents (dedup_key, status)
"""

# Monitoring webhooks stored as received, before triage: `notify serve` answers once one is here,
# and a worker turns it into an incident (see Worker.drain_inbox). AUTOINCREMENT: an id is never
# reused once its row is handled, so "webhook 7" in a log names one webhook.
V3 = """
CREATE TABLE inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, dedup_key TEXT NOT NULL, body TEXT NOT NULL,
    received TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, error TEXT, lease_owner TEXT, lease_until TEXT);
CREATE INDEX inbox_by_group ON inbox (dedup_key, id)
"""

# A data step, no DDL: personal URLs stored in clear by earlier versions are masked (see scrub.py).
V4 = mask_stored_urls

# A data step, no DDL: keys longer than an index can hold are stored by hash from now on (see keys.py);
# those an earlier version stored as written are rewritten so, or the next event of their group would not match.
V5 = hash_long_keys

# The replay record (server/auth.py): each signed request handled, keyed by a hash of its signature, written
# in the same transaction as its effect, with the answer its replays get. Rows older than an hour are pruned.
V6_SIGNED_REQUESTS = """
CREATE TABLE requests (key TEXT PRIMARY KEY, at TEXT NOT NULL, status INTEGER, answer TEXT);
CREATE INDEX requests_by_time ON requests (at)
"""

# Action links (app/links.py): a link sent in a personal page acts as its person, on its incident only, until it
# expires. The token is never stored, only its SHA-256 digest.
ACTION_LINKS = """
CREATE TABLE links (
    digest TEXT PRIMARY KEY, incident_id TEXT NOT NULL REFERENCES incidents(id), person TEXT NOT NULL,
    display TEXT NOT NULL, channel TEXT NOT NULL, created TEXT NOT NULL, expires TEXT NOT NULL);
CREATE INDEX links_by_expiry ON links (expires)
"""

# Personal API tokens (store/tokens_sql.py): only each token's SHA-256 is kept, never the token.
API_TOKENS = """
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY, person TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created TEXT NOT NULL,
    last_used TEXT, revoked TEXT)
"""

# Nothing here: SQLite keeps times as UTC ISO 8601 text, which orders as the instants do. PostgreSQL's
# become timestamptz at this number (pg_schema.py).
TIMESTAMPTZ = ""

# Each delivery ranked by priority (pages first), the claim's first order key, with an index for that order:
# a step in Python, so the rank of each stored row comes from domain/priority.py's table (see ranking.py).
PRIORITY = add_priority

# The web view (store/web_sql.py): sessions, one-time login links and calendar feeds, each kept by the digest of
# its secret only; and the notes people add to an incident's timeline.
WEB = """
CREATE TABLE web_sessions (
    digest TEXT PRIMARY KEY, person TEXT NOT NULL, created TEXT NOT NULL, expires TEXT NOT NULL, ended TEXT);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires);
CREATE TABLE login_links (
    digest TEXT PRIMARY KEY, person TEXT NOT NULL, created TEXT NOT NULL, expires TEXT NOT NULL, used TEXT);
CREATE INDEX login_links_by_person ON login_links (person, created);
CREATE TABLE notes (
    id INTEGER PRIMARY KEY, incident_id TEXT NOT NULL REFERENCES incidents(id), at TEXT NOT NULL,
    by TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX notes_by_incident ON notes (incident_id, at);
CREATE TABLE ical_feeds (
    digest TEXT PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL, person TEXT NOT NULL, created TEXT NOT NULL,
    revoked TEXT)
"""

# Silences and maintenance windows (store/silences_sql.py): a silence's matchers, a window's services (JSON
# lists), when it is in effect, who made it and why; `expired` when someone ended it by hand; the two
# announcement stamps say a window's start and end were announced (app/windows.py).
# IF NOT EXISTS: a store taken back to an earlier schema by hand keeps the table, and upgrades again.
SILENCES = """
CREATE TABLE IF NOT EXISTS silences (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, matchers TEXT NOT NULL, services TEXT NOT NULL,
    starts TEXT NOT NULL, ends TEXT NOT NULL, created TEXT NOT NULL, "by" TEXT NOT NULL, reason TEXT NOT NULL,
    expired TEXT, announced_start TEXT, announced_end TEXT);
CREATE INDEX IF NOT EXISTS silences_by_end ON silences (ends)
"""

# Heartbeats (store/heartbeats_sql.py): a monitor's dead man's switch, one row per name.
HEARTBEATS = """
CREATE TABLE heartbeats (
    name TEXT PRIMARY KEY, interval_s REAL NOT NULL, grace_s REAL NOT NULL, first_beat TEXT NOT NULL,
    last_beat TEXT NOT NULL, beats INTEGER NOT NULL, state TEXT NOT NULL, incident_id TEXT, late_since TEXT,
    source TEXT NOT NULL)
"""

# Post-incident reviews (store/reviews_sql.py): a resolved immediate- or priority-tier incident's root cause,
# due 48 hours after resolution, and the customer's satisfaction answer; and one summary row per drill run,
# which the monthly report counts against the policy's monthly drill.
REVIEWS = """
CREATE TABLE reviews (
    incident_id TEXT PRIMARY KEY REFERENCES incidents(id), resolved_at TEXT NOT NULL, root_cause_due TEXT NOT NULL,
    root_cause TEXT, root_cause_link TEXT, root_cause_at TEXT, root_cause_by TEXT, csat INTEGER, csat_at TEXT);
CREATE INDEX reviews_by_resolution ON reviews (resolved_at);
CREATE TABLE drill_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, scenario TEXT NOT NULL, klass TEXT NOT NULL, started TEXT NOT NULL,
    finished TEXT NOT NULL, passed INTEGER NOT NULL, summary TEXT NOT NULL);
CREATE INDEX drill_runs_by_start ON drill_runs (started)
"""

# The id a provider answered an accepted attempt with (a Statuspage incident id, a Slack message's ts, a
# Twilio sid), on the attempt and on its delivery: a channel that updates what it created earlier for the
# incident (Capabilities.follows_up) is handed it back (store/provider_ids_sql.py).
STATUS_PAGE = """
ALTER TABLE deliveries ADD COLUMN provider_id TEXT;
ALTER TABLE attempts ADD COLUMN provider_id TEXT
"""

# Rate budgets per provider route (store/budgets_sql.py): each route's token bucket, shared by every process on
# the store, and on each delivery the route it is queued for and since when (pacing, not a failure).
RATE_BUDGETS = """
CREATE TABLE rate_budgets (
    route TEXT PRIMARY KEY, tokens REAL NOT NULL, at REAL NOT NULL, blocked_until REAL NOT NULL DEFAULT 0,
    slowdown REAL NOT NULL DEFAULT 1, throttled_at REAL NOT NULL DEFAULT 0, throttled INTEGER NOT NULL DEFAULT 0,
    in_flight INTEGER NOT NULL DEFAULT 0, busy_until REAL NOT NULL DEFAULT 0);
ALTER TABLE deliveries ADD COLUMN queued_route TEXT;
ALTER TABLE deliveries ADD COLUMN queued_since TEXT
"""

# Each step is SQL, or a function (connection, placeholder) for a change SQL alone cannot make.
MIGRATIONS: tuple[str | Callable[[Any, str], None], ...] = (V1, V2, V3, V4, V5, V6_SIGNED_REQUESTS,
                                                            ACTION_LINKS, API_TOKENS, TIMESTAMPTZ, PRIORITY,
                                                            WEB, SILENCES, HEARTBEATS, REVIEWS, STATUS_PAGE,
                                                            RATE_BUDGETS)
SCHEMA_VERSION = len(MIGRATIONS)
