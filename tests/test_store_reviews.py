"""The reviews and drill-run methods of the store contract, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from . import pg
from .test_store_contract import opened

url, store = pg.url, pg.store  # each test runs on SQLite and on PostgreSQL

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
H = timedelta(hours=1)
PLUS_TWO = timezone(timedelta(hours=2))


def test_a_review_opens_once_and_reads_back_in_utc(store: Any) -> None:
    incident = opened(store, "ann")
    assert store.open_review(incident, T0.astimezone(PLUS_TWO), T0 + 48 * H)
    assert not store.open_review(incident, T0 + H, T0 + 49 * H)  # the first opening stands
    row = store.review(incident)
    assert (row.incident_id, row.resolved_at, row.root_cause_due) == (incident, T0, T0 + 48 * H)
    assert row.resolved_at.utcoffset() == timedelta(0)
    assert (row.root_cause, row.csat, row.root_cause_on_time) == (None, None, None)
    assert store.review("OUT-2026-404") is None


def test_root_cause_and_satisfaction_are_recorded_and_close_the_pending_review(store: Any) -> None:
    late, early = opened(store, "ann"), opened(store, "bob")
    store.open_review(late, T0, T0 + 48 * H)
    store.open_review(early, T0 + H, T0 + 49 * H)
    assert [r.incident_id for r in store.pending_reviews()] == [late, early]
    assert [r.incident_id for r in store.pending_reviews(T0 + 49 * H)] == [early]  # due from then on
    row = store.record_root_cause(late, "expired certificate", "https://wiki.example/pir/1", "Dana", T0 + 50 * H)
    assert (row.root_cause, row.root_cause_link, row.root_cause_by) == ("expired certificate",
                                                                        "https://wiki.example/pir/1", "Dana")
    assert row.root_cause_on_time is False
    assert store.record_root_cause(early, "bad deploy", None, None, T0 + 2 * H).root_cause_on_time is True
    assert store.pending_reviews() == []
    assert store.record_csat(late, 4, T0 + 60 * H).csat == 4
    assert store.record_csat(late, 5, T0 + 61 * H).csat == 5  # a later answer replaces it
    assert store.record_csat("OUT-2026-404", 5, T0) is None
    assert store.record_root_cause("OUT-2026-404", "x", None, None, T0) is None


def test_reviews_are_read_by_resolution_window(store: Any) -> None:
    ids = [opened(store, p) for p in ("ann", "bob", "cat")]
    for n, incident in enumerate(ids):
        store.open_review(incident, T0 + n * 24 * H, T0 + (n * 24 + 48) * H)
    assert [r.incident_id for r in store.reviews(T0, T0 + 48 * H)] == ids[:2]  # [since, until)
    assert [r.incident_id for r in store.reviews(T0 + 24 * H, T0 + 72 * H)] == ids[1:]


def test_drill_runs_are_kept_with_their_summary(store: Any) -> None:
    first = store.add_drill_run("security-breach", "security", T0, T0 + 2 * H, True, {"checks": 12, "failed": 0})
    second = store.add_drill_run("outage", "outage", T0 + 24 * H, T0 + 25 * H, False, {"checks": 9, "failed": 2})
    assert second > first
    rows = store.drill_runs(T0, T0 + 24 * H)
    assert [(r.scenario, r.klass, r.started, r.finished, r.passed, r.summary) for r in rows] == \
        [("security-breach", "security", T0, T0 + 2 * H, True, {"checks": 12, "failed": 0})]
    assert [r.passed for r in store.drill_runs(T0, T0 + 48 * H)] == [True, False]
