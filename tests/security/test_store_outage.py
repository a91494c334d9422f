"""A store that hangs or cannot write: hooks are answered 503 at once, and /healthz says the instance is unhealthy."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from dispatcher.app import engine
from dispatcher.clock import FakeClock
from dispatcher.server.run import build
from dispatcher.config.settings import load_settings
from dispatcher.store import open_store

from .. import pg
from .asgi_client import API_TOKEN, TOKEN, call, request
from .hanging_proxy import HangingProxy

PAYLOADS = Path(__file__).parent.parent / "payloads"
OUTAGE = {"class": "outage", "summary": "API returns 503 for all tenants"}
GUARD = 20.0  # seconds after which a request still unanswered fails the test (the fix answers in 0.2 s)


def _through(proxy: HangingProxy, url: str) -> str:
    parts = urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{proxy.port}"))


def _answered_while_hanging(app, method: str, path: str, body: bytes | dict = b"") -> tuple[int, dict]:
    """The answer, which must come while the store still hangs (it is released only after)."""
    async def bounded():
        return await asyncio.wait_for(request(app, method, path, body), GUARD)

    try:
        return asyncio.run(bounded())
    except asyncio.TimeoutError:
        pytest.fail(f"{method} {path}: no answer while the store hung (the request waits on the store)")


@pytest.mark.slow
def test_a_hanging_postgresql_is_answered_503_after_the_store_timeout(config_dir: Path) -> None:
    pg.require()
    base = urlsplit(pg.BASE_URL)
    with pg.schema("hang") as url:
        proxy = HangingProxy((base.hostname, base.port or 5432))
        rt = engine.load_runtime(config_dir, load_settings(webhook_token=TOKEN, api_token=API_TOKEN, store_timeout=0.2))
        store = open_store(_through(proxy, url), timeout=0.2)
        app, worker, _ = build(rt, store, FakeClock())
        try:
            assert call(app, "POST", "/hooks/generic", OUTAGE)[0] == 202
            proxy.hang()
            status, answer = _answered_while_hanging(app, "POST", "/hooks/generic", OUTAGE)
            assert status == 503 and "did not answer within 0.2 s" in answer["error"], answer
            status, health = _answered_while_hanging(app, "GET", "/healthz")
            assert status == 503 and health["ok"] is False and health["store"]["ok"] is False, health
        finally:
            proxy.release()  # the call still waiting in its thread now fails, and ends
            worker.close()
            store.close()


@pytest.fixture
def full_disk_app(config_dir: Path, tmp_path: Path):
    """An app on a SQLite store whose writer connection can be capped at its current size (a full disk)."""
    rt = engine.load_runtime(config_dir, load_settings(webhook_token=TOKEN, api_token=API_TOKEN))
    store = open_store(f"sqlite:///{tmp_path / 'notify.db'}")
    clock = FakeClock()
    app, worker, _ = build(rt, store, clock)

    def fill_the_disk() -> None:
        # SQLite's own limit on the file's pages, set on the store's writer connection: each write that
        # needs a new page fails with SQLITE_FULL ("database or disk is full"), as on a full disk; reads
        # still work. Self-contained: no root mount of a tiny filesystem.
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages}")

    yield app, worker, clock, fill_the_disk
    worker.close()
    store.close()


def _big_alert(n: int) -> bytes:
    body = json.loads((PAYLOADS / "alertmanager-0.25-webhook-v4.json").read_text())
    body["groupKey"] = f"{{}}:{{alertname=\"Full{n}\"}}"
    body["alerts"][0]["annotations"]["description"] = "x" * 20000  # needs new pages, whatever is free
    return json.dumps(body).encode()


def test_failing_writes_make_healthz_unhealthy_at_once(full_disk_app) -> None:
    app, worker, clock, fill_the_disk = full_disk_app
    worker.tick()
    assert call(app, "GET", "/healthz")[0] == 200
    fill_the_disk()
    status, answer = call(app, "POST", "/hooks/alertmanager", _big_alert(1))
    assert status == 503, answer
    status, health = call(app, "GET", "/healthz")
    assert status == 503 and health["store"]["ok"] is False, health  # was 200: reads still worked
    assert "disk is full" in health["store"]["error"], health


def test_a_worker_loop_that_cannot_write_is_not_reported_alive(full_disk_app) -> None:
    app, worker, clock, fill_the_disk = full_disk_app
    worker.tick()
    assert call(app, "POST", "/hooks/alertmanager", _big_alert(2))[0] == 202  # stored before the disk fills
    fill_the_disk()
    for _ in range(4):  # a minute of ticks, each failing to store the incident its webhook opens
        clock.advance(timedelta(seconds=15))
        worker.tick()
    status, health = call(app, "GET", "/healthz")
    assert status == 503 and health["worker"]["ok"] is False, health  # was 200: the loop "ticked"
