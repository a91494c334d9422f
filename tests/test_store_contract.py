"""The store contract, run against both stores: SQLite in a temporary file, PostgreSQL in a private schema.

Every method of `Store` behaves the same on both, rows read back identical,
and what must hold across processes (one id per allocation, one incident per
open monitoring group, a timer recorded once, a row leased by one sender)
holds under concurrent callers with stores of their own.
"""

from __future__ import annotations

import json

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from dispatcher.app.engine import lines_from_store
from dispatcher.domain.pacing import Limit
from dispatcher.domain.states import DeliveryState
from dispatcher.store import DUE_NOW, AttemptRow, NewDelivery, StoreBehind, StoreError, open_store, peek_store
from dispatcher.store import pg_schema, schema
from dispatcher.store.inbox_sql import GIVE_UP_AFTER

from . import pg
from .helpers import run

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 26, 3, 1, tzinfo=UTC)
T2 = datetime(2026, 11, 26, 3, 2, tzinfo=UTC)
T5 = datetime(2026, 11, 26, 3, 5, tzinfo=UTC)
T9 = datetime(2026, 11, 26, 3, 9, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))


url, store = pg.url, pg.store  # each test runs on SQLite and on PostgreSQL


def planned(person: str, *, channel: str = "webhook", kind: str = "step", step: int = 0, **extra: Any) -> NewDelivery:
    fields = {"target": f"https://example.invalid/{person}", "masked_target": "https://example.invalid/***", **extra}
    fields["fallbacks"] = tuple(tuple(f) for f in fields.get("fallbacks", ()))
    return NewDelivery(str(step), step, person, person.title(), "on-call", channel, template="webhook", kind=kind,
                       **fields)


def record(incident_id: str = "", *, dedup_key: str = "", dedup_open: bool = False, klass: str = "outage") -> dict:
    return {"id": incident_id, "class": klass, "drill": False, "dedup_key": dedup_key, "dedup_open": dedup_open,
            "started": T0, "fields": {"summary": "API down", "customer": "Acme"}, "meta": {"needs_review": False}}


def opened(store: Any, *people: str, incident_id: str = "", **kw: Any) -> str:
    new_id, created = store.open_incident(record(incident_id, **kw), [planned(p) for p in people],
                                          prefix="OUT", year=2026, now=T0)
    assert created
    return new_id


def attempt_row(row: Any, outcome: str, at: datetime = T1, *, number: int = 1) -> AttemptRow:
    return AttemptRow(at=at, incident_id=row.incident_id, klass="outage", step=row.step, person=row.person,
                      role=row.role, channel=row.channel, masked_target=row.masked_target, attempt=number,
                      outcome=outcome, reason="ok" if outcome == "delivered" else "server-error", detail="HTTP 200",
                      latency_ms=12.5, fallback_of=row.fallback_of, delivered_to=None, kind=row.kind,
                      possible_duplicate=row.possible_duplicate)


def concurrently(url: str, n: int, work: Callable[[Any, int], Any]) -> list[Any]:
    """Run work(store, i) on n threads at once, each with a store of its own, as n processes would."""
    stores = [open_store(url) for _ in range(n)]
    barrier = threading.Barrier(n)

    def one(i: int) -> Any:
        barrier.wait()
        return work(stores[i], i)

    try:
        with ThreadPoolExecutor(n) as pool:
            return list(pool.map(one, range(n)))
    finally:
        for s in stores:
            s.close()


# -- opening and schema versions ---------------------------------------------------------------


def test_the_two_stores_have_the_same_schema_versions() -> None:
    assert pg_schema.SCHEMA_VERSION == schema.SCHEMA_VERSION == len(pg_schema.MIGRATIONS)


def test_a_new_store_is_created_at_the_current_schema_and_reopened_as_is(url: str) -> None:
    assert peek_store(url) is None  # a dry run finds nothing and creates nothing
    first = open_store(url)
    assert first.upgraded == (0, schema.SCHEMA_VERSION) and first.schema_version() == schema.SCHEMA_VERSION
    first.close()
    again = open_store(url)
    assert again.upgraded == (0, 0)
    again.close()
    upgraded = open_store(url, upgrade=True)
    assert upgraded.upgraded == (schema.SCHEMA_VERSION, schema.SCHEMA_VERSION)
    upgraded.close()
    peeked = peek_store(url)
    assert peeked is not None and peeked.peek_id("OUT", 2026) == "OUT-2026-001"
    peeked.close()


def test_a_store_used_as_a_context_manager_is_closed_when_the_block_ends(url: str) -> None:
    with open_store(url) as store:
        incident_id = opened(store, "ana")
    with pytest.raises(StoreError):  # closed: no connection left behind, none opened again
        store.incidents()
    with pytest.raises(RuntimeError), open_store(url) as store:
        raise RuntimeError("a bug in the block")
    with pytest.raises(StoreError):  # closed all the same
        store.incident(incident_id)
    with open_store(url) as store:  # what the first block wrote was committed
        assert [i.id for i in store.incidents()] == [incident_id]


# Schema 10's DDL undone (ranking.py): with the version set back, the store is as an earlier schema left it.
UNDO_PRIORITY = ["DROP INDEX deliveries_claim_order", "ALTER TABLE deliveries DROP COLUMN priority"]
UNDO_WEB = ["DROP TABLE web_sessions", "DROP TABLE login_links", "DROP TABLE notes", "DROP TABLE ical_feeds"]
UNDO_STATUS_PAGE = ["ALTER TABLE deliveries DROP COLUMN provider_id", "ALTER TABLE attempts DROP COLUMN provider_id"]
# RATE_BUDGETS' DDL undone (budgets_sql.py).
UNDO_RATE_BUDGETS = ["DROP TABLE rate_budgets", "ALTER TABLE deliveries DROP COLUMN queued_route",
                     "ALTER TABLE deliveries DROP COLUMN queued_since"]
# What the schemas after PRIORITY (10) add, undone: a test taking a store back to an older schema runs these first.
UNDO_LATER = [*UNDO_WEB, "DROP TABLE heartbeats", "DROP TABLE reviews", "DROP TABLE drill_runs", *UNDO_STATUS_PAGE,
              *UNDO_RATE_BUDGETS]


def _execute(url: str, statements: list[str]) -> None:
    """Run raw SQL on the store's database, bypassing the store (to build old or future schemas)."""
    if url.startswith("sqlite:"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        for statement in statements:
            conn.execute(statement)
        conn.commit()
        conn.close()
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)


def _v1(url: str) -> list[str]:
    script = (schema if url.startswith("sqlite:") else pg_schema).V1
    return [s for s in script.split(";") if s.strip()]


