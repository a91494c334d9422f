"""The engine's lifecycle tests against PostgreSQL, and the same two hours ticked by four workers at once.

The tests of tests/test_lifecycle.py are imported here, so pytest runs them a
second time in this module, where the `stage` fixture below hands them a
stage whose store is a private PostgreSQL schema instead of a SQLite file.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest

from dispatcher.store import open_store
from dispatcher.app.worker import Worker

from . import pg, test_lifecycle
from .stage import Stage, make_stage
from .test_lifecycle import (  # noqa: F401 - collected again here, on the PostgreSQL stage
    EXPECTED,
    MINUTE,
    Run,
    play,
    test_a_security_incident_over_two_simulated_hours,
    test_ack_stops_escalation_but_not_follow_up_steps,
    test_restarts_and_repeated_ticks_change_nothing,
    test_status_shows_the_timeline_and_what_is_due_next,
)


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    """The lifecycle stage (SMTP server, provider proxy, fake clock) with its store on PostgreSQL."""
    with pg.schema("lifecycle") as url:
        for staged in make_stage(config_dir, tmp_path, monkeypatch):
            staged.store = lambda: open_store(url)  # every store the tests open is this schema
            yield staged


def test_the_store_under_the_lifecycle_tests_is_postgres(stage: Stage) -> None:
    store = stage.store()
    assert type(store).__name__ == "PostgresStore"
    store.close()


class FourWorkers(Run):
    """Run's driver, with four workers, each with a store of its own, ticking every minute at the same moment."""

    WORKERS = 4

    def _open(self) -> None:
        self.stores = [self.stage.store() for _ in range(self.WORKERS)]
        self.workers = [Worker(self.rt, s, self.stage.clock, id=f"worker-{i}") for i, s in enumerate(self.stores)]
        self.store, self.worker = self.stores[0], self.workers[0]

    def restart(self) -> None:
        for worker, store in zip(self.workers, self.stores):
            worker.close()
            store.close()
        self.rt = self.stage.runtime()
        self._open()

    def until(self, minutes: int, *, double_tick: bool = False) -> None:
        barrier = threading.Barrier(self.WORKERS)

        def tick(worker: Worker) -> object:
            barrier.wait()
            return worker.tick()

        with ThreadPoolExecutor(self.WORKERS) as pool:
            while self.stage.clock.now() < self.t0 + minutes * MINUTE:
                self.stage.clock.advance(MINUTE)
                list(pool.map(tick, self.workers))


@pytest.mark.slow
def test_four_workers_ticking_at_once_fire_every_timer_once(stage: Stage, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(test_lifecycle, "Run", FourWorkers)  # play() drives four workers instead of one
    run = play(stage, restart_at=33)
    assert run.notices() == sorted(EXPECTED)  # every notice once: none lost, none sent by two workers
    events = run.store.events("SEC-2024-001")
    assert len({e.key for e in events}) == len(events)
    assert [e.kind for e in events].count("escalation") == 2
    attempts = run.store.attempts(incident_id="SEC-2024-001")
    assert not any(a.possible_duplicate for a in attempts)  # no lease was ever taken over
