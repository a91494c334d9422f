"""The store's heartbeat and held-page methods, run against both stores (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dispatcher.domain.states import DeliveryState
from dispatcher.store import NewDelivery

from . import pg

url, store = pg.url, pg.store  # each test runs on SQLite and on PostgreSQL

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def test_a_first_beat_creates_the_heartbeat_and_later_ones_move_it(store: Any) -> None:
    first = store.record_beat("nightly-backup", T0, MINUTE, 2 * MINUTE)
    assert (first.beats, first.state, first.last_beat, first.source) == (1, "ok", T0, "http")
    assert first.deadline == T0 + 3 * MINUTE
    later = store.record_beat("nightly-backup", T0 + MINUTE, MINUTE, MINUTE, source="alertmanager")
    assert (later.beats, later.last_beat, later.grace, later.first_beat) == (2, T0 + MINUTE, MINUTE, T0)
    stale = store.record_beat("nightly-backup", T0, MINUTE, MINUTE)  # delivered out of order: counted, not moved back
    assert stale.last_beat == T0 + MINUTE
    assert [r.name for r in store.heartbeat_rows()] == ["nightly-backup"]
    assert store.heartbeat_row("nope") is None


def test_late_is_marked_once_and_only_if_no_beat_came_since_it_was_read(store: Any) -> None:
    row = store.record_beat("watchdog", T0, MINUTE, MINUTE)
    store.record_beat("watchdog", T0 + MINUTE, MINUTE, MINUTE)  # a beat after the tick read `row`
    assert not store.mark_heartbeat_late(row, "MON-2026-0001", T0 + 3 * MINUTE)
    current = store.heartbeat_row("watchdog")
    assert store.mark_heartbeat_late(current, "MON-2026-0001", T0 + 4 * MINUTE)
    assert not store.mark_heartbeat_late(current, "MON-2026-0002", T0 + 4 * MINUTE)  # a second worker: no
    late = store.heartbeat_row("watchdog")
    assert (late.state, late.incident_id, late.late_since) == ("late", "MON-2026-0001", T0 + 4 * MINUTE)
    assert store.mark_heartbeat_back("watchdog") == "MON-2026-0001"
    assert store.mark_heartbeat_back("watchdog") is None  # the incident is resolved by one caller only
    assert store.heartbeat_row("watchdog").state == "ok"
    assert store.forget_heartbeat("watchdog") and store.heartbeat_rows() == []


def _held(person: str, reason: str) -> NewDelivery:
    return NewDelivery("0", 0, person, person.title(), "on-call", "phone", "+14155550111", "+1415555****",
                       "voice", hold=reason)


def test_held_pages_are_released_or_dropped_once_with_their_event(store: Any) -> None:
    incident_id, _ = store.open_incident(
        {"id": "", "class": "technical", "drill": False, "dedup_key": "", "dedup_open": False, "started": T0,
         "fields": {"summary": "slow"}, "meta": {}},
        [_held("alice", "quiet hours: outside Alice's working hours"), _held("bob", "quiet hours: outside Bob's")],
        prefix="TEC", year=2026, now=T0, events=[("quiet-alice", "quiet-hours", "held"),
                                                 ("quiet-bob", "quiet-hours", "held")])
    alice, bob = sorted(store.deliveries(incident_id), key=lambda d: d.person)
    assert {alice.status, bob.status} == {DeliveryState.HELD}
    assert store.held_counts()["quiet-hours"] == 2
    assert store.quiet_held_incidents() == {incident_id}
    assert store.settle_held(incident_id, [alice.id], "quiet-release-alice", "quiet-hours-released", T0 + MINUTE,
                             "working hours began", release=True)
    assert not store.settle_held(incident_id, [alice.id], "quiet-release-alice", "quiet-hours-released", T0,
                                 "again", release=True)
    assert store.settle_held(incident_id, [bob.id], "quiet-drop-bob", "quiet-hours-dropped", T0 + MINUTE,
                             "acknowledged", release=False, skip="acknowledged before quiet hours ended")
    assert store.quiet_held_incidents() == set()
    after = {d.person: d for d in store.deliveries(incident_id)}
    assert after["alice"].status == DeliveryState.PENDING and after["alice"].reason is None
    assert after["bob"].status == DeliveryState.SKIPPED and after["bob"].skip.startswith("acknowledged")
    kinds = [e.kind for e in store.events(incident_id)]
    assert kinds.count("quiet-hours-released") == 1 and kinds.count("quiet-hours-dropped") == 1

