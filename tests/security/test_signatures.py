"""A signature is bound to its request: method, path, timestamp and body; a replay changes nothing.

Each test is an attack that worked before: a signed body re-posted to another route, an HMAC of
the empty body opening the API, a signed trigger re-sent after its incident was resolved.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest
import requests

from dispatcher.clock import FakeClock

from ..stage import Stage
from ..test_server import PAYLOADS, Server, alertmanager, sent
from . import signing

HOOK_TOKEN = "monitoring-hook-token-0001"
SECRET = "shared-hmac-secret-00000001"
API_TOKEN = "operator-api-token-00000001"
OUTAGE = json.dumps({"class": "outage", "summary": "API returns 503 for all tenants"}).encode()


@pytest.fixture
def server(stage: Stage) -> Iterator[Server]:
    srv = Server(stage, webhook_token=HOOK_TOKEN, webhook_hmac_secret=SECRET, api_token=API_TOKEN)
    yield srv
    srv.stop()


def now(stage: Stage) -> int:
    return int(stage.clock.now().timestamp())


def open_incident(server: Server) -> str:
    answer = server.post("/hooks/generic", OUTAGE, token=HOOK_TOKEN)
    assert answer.status_code == 202, answer.text
    server.worker.tick()
    return answer.json()["incident"]


@pytest.mark.parametrize("stamped", [False, True], ids=["grafana-body-only", "grafana-with-timestamp"])
def test_a_grafana_signed_alert_reposted_to_resolve_resolves_nothing(stage: Stage, stamped: bool) -> None:
    # Near the wall clock: the timestamp must be fresh by any clock (before the fix, the server read the wall
    # clock), so that only the route can make the difference.
    stage.clock = FakeClock(datetime.fromtimestamp(int(time.time()), timezone.utc))
    server = Server(stage, webhook_token=HOOK_TOKEN, webhook_hmac_secret=SECRET, api_token=API_TOKEN)
    try:
        incident_id = open_incident(server)
        before = sent(stage)
        body = (PAYLOADS / "grafana-firing.json").read_bytes()  # has a "message": once enough to resolve
        headers = signing.grafana(SECRET, body, now(stage) if stamped else None)
        answer = server.post(f"/incidents/{incident_id}/resolve", body, token=None, **headers)
        assert answer.status_code == 401, answer.text
        server.worker.tick()
        assert server.store.incident(incident_id).status == "open" and sent(stage) == before
    finally:
        server.stop()


def test_an_hmac_of_the_empty_body_opens_no_part_of_the_api(server: Server, stage: Stage) -> None:
    incident_id = open_incident(server)
    before = sent(stage)
    empty = signing.body_only(SECRET, b"")
    assert server.get("/incidents", token=None).status_code == 401
    for path in ("/incidents", f"/incidents/{incident_id}"):
        answer = requests.get(server.url + path, headers=empty, timeout=10)
        assert answer.status_code == 401, (path, answer.text)
    resolve = server.post(f"/incidents/{incident_id}/resolve", b"", token=None, **empty)
    assert resolve.status_code == 401
    v1_of_empty = signing.v1(SECRET, "POST", f"/incidents/{incident_id}/resolve", now(stage), b"")
    assert server.post(f"/incidents/{incident_id}/resolve", b"", token=None, **v1_of_empty).status_code == 401
    server.worker.tick()
    assert server.store.incident(incident_id).status == "open" and sent(stage) == before


def test_a_signed_trigger_resent_after_its_incident_was_resolved_opens_nothing_and_pages_nobody(
        server: Server, stage: Stage) -> None:
    headers = signing.v1(SECRET, "POST", "/hooks/generic", now(stage), OUTAGE)
    first = server.post("/hooks/generic", OUTAGE, token=None, **headers)
    assert first.status_code == 202, first.text
    incident_id = first.json()["incident"]
    server.worker.tick()
    resolved = server.post(f"/incidents/{incident_id}/resolve", {"message": "fixed"}, token=API_TOKEN)
    assert resolved.status_code == 200 and resolved.json()["resolved"] is True
    for _ in range(20):  # everything sent, paced routes included (one Slack post or Twilio call a second)
        server.worker.tick()
        stage.clock.advance(timedelta(seconds=1))
    before = sent(stage)

    stage.clock.advance(timedelta(minutes=2))  # within the 5 minutes a timestamp is good for
    again = server.post("/hooks/generic", OUTAGE, token=None, **headers)
    assert again.status_code == 202
    assert again.json() == {**first.json(), "duplicate": True}  # the first answer, marked
    server.worker.tick()
    assert [row.id for row in server.store.incidents()] == [incident_id] and sent(stage) == before


def test_a_signature_for_one_path_is_refused_on_another(server: Server, stage: Stage) -> None:
    headers = signing.v1(SECRET, "POST", "/hooks/generic", now(stage), OUTAGE)
    answer = server.post("/hooks/alertmanager", OUTAGE, token=None, **headers)
    assert answer.status_code == 401 and server.store.inbox_counts() == (0, 0, 0)


def test_a_timestamp_more_than_five_minutes_off_is_refused_either_way(server: Server, stage: Stage) -> None:
    signed_at = now(stage)
    headers = signing.v1(SECRET, "POST", "/hooks/generic", signed_at, OUTAGE)
    stage.clock.advance(timedelta(minutes=5, seconds=1))
    late = server.post("/hooks/generic", OUTAGE, token=None, **headers)
    assert late.status_code == 401 and "5 minutes" in late.json()["error"]
    ahead = signing.v1(SECRET, "POST", "/hooks/generic", now(stage) + 301, OUTAGE)
    assert server.post("/hooks/generic", OUTAGE, token=None, **ahead).status_code == 401
    edge = signing.v1(SECRET, "POST", "/hooks/generic", now(stage) - 300, OUTAGE)
    assert server.post("/hooks/generic", OUTAGE, token=None, **edge).status_code == 202
    assert len(server.store.incidents()) == 1


def test_a_body_only_signature_is_refused_naming_the_new_scheme(server: Server, stage: Stage) -> None:
    answer = server.post("/hooks/generic", OUTAGE, token=None, **signing.body_only(SECRET, OUTAGE))
    assert answer.status_code == 401
    assert "X-Notify-Timestamp" in answer.json()["error"] and "v1=" in answer.json()["error"]
    assert server.store.incidents() == []


def test_a_v1_signature_without_its_timestamp_is_refused(server: Server, stage: Stage) -> None:
    headers = signing.v1(SECRET, "POST", "/hooks/generic", now(stage), OUTAGE)
    del headers["X-Notify-Timestamp"]
    assert server.post("/hooks/generic", OUTAGE, token=None, **headers).status_code == 401


def test_grafana_signature_only_on_the_grafana_hook_and_only_with_its_timestamp(server: Server,
                                                                                 stage: Stage) -> None:
    body = (PAYLOADS / "grafana-firing.json").read_bytes()
    assert server.post("/hooks/grafana", body, token=None, **signing.grafana(SECRET, body)).status_code == 401
    generic = server.post("/hooks/generic", OUTAGE, token=None, **signing.grafana(SECRET, OUTAGE, now(stage)))
    assert generic.status_code == 401 and "/hooks/grafana only" in generic.json()["error"]
    good = server.post("/hooks/grafana", body, token=None, **signing.grafana(SECRET, body, now(stage)))
    assert good.status_code == 202, good.text


def test_resends_of_signed_alertmanager_and_grafana_hooks_are_answered_as_before_and_store_nothing(
        server: Server, stage: Stage) -> None:
    body = json.dumps(alertmanager()).encode()
    headers = signing.v1(SECRET, "POST", "/hooks/alertmanager", now(stage), body)
    first = server.post("/hooks/alertmanager", body, token=None, **headers)
    again = server.post("/hooks/alertmanager", body, token=None, **headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == {**first.json(), "duplicate": True}
    grafana_body = (PAYLOADS / "grafana-firing.json").read_bytes()
    grafana_headers = signing.grafana(SECRET, grafana_body, now(stage))
    for _ in range(2):
        assert server.post("/hooks/grafana", grafana_body, token=None, **grafana_headers).status_code == 202
    assert server.store.inbox_counts()[0] == 2  # one of each


def test_the_replay_record_is_in_the_store_so_another_instance_refuses_the_replay_too(
        server: Server, stage: Stage) -> None:
    other = Server(stage, webhook_token=HOOK_TOKEN, webhook_hmac_secret=SECRET, api_token=API_TOKEN)
    try:
        headers = signing.v1(SECRET, "POST", "/hooks/generic", now(stage), OUTAGE)
        first = server.post("/hooks/generic", OUTAGE, token=None, **headers)
        planned = server.store.deliveries(first.json()["incident"])
        replay = other.post("/hooks/generic", OUTAGE, token=None, **headers)
        assert replay.json() == {**first.json(), "duplicate": True}
        assert len(server.store.incidents()) == 1 and server.store.deliveries(first.json()["incident"]) == planned
    finally:
        other.stop()


def test_a_hook_credential_cannot_ack_resolve_or_list(stage: Stage) -> None:
    srv = Server(stage, webhook_token=HOOK_TOKEN, webhook_hmac_secret=SECRET)  # no NOTIFY_API_TOKEN
    try:
        incident_id = open_incident(srv)
        for answer in (srv.get("/incidents", token=HOOK_TOKEN), srv.get(f"/incidents/{incident_id}", token=HOOK_TOKEN),
                       srv.post(f"/incidents/{incident_id}/ack", {"by": "Support Manager A"}, token=HOOK_TOKEN),
                       srv.post(f"/incidents/{incident_id}/resolve", {}, token=HOOK_TOKEN)):
            assert answer.status_code == 403 and "set NOTIFY_API_TOKEN" in answer.json()["error"], answer.text
        assert srv.store.incident(incident_id).status == "open"
    finally:
        srv.stop()


def test_with_an_api_token_set_the_hook_token_is_still_refused_and_the_api_token_posts_no_hook(
        server: Server) -> None:
    incident_id = open_incident(server)
    assert server.post(f"/incidents/{incident_id}/ack", {"by": "x"}, token=HOOK_TOKEN).status_code == 401
    assert server.post("/hooks/generic", OUTAGE, token=API_TOKEN).status_code == 401
    ack = server.post(f"/incidents/{incident_id}/ack", {"by": "Support Manager A"}, token=API_TOKEN)
    assert ack.status_code == 200 and ack.json()["acknowledged"] is True


def test_each_token_setting_takes_two_values_for_rotation(stage: Stage) -> None:
    old_hook, new_hook = "old-monitoring-token-0001", "new-monitoring-token-0002"
    old_api, new_api = "old-operator-token-00001", "new-operator-token-00002"
    srv = Server(stage, webhook_token=f"{old_hook},{new_hook}", api_token=f"{new_api}, {old_api}")
    try:
        for token in (old_hook, new_hook):
            assert srv.post("/hooks/generic", {"summary": f"from {token[:3]}"}, token=token).status_code == 202
        for token in (old_api, new_api):
            assert srv.get("/incidents", token=token).status_code == 200
        assert srv.post("/hooks/generic", {"summary": "x"}, token=f"{old_hook},{new_hook}").status_code == 401
    finally:
        srv.stop()


def test_repeated_failed_authentications_from_one_address_are_slowed_counted_and_never_block_a_page(server: Server,
                                                                                 stage: Stage) -> None:
    for attempt in range(10):
        assert server.post("/hooks/generic", OUTAGE, token=f"guess-number-{attempt:010d}").status_code == 401
    slowed = server.post("/hooks/generic", OUTAGE, token="guess-number-0000000011")
    assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) > 0
    assert server.store.incidents() == []
    # Monitoring behind the same address (one proxy) still pages: only failures are slowed.
    assert server.post("/hooks/generic", OUTAGE, token=HOOK_TOKEN).status_code == 202
    metrics = server.get("/metrics", token=None).text
    assert 'notify_auth_failures_total{access="hook"} 11.0' in metrics
    assert 'notify_rejected_requests_total{status="429"} 1.0' in metrics
    stage.clock.advance(timedelta(seconds=61))
    assert server.post("/hooks/generic", OUTAGE, token="guess-number-0000000012").status_code == 401  # a new window
