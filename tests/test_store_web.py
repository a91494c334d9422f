"""The web view's records in the store, on SQLite and on PostgreSQL: sessions, login links, notes, calendar feeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dispatcher.store.web_sql import FeedRow

from . import pg
from .test_store_contract import opened

url, store = pg.url, pg.store  # each test runs on SQLite and on PostgreSQL

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def test_a_session_is_live_until_it_expires_or_ends(store: Any) -> None:
    store.add_session("d1", "cto", T0, T0 + 60 * MINUTE)
    store.add_session("d2", "ceo", T0, T0 + 60 * MINUTE)
    live = store.session("d1", T0 + MINUTE)
    assert (live.person, live.created, live.expires) == ("cto", T0, T0 + 60 * MINUTE)
    assert store.session("d1", T0 + 60 * MINUTE) is None  # expired
    assert store.session("nope", T0) is None
    assert store.end_session("d2", T0 + MINUTE) is True
    assert store.end_session("d2", T0 + MINUTE) is False  # once
    assert store.session("d2", T0 + 2 * MINUTE) is None
    assert store.forget_sessions(T0 + 61 * MINUTE) == 2


def test_a_login_link_works_once_and_not_after_it_expires(store: Any) -> None:
    store.add_login_link("L1", "cto", T0, T0 + 15 * MINUTE)
    store.add_login_link("L2", "cto", T0, T0 + 15 * MINUTE)
    assert store.login_link_person("L1", T0 + MINUTE) == "cto"  # looking does not use it
    assert store.use_login_link("L1", T0 + MINUTE) == "cto"
    assert store.use_login_link("L1", T0 + 2 * MINUTE) is None
    assert store.login_link_person("L1", T0 + 2 * MINUTE) is None
    assert store.use_login_link("L2", T0 + 15 * MINUTE) is None  # expired
    assert store.login_links_since("cto", T0 - MINUTE) == 2
    assert store.login_links_since("cto", T0) == 0
    assert store.login_links_since("ceo", T0 - MINUTE) == 0
    assert store.forget_login_links(T0 + 15 * MINUTE) == 0  # expiring exactly then: kept
    assert store.forget_login_links(T0 + 16 * MINUTE) == 2
    assert store.login_links_since("cto", T0 - MINUTE) == 0


def test_notes_come_back_in_time_order_for_their_incident_only(store: Any) -> None:
    first, second = opened(store, "ann"), opened(store, "bob")
    store.add_note(first, T0 + 2 * MINUTE, "CTO", "second thought")
    store.add_note(first, T0 + MINUTE, "CEO", "first thought")
    store.add_note(second, T0, "CTO", "elsewhere")
    assert [(n.at, n.by, n.text) for n in store.notes(first)] == [
        (T0 + MINUTE, "CEO", "first thought"), (T0 + 2 * MINUTE, "CTO", "second thought")]


def test_a_feed_is_found_until_its_maker_revokes_it(store: Any) -> None:
    store.add_feed(FeedRow("F1", "slot", "primary", "cto", T0))
    store.add_feed(FeedRow("F2", "person", "cto", "cto", T0 + MINUTE))
    assert store.feed("F1") == FeedRow("F1", "slot", "primary", "cto", T0)
    assert [f.digest for f in store.feeds("cto")] == ["F1", "F2"]
    assert store.revoke_feed("F1", "ceo", T0) is False  # not theirs
    assert store.revoke_feed("F1", "cto", T0) is True
    assert store.feed("F1") is None
    assert [f.digest for f in store.feeds("cto")] == ["F2"]
