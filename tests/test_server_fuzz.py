"""Property: nothing posted to the generic hook makes the server answer 5xx or crash."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.app import engine
from dispatcher.clock import FakeClock
from dispatcher.server.run import build
from dispatcher.config.settings import load_settings
from dispatcher.store import open_store

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20)
KEYS = ["action", "class", "incident", "dedup_key", "summary", "description", "runbook", "affected_services",
        "labels", "text", "customer", "started", "eta", "colour"]
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6).map(lambda d: json.dumps(d).encode()),
)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    settings_ = load_settings(state_dir=tmp)  # no channel settings: deliveries fail visibly, never crash
    rt = engine.load_runtime(Path(__file__).resolve().parent.parent, settings_)
    store = open_store(f"sqlite:///{tmp / 'notify.db'}")
    application, worker, _ = build(rt, store, FakeClock())
    yield application
    worker.close()
    store.close()


def call(app, body: bytes) -> int:
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/hooks/generic", "headers": []}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"]


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_generic_hook_never_answers_5xx(app, body: bytes) -> None:
    assert call(app, body) in (202, 400, 413, 422)