def test_a_store_behind_is_refused_until_upgraded_and_keeps_its_rows(url: str) -> None:
    _execute(url, _v1(url) + ["INSERT INTO meta VALUES ('schema_version', '1')",
                              "INSERT INTO counters VALUES ('OUT', 2026, 7)"])
    behind = rf"is at schema 1, this notify needs {schema.SCHEMA_VERSION}: run `notify db upgrade`"
    with pytest.raises(StoreBehind, match=behind):
        open_store(url)
    store = open_store(url, upgrade=True)
    assert store.upgraded == (1, schema.SCHEMA_VERSION)
    assert opened(store, "ann") == "OUT-2026-008"  # the counter survived the migration
    store.close()


def test_upgrading_to_schema_4_masks_personal_urls_stored_in_clear(url: str) -> None:
    """Before schema 4 a person's own apprise URL, bot token and all, was stored as it was."""
    clear, masked = "tgram://123456789:AAHsecretBotTokenXYZ/987654321", "tgram://1...9:A...Z/9...1"
    store = open_store(url)
    personal = planned("ann", channel="apprise", target=clear, masked_target=clear,
                       fallbacks=[["apprise", clear], ["email", "ann@example.com"]])
    email = planned("bob", channel="email", target="bob@example.com", masked_target="b***@example.com")
    store.open_incident(record(), [personal, email], prefix="OUT", year=2026, now=T0)
    row = next(r for r in store.claim("w", T0, T1) if r.person == "ann")
    store.record_attempt(row, attempt_row(row, "failed-transient"), final_status=None, next_attempt_at=T5)
    store.close()
    # back to schema 3: schema 4 adds no DDL; the tables of later schemas go
    _execute(url, [*UNDO_LATER, *UNDO_PRIORITY, "DROP TABLE requests", "DROP TABLE links", "DROP TABLE api_tokens",
                   "UPDATE meta SET value = '3' WHERE key = 'schema_version'"])

    store = open_store(url, upgrade=True)
    assert store.upgraded == (3, schema.SCHEMA_VERSION)
    ann, bob = sorted(store.deliveries("OUT-2026-001"), key=lambda r: r.person)
    (logged,) = store.attempts(incident_id="OUT-2026-001")
    store.close()
    assert (ann.target, ann.masked_target, logged.masked_target) == (masked, masked, masked)
    assert ann.fallbacks == [["apprise", masked], ["email", "ann@example.com"]]
    assert (ann.status, ann.attempts) == ("pending", 1)  # still due: the sender reads the real URL from contacts
    assert (bob.target, bob.masked_target) == ("bob@example.com", "b***@example.com")  # not a URL: as it was


def test_a_store_from_a_newer_notify_is_refused(store: Any, url: str) -> None:
    store.close()
    _execute(url, ["UPDATE meta SET value = '99' WHERE key = 'schema_version'"])
    with pytest.raises(StoreError, match="is at schema 99, newer than this notify"):
        open_store(url)


# -- incidents and ids --------------------------------------------------------------------------


def test_ids_are_allocated_in_order_skipping_ids_typed_by_hand(store: Any) -> None:
    assert store.peek_id("OUT", 2026) == "OUT-2026-001"
    assert opened(store, "ann") == "OUT-2026-001"
    assert opened(store, "bob", incident_id="OUT-2026-002") == "OUT-2026-002"  # typed by hand
    assert store.peek_id("OUT", 2026) == "OUT-2026-002"  # peeking does not know about typed ids
    assert opened(store, "cat") == "OUT-2026-003"
    assert store.open_incident(record("OUT-2026-003"), [planned("dan")], prefix="OUT", year=2026, now=T1) == \
        ("OUT-2026-003", False)
    assert [d.person for d in store.deliveries("OUT-2026-003")] == ["cat"]  # nothing written the second time
    assert store.peek_id("OUT", 2027) == "OUT-2027-001"


def test_an_incident_reads_back_with_its_fields_meta_and_triggered_event(store: Any) -> None:
    incident_id = opened(store, "ann", "bob", dedup_key="grp-1")
    row = store.incident(incident_id)
    assert (row.id, row.klass, row.status, row.drill, row.started, row.created) == \
        (incident_id, "outage", "open", False, T0, T0)
    assert row.fields == {"summary": "API down", "customer": "Acme"} and row.meta == {"needs_review": False}
    assert (row.acked_at, row.acked_by, row.resolved_at, row.updates, row.last_update_at) == (None, None, None, 0, None)
    assert store.incident("OUT-2026-404") is None
    assert [e.as_json() for e in store.events(incident_id)] == \
        [{"at": "2026-11-26T03:00:00+00:00", "kind": "triggered", "key": "triggered", "by": None, "detail": "API down"}]
    assert store.open_by_dedup_key("grp-1").id == incident_id and store.open_by_dedup_key("grp-2") is None
    assert [d.person for d in store.deliveries(incident_id)] == ["ann", "bob"]


def test_incidents_lists_all_or_only_the_unresolved(store: Any) -> None:
    first, second = opened(store, "ann"), opened(store, "bob")
    store.record_event(first, "resolved", "resolved", T1, "fixed", "sm", status="resolved")
    assert [i.id for i in store.incidents()] == [first, second]
    assert [i.id for i in store.incidents(open_only=True)] == [second]
    assert store.incident(first).resolved_at == T1


def test_concurrent_allocations_never_share_an_id(url: str) -> None:
    open_store(url).close()
    ids = concurrently(url, 8, lambda s, i: s.open_incident(record(), [planned(f"p{i}")], prefix="OUT",
                                                             year=2026, now=T0))
    assert sorted(i for i, created in ids) == [f"OUT-2026-{n:03d}" for n in range(1, 9)]
    assert all(created for _, created in ids)


