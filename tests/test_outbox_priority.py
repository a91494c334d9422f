"""The outbox's claim order, on both stores: pages first, then later steps, then notices; the longest due first
within a rank (domain/priority.py, store/ranking.py).

More is due than one claim takes whenever a burst or a provider's budget runs short: what the claim takes
first is what goes out first.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from dispatcher.domain.states import DeliveryState
from dispatcher.store import NewDelivery, open_store, sql

from . import pg
from .test_store_contract import UNDO_LATER, UNDO_PRIORITY, _execute, attempt_row, record

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 26, 3, 1, tzinfo=UTC)
T2 = datetime(2026, 11, 26, 3, 2, tzinfo=UTC)
T5 = datetime(2026, 11, 26, 3, 5, tzinfo=UTC)

url, store = pg.url, pg.store  # each test runs on SQLite and on PostgreSQL


def page(person: str, step: int = 0) -> NewDelivery:
    return _row(person, "step", step)


def notice(person: str, kind: str = "update") -> NewDelivery:
    return _row(person, kind, -1)


def _row(person: str, kind: str, step: int) -> NewDelivery:
    return NewDelivery(f"{kind}-{step}", step, person, person.title(), "on-call", "webhook",
                       f"https://example.invalid/{person}", "https://example.invalid/***", "webhook", kind=kind)


def opened(store: Any, rows: list[NewDelivery], at: datetime) -> str:
    incident_id, created = store.open_incident(record(), rows, prefix="OUT", year=2026, now=at)
    assert created
    return incident_id


def people(rows: list[Any]) -> list[str]:
    return [r.person for r in rows]


def test_with_more_due_than_a_claim_takes_pages_and_escalations_go_first_and_updates_last(store: Any) -> None:
    a = opened(store, [page("ann")], T0)
    store.record_event(a, "update-1", "update", T0, deliveries=[notice("upd1"), notice("upd2", "resolved")])
    store.record_event(a, "step-1", "step", T1, deliveries=[page("fol", step=1)])
    # planned before bea's page but due after it: within a rank the longest due goes first, not the lowest id
    store.record_event(a, "escalation-1", "escalation", T2, deliveries=[_row("esc", "escalation", 3)])
    opened(store, [page("bea")], T1)

    assert people(store.claim("w", T5, T5, limit=3)) == ["ann", "bea", "esc"]
    assert people(store.claim("w", T5, T5, limit=10)) == ["fol", "upd1", "upd2"]  # in claim order, too


def test_in_a_burst_of_new_incidents_each_incidents_first_word_goes_before_any_incidents_second(store: Any) -> None:
    """The lead: each new incident's first step-0 delivery that will be sent, in the policy's order."""
    skipped = replace(page("nobody"), skip="no address")
    opened(store, [skipped, page("a1"), page("a2"), page("a3")], T0)
    opened(store, [page("b1"), page("b2")], T1)
    opened(store, [page("c1"), page("c2")], T2)

    assert people(store.claim("w", T5, T5, limit=3)) == ["a1", "b1", "c1"]
    assert people(store.claim("w", T5, T5, limit=10)) == ["a2", "a3", "b2", "c2"]


def test_a_leads_fallback_leads_too_and_a_later_rows_fallback_keeps_the_page_rank(store: Any) -> None:
    a = opened(store, [page("a1"), page("a2")], T0)
    opened(store, [page("b1"), page("b2")], T1)
    a1, a2 = sorted(store.claim("w", T0, T5, ids=[r.id for r in store.deliveries(a)]), key=lambda r: r.id)
    for row in (a1, a2):
        store.record_attempt(row, attempt_row(row, "failed-permanent"), final_status=DeliveryState.FAILED_PERMANENT)
        fallback = replace(page(row.person + "-sms"), label=row.delivery_key.label)
        assert store.add_fallback(row, fallback, T2) is not None

    assert people(store.claim("w", T5, T5, limit=2)) == ["b1", "a1-sms"]  # both leads; b1 was due first
    assert people(store.claim("w", T5, T5, limit=10)) == ["b2", "a2-sms"]


def test_a_retry_keeps_its_rank_and_is_due_from_its_next_try(store: Any) -> None:
    a = opened(store, [page("ann")], T0)
    store.record_event(a, "update-1", "update", T0, deliveries=[notice("upd1")])
    for row in store.claim("w", T0, T1):  # both fail, due again at T2
        store.record_attempt(row, attempt_row(row, "failed-transient"), final_status=None, next_attempt_at=T2)
    store.record_event(a, "update-2", "update", T1, deliveries=[notice("upd2")])

    (first,) = store.claim("w", T5, T5, limit=1)
    assert (first.person, first.attempts) == ("ann", 1)  # the page's retry, ahead of an update due longer
    assert people(store.claim("w", T5, T5)) == ["upd2", "upd1"]  # fresh since T1 before the retry due at T2


def test_a_page_is_never_behind_notices_however_many_are_due(store: Any) -> None:
    a = opened(store, [], T0)
    store.record_event(a, "update-1", "update", T0, deliveries=[notice(f"n{i:02d}") for i in range(30)])
    store.record_event(a, "escalation-1", "escalation", T1, deliveries=[_row("esc", "escalation", 3)])
    taken = [people(store.claim("w", T5, T5, limit=4)) for _ in range(8)]
    assert taken[0][0] == "esc"
    assert sum(taken, []) == ["esc", *(f"n{i:02d}" for i in range(30))]


def test_upgrading_to_schema_10_ranks_the_rows_already_stored(url: str) -> None:
    """Rows planned before the priority column existed are ranked from their kind and step by the upgrade."""
    store = open_store(url)
    a = opened(store, [], T0)
    store.record_event(a, "update-1", "update", T0, deliveries=[notice("upd")])
    store.record_event(a, "step-1", "step", T0, deliveries=[page("fol", step=1)])
    store.record_event(a, "escalation-1", "escalation", T0, deliveries=[_row("esc", "escalation", 3)])
    store.close()
    # back to schema 9: the priority column goes, and the tables and columns of the schemas after it
    _execute(url, [*UNDO_LATER, *UNDO_PRIORITY, "UPDATE meta SET value = '9' WHERE key = 'schema_version'"])

    store = open_store(url, upgrade=True)
    try:
        assert store.upgraded == (9, len(store.migrations))  # to the latest, whatever later schemas add
        assert people(store.claim("w", T5, T5)) == ["esc", "fol", "upd"]  # unranked, it was by id: upd, fol, esc
    finally:
        store.close()


def test_the_claim_reads_its_index_in_order_instead_of_sorting_the_due_rows(store: Any, url: str) -> None:
    """With many rows done and some due, the claim walks deliveries_claim_order and stops at its limit."""
    opened(store, [], T0)
    due = store.dialect.t(T0)
    numbers = "WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n WHERE g < 20000) SELECT"
    fill = ("INSERT INTO deliveries (key, incident_id, step, person, display, role, channel, target, masked_target,"
            f" template, status, created, updated, priority) {numbers} 'k' || g, 'OUT-2026-001', 0, 'p', 'p', 'r',"
            " 'webhook', 't', 't', 'webhook', CASE WHEN g = g / 10 * 10 THEN 'pending' ELSE 'delivered' END, %s, %s,"
            " g - g / 3 * 3 FROM n")  # 10% due, of every rank; (% is a placeholder's mark to psycopg)
    claim = store.dialect.q(sql.CLAIM.format(where=sql.DUE, lock=store.dialect.claim_lock))
    args = (due, due, 5, "w", due, due)
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute(store.dialect.q(fill), (due, due))
            conn.execute("ANALYZE")
            plan = " / ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + claim, args))
        assert "USING INDEX deliveries_claim_order" in plan and "FOR ORDER BY" not in plan, plan
    else:
        import psycopg

        with psycopg.connect(url) as conn:
            conn.execute(fill, (due, due))
            conn.execute("ANALYZE deliveries")
            plan = " / ".join(r[0].strip() for r in conn.execute("EXPLAIN " + claim, args))
        assert "Index Scan using deliveries_claim_order" in plan and "Sort" not in plan, plan
