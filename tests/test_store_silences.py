"""The store's silences and maintenance windows (store/silences_sql.py), on SQLite and on PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from dispatcher.domain.silences import Silence

from . import pg
from .test_store_contract import concurrently, opened

url, store = pg.url, pg.store  # each test runs on SQLite and on PostgreSQL

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
H = timedelta(hours=1)
PLUS_TWO = timezone(timedelta(hours=2))


def silence(silence_id: str = "S-1", *, starts=T0, ends=T0 + 2 * H) -> Silence:
    return Silence(silence_id, "silence", starts, ends, T0, "alice", "disk swap",
                   matchers=('alertname="DiskFull"', 'instance=~"db-.*"'))


def window(silence_id: str = "M-1") -> Silence:
    return Silence(silence_id, "maintenance", T0 + H, T0 + 3 * H, T0, "bob", "api upgrade", services=("api",))


def test_a_silence_and_a_window_read_back_as_written_in_utc(store: Any) -> None:
    given = silence(starts=T0.astimezone(PLUS_TWO))  # any offset in: UTC out, the same instant
    store.add_silence(given)
    store.add_silence(window())
    assert store.silences() == [silence(), window()]
    assert store.silence("M-1") == window()
    assert store.silence("nope") is None
    assert store.silences()[0].starts.utcoffset() == timedelta(0)


def test_silences_ending_after_a_time_leave_out_those_over(store: Any) -> None:
    store.add_silence(silence("S-old", starts=T0 - 3 * H, ends=T0 - H))
    store.add_silence(silence("S-now"))
    store.add_silence(window())
    assert [s.id for s in store.silences(ending_after=T0)] == ["S-now", "M-1"]


def test_expiring_ends_it_now_once_and_never_later(store: Any) -> None:
    store.add_silence(silence())
    ended = store.expire_silence("S-1", T0 + H)
    assert (ended.ends, ended.expired) == (T0 + H, T0 + H)
    again = store.expire_silence("S-1", T0 + 90 * timedelta(minutes=1))
    assert (again.ends, again.expired) == (T0 + H, T0 + H)  # the first expiry stands
    assert store.expire_silence("S-404", T0) is None
    store.add_silence(silence("S-2", starts=T0 - 3 * H, ends=T0 - H))
    assert store.expire_silence("S-2", T0).ends == T0 - H  # over already: its end is kept


def test_an_announcement_is_claimed_by_one_caller(store: Any) -> None:
    store.add_silence(window())
    assert store.claim_announcement("M-1", "start", T0 + H) is True
    assert store.claim_announcement("M-1", "start", T0 + H) is False
    assert store.claim_announcement("M-1", "end", T0 + 3 * H) is True


def test_unannounced_edges_are_those_come_and_not_claimed(store: Any) -> None:
    store.add_silence(window())  # T0+1h to T0+3h
    store.add_silence(silence())  # a silence is never announced
    store.add_silence(Silence("M-never", "maintenance", T0 + H, T0 + H, T0, "bob", "cancelled before it began",
                              services=("api",)))
    assert store.unannounced(T0, T0 - H) == []
    assert store.unannounced(T0 + H, T0) == [(window(), "start")]
    store.claim_announcement("M-1", "start", T0 + H)
    assert store.unannounced(T0 + 2 * H, T0) == []
    assert store.unannounced(T0 + 3 * H, T0) == [(window(), "end")]
    assert store.unannounced(T0 + 3 * H, T0 + 4 * H) == []  # over before the look-back: not announced late


def test_many_workers_claiming_one_edge_at_once_claim_it_once(url: str) -> None:
    with pg_or_sqlite(url) as first:
        first.add_silence(window())
    claimed = concurrently(url, 6, lambda s, i: s.claim_announcement("M-1", "start", T0 + H))
    assert sorted(claimed) == [False] * 5 + [True]


def test_held_pages_are_read_from_the_timeline_and_counted(store: Any) -> None:
    one, two = opened(store), opened(store)
    store.record_event(one, "held-0", "silenced", T0, "held back by silence S-1")
    store.record_event(two, "held-0", "maintenance", T0 + H, "held back by maintenance window M-1")
    store.record_event(two, "ack", "acknowledged", T0 + H, "")
    assert [(i, e.kind) for i, e in store.held()] == [(one, "silenced"), (two, "maintenance")]
    assert [i for i, _ in store.held(incident_id=two)] == [two]
    assert [i for i, _ in store.held(since=T0 + H)] == [two]
    assert store.held_counts() == {"silenced": 1, "maintenance": 1, "quiet-hours": 0}


def pg_or_sqlite(url: str) -> Any:
    from dispatcher.store import open_store

    return open_store(url)
