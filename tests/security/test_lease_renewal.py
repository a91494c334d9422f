"""A send that outlasts its lease keeps it: two workers on PostgreSQL and a slow Slack post it exactly once.

Before, the lease (2 x (connect + read timeout) + 30 s) simply ran out under a
slow provider, the second worker took the row over as if its sender had died,
and Slack got the message twice. The sender now renews its leases while its
sends run.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

import pytest

from dispatcher.store import NewDelivery, open_store
from dispatcher.testing.providers import Reply
from dispatcher.app.worker import Worker
from tests import pg
from tests.stage import Stage, make_stage

INCIDENT = "SEC-2026-901"


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    """The sending stage (provider proxy, fake clock) with its store on a private PostgreSQL schema."""
    with pg.schema("lease") as url:
        for staged in make_stage(config_dir, tmp_path, monkeypatch):
            staged.store = lambda: open_store(url)
            staged.url = url  # type: ignore[attr-defined]
            yield staged


def seed_one_slack_post(stage: Stage) -> None:
    """One incident with one Slack post in the outbox, as a trigger would leave it."""
    store = stage.store()
    now = stage.clock.now()
    row = NewDelivery("0", 0, "slack:security-alerts", "#security-alerts", "slack:security-alerts", "slack",
                      "#security-alerts", "#security-alerts", "slack")
    store.open_incident({"id": INCIDENT, "class": "security", "drill": False, "dedup_key": "", "started": now,
                         "fields": {"summary": "Unusual admin logins", "customer": "Acme Corp"}},
                        [row], prefix="SEC", year=2026, now=now)
    store.close()


def lease_until(url: str) -> datetime | None:
    """The row's lease, read straight from the table (a timestamptz: psycopg's own datetime)."""
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT lease_until FROM deliveries").fetchone()[0]


def wait_until(condition, seconds: float) -> None:
    """Poll for something another thread does; give up quietly (the assertions after it say what went wrong)."""
    ends = time.monotonic() + seconds
    while not condition() and time.monotonic() < ends:
        time.sleep(0.01)


def test_a_slack_post_outlasting_its_lease_is_not_taken_over_and_posted_twice(stage: Stage) -> None:
    seed_one_slack_post(stage)
    answer = threading.Event()  # Slack holds its answer until the test lets it go
    stage.proxy["hooks.slack.com"].script(Reply(200, "ok", hold=answer))
    rt = stage.runtime(send_deadline=60.0, read_timeout=30.0)  # neither ends this send
    stores = [stage.store(), stage.store()]
    first, second = (Worker(rt, store, stage.clock, id=f"worker-{i}") for i, store in enumerate(stores))
    first.sender.renew_every = 0.02  # real seconds between renewals, so the test need not wait long for one
    sending = threading.Thread(target=first.send_due)
    sending.start()
    try:
        wait_until(lambda: stage.proxy["hooks.slack.com"].requests, 10)
        assert len(stage.proxy["hooks.slack.com"].requests) == 1, "the first worker's post never reached Slack"
        stage.clock.advance(first.sender.lease + timedelta(seconds=1))  # past the lease it took
        wait_until(lambda: (lease := lease_until(stage.url)) is not None and lease > stage.clock.now(), 2)
        taken_over = second.send_due()
    finally:
        answer.set()
        sending.join(timeout=30)
    rows = stores[0].deliveries(INCIDENT)
    for worker, store in zip((first, second), stores):
        worker.close()
        store.close()
    assert taken_over == 0
    assert len(stage.proxy["hooks.slack.com"].requests) == 1  # posted exactly once
    (row,) = rows
    assert row.status == "delivered" and row.attempts == 1 and not row.possible_duplicate
