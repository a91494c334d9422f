"""The replay record, on both stores: a signed request is recorded with its effect, in one transaction."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest

from dispatcher.store import AlreadyHandled, open_store

from .. import pg

T0 = datetime.fromisoformat("2026-11-26T03:00:00+00:00")
T1 = datetime.fromisoformat("2026-11-26T04:00:01+00:00")


url, store = pg.url, pg.store  # each test runs on SQLite and on PostgreSQL


def enqueue(store: Any, key: str) -> int:
    with store.sealed(key, T0):
        return store.enqueue("alertmanager", "group", '{"status": "firing"}', T0)


def test_a_second_effect_under_the_same_key_is_refused_whole(store: Any) -> None:
    enqueue(store, "k1")
    with pytest.raises(AlreadyHandled):
        enqueue(store, "k1")
    assert store.inbox_counts()[0] == 1
    assert store.request_answer("k1") == (None, None)  # handled; its answer not kept yet
    enqueue(store, "k2")  # another request is another key
    assert store.inbox_counts()[0] == 2


def test_only_the_first_write_carries_the_key_and_writes_outside_the_block_none(store: Any) -> None:
    with store.sealed("k1", T0):
        store.enqueue("alertmanager", "group", "{}", T0)
        store.enqueue("alertmanager", "group", "{}", T0)  # the same request's later write: not refused
    store.enqueue("alertmanager", "group", "{}", T0)
    assert store.inbox_counts()[0] == 3


def test_an_effect_that_fails_leaves_no_record_so_the_senders_retry_is_handled(store: Any) -> None:
    def failing(conn: Any) -> None:
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    with store.sealed("k1", T0), pytest.raises(Exception):
        store._write(failing)  # the effect's transaction fails: the key goes with it
    assert store.request_answer("k1") is None
    enqueue(store, "k1")
    assert store.inbox_counts()[0] == 1


def test_answers_are_kept_for_replays_and_old_ones_forgotten(store: Any) -> None:
    enqueue(store, "old")
    store.remember_answer("old", T0, 202, {"outcome": "queued", "event": 1}, forget_before=T0)
    assert store.request_answer("old") == (202, {"outcome": "queued", "event": 1})
    store.remember_answer("new", T1, 200, {"outcome": "opened"}, forget_before=datetime.fromisoformat("2026-11-26T03:00:01+00:00"))
    assert store.request_answer("old") is None and store.request_answer("new") == (200, {"outcome": "opened"})


def test_the_same_request_at_two_processes_at_once_has_one_effect(url: str) -> None:
    stores = [open_store(url) for _ in range(4)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(stores))

    def post(store: Any) -> None:
        barrier.wait()
        try:
            enqueue(store, "same")
            outcomes.append("stored")
        except AlreadyHandled:
            outcomes.append("replay")

    threads = [threading.Thread(target=post, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        assert sorted(outcomes) == ["replay"] * 3 + ["stored"] and stores[0].inbox_counts()[0] == 1
    finally:
        for s in stores:
            s.close()
