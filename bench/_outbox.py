"""Build a fan-out in a real store and drive it with the real Sender: shared by the delivery benchmarks.

One incident with N planned deliveries of one channel, written to a fresh
SQLite store exactly as a trigger writes them (one transaction), then leased,
sent and recorded by :class:`dispatcher.delivery.sender.Sender`, the code a CLI
trigger and the worker run. The notice is composed once (the benchmarks
measure delivery, not templates: bench_e2e and bench_startup cover rendering).
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dispatcher.api import Address, Notice  # noqa: E402
from dispatcher.clock import SystemClock  # noqa: E402
from dispatcher.delivery.sender import RetryPolicy, Sender  # noqa: E402
from dispatcher.delivery.registry import Registry  # noqa: E402
from dispatcher.config.settings import load_settings  # noqa: E402
from dispatcher.store import NewDelivery, open_store  # noqa: E402

NOTICE = Notice("OUT-2026-001", "outage", 0, "[P1] API returns 503 for EU customers",
                "API returns 503 for EU customers since 03:12 UTC. Commander: Support Manager A.",
                "<p>API returns 503 for EU customers since 03:12 UTC.</p>", severity="critical",
                dedup_key="OUT-2026-001")
STARTED = datetime.fromisoformat("2026-11-26T03:12:00+00:00")


def targets(n: int, channel: str) -> list[str]:
    return [f"oncall-{i}@example.com" if channel == "email" else f"t{i}" for i in range(n)]


def fill(store: Any, channel: str, n: int, incident_id: str = "OUT-2026-001") -> list[Any]:
    """Write one incident and n pending deliveries on `channel` in one transaction; return the rows."""
    rows = [NewDelivery("0", 0, f"p{i}", f"Person {i}", "list:everyone", channel, target, "***", "email")
            for i, target in enumerate(targets(n, channel))]
    record = {"id": incident_id, "class": "outage", "drill": False, "dedup_key": incident_id,
              "started": STARTED, "fields": {"summary": "API returns 503"}, "meta": {}}
    store.open_incident(record, rows, prefix="OUT", year=2026, now=STARTED)
    return store.deliveries(incident_id, 0)


def sender(store: Any, channel_name: str, channel: Any, concurrency: int) -> Sender:
    settings = load_settings(state_dir="/nonexistent")
    registry = Registry(settings, None)
    registry._instances[channel_name] = channel  # the configured channel under test
    return Sender(store, registry, SystemClock(), lambda row: (NOTICE, None), "bench",
                  RetryPolicy(1), concurrency=concurrency, lease=timedelta(minutes=2),
                  klass_of=lambda incident_id: "outage")


def through_outbox(db: Path, channel_name: str, make_channel: Callable[[], Any], n: int,
                   concurrency: int) -> tuple[float, int]:
    """Seconds to lease, send and record n deliveries from a fresh store; and how many were delivered."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    store = open_store(f"sqlite:///{db}")
    channel = make_channel()
    try:
        rows = fill(store, channel_name, n)
        started = time.perf_counter()
        sender(store, channel_name, channel, concurrency).send_now(rows)
        elapsed = time.perf_counter() - started
        delivered = sum(r.status == "delivered" for r in store.deliveries("OUT-2026-001"))
    finally:
        channel.close()
        store.close()
    return elapsed, delivered


def straight(channel_name: str, make_channel: Callable[[], Any], n: int, concurrency: int) -> tuple[float, int]:
    """Seconds to call channel.send for n recipients with the same concurrency, no store; and successes."""
    channel = make_channel()
    addresses = [Address(f"p{i}", f"Person {i}", "list:everyone", channel_name, target)
                 for i, target in enumerate(targets(n, channel_name))]
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=min(concurrency, n)) as pool:
            results = list(pool.map(lambda a: channel.send(NOTICE, a), addresses))
        elapsed = time.perf_counter() - started
    finally:
        channel.close()
    return elapsed, sum(r.outcome.value == "delivered" for r in results)
