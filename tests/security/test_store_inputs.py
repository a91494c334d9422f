"""Input a store can never hold is refused at once, naming the field, never answered "retry later" (503) forever."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Iterator

import pytest

from dispatcher.app import engine
from dispatcher.clock import FakeClock
from dispatcher.hooks import parse
from dispatcher.app.ingest import ingest
from dispatcher.server.run import build
from dispatcher.config.settings import load_settings
from dispatcher.store import open_store

from .. import pg
from .asgi_client import API_TOKEN, TOKEN, call

JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)

PAYLOADS = Path(__file__).parent.parent / "payloads"
OUTAGE = {"class": "outage", "summary": "API returns 503 for all tenants"}


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with pg.store_url(request.param, tmp_path / "notify.db", "inputs") as url:
        yield url


@pytest.fixture
def served(config_dir: Path, store_url: str):
    rt = engine.load_runtime(config_dir, load_settings(webhook_token=TOKEN, api_token=API_TOKEN))
    store = open_store(store_url)
    app, worker, _ = build(rt, store, FakeClock())
    yield app, store, rt
    worker.close()
    store.close()


def _incident(app) -> str:
    status, answer = call(app, "POST", "/hooks/generic", OUTAGE)
    assert status == 202, answer
    return answer["incident"]


@pytest.mark.parametrize("action, body, field", [
    ("ack", {"by": "Support\u0000Manager"}, "by"),
    ("resolve", {"by": "Support\u0000Manager", "message": "fixed"}, "by"),
    ("resolve", {"by": "Support Manager", "message": "fixed\u0000"}, "message"),
])
def test_a_nul_in_an_incident_action_is_refused_naming_the_field(served, action: str, body: dict,
                                                                 field: str) -> None:
    app, store, _ = served
    incident_id = _incident(app)
    status, answer = call(app, "POST", f"/incidents/{incident_id}/{action}", body)
    assert (status, answer.get("field")) == (422, field), answer
    assert store.incident(incident_id).status == "open"  # nothing of it was stored


def _unindexable_key(size: int = 6000) -> str:
    """A group key PostgreSQL cannot compress under its btree row limit (2704 bytes), as many labels make."""
    return base64.b64encode(random.Random(16).randbytes(size * 3 // 4)).decode()


def _alertmanager(group_key: str, fingerprint: str | None = None) -> bytes:
    body = json.loads((PAYLOADS / "alertmanager-0.25-webhook-v4.json").read_text())
    body["groupKey"] = group_key
    if fingerprint is not None:
        body["alerts"][0]["fingerprint"] = fingerprint
    return json.dumps(body).encode()


def test_an_alertmanager_group_key_of_6_kb_is_stored_and_groups_its_repeats(served) -> None:
    app, store, rt = served
    status, answer = call(app, "POST", "/hooks/alertmanager", _alertmanager(_unindexable_key()))
    assert status == 202, answer  # was 503 "retry later" on PostgreSQL, and every retry failed again
    clock = FakeClock()
    first = ingest(rt, store, parse("alertmanager", _alertmanager(_unindexable_key(), _unindexable_key())), clock.now())
    again = ingest(rt, store, parse("alertmanager", _alertmanager(_unindexable_key(), _unindexable_key())), clock.now())
    assert (first.outcome, again.outcome) == ("opened", "duplicate")
    assert again.incident_id == first.incident_id
    other = ingest(rt, store, parse("alertmanager", _alertmanager(_unindexable_key()[:-1] + "!")), clock.now())
    assert other.outcome == "opened" and other.incident_id != first.incident_id  # a key differing at its end


def test_postgresql_refusing_a_value_is_a_permanent_error_not_an_outage() -> None:
    from dispatcher.store import StoreRejected

    with pg.schema("refuse") as url:
        store = open_store(url)
        try:
            incident = {"id": "OUT-2026-001", "class": "outage", "drill": False, "dedup_key": "",
                        "started": JAN_1, "fields": {"summary": "down"}}
            store.open_incident(incident, [], prefix="OUT", year=2026, now=JAN_1)
            with pytest.raises(StoreRejected, match="NUL"):  # a NUL that got past the API's checks
                store.record_event("OUT-2026-001", "note-1", "update", JAN_1 + timedelta(minutes=1), "a\x00b")
        finally:
            store.close()


def test_schema_5_rewrites_long_keys_stored_before_it_so_their_groups_still_match(tmp_path: Path) -> None:
    import sqlite3

    from dispatcher.store.schema import SCHEMA_VERSION

    from ..test_store_contract import UNDO_LATER, UNDO_PRIORITY

    path = tmp_path / "notify.db"
    store = open_store(f"sqlite:///{path}")
    long_key = "alertmanager:" + _unindexable_key(2000)  # stored as written by schema 4
    incident = {"id": "OUT-2026-001", "class": "outage", "drill": False, "dedup_key": "x",
                "started": JAN_1, "fields": {"summary": "down"}}
    store.open_incident(incident, [], prefix="OUT", year=2026, now=JAN_1)
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE incidents SET dedup_key = ?", (long_key,))
        # every schema after 4 undone (test_store_contract keeps the list), so the store is as schema 4 left it
        for undo in [*UNDO_LATER, *UNDO_PRIORITY, "DROP TABLE requests", "DROP TABLE links", "DROP TABLE api_tokens"]:
            conn.execute(undo)
        conn.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    store = open_store(f"sqlite:///{path}", upgrade=True)
    try:
        assert store.upgraded == (4, SCHEMA_VERSION)
        assert store.open_by_dedup_key(long_key).id == "OUT-2026-001"
    finally:
        store.close()
