"""While a burst's webhooks wait to be triaged, the outbox sends only each new incident's lead, for at most
LEADS_FIRST_FOR of the backlog (domain/priority.py): every incident's first word before any incident's second.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest

from dispatcher.app.engine import load_runtime
from dispatcher.app.worker import Worker
from dispatcher.clock import FakeClock
from dispatcher.config.settings import load_settings
from dispatcher.domain.priority import LEADS_FIRST_FOR, Priority, leads_only
from dispatcher.store import open_store

from . import pg
from .helpers import wait_for
from .test_inbox import enqueue
from .test_outbox_priority import T0, T1, T2, opened, page, people

url, store = pg.url, pg.store  # the store tests run on SQLite and on PostgreSQL


@pytest.mark.parametrize("since, only", [
    (None, False),  # no webhook waits
    (T0, True),  # a backlog that just began
    (T0 - LEADS_FIRST_FOR + timedelta(seconds=1), True),
    (T0 - LEADS_FIRST_FOR, False),  # a flood this long: the rest of the outbox gets its turn
])
def test_the_outbox_sends_only_leads_while_a_backlog_is_younger_than_leads_first_for(since, only) -> None:
    assert leads_only(since, T0) is only


def test_a_claim_for_leads_takes_each_new_incidents_lead_and_nothing_else(store: Any) -> None:
    opened(store, [page("a1"), page("a2")], T0)
    opened(store, [page("b1"), page("b2")], T1)

    assert people(store.claim("w", T2, T2, limit=10, leads_only=True)) == ["a1", "b1"]
    assert store.claim("w", T2, T2, limit=10, leads_only=True) == []
    assert people(store.claim("w", T2, T2, limit=10)) == ["a2", "b2"]


def test_webhooks_waiting_counts_those_not_tried_yet_not_those_failing(store: Any) -> None:
    clock = FakeClock(T0)
    assert not store.webhooks_waiting()
    enqueue(store, clock, (1, "firing"))
    assert store.webhooks_waiting()
    row, = store.claim_inbox("w", T0, T1, limit=1)
    assert store.webhooks_waiting()  # taken, not handled: its incident's lead is still to come
    store.inbox_failed(row.id, "w", "boom", T2)
    assert not store.webhooks_waiting()  # a failing webhook waits for its retry; it holds nothing back


class ClaimLog:
    """The real store, recording every delivery each claim leases, in the order leased."""

    def __init__(self, store: Any, path: Path) -> None:
        self._store, self._path, self._ids = store, path, []

    def claim(self, *args: Any, **kwargs: Any) -> Any:
        rows = self._store.claim(*args, **kwargs)
        self._ids.extend(r.id for r in rows)
        return rows

    @property
    def claims(self) -> list[int]:
        """The rank of each delivery leased, read from the SQLite file."""
        with sqlite3.connect(self._path) as conn:
            rank = dict(conn.execute("SELECT id, priority FROM deliveries"))
        return [rank[i] for i in self._ids]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
def burst(config_dir: Path, tmp_path: Path) -> Iterator[tuple[Any, ClaimLog, FakeClock]]:
    real = open_store(f"sqlite:///{tmp_path / 'notify.db'}")
    clock = FakeClock()
    enqueue(real, clock, *((group, "firing") for group in range(1, 5)))
    yield load_runtime(config_dir, load_settings()), ClaimLog(real, tmp_path / "notify.db"), clock
    real.close()


def test_the_running_loop_sends_every_incidents_lead_before_any_incidents_other_rows(burst) -> None:
    rt, log, clock = burst
    worker = Worker(rt, log, clock, inbox_batch=1)  # one webhook per batch, its pages sent after each
    stop = threading.Event()
    loop = threading.Thread(target=worker.run, args=(stop, 60.0), daemon=True)
    loop.start()
    try:
        wait_for("the burst handled and sent", lambda: log.inbox_counts()[0] == 0 and log.next_due() is None)
    finally:
        stop.set()
        loop.join(timeout=30)
    claims = log.claims
    leads = [i for i, rank in enumerate(claims) if rank == Priority.LEAD]
    assert len(leads) == 4 and len(claims) > 4
    assert max(leads) < min(i for i, rank in enumerate(claims) if rank != Priority.LEAD)


def test_a_tick_called_on_its_own_sends_everything_due_as_before(burst) -> None:
    rt, log, clock = burst
    Worker(rt, log, clock, inbox_batch=1).tick()
    claims = log.claims
    first_other = min(i for i, rank in enumerate(claims) if rank != Priority.LEAD)
    assert first_other < max(i for i, rank in enumerate(claims) if rank == Priority.LEAD)


def test_serves_second_sender_leaves_the_timers_to_the_first(burst) -> None:
    rt, log, clock = burst
    Worker(rt, log, clock).tick()  # the burst's incidents opened and their step 0 sent
    clock.advance(timedelta(minutes=20))  # past the response SLA: escalations are due

    assert Worker(rt, log, clock, fires_timers=False).tick().fired == 0
    assert Worker(rt, log, clock).tick().fired > 0
