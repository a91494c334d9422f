"""The store's half of acks and action links, on SQLite and on PostgreSQL: links kept by digest, an ack's
cancelled pages and an escalation's base written with its event."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dispatcher.app.links import issue_link
from dispatcher.store import LinkRow
from dispatcher.store.links_sql import link_digest

from . import pg
from .test_store_contract import T0, T1, T2, T5, opened, planned

url, store = pg.url, pg.store  # each test runs on SQLite and on PostgreSQL


def test_a_link_is_kept_by_the_digest_of_its_token_never_the_token(store: Any) -> None:
    incident_id = opened(store, "ann")
    [row] = store.deliveries(incident_id)
    token = issue_link(store, row, T0, ttl_seconds=3600)
    assert len(token) >= 16  # 12 random bytes: 96 bits, base64url
    found = store.link(link_digest(token))
    assert found == LinkRow(link_digest(token), incident_id, "ann", "Ann", "webhook", T0, T0 + timedelta(hours=1))
    assert token not in repr(found)
    assert store.link(link_digest(token + "x")) is None and store.link(link_digest("")) is None
    second = issue_link(store, row, T1, ttl_seconds=3600)
    assert second != token and store.link(link_digest(second)).created == T1  # each issue is a new link


def test_expired_links_are_forgotten_and_live_ones_kept(store: Any) -> None:
    incident_id = opened(store, "ann")
    [row] = store.deliveries(incident_id)
    old = issue_link(store, row, T0, ttl_seconds=60)  # expires 03:01
    live = issue_link(store, row, T0, ttl_seconds=600)  # expires 03:10
    assert store.forget_links(T5) == 1
    assert store.link(link_digest(old)) is None and store.link(link_digest(live)) is not None


def test_an_ack_cancels_the_pending_rows_it_names_in_its_own_write(store: Any) -> None:
    incident_id = opened(store, "ann", "bob")
    store.record_event(incident_id, "escalation-1", "escalation", T1,
                       deliveries=[planned("carol", kind="escalation", step=1), planned("list:ops", step=1)])
    rows = {d.person: d for d in store.deliveries(incident_id)}
    store.record_attempt(rows["ann"], _attempt(rows["ann"]), final_status="delivered")  # sent before the ack
    cancel = [rows["ann"].id, rows["bob"].id, rows["carol"].id]
    assert store.record_event(incident_id, "acknowledged", "acknowledged", T2, "acknowledged by Ann via sms", "Ann",
                              status="acknowledged", cancel=cancel, cancel_reason="not sent: acknowledged by Ann")
    after = {d.person: d for d in store.deliveries(incident_id)}
    assert after["ann"].status == "delivered"  # only what is still pending is cancelled
    assert [(after[p].status, after[p].skip) for p in ("bob", "carol")] == [("skipped", "not sent: acknowledged by Ann")] * 2
    assert after["list:ops"].status == "pending"  # not named: a list keeps its notice
    # a repeated ack writes nothing, cancels nothing more
    assert not store.record_event(incident_id, "acknowledged", "acknowledged", T5, by="Bob", status="acknowledged",
                                  cancel=[after["list:ops"].id], cancel_reason="x")
    assert store.deliveries(incident_id)[-1].status == "pending"


def test_an_event_may_set_the_incidents_meta_in_the_same_write(store: Any) -> None:
    incident_id = opened(store, "ann")
    meta = {**store.incident(incident_id).meta, "escalated": {"stage": 1, "at": T2.isoformat()}}
    assert store.record_event(incident_id, "escalation-1", "escalated", T2, "escalated at once", "Ann", meta=meta)
    assert store.incident(incident_id).meta == {"needs_review": False, "escalated": {"stage": 1, "at": T2.isoformat()}}


def _attempt(row: Any):
    from .test_store_contract import attempt_row

    return attempt_row(row, "delivered")
