"""A transaction PostgreSQL aborts as a deadlock victim is rolled back whole and run again (tenacity)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Iterator

import pytest

from dispatcher.store import open_store

from . import pg

pg_url = pg.pg_url


@pytest.fixture
def store(pg_url: str) -> Iterator:
    s = open_store(pg_url)
    s._write(lambda conn: conn.execute("CREATE TABLE pair (id int PRIMARY KEY, n int NOT NULL)"))
    s._write(lambda conn: conn.execute("INSERT INTO pair VALUES (1, 0), (2, 0)"))
    yield s
    s.close()


def test_two_transactions_that_deadlock_both_take_effect_once(store) -> None:
    both_hold_their_first_row = threading.Barrier(2)
    runs: Counter[str] = Counter()

    def crossing(name: str, first: int, second: int):
        def work(conn) -> None:
            runs[name] += 1
            conn.execute("SET LOCAL deadlock_timeout = '50ms'")  # PostgreSQL's detector, not a timer of ours
            conn.execute("UPDATE pair SET n = n + 1 WHERE id = %s", (first,))
            if runs[name] == 1:
                both_hold_their_first_row.wait(timeout=30)
            conn.execute("UPDATE pair SET n = n + 1 WHERE id = %s", (second,))
        return work

    errors: list[BaseException] = []

    def run(name: str, first: int, second: int) -> None:
        try:
            store._write(crossing(name, first, second))
        except BaseException as exc:  # shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=("a", 1, 2)), threading.Thread(target=run, args=("b", 2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(runs.values()) == [1, 2]  # the victim ran again; the other once
    assert store._read("SELECT id, n FROM pair ORDER BY id") == [(1, 2), (2, 2)]  # each effect exactly once
