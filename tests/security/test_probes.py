"""/healthz tells the world only "ok" and what fails; /metrics may need a token; a flood of either never
holds up a hook."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Iterator

import pytest

from dispatcher.server.run import build

from ..stage import Stage
from ..test_server import Server
from .asgi import call

HOOK_TOKEN = "monitoring-hook-token-0001"
API_TOKEN = "operator-api-token-00000001"
METRICS_TOKEN = "prometheus-scrape-token-001"


@pytest.fixture
def server(stage: Stage) -> Iterator[Server]:
    srv = Server(stage, webhook_token=HOOK_TOKEN, api_token=API_TOKEN, metrics_token=METRICS_TOKEN)
    yield srv
    srv.stop()


def test_healthz_without_a_token_says_ok_and_names_failing_checks_only(server: Server) -> None:
    before = server.get("/healthz", token=None)
    assert before.status_code == 503 and before.json() == {"ok": False, "failing": ["worker"]}
    server.worker.tick()
    assert server.get("/healthz", token=None).json() == {"ok": True, "failing": []}


def test_healthz_details_need_the_api_token(server: Server) -> None:
    server.worker.tick()
    details = server.get("/healthz", token=API_TOKEN).json()
    assert details["store"]["ok"] is True and "inbox" in details and details["worker"]["last_tick"]
    hook_view = server.get("/healthz", token=HOOK_TOKEN)  # e.g. a client session that carries it everywhere
    assert hook_view.status_code == 200 and hook_view.json() == {"ok": True, "failing": []}
    assert server.get("/healthz", token="a-guessed-api-token-000").status_code == 401


def test_a_failing_store_is_named_but_not_described_without_the_token(server: Server) -> None:
    server.worker.tick()
    server.store._reader.close()  # reads fail: what the store says names where it is (a path, a host, a user)
    public = server.get("/healthz", token=None)
    assert public.status_code == 503 and public.json() == {"ok": False, "failing": ["store"]}
    assert "notify.db" in server.get("/healthz", token=API_TOKEN).json()["store"]["error"]


def test_metrics_need_the_metrics_token_when_it_is_set(server: Server) -> None:
    assert server.get("/metrics", token=None).status_code == 401
    assert server.get("/metrics", token=HOOK_TOKEN).status_code == 401
    scraped = server.get("/metrics", token=METRICS_TOKEN)
    assert scraped.status_code == 200 and "notify_open_incidents" in scraped.text


class SlowStatsStore:
    """The real store, but its metrics query (stats) and the health check's (inbox_counts) wait for a gate:
    a scrape or a health check that takes as long as we like."""

    def __init__(self, store: Any, gate: threading.Event) -> None:
        self.store, self.gate, self.scrapes, self.checks = store, gate, 0, 0

    def stats(self, now: str) -> dict:
        self.scrapes += 1
        self.gate.wait(60)
        return self.store.stats(now)

    def inbox_counts(self) -> tuple[int, int, int]:
        self.checks += 1
        self.gate.wait(60)
        return self.store.inbox_counts()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_a_flood_of_scrapes_does_not_slow_hooks(stage: Stage) -> None:
    gate = threading.Event()
    real = stage.store()
    store = SlowStatsStore(real, gate)
    app, worker, _ = build(stage.runtime(), store, stage.clock)  # no credentials: only the flood matters

    async def flood_then_hook() -> tuple[tuple, list]:
        # Scheduled first, so each reaches the store before the hook does (the loop runs tasks in order)
        scrapes = [asyncio.ensure_future(call(app, "GET", "/metrics")) for _ in range(40)]
        hook = await asyncio.wait_for(call(app, "POST", "/hooks/generic", b'{"summary": "disk full on db-1"}'), 20)
        gate.set()
        return hook, await asyncio.gather(*scrapes)

    try:
        hook, scrapes = asyncio.run(flood_then_hook())
    finally:
        gate.set()
        app.pool.shutdown(wait=True)
        worker.close()
        real.close()
    assert hook[0] == 202 and hook[2]["outcome"] == "opened"
    assert {status for status, _, _ in scrapes} == {200}
    assert store.scrapes <= 2  # the flood shared scrapes rather than queueing 40 of them


def test_a_flood_of_health_checks_shares_one_check_and_none_times_out_in_the_queue(stage: Stage) -> None:
    gate = threading.Event()
    real = stage.store()
    store = SlowStatsStore(real, gate)
    app, worker, _ = build(stage.runtime(), store, stage.clock)

    async def flood() -> list:
        checks = [asyncio.ensure_future(call(app, "GET", "/healthz")) for _ in range(40)]
        while store.checks == 0:  # the first check has reached the store: the rest are waiting behind it
            await asyncio.sleep(0)
        gate.set()
        return await asyncio.gather(*checks)

    try:
        worker.tick()
        answers = asyncio.run(flood())
    finally:
        gate.set()
        app.pool.shutdown(wait=True)
        worker.close()
        real.close()
    assert {status for status, _, _ in answers} == {200}
    assert store.checks <= 2  # shared, rather than 40 queued on the probe thread, each counting down the timeout
