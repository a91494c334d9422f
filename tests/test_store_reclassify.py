"""The store's part of reclassification, on SQLite and on PostgreSQL: held rows, release once, cancel, compare-and-set."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dispatcher.store import open_store

from . import pg
from .test_store_contract import T0, T1, T2, concurrently, planned

url, store = pg.url, pg.store  # each test runs on SQLite and on PostgreSQL

HELD = "held until the class is confirmed (notify reclassify)"


def review(store: Any, *, klass: str = "security") -> str:
    """A needs-review incident: the on-call paged, the customer's notice held."""
    record = {"id": "", "class": klass, "drill": False, "dedup_key": "", "started": T0,
              "fields": {"summary": "odd logins"}, "meta": {"needs_review": True, "account": "acme"}}
    incident_id, created = store.open_incident(
        record, [planned("ann"), planned("customer", channel="email", hold=HELD)], prefix="SEC", year=2026, now=T0)
    assert created
    return incident_id


def confirm(store: Any, incident_id: str, at: str = T1) -> bool:
    return store.record_reclassification(incident_id, "class-confirmed", "class-confirmed", at, "confirmed", "Dana",
                                         was="security", klass="security", meta={"needs_review": False},
                                         release=True)


def test_a_held_delivery_is_stored_visibly_and_never_claimed(store: Any) -> None:
    incident_id = review(store)
    held = next(d for d in store.deliveries(incident_id) if d.person == "customer")
    assert (held.status, held.reason, held.skip) == ("held", HELD, None)
    assert [d.person for d in store.claim("w1", T1, T2)] == ["ann"]
    assert store.pending_ids(incident_id, 0) == []


def test_confirming_releases_the_held_rows_once_and_keeps_the_rest_of_meta(store: Any) -> None:
    incident_id = review(store)
    assert confirm(store, incident_id) is True
    assert confirm(store, incident_id, T2) is False  # recorded once: nothing released again
    customer = next(d for d in store.deliveries(incident_id) if d.person == "customer")
    assert (customer.status, customer.reason) == ("pending", None)
    assert [d.person for d in store.claim("w1", T2, T2)] == ["ann", "customer"]
    assert store.claim("w2", T2, T2) == []
    row = store.incident(incident_id)
    assert row.meta == {"needs_review": False} and row.klass == "security"
    assert [(e.kind, e.by) for e in store.events(incident_id)] == [("triggered", None), ("class-confirmed", "Dana")]


def test_confirmations_at_once_from_many_processes_release_once(url: str) -> None:
    with open_store(url) as first:
        incident_id = review(first)
        done = concurrently(url, 6, lambda s, i: confirm(s, incident_id))
        assert sorted(done) == [False] * 5 + [True]
        assert [e.kind for e in first.events(incident_id)].count("class-confirmed") == 1


def test_a_change_planned_from_a_stale_class_writes_nothing(store: Any) -> None:
    incident_id = review(store)
    waiting = next(d for d in store.deliveries(incident_id) if d.person == "customer")
    stale = store.record_reclassification(incident_id, "reclassify-1", "reclassified", T1, "x", "Dana",
                                          was="outage", klass="legal", meta={"reclassified": 1},
                                          cancel=[(waiting.id, "cancelled")], deliveries=[planned("bob")])
    assert stale is False
    row = store.incident(incident_id)
    assert (row.klass, row.meta["needs_review"]) == ("security", True)
    assert [e.kind for e in store.events(incident_id)] == ["triggered"]  # the event was rolled back with it
    assert {d.person: d.status for d in store.deliveries(incident_id)} == {"ann": "pending", "customer": "held"}


def test_a_change_cancels_only_what_still_waits_and_reopens_the_incident(store: Any) -> None:
    incident_id = review(store)
    store.record_event(incident_id, "acknowledged", "acknowledged", T1, by="Ann", status="acknowledged")
    [sending] = store.claim("w1", T1, T2)  # ann's page is in a sender's hands: it goes out
    customer = next(d for d in store.deliveries(incident_id) if d.person == "customer")
    why = "reclassified from security to outage: replaced by the page of the new class"
    assert store.record_reclassification(
        incident_id, "reclassify-1", "reclassified", T2, "reclassified from security to outage by Dana", "Dana",
        was="security", klass="outage", meta={"reclassified": 1, "classified_at": T2.isoformat()},
        cancel=[(sending.id, why), (customer.id, why)], reopen=True,
        deliveries=[replace(planned("bob"), label="r1-step-0")])
    rows = {d.person: (d.status, d.skip) for d in store.deliveries(incident_id)}
    assert rows == {"ann": ("in-flight", None), "customer": ("skipped", why), "bob": ("pending", None)}
    row = store.incident(incident_id)
    assert (row.klass, row.status, row.acked_by, row.meta) == ("outage", "open", None,
                                                               {"reclassified": 1, "classified_at": T2.isoformat()})


def test_resolving_skips_what_is_still_held(store: Any) -> None:
    incident_id = review(store)
    store.record_event(incident_id, "resolved", "resolved", T1, "false alarm", status="resolved")
    customer = next(d for d in store.deliveries(incident_id) if d.person == "customer")
    assert (customer.status, customer.skip) == ("skipped", "incident resolved before its class was confirmed")
    assert confirm(store, incident_id, T2) is False  # a resolved incident's class no longer changes
