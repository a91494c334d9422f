"""Wide fan-outs through the outbox: every row is sent at once, and many threads share the store safely."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from dispatcher.api import Capabilities, DeliveryResult, Notice, TargetKind
from dispatcher.clock import SystemClock
from dispatcher.delivery.sender import RetryPolicy, Sender
from dispatcher.delivery.registry import Registry
from dispatcher.config.settings import load_settings
from dispatcher.store import NewDelivery, open_store

NOTICE = Notice("OUT-2026-001", "outage", 0, "subject", "text")


class CountingChannel:
    name = "webhook"
    capabilities = Capabilities(target=TargetKind.URL, template="email")

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.lock = threading.Lock()

    def configured(self) -> bool:
        return True

    def send(self, notice, address) -> DeliveryResult:
        with self.lock:
            self.sent.append(address.target)
        return DeliveryResult.delivered(status=200)

    def close(self) -> None:
        pass


TWELVE_PAST = datetime.fromisoformat("2026-11-26T03:12:00+00:00")


def fill(store, n: int, incident_id: str = "OUT-2026-001"):
    rows = [NewDelivery("0", 0, f"p{i}", f"P{i}", "list:all", "webhook", f"t{i}", f"t{i}", "email")
            for i in range(n)]
    record = {"id": incident_id, "class": "outage", "drill": False, "dedup_key": incident_id,
              "started": TWELVE_PAST, "fields": {"summary": "x"}}
    store.open_incident(record, rows, prefix="OUT", year=2026, now=TWELVE_PAST)
    return store.deliveries(incident_id, 0)


def sender(store, channel, concurrency: int = 32) -> Sender:
    registry = Registry(load_settings(), None)
    registry._instances["webhook"] = channel
    return Sender(store, registry, SystemClock(), lambda row: (NOTICE, None), "test", RetryPolicy(1),
                  concurrency=concurrency, lease=timedelta(minutes=2))


def test_a_trigger_sends_every_row_of_a_fan_out_wider_than_one_claim(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'notify.db'}")
    channel = CountingChannel()
    rows = fill(store, 250)
    sender(store, channel).send_now(rows)
    assert sorted(channel.sent) == sorted(f"t{i}" for i in range(250))
    assert {d.status for d in store.deliveries("OUT-2026-001")} == {"delivered"}
    assert len(store.attempts(incident_id="OUT-2026-001")) == 250
    store.close()


def test_a_wake_sends_stored_rows_at_once_without_a_full_tick(tmp_path: Path) -> None:
    from dispatcher.app import engine
    from dispatcher.app.worker import Worker

    store = open_store(f"sqlite:///{tmp_path / 'notify.db'}")
    rt = engine.load_runtime(None, load_settings(state_dir=tmp_path))
    worker = Worker(rt, store, SystemClock())
    channel = CountingChannel()
    worker.registry._instances["webhook"] = channel
    stop, wake = threading.Event(), threading.Event()
    loop = threading.Thread(target=worker.run, args=(stop, 60.0, wake))
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while store.last_heartbeat() is None and time.monotonic() < deadline:  # the first, full tick
            time.sleep(0.01)
        beat = store.last_heartbeat()
        fill(store, 3)
        started = time.monotonic()
        wake.set()
        while len(channel.sent) < 3 and time.monotonic() < started + 10:  # far below the 60 s interval
            time.sleep(0.005)
        assert len(channel.sent) == 3  # sent on the wake, not at the next tick 60 s away (no timed assertion:
        # a loaded machine must not fail it; the 10 s bound above already rules the interval out)
        assert store.last_heartbeat() == beat  # no full tick: no heartbeat write, no timer scan
    finally:
        stop.set()
        wake.set()
        loop.join(10)
    store.close()


class UnconfiguredChannel(CountingChannel):
    def configured(self) -> bool:
        return False


def test_a_row_no_notice_could_be_sent_for_is_recorded_failed_without_rendering_its_notice(tmp_path: Path) -> None:
    """A burst has many rows for channels without settings (and no URL of their own): rendering their notices
    was CPU the sender spent for nothing, before the same permanent failure."""
    store = open_store(f"sqlite:///{tmp_path / 'notify.db'}")
    channel, composed = UnconfiguredChannel(), []
    worker = sender(store, channel)
    worker.compose = lambda row: (composed.append(row.id), (NOTICE, None))[1]
    fill(store, 3)
    assert worker.attempt_due(limit=10) == 3
    assert composed == [] and channel.sent == []
    attempts = store.attempts(incident_id="OUT-2026-001")
    assert [(a.outcome, a.reason) for a in attempts] == [("failed-permanent", "not-configured")] * 3
    store.close()
