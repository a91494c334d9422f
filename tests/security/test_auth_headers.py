"""Malformed auth headers and action bodies get a 4xx naming the problem, never a 500 and a traceback."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from datetime import datetime, timezone
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.clock import FakeClock
from dispatcher.server.run import build

from ..stage import Stage
from ..test_server import PAYLOADS
from .asgi import call

HOOK_TOKEN = "monitoring-hook-token-0001"
SECRET = "shared-hmac-secret-00000001"
API_TOKEN = "operator-api-token-00000001"
GRAFANA = (PAYLOADS / "grafana-firing.json").read_bytes()
NOW = int(time.time())
STAMP = str(NOW).encode()


def built(stage: Stage, **credentials: str) -> Iterator[Any]:
    store = stage.store()
    application, worker, _ = build(stage.runtime(**credentials), store, stage.clock)
    application.store = store
    yield application
    worker.close()
    store.close()


@pytest.fixture
def app(stage: Stage) -> Iterator[Any]:
    # Near the wall clock, so that a timestamp is fresh by any clock (before the fix the server read the
    # wall clock) and each malformed header is read as far as it can be.
    stage.clock = FakeClock(datetime.fromtimestamp(NOW, timezone.utc))
    yield from built(stage, webhook_token=HOOK_TOKEN, webhook_hmac_secret=SECRET, api_token=API_TOKEN)


@pytest.fixture
def open_app(stage: Stage) -> Iterator[Any]:
    """No credentials (`serve --no-auth`): the body alone decides."""
    yield from built(stage)


@pytest.mark.parametrize("headers", [
    [(b"x-grafana-alerting-signature", b"ab" * 32), (b"x-grafana-alerting-timestamp", b"17\xb2")],
    [(b"x-grafana-alerting-signature", b"ab" * 32), (b"x-grafana-alerting-timestamp", b"9" * 5000)],
    [(b"x-grafana-alerting-signature", b"\xe9" * 64), (b"x-grafana-alerting-timestamp", STAMP)],
    [(b"x-grafana-alerting-signature", b"zz" * 32), (b"x-grafana-alerting-timestamp", STAMP)],
    [(b"x-notify-signature", b"v1=" + b"\xff" * 64), (b"x-notify-timestamp", STAMP)],
    [(b"x-notify-signature", b"v1=" + b"ab" * 32), (b"x-notify-timestamp", b"\xd9\xa1\xd9\xa2")],
    [(b"x-notify-signature", b"\xe9\xe9"), (b"x-notify-timestamp", STAMP)],
    [(b"authorization", b"Bearer \xe9\xe9\xe9")],
], ids=["timestamp-non-ascii", "timestamp-5000-digits", "signature-non-ascii", "signature-non-hex",
        "v1-non-ascii", "v1-arabic-digits", "body-only-non-ascii", "bearer-non-ascii"])
def test_malformed_auth_headers_get_401_not_500(app: Any, headers: list) -> None:
    status, _, answer = asyncio.run(call(app, "POST", "/hooks/grafana", GRAFANA, headers))
    assert status == 401, answer
    assert app.store.inbox_counts() == (0, 0, 0)


def nested(depth: int) -> bytes:
    return b'{"by": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("action, body, status", [
    ("ack", nested(100_000), 400),
    ("resolve", nested(100_000), 400),
    ("ack", json.dumps({"by": "\ud800"}).encode(), 422),
    ("resolve", json.dumps({"message": "done \udfff"}).encode(), 422),
    ("ack", '{"by": "Support Manager A"}'.encode("utf-16"), 400),
], ids=["ack-nested", "resolve-nested", "ack-lone-surrogate", "resolve-lone-surrogate", "ack-utf16"])
def test_ack_and_resolve_bodies_go_through_the_hooks_json_loader(open_app: Any, action: str, body: bytes,
                                                                 status: int) -> None:
    opened = asyncio.run(call(open_app, "POST", "/hooks/generic", b'{"class": "outage", "summary": "API down"}'))
    incident_id = opened[2]["incident"]
    answer = asyncio.run(call(open_app, "POST", f"/incidents/{incident_id}/{action}", body))
    assert answer[0] == status, answer
    assert answer[2]["field"] == ("body" if status == 400 else "by" if action == "ack" else "message")
    assert open_app.store.incident(incident_id).status == "open"


header_values = st.binary(max_size=80) | st.sampled_from([b"v1=" + b"ab" * 32, b"ab" * 32, STAMP, b"9" * 5000,
                                                          b"Bearer " + b"\xff" * 20, b"v1=", b"-1", b"1e9"])
auth_headers = st.lists(st.tuples(st.sampled_from([b"authorization", b"x-notify-signature", b"x-notify-timestamp",
                                                   b"x-grafana-alerting-signature",
                                                   b"x-grafana-alerting-timestamp"]), header_values), max_size=4)


CLIENTS = itertools.count(1)  # one address per example: the throttle would otherwise answer 429 after ten


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(headers=auth_headers, path=st.sampled_from(["/hooks/grafana", "/hooks/generic", "/incidents", "/healthz",
                                                   "/metrics", "/incidents/OUT-2026-001/resolve"]))
def test_no_auth_header_makes_the_server_answer_5xx(app: Any, headers: list, path: str) -> None:
    method = "GET" if path in ("/incidents", "/healthz", "/metrics") else "POST"
    status, _, answer = asyncio.run(call(app, method, path, GRAFANA, headers, client=f"2001:db8::{next(CLIENTS):x}"))
    assert status in (200, 401) or (path == "/healthz" and status == 503), (status, answer)