def test_one_open_monitoring_group_is_one_incident_however_many_arrive_at_once(url: str) -> None:
    open_store(url).close()
    results = concurrently(url, 8, lambda s, i: s.open_incident(
        record(dedup_key="am:{}:{alertname=Down}", dedup_open=True), [planned("ann")], prefix="OUT", year=2026,
        now=T0))
    assert len({incident_id for incident_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    store = open_store(url)
    assert len(store.incidents()) == 1 and len(store.deliveries(results[0][0])) == 1
    # once resolved, the same group firing again is a new incident
    store.record_event(results[0][0], "resolved", "resolved", T1, status="resolved")
    again, created = store.open_incident(record(dedup_key="am:{}:{alertname=Down}", dedup_open=True), [],
                                         prefix="OUT", year=2026, now=T2)
    assert created and again != results[0][0]
    store.close()


def test_an_incident_opens_with_its_alert_events_in_the_same_write(store: Any) -> None:
    alerts = [("alert-aa", "alert", "Down (db-1)"), ("alert-bb", "alert", "Down (db-2)"), ("alert-aa", "alert", "x")]
    incident_id, created = store.open_incident(record(dedup_key="grp-1", dedup_open=True), [planned("ann")],
                                               prefix="OUT", year=2026, now=T0, events=alerts)
    assert created
    assert [(e.key, e.kind, e.at, e.by, e.detail) for e in store.events(incident_id)] == [
        ("triggered", "triggered", T0, None, "API down"), ("alert-aa", "alert", T0, None, "Down (db-1)"),
        ("alert-bb", "alert", T0, None, "Down (db-2)")]
    assert not store.record_event(incident_id, "alert-bb", "alert", T1, "Down (db-2)")  # recorded once, by key
    # the same group again: nothing is written, its alerts included
    again, created = store.open_incident(record(dedup_key="grp-1", dedup_open=True), [planned("bob")],
                                         prefix="OUT", year=2026, now=T1, events=[("alert-cc", "alert", "new")])
    assert (again, created) == (incident_id, False)
    assert "alert-cc" not in [e.key for e in store.events(incident_id)]


def test_pending_ids_are_the_steps_rows_still_to_send(store: Any) -> None:
    incident_id = opened(store, "ann", "bob", "cy")
    store.record_event(incident_id, "e", "step", T1, deliveries=[planned("dee", step=1), planned(
        "eve", step=0, channel="sms", skip="no phone number")])
    rows = {d.person: d for d in store.deliveries(incident_id)}
    store.claim("w", T1, T2, ids=[rows["bob"].id])
    assert store.pending_ids(incident_id, 0) == [rows["ann"].id, rows["cy"].id]
    assert store.pending_ids(incident_id, 1) == [rows["dee"].id]
    assert store.pending_ids("OUT-2026-404", 0) == []


# -- the timeline -----------------------------------------------------------------------------


def test_an_event_is_recorded_once_with_its_notices(store: Any) -> None:
    incident_id = opened(store, "ann")
    notices = [planned("bob", kind="escalation", step=1)]
    assert store.record_event(incident_id, "escalation-1", "escalation", T1, "stage 1", deliveries=notices)
    assert not store.record_event(incident_id, "escalation-1", "escalation", T2, "again", deliveries=notices)
    assert [(d.person, d.kind, d.step) for d in store.deliveries(incident_id, step=1)] == [("bob", "escalation", 1)]
    assert [(e.key, e.at, e.detail) for e in store.events(incident_id)] == \
        [("triggered", T0, "API down"), ("escalation-1", T1, "stage 1")]


def test_a_timer_ticked_by_many_workers_at_once_fires_once(url: str) -> None:
    store = open_store(url)
    incident_id = opened(store, "ann")
    fired = concurrently(url, 8, lambda s, i: s.record_event(
        incident_id, "reminder-x", "reminder", T1, deliveries=[planned("ic", kind="reminder", step=0)]))
    assert sorted(fired) == [False] * 7 + [True]
    assert [d.person for d in store.deliveries(incident_id)] == ["ann", "ic"]
    store.close()


def test_ack_update_and_resolve_change_the_incident(store: Any) -> None:
    incident_id = opened(store, "ann")
    store.record_event(incident_id, "escalation-1", "escalation", T1, deliveries=[planned("bob", kind="escalation")])
    assert store.record_event(incident_id, "ack", "acknowledged", T1, by="Ann", status="acknowledged")
    assert store.record_event(incident_id, "ack-2", "acknowledged", T2, by="Bob", status="acknowledged")
    row = store.incident(incident_id)
    assert (row.status, row.acked_at, row.acked_by) == ("acknowledged", T1, "Ann")  # the first ack stands
    store.record_event(incident_id, f"update-{T2}", "update", T2, "contained", "Ann",
                       deliveries=[planned("customer", kind="update")])
    assert (store.incident(incident_id).updates, store.incident(incident_id).last_update_at) == (1, T2)
    # an update that is not the one the cadence asks for is numbered, but the cadence still counts from T2
    store.record_event(incident_id, "update-2", "uncounted-update", T5, "internal only", "Ann")
    assert (store.incident(incident_id).updates, store.incident(incident_id).last_update_at) == (2, T2)
    store.record_event(incident_id, "resolved", "resolved", T5, "fixed", "Ann", status="resolved")
    by_person = {d.person: d for d in store.deliveries(incident_id)}
    # a pending timer notice is moot once resolved; pages and updates already accepted still go out
    assert (by_person["bob"].status, by_person["bob"].skip) == ("skipped", "incident resolved")
    assert by_person["ann"].status == "pending" and by_person["customer"].status == "pending"
    assert store.incident(incident_id).status == "resolved"


# -- the outbox: leases ---------------------------------------------------------------------------


def test_claim_leases_due_rows_oldest_first_and_only_once(store: Any) -> None:
    incident_id = opened(store, "ann", "bob", "cat")
    first = store.claim("w1", T0, T2, limit=2)
    assert [(d.person, d.status, d.possible_duplicate) for d in first] == \
        [("ann", "in-flight", False), ("bob", "in-flight", False)]
    assert [d.person for d in store.claim("w2", T1, T5)] == ["cat"]
    assert store.claim("w3", T1, T5) == []  # every row leased and no lease expired
    assert {d.status for d in store.deliveries(incident_id)} == {"in-flight"}


def test_an_expired_lease_is_taken_over_and_marked_possibly_duplicated(store: Any) -> None:
    opened(store, "ann", "bob")
    store.claim("dead", T0, T2, limit=1)  # ann's row; its owner dies
    taken = store.claim("alive", T5, T9)
    assert [(d.person, d.possible_duplicate) for d in taken] == [("ann", True), ("bob", False)]
    store.record_attempt(taken[0], attempt_row(taken[0], "delivered", T5), final_status="delivered")
    assert [a.possible_duplicate for a in store.attempts()] == [True]  # the log says so too


def test_pages_to_a_number_are_the_sent_pages_newest_first_not_the_skipped_unsent_or_notices(store: Any) -> None:
    sms = {"channel": "sms", "target": "+14155550199", "masked_target": "+1415555****"}
    first = store.open_incident(record(), [planned("ann", **sms), planned("bob")], prefix="OUT", year=2026,
                                now=T0)[0]
    second = store.open_incident(record(), [planned("cat", **sms), planned("dan", **sms, kind="resolved"),
                                            planned("eve", **sms, skip="no address")], prefix="OUT", year=2026,
                                 now=T0)[0]
    assert store.pages_to("+14155550199", "sms") == []  # planned, not sent yet: nobody can be replying to it
    store.claim("w", T0, T2)
    assert [(d.incident_id, d.person) for d in store.pages_to("+14155550199", "sms")] == [(second, "cat"),
                                                                                          (first, "ann")]
    assert [d.person for d in store.pages_to("+14155550199", "sms", limit=1)] == ["cat"]
    assert store.pages_to("+14155550199", "voice") == [] and store.pages_to("+14155550000", "sms") == []


def test_claim_filters_by_incident_and_ids(store: Any) -> None:
    first = opened(store, "ann", "bob")
    second = opened(store, "cat")
    assert [d.person for d in store.claim("w", T0, T2, incident_id=second)] == ["cat"]
    bob = next(d for d in store.deliveries(first) if d.person == "bob")
    assert [d.person for d in store.claim("w", T0, T2, ids=[bob.id])] == ["bob"]
    assert store.claim("w", T0, T2, ids=[]) == []


def test_claim_skips_the_channels_a_sender_has_no_room_for(store: Any) -> None:
    """A sender whose SMS slots are all taken by hung sends leaves SMS rows in the outbox for later."""
    sms = {"channel": "sms", "target": "+14155550199", "masked_target": "+1415555****"}
    store.open_incident(record(), [planned("ann", **sms), planned("bob"), planned("cat", **sms)], prefix="OUT",
                        year=2026, now=T0)
    assert [d.person for d in store.claim("w", T0, T2, skip_channels={"sms"})] == ["bob"]
    assert [d.person for d in store.claim("w", T0, T2, skip_channels=["sms", "email"])] == []
    assert [d.person for d in store.claim("w", T0, T2)] == ["ann", "cat"]


def test_releasing_some_claimed_rows_makes_only_those_due_again_not_possibly_duplicated(store: Any) -> None:
    opened(store, "ann", "bob", "cat")
    _ann, bob, cat = store.claim("w1", T0, T5)
    assert store.release("w2", ids=[bob.id]) == 0  # not its lease
    assert store.release("w1", ids=[bob.id, cat.id]) == 2  # claimed, never started: back in the outbox
    assert [(d.person, d.possible_duplicate) for d in store.claim("w3", T1, T5)] == [("bob", False), ("cat", False)]
    assert store.claim("w3", T1, T5) == []  # ann is still w1's


def test_concurrent_claims_share_the_rows_without_overlap(url: str) -> None:
    store = open_store(url)
    opened(store, *[f"p{i:02d}" for i in range(60)])

    def drain(s: Any, i: int) -> list[int]:
        mine: list[int] = []
        while rows := s.claim(f"w{i}", T0, T5, limit=3):
            mine += [r.id for r in rows]
        return mine

    claimed = concurrently(url, 6, drain)
    flat = [row_id for rows in claimed for row_id in rows]
    assert len(flat) == len(set(flat)) == 60
    store.close()


def test_a_retry_goes_back_to_the_outbox_due_at_its_time(store: Any) -> None:
    incident_id = opened(store, "ann")
    row = store.claim("w", T0, T2)[0]
    store.record_attempt(row, attempt_row(row, "failed-transient", T1), final_status=None, next_attempt_at=T5)
    again = store.deliveries(incident_id)[0]
    assert (again.status, again.attempts, again.next_attempt_at, again.reason) == ("pending", 1, T5, "server-error")
    assert store.claim("w", T2, T9) == []  # not due yet
    assert store.next_due() == T5
    retried = store.claim("w2", T5, T9)
    assert [d.attempts for d in retried] == [1]
    store.record_attempt(retried[0], attempt_row(retried[0], "delivered", T5, number=2), final_status="delivered")
    done = store.deliveries(incident_id)[0]
    assert (done.status, done.attempts, done.next_attempt_at) == ("delivered", 2, None)
    assert store.next_due() is None


def test_release_gives_back_only_the_owners_leases(store: Any) -> None:
    incident_id = opened(store, "ann", "bob")
    store.claim("w1", T0, T5, limit=1)
    store.claim("w2", T0, T5, limit=1)
    assert store.release("w1") == 1
    assert {d.person: d.status for d in store.deliveries(incident_id)} == {"ann": "pending", "bob": "in-flight"}
    assert store.next_due() == DUE_NOW  # due at once
    assert [d.person for d in store.claim("w3", T1, T5)] == ["ann"]


def test_requeue_puts_back_only_finally_failed_rows(store: Any) -> None:
    incident_id = opened(store, "ann", "bob", "cat")
    rows = store.claim("w", T0, T2)
    store.record_attempt(rows[0], attempt_row(rows[0], "failed-permanent"), final_status="failed-permanent")
    store.record_attempt(rows[1], attempt_row(rows[1], "delivered"), final_status="delivered")
    assert store.requeue([r.id for r in rows], T2) == 1
    assert store.requeue([], T2) == 0
    assert {d.person: d.status for d in store.deliveries(incident_id)} == \
        {"ann": "pending", "bob": "delivered", "cat": "in-flight"}


def test_only_an_accepted_delivery_can_be_confirmed_and_it_still_reports_delivered(store: Any) -> None:
    incident_id = opened(store, "ann", "bob", "cat")
    ann, bob, cat = store.claim("w", T0, T2)
    store.record_attempt(ann, attempt_row(ann, "delivered"), final_status=DeliveryState.ACCEPTED)
    store.record_attempt(bob, attempt_row(bob, "failed-permanent"), final_status=DeliveryState.FAILED_PERMANENT)
    assert store.confirm(ann.id, T2) and not store.confirm(bob.id, T2) and not store.confirm(cat.id, T2)
    assert not store.confirm(ann.id, T5)  # a repeated report changes nothing
    rows = store.deliveries(incident_id)
    assert [d.status for d in rows] == [DeliveryState.CONFIRMED, DeliveryState.FAILED_PERMANENT,
                                        DeliveryState.IN_FLIGHT]
    lines = [line.as_json() for line in lines_from_store(rows)]
    assert [(line["outcome"], line["confirmed"]) for line in lines] == \
        [("delivered", True), ("failed-permanent", False), ("pending", False)]
    assert store.requeue([ann.id], T5) == 0  # confirmed is final: never sent again


def test_a_fallback_is_planned_once_and_inherits_kind_and_notice(store: Any) -> None:
    incident_id = opened(store, "ann")
    store.record_event(incident_id, "update-1", "update", T1,
                       deliveries=[planned("bob", kind="update", notice={"message": "contained"})])
    original = store.deliveries(incident_id)[1]
    fallback = planned("bob", channel="email", fallbacks=[["sms", "+15550100"]])
    new_id = store.add_fallback(original, fallback, T2)
    assert new_id is not None and store.add_fallback(original, fallback, T2) is None
    row = store.deliveries(incident_id)[-1]
    assert row.delivery_key == original.delivery_key.on("email")
    assert (row.id, row.fallback_of, row.kind, row.notice, row.fallbacks, row.status) == \
        (new_id, original.id, "update", {"message": "contained"}, [["sms", "+15550100"]], "pending")
    store.set_warning(new_id, "template failed: plain fallback sent")
    assert store.deliveries(incident_id)[-1].warning == "template failed: plain fallback sent"


def test_a_skipped_delivery_is_stored_but_never_claimed(store: Any) -> None:
    incident_id = opened(store, "ann")
    store.record_event(incident_id, "e", "step", T1, deliveries=[planned("bob", skip="no phone number")])
    row = store.deliveries(incident_id)[-1]
    assert (row.status, row.skip) == ("skipped", "no phone number")
    assert [d.person for d in store.claim("w", T1, T2)] == ["ann"]


# -- the log, metrics and workers ---------------------------------------------------------------------


def test_attempts_filter_by_incident_time_and_count_oldest_first(store: Any) -> None:
    first, second = opened(store, "ann", "bob"), opened(store, "cat")
    for at, row in zip([T1, T2, T5], sorted(store.claim("w", T0, T9), key=lambda r: r.id)):  # planned order
        store.record_attempt(row, attempt_row(row, "delivered", at), final_status="delivered")
    assert [a.person for a in store.attempts()] == ["ann", "bob", "cat"]
    assert [a.person for a in store.attempts(incident_id=first)] == ["ann", "bob"]
    assert [a.person for a in store.attempts(since=T2)] == ["bob", "cat"]
    assert [a.person for a in store.attempts(limit=2)] == ["bob", "cat"]
    row = store.attempts(incident_id=second)[0]
    assert row.as_json() == {"at": "2026-11-26T03:05:00+00:00", "incident": second, "class": "outage", "step": 0, "kind": "step",
                             "recipient": "cat", "role": "on-call", "channel": "webhook",
                             "target": "https://example.invalid/***", "attempt": 1, "outcome": "delivered",
                             "reason": "ok", "detail": "HTTP 200", "latency_ms": 12.5, "fallback_of": None,
                             "delivered_to": None, "possible_duplicate": False, "provider_id": None}


def test_stats_count_open_incidents_breaches_and_the_backlog(store: Any) -> None:
    assert store.stats(T0) == {"open_incidents": 0, "sla_breaches": 0, "pending": 0, "oldest_due_age": 0.0}
    incident_id = opened(store, "ann", "bob")
    store.record_event(incident_id, "escalation-1", "escalation", T1)
    row = store.claim("w", T0, T1, limit=1)[0]
    store.record_attempt(row, attempt_row(row, "failed-transient"), final_status=None, next_attempt_at=T9)
    assert store.stats(T5) == {"open_incidents": 1, "sla_breaches": 1, "pending": 1, "oldest_due_age": 300.0}


def test_heartbeats_keep_the_latest_time(store: Any) -> None:
    assert store.last_heartbeat() is None
    store.heartbeat("w1", T0)
    store.heartbeat("w2", T1)
    store.heartbeat("w1", T2)
    assert store.last_heartbeat() == T2


def test_times_come_back_as_aware_utc_datetimes_whatever_offset_they_were_given(store: Any) -> None:
    incident_id = opened(store, "ann")
    store.record_event(incident_id, "ack", "acknowledged", T1.astimezone(PLUS_TWO), by="Ann", status="acknowledged")
    store.heartbeat("w", T2.astimezone(PLUS_TWO))
    row = store.incident(incident_id)
    times = [row.started, row.created, row.acked_at, *(e.at for e in store.events(incident_id)), store.last_heartbeat()]
    assert times == [T0, T0, T1, T0, T1, T2]
    assert {t.tzinfo for t in times} == {UTC}  # UTC, not merely the same instant: documents print them as read


@pytest.mark.parametrize("bad, error", [(datetime(2026, 11, 26, 3, 1), ValueError),  # naive: no instant at all
                                        ("2026-11-26T03:01:00+00:00", TypeError)])  # the text the store once took
def test_a_naive_or_text_time_is_refused_and_nothing_is_written(store: Any, bad: Any, error: type) -> None:
    incident_id = opened(store, "ann")
    with pytest.raises(error, match="store: at .*(naive|must be an aware datetime)"):
        store.record_event(incident_id, "ack", "acknowledged", bad, by="Ann", status="acknowledged")
    with pytest.raises(error, match="store: lease_until"):
        store.claim("w", T0, bad)
    with pytest.raises(error, match="store: received"):
        store.enqueue("grafana", "g", "{}", bad)
    assert [e.kind for e in store.events(incident_id)] == ["triggered"]
    assert store.incident(incident_id).status == "open" and store.inbox_counts() == (0, 0, 0)
    assert [d.status for d in store.deliveries(incident_id)] == ["pending"]


def test_sqlite_keeps_times_as_utc_iso_text_on_disk(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'notify.db'}") as store:
        incident_id = opened(store, "ann")
        store.record_event(incident_id, "ack", "acknowledged", T1.astimezone(PLUS_TWO), by="Ann",
                           status="acknowledged")
    with sqlite3.connect(tmp_path / "notify.db") as conn:
        stored = conn.execute("SELECT started, created, acked_at FROM incidents").fetchone()
    assert stored == ("2026-11-26T03:00:00+00:00", "2026-11-26T03:00:00+00:00", "2026-11-26T03:01:00+00:00")

def _scenario(store: Any) -> dict[str, Any]:
    """A little of everything, returning every row the store can show."""
    incident_id = opened(store, "ann", "bob", dedup_key="grp")
    store.record_event(incident_id, "escalation-1", "escalation", T1, "stage 1",
                       deliveries=[planned("cat", kind="escalation", step=1, notice={"stage": 1})])
    rows = store.claim("w", T1, T5)
    store.record_attempt(rows[0], attempt_row(rows[0], "delivered", T1), final_status="delivered")
    store.record_attempt(rows[1], attempt_row(rows[1], "failed-transient", T1), final_status=None, next_attempt_at=T2)
    store.record_attempt(rows[2], attempt_row(rows[2], "failed-permanent", T1), final_status="failed-permanent")
    store.add_fallback(rows[2], planned("cat", channel="email", fallbacks=[]), T2)
    store.record_event(incident_id, "ack", "acknowledged", T2, by="Ann", status="acknowledged")
    store.heartbeat("w", T2)
    return {"incidents": store.incidents(), "deliveries": store.deliveries(incident_id),
            "events": store.events(incident_id), "attempts": store.attempts(), "stats": store.stats(T5),
            "next_due": store.next_due(), "heartbeat": store.last_heartbeat(), "peek": store.peek_id("OUT", 2026)}


def test_both_stores_give_back_identical_rows(tmp_path: Path) -> None:
    sqlite_store = open_store(f"sqlite:///{tmp_path / 'notify.db'}")
    with pg.schema("same") as pg_url:
        pg_store = open_store(pg_url)
        try:
            from_sqlite, from_pg = _scenario(sqlite_store), _scenario(pg_store)
        finally:
            pg_store.close()
            sqlite_store.close()
    assert from_pg == from_sqlite
    # same types too, not merely equal values (True == 1): what a JSON document would show
    for name in ("incidents", "deliveries", "attempts"):
        assert [[type(v) for v in vars(r).values()] for r in from_pg[name]] == \
            [[type(v) for v in vars(r).values()] for r in from_sqlite[name]], name


# -- PostgreSQL only: its URL and its failures -----------------------------------------------------------


def test_a_postgres_failure_is_a_store_error_that_never_shows_the_password() -> None:
    pg.require()
    with pytest.raises(StoreError) as caught:
        open_store("postgresql://notify:s3cret-pw@127.0.0.1:1/test?connect_timeout=2")
    assert "s3cret-pw" not in str(caught.value)
    assert str(caught.value).startswith("cannot open store postgresql://notify:***@127.0.0.1:1/test")


def test_a_search_path_naming_no_schema_is_explained() -> None:
    pg.require()
    with pytest.raises(StoreError, match="the search_path names no existing schema"):
        open_store(pg.url_for("notify_test_no_such_schema"))


def test_both_url_schemes_select_postgres(pg_url: str) -> None:
    store = open_store(pg_url.replace("postgresql://", "postgres://", 1))
    assert type(store).__name__ == "PostgresStore" and store.schema_version() == schema.SCHEMA_VERSION
    store.close()


def test_mask_url_hides_passwords_in_the_userinfo_and_the_query() -> None:
    from dispatcher.store.urls import mask_store_url as mask_url

    assert mask_url("postgresql://u:p%40ss@db:5432/notify") == "postgresql://u:***@db:5432/notify"
    assert mask_url("postgresql://db/notify?user=u&password=hunter2") == "postgresql://db/notify?user=u&password=***"
    assert mask_url("postgresql://u@db/notify") == "postgresql://u@db/notify"


pg_url = pg.pg_url  # the fixture, for the PostgreSQL-only tests above


def test_check_gives_the_same_advice_as_db_upgrade_for_a_missing_schema(clean_env) -> None:
    """check must not say 'run notify db upgrade' when the upgrade itself cannot create the tables."""
    pg.require()
    result = run("check", "--json", env={"NOTIFY_STORE_URL": pg.url_for("notify_test_no_such_schema")})
    [problem] = [p for p in json.loads(result.stdout)["problems"] if p["key"] == "NOTIFY_STORE_URL"]
    assert problem["severity"] == "error" and "the search_path names no existing schema" in problem["message"]
    assert "db upgrade" not in problem["message"]


# -- the inbox: webhooks before triage -----------------------------------------------------------


def test_each_group_of_the_inbox_has_one_owner_at_a_time_oldest_first(store: Any) -> None:
    ids = [store.enqueue("alertmanager", f"g{n}", f'{{"n": {n}}}', T0) for n in range(3)]
    first = store.claim_inbox("a", T0, T1, limit=2)
    assert [(r.id, r.source, r.dedup_key, r.body) for r in first] == [
        (ids[0], "alertmanager", "g0", '{"n": 0}'), (ids[1], "alertmanager", "g1", '{"n": 1}')]
    assert [r.id for r in store.claim_inbox("b", T0, T1, limit=10)] == [ids[2]]  # the group a does not hold
    assert store.claim_inbox("c", T0, T1, limit=10) == []
    assert store.inbox_done(ids[0], "a") is True
    assert [r.id for r in store.claim_inbox("a", T0, T1, limit=10)] == [ids[1]]  # its own lease; b holds the rest
    assert [r.id for r in store.claim_inbox("c", T2, T5, limit=10)] == ids[1:]  # a and b died: their leases expired
    assert store.inbox_done(ids[1], "a") is False  # a woke up: c holds the row now, and a learns it
    assert store.inbox_counts() == (2, 0, 0)


def test_a_group_held_by_one_owner_is_not_split_with_another(store: Any) -> None:
    firing, other, resolved = (store.enqueue("alertmanager", key, "{}", T0) for key in ("g", "h", "g"))
    assert [r.id for r in store.claim_inbox("a", T0, T1, limit=1)] == [firing]
    assert [r.id for r in store.claim_inbox("b", T0, T1, limit=10)] == [other]  # g's resolve waits for a
    assert store.inbox_done(firing, "a") is True
    assert [r.id for r in store.claim_inbox("b", T0, T1, limit=10)] == [other, resolved]  # handled: g is free


def test_webhooks_stored_together_keep_their_order_and_ids(store: Any) -> None:
    first = store.enqueue("alertmanager", "g", '{"n": 0}', T0)
    ids = store.enqueue_many([("alertmanager", "g", '{"n": 1}'), ("grafana", "h", '{"n": 2}'),
                              ("alertmanager", "g", '{"n": 3}')], T0)
    assert ids == sorted(ids) and ids[0] > first
    assert [(r.id, r.source, r.dedup_key, r.body) for r in store.claim_inbox("a", T0, T1, limit=10)] == [
        (first, "alertmanager", "g", '{"n": 0}'), (ids[0], "alertmanager", "g", '{"n": 1}'),
        (ids[1], "grafana", "h", '{"n": 2}'), (ids[2], "alertmanager", "g", '{"n": 3}')]


def test_a_group_waits_whole_behind_its_failing_row_and_other_groups_go_on(store: Any) -> None:
    firing, other, resolved = (store.enqueue("alertmanager", key, "{}", T0) for key in ("g", "h", "g"))
    assert [r.id for r in store.claim_inbox("a", T0, T1, limit=10)] == [firing, other, resolved]  # one owner, in order
    assert store.inbox_failed(firing, "a", "StoreError: gone for a moment", T2) is True
    store.inbox_done(other, "a")
    assert store.release_inbox("a") == 1  # the resolve, skipped behind its failed firing
    later = store.enqueue("alertmanager", "h", "{}", T0)
    assert [r.id for r in store.claim_inbox("a", T1, T2, limit=10)] == [later]  # g waits for its firing's retry
    assert store.inbox_counts() == (3, 1, 0)
    store.inbox_done(later, "a")
    assert [(r.id, r.attempts) for r in store.claim_inbox("a", T2, T5, limit=10)] == [(firing, 1), (resolved, 0)]


def test_a_group_s_rows_are_read_in_pages_and_one_busy_group_does_not_hide_the_rest(store: Any) -> None:
    stuck = [store.enqueue("alertmanager", "g", "{}", T0) for _ in range(600)]  # more than two pages of one group
    free = store.enqueue("alertmanager", "h", "{}", T0)
    store.claim_inbox("a", T0, T1, limit=1)
    store.inbox_failed(stuck[0], "a", "StoreError: gone for a moment", T5)
    assert [r.id for r in store.claim_inbox("a", T1, T2, limit=10)] == [free]


def test_a_row_failing_too_often_is_given_up_kept_and_no_longer_holds_up_its_group(store: Any) -> None:
    firing, resolved = store.enqueue("grafana", "g", "{}", T0), store.enqueue("grafana", "g", "{}", T0)
    for _ in range(GIVE_UP_AFTER):
        assert [r.id for r in store.claim_inbox("a", T5, T9, limit=1)] == [firing]
        assert store.inbox_failed(firing, "a", "ValueError: boom", T0) is True
    assert [r.id for r in store.claim_inbox("a", T5, T9, limit=10)] == [resolved]
    assert store.inbox_counts() == (1, 0, 1)  # the given-up row no longer counts as waiting


def test_a_row_that_can_never_be_handled_is_given_up_at_once(store: Any) -> None:
    bad = store.enqueue("grafana", "g", "{}", T0)
    store.claim_inbox("a", T0, T1, limit=1)
    assert store.inbox_failed(bad, "b", "PayloadError: x", None) is False  # only the holder may say so
    assert store.inbox_failed(bad, "a", "PayloadError: version: missing", None) is True
    assert store.inbox_counts() == (0, 0, 1) and store.claim_inbox("a", T0, T1, limit=1) == []


def test_renewing_extends_only_the_rows_still_held(store: Any) -> None:
    first, second = store.enqueue("grafana", "g", "{}", T0), store.enqueue("grafana", "h", "{}", T0)
    store.claim_inbox("a", T0, T1, limit=10)
    assert store.renew_inbox("a", [first, second], T5) == 2
    assert store.claim_inbox("b", T2, T5, limit=10) == []  # renewed past T2: still a's
    assert [r.id for r in store.claim_inbox("b", T5, T9, limit=10)] == [first, second]
    assert store.renew_inbox("a", [first, second], T9) == 0  # b holds them now


def test_release_frees_the_inbox_for_another_owner(store: Any) -> None:
    row = store.enqueue("grafana", "g", "{}", T0)
    store.claim_inbox("a", T0, T5, limit=10)
    assert store.release("a") == 0  # no deliveries held; the inbox lease is given back too
    assert [r.id for r in store.claim_inbox("b", T0, T5, limit=10)] == [row]
    assert store.release_inbox("b") == 1
    assert [r.id for r in store.claim_inbox("c", T0, T5, limit=10)] == [row]


def test_an_inbox_id_is_never_reused(store: Any) -> None:
    first = store.enqueue("alertmanager", "g", "{}", T0)
    store.claim_inbox("a", T0, T1, limit=1)
    store.inbox_done(first, "a")
    assert store.enqueue("alertmanager", "g", "{}", T0) > first


def test_concurrent_inbox_claims_split_the_inbox_by_group_never_a_group(url: str) -> None:
    seed = open_store(url)
    group_of = {seed.enqueue("alertmanager", f"g{n // 2}", f'{{"n": {n}}}', T0): f"g{n // 2}" for n in range(20)}
    seed.close()  # 10 groups of two rows in a row: a claim of 5 ends inside a group
    claimed = concurrently(url, 8, lambda s, i: [r.id for r in s.claim_inbox(f"w{i}", T0, T1, limit=5)])
    every = [row_id for owner in claimed for row_id in owner]
    assert len(every) == len(set(every)), claimed  # each taken once
    for group in set(group_of.values()):  # a group's oldest rows, never a later one while an earlier waits
        rows = sorted(row_id for row_id, of in group_of.items() if of == group)
        taken = sorted(row_id for row_id in every if group_of[row_id] == group)
        assert taken == rows[:len(taken)], claimed
    owners_of = {group: {i for i, owner in enumerate(claimed) for row_id in owner if group_of[row_id] == group}
                 for group in set(group_of.values())}
    assert all(len(owners) == 1 for owners in owners_of.values()), claimed  # every group taken, by one owner
    assert sum(1 for owner in claimed if owner) > 1, claimed  # the inbox shared by several


def test_two_webhooks_of_one_group_stored_at_once_on_postgres_get_ids_in_commit_order(tmp_path: Path) -> None:
    """An id is drawn at INSERT and seen at COMMIT: without the group's lock, the later could be seen first."""
    import psycopg

    with pg.store_url("postgres", tmp_path / "unused.db", "inbox_order") as url:
        store = open_store(url)
        second: list[int] = []
        with psycopg.connect(url) as conn:  # the first webhook of group g, stored and not yet committed
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('notify:inbox-group:' || current_schema()"
                         " || ':' || %s, 0))", ("g",))
            first = conn.execute("INSERT INTO inbox (source, dedup_key, body, received) VALUES"
                                 " ('alertmanager', 'g', '{}', %s) RETURNING id", (T0,)).fetchone()[0]
            waiting = threading.Thread(target=lambda: second.append(store.enqueue("alertmanager", "g", "{}", T0)))
            waiting.start()
            waiting.join(0.5)
            assert waiting.is_alive() and second == []  # the second waits for the first's commit
        waiting.join(10)
        assert second and second[0] > first
        assert [r.id for r in store.claim_inbox("a", T0, T1, limit=10)] == [first, second[0]]
        store.close()


def test_an_operator_can_list_retry_and_discard_stored_webhooks(store: Any) -> None:
    given_up, waiting = store.enqueue("grafana", "g", "{}", T0), store.enqueue("grafana", "h", "{}", T1)
    store.claim_inbox("a", T0, T1, limit=1)
    store.inbox_failed(given_up, "a", "PayloadError: x", None)
    assert [(r["id"], r["attempts"], r["error"]) for r in store.inbox_rows()] == [
        (given_up, GIVE_UP_AFTER, "PayloadError: x"), (waiting, 0, None)]
    assert store.inbox_retry([given_up, 12345]) == 1
    assert [r.id for r in store.claim_inbox("b", T2, T5, limit=10)] == [given_up, waiting]
    assert store.inbox_discard([given_up]) == 1 and store.inbox_discard([]) == 0
    assert [r["id"] for r in store.inbox_rows()] == [waiting]
    held = store.enqueue("grafana", "i", "{}", T2)
    assert [r.id for r in store.claim_inbox("c", T5, T9, limit=10)] == [waiting, held]  # c handles them
    assert store.inbox_retry([held]) == 0  # being handled: not freed under c, or another owner would take group i
    assert store.claim_inbox("d", T5, T9, limit=10) == []


def test_a_new_sqlite_store_and_its_journal_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    """It holds people's phone numbers and addresses, and alert bodies."""
    import stat

    path = tmp_path / "state" / "notify.db"
    store = open_store(f"sqlite:///{path}")
    store.enqueue("alertmanager", "g", "{}", T0)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
    store.close()
    assert modes["notify.db"] == 0o600 and modes.get("notify.db-wal", 0o600) == 0o600, modes


def test_the_provider_id_of_the_first_accepted_delivery_is_handed_back_per_channel_and_target(store: Any) -> None:
    """A channel that updates what it created (Statuspage PATCHes its incident) asks for the id it was answered with."""
    from dataclasses import replace

    incident = opened(store, "page", "other")
    assert store.earlier_provider_id(incident, "webhook", "https://example.invalid/page") is None
    page, other = sorted(store.claim("w", T0, T9), key=lambda r: r.person, reverse=True)
    store.record_attempt(page, replace(attempt_row(page, "failed-transient"), provider_id="first-try"),
                         final_status=None, next_attempt_at=T1)
    assert store.earlier_provider_id(incident, "webhook", page.target) == "first-try"  # the store keeps what the sender gives (the sender gives only accepted ones)
    (page,) = store.claim("w", T2, T9)
    store.record_attempt(page, replace(attempt_row(page, "delivered", T2, number=2), provider_id="inc-1"),
                         final_status="delivered")
    store.record_attempt(other, replace(attempt_row(other, "delivered", T2), provider_id="inc-2"),
                         final_status="delivered")
    assert store.earlier_provider_id(incident, "webhook", page.target) == "inc-1"  # a later answer replaces it
    assert store.earlier_provider_id(incident, "webhook", other.target) == "inc-2"
    assert store.earlier_provider_id(incident, "email", page.target) is None
    assert [a.provider_id for a in store.attempts(incident_id=incident)] == ["first-try", "inc-1", "inc-2"]


def test_a_notice_reads_whether_the_customer_was_reached_and_the_latest_delivery_on_channels(store: Any) -> None:
    """One-row reads (app/facts.py): a template asks them once per notice, and an incident may have thousands."""
    customer = planned("customer", channel="email", target="jane@acme.example", masked_target="j***@acme.example")
    incident, _ = store.open_incident(record(), [customer, planned("page", channel="statuspage"),
                                                 planned("later", channel="statuspage", step=1)],
                                      prefix="OUT", year=2026, now=T0)
    assert store.customer_reached(incident) is False
    assert store.latest_on(incident, ["statuspage"]) == ("pending", None, None)
    assert store.latest_on(incident, ["statushook"]) is None and store.latest_on(incident, []) is None
    rows = {r.person: r for r in store.claim("w", T0, T9)}
    store.record_attempt(rows["customer"], attempt_row(rows["customer"], "failed-transient"), final_status=None,
                         next_attempt_at=T1)
    assert store.customer_reached(incident) is False  # failed: not reached
    store.record_attempt(rows["later"], attempt_row(rows["later"], "failed-permanent"),
                         final_status="failed-permanent")
    assert store.latest_on(incident, ["statuspage"]) == ("failed-permanent", None, "server-error")
    (again,) = store.claim("w", T2, T9, incident_id=incident, ids=[rows["customer"].id])
    store.record_attempt(again, attempt_row(again, "delivered", T2, number=2), final_status="delivered")
    assert store.customer_reached(incident) is True


# -- rate budgets per provider route (store/budgets_sql.py) -------------------------------------

ONE_A_SECOND = Limit(1.0, 1.0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_route_budget_gives_its_burst_then_a_token_a_second(store: Any) -> None:
    assert store.take_budget("slack:#ops", T0, ONE_A_SECOND) == 0.0
    assert store.take_budget("slack:#ops", T0, ONE_A_SECOND) == pytest.approx(1.0)
    assert store.take_budget("slack:#ops", at(0.25), ONE_A_SECOND) == pytest.approx(0.75)
    assert store.take_budget("twilio:sender-1", at(0.25), ONE_A_SECOND) == 0.0  # another route: its own bucket
    assert store.take_budget("slack:#ops", at(1.0), ONE_A_SECOND) == 0.0
    assert [(b.route, b.bucket.tokens, b.bucket.throttled) for b in store.budgets()] == [
        ("slack:#ops", 0.0, 0), ("twilio:sender-1", 0.0, 0)]


def test_a_429_blocks_the_route_for_its_retry_after_and_is_counted(store: Any) -> None:
    store.throttle_route("slack:#ops", T0, ONE_A_SECOND, 30.0)
    assert store.take_budget("slack:#ops", at(10), ONE_A_SECOND) == pytest.approx(20.0)
    [budget] = store.budgets()
    assert budget.bucket.throttled == 1 and budget.blocked_until == at(30)
    assert store.take_budget("slack:#ops", at(32), ONE_A_SECOND) == 0.0  # two seconds at half the rate: a token


def test_a_delivery_queued_for_budget_waits_pending_with_no_attempt_and_says_why(store: Any) -> None:
    incident_id = opened(store, "ann", "bob")
    ann, bob = store.claim("w1", T0, T5)
    assert not store.queue_delivery(ann.id, "w2", "slack:#ops", T0, at(1), "waits")  # not w2's lease
    assert store.queue_delivery(ann.id, "w1", "slack:#ops", T0, at(1), "waits for slack:#ops (1/s)")
    assert store.claim("w1", at(0.5), T5) == []  # bob is leased, ann not due yet
    [queued] = store.queued()
    assert (queued.id, queued.incident_id, queued.klass, queued.route, queued.since, queued.next_try, queued.why) == (
        ann.id, incident_id, "outage", "slack:#ops", T0, at(1), "waits for slack:#ops (1/s)")
    row = next(d for d in store.deliveries(incident_id) if d.id == ann.id)
    assert (row.status, row.attempts, row.reason) == (DeliveryState.PENDING, 0, "queued")
    assert store.attempts(incident_id=incident_id) == []  # waiting is no attempt, and no failure

    [again] = store.claim("w1", at(1), T5)
    store.queue_delivery(again.id, "w1", "slack:#ops", at(1), at(2), "still waits")
    assert store.queued(incident_id)[0].since == T0  # waiting since it was first queued
    assert store.queued("OUT-2026-999") == []
    [again] = store.claim("w1", at(2), T5)
    store.record_attempt(again, attempt_row(again, "delivered", at(2)), final_status=DeliveryState.ACCEPTED)
    store.record_attempt(bob, attempt_row(bob, "failed-transient", at(2)), final_status=None, next_attempt_at=T5)
    assert store.queued() == []  # attempted: no longer queued (a retry is not waiting for budget)


def test_instances_sharing_a_store_share_each_routes_rate(url: str) -> None:
    """Four stores (connections, as four instances) take from one route at the same instants: together they get
    the budget once (its burst, then a token a second), never each their own."""
    n, instants = 4, [k * 0.25 for k in range(40)]  # ten seconds, on an injected clock
    step = threading.Barrier(n)
    store = open_store(url)  # creates the schema before the others open it
    try:
        def take_all(s: Any, _: int) -> list[float]:
            granted = []
            for instant in instants:
                step.wait()  # everyone at the same instant
                while s.take_budget("slack:#ops", at(instant), ONE_A_SECOND) == 0.0:
                    granted.append(instant)
            return granted

        granted = sorted(t for mine in concurrently(url, n, take_all) for t in mine)
    finally:
        store.close()
    assert granted == [float(second) for second in range(10)]


def test_no_token_for_a_notice_while_a_page_waits_queued_for_the_route(store: Any) -> None:
    """A page queued for a route has its next token, whenever an update on it comes due (pages first)."""
    incident_id = opened(store, "ann")
    [page] = store.claim("w1", T0, T5)
    store.queue_delivery(page.id, "w1", "slack:#ops", T0, at(1), "waits")
    assert store.take_budget("slack:#ops", T0, ONE_A_SECOND, priority=2) == pytest.approx(1.0)  # a notice: none
    # the queued row is its incident's lead (Priority.LEAD, -1): a page ranked with it gets the token, a
    # follow-up page (0) waits behind it as a notice does
    assert store.take_budget("slack:#ops", T0, ONE_A_SECOND, priority=0) == pytest.approx(1.0)
    assert store.take_budget("slack:#ops", T0, ONE_A_SECOND, priority=-1) == 0.0
    assert store.deliveries(incident_id)[0].status == DeliveryState.PENDING
