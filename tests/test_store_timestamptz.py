"""Schema 9 on PostgreSQL: times become timestamptz, upgraded in place from a schema-6 store with rows.

Schema 6 held times as text compared byte by byte, so a time written with an
offset other than +00:00 sorted by its digits, not by when it is. The store
reads times back as aware UTC datetimes, as it does from SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dispatcher.store import StoreBehind, open_store, pg_schema

from . import pg

T0 = "2026-11-26T03:00:00+00:00"
HALF_PAST = "2026-11-26T03:30:00+00:00"
# 03:05 UTC, written with an offset: as text it sorts after 03:30+00:00.
FIVE_PAST_IN_BERLIN = "2026-11-26T04:05:00.250000+01:00"

TIME_COLUMNS = {("incidents", c) for c in ("started", "created", "acked_at", "resolved_at", "last_update_at")} | \
    {("deliveries", c) for c in ("next_attempt_at", "lease_until", "created", "updated")} | \
    {("attempts", "at"), ("events", "at"), ("workers", "started"), ("workers", "seen"), ("inbox", "received"),
     ("inbox", "lease_until"), ("requests", "at")}


def _run(url: str, statements: list[str]) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _schema_6_with_rows(url: str) -> None:
    """The tables as notify at schema 6 created them, and rows as it wrote them: times as text."""
    ddl = [s for script in (pg_schema.V1, pg_schema.V2, pg_schema.V3, pg_schema.V6_SIGNED_REQUESTS)
           for s in script.split(";") if s.strip()]
    delivery = ("INSERT INTO deliveries (key, incident_id, step, person, display, role, channel, target, masked_target,"
                " template, status, next_attempt_at, created, updated) VALUES ('OUT-2026-001:0:{p}:webhook',"
                " 'OUT-2026-001', 0, '{p}', '{p}', 'on-call', 'webhook', 't', 't', 'email', 'pending', '{at}',"
                f" '{T0}', '{T0}')")
    _run(url, ddl + [
        "INSERT INTO meta VALUES ('schema_version', '6')",
        ("INSERT INTO incidents (id, class, status, drill, dedup_key, started, created, fields, acked_at, acked_by)"
         f" VALUES ('OUT-2026-001', 'outage', 'acknowledged', false, 'OUT-2026-001', '{T0}', '{T0}', '{{}}',"
         f" '{FIVE_PAST_IN_BERLIN}', 'ana')"),
        delivery.format(p="ann", at=HALF_PAST),
        delivery.format(p="bob", at=FIVE_PAST_IN_BERLIN),
        (f"INSERT INTO events (incident_id, key, kind, at, detail) VALUES ('OUT-2026-001', 'triggered', 'triggered',"
         f" '{T0}', 'API down')"),
        f"INSERT INTO workers VALUES ('w1', '{T0}', '{HALF_PAST}')",
        f"INSERT INTO inbox (source, dedup_key, body, received) VALUES ('alertmanager', 'g', '{{}}', '{T0}')",
        f"INSERT INTO requests (key, at) VALUES ('r1', '{T0}')",
    ])


def _column_types(url: str) -> set[tuple[str, str, str]]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT table_name, column_name, data_type FROM information_schema.columns"
                            " WHERE table_schema = current_schema()").fetchall()
    return {(t, c, kind) for t, c, kind in rows if (t, c) in TIME_COLUMNS}


def test_db_upgrade_turns_a_schema_6_store_s_times_into_timestamptz_and_keeps_every_row() -> None:
    with pg.schema("tz") as url:
        _schema_6_with_rows(url)
        with pytest.raises(StoreBehind, match=f"is at schema 6, this notify needs {pg_schema.SCHEMA_VERSION}"):
            open_store(url)
        with open_store(url, upgrade=True) as store:  # what `notify db upgrade` does
            current = pg_schema.SCHEMA_VERSION
            assert store.upgraded == (6, current) and store.schema_version() == current
            assert _column_types(url) == {(t, c, "timestamp with time zone") for t, c in TIME_COLUMNS}
            incident = store.incident("OUT-2026-001")
            t0, half_past = datetime.fromisoformat(T0), datetime.fromisoformat(HALF_PAST)
            five_past = datetime(2026, 11, 26, 3, 5, 0, 250000, tzinfo=UTC)
            assert (incident.started, incident.created, incident.acked_at) == (t0, t0, five_past)
            assert incident.acked_at.tzinfo is UTC  # written +01:00, read back in UTC
            assert [e.at for e in store.events("OUT-2026-001")] == [t0]
            assert store.last_heartbeat() == half_past and store.inbox_rows()[0]["received"] == t0
            # Compared as instants now: bob's try at 03:05 UTC is the earliest, and due at 03:10; ann's is not.
            assert store.next_due() == five_past
            assert [d.person for d in store.claim("w", datetime(2026, 11, 26, 3, 10, tzinfo=UTC), half_past)] == ["bob"]


def test_an_instance_of_schema_6_still_running_fails_on_the_upgraded_store() -> None:
    """Why the upgrade notes say to stop every instance first: schema 6's own queries no longer run."""
    import psycopg

    with pg.schema("tz") as url:
        _schema_6_with_rows(url)
        open_store(url, upgrade=True).close()
        with pytest.raises(psycopg.errors.InvalidDatetimeFormat):  # schema 6's next_due, run by every worker tick
            _run(url, ["SELECT MIN(COALESCE(next_attempt_at, '')) FROM deliveries WHERE status = 'pending'"])
