"""PagerDuty's v3 webhooks over real HTTP: an incident acknowledged or resolved in PagerDuty is so in notify.

The security page to the primary goes to PagerDuty (the phone channel's URL is PagerDuty's), under the
dedup key SEC-2024-001/0/support-manager-a; PagerDuty's incident carries it as its incident_key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from dispatcher.testing.providers import Reply

from .helpers import replace_in
from .stage import Stage, make_stage
from .test_server import API_TOKEN, TOKEN, Server

PUBLIC = "https://notify.teamflow.example"
SECRET = "pd-webhook-secret-0123456789abcdef"
KEY = "DEFAULTSERV1CEKEY0123456789abcde"
PAGE_KEY = "SEC-2024-001/0/support-manager-a"  # Support Manager A is the primary on the stage's clock
PD = "/providers/pagerduty"
SETTINGS = {"public_url": PUBLIC, "pagerduty_webhook_secret": SECRET, "phone_url": f"pagerduty://{KEY}@restApiKey"}


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    replace_in(config_dir / "contacts.toml", 'slack = "U0SUP0000A"\n',
               'slack = "U0SUP0000A"\npagerduty_user_id = "PSMA001"\n')
    yield from make_stage(config_dir, tmp_path, monkeypatch)


@pytest.fixture
def server(stage: Stage) -> Iterator[Server]:
    stage.proxy["events.pagerduty.com"].script(Reply(202, {"status": "success", "message": "Event processed"}))
    srv = Server(stage, webhook_token=TOKEN, api_token=API_TOKEN, **SETTINGS)
    stage.trigger(**SETTINGS)
    yield srv
    srv.stop()


def webhook(event_type: str, incident_key: str = PAGE_KEY, agent: str | None = "PSMA001",
            event_id: str = "01DEN2BJF2R8BLMCV6HOT3V2M6") -> bytes:
    """A v3 webhook as PagerDuty sends it (the fields notify reads, and some it does not)."""
    return json.dumps({"event": {
        "id": event_id, "event_type": event_type, "resource_type": "incident",
        "occurred_at": "2026-12-07T17:05:00.000Z",
        "agent": {"id": agent, "type": "user_reference", "summary": "Someone",
                  "html_url": f"https://acme.pagerduty.com/users/{agent}"} if agent else None,
        "client": None,
        "data": {"id": "Q2HOTGMYW1RZ0K", "type": "incident", "number": 42, "status": event_type.split(".")[1],
                 "incident_key": incident_key, "title": "SEC-2024-001 Security incident",
                 "service": {"id": "PSERV01", "type": "service_reference"}}}}).encode()


def sign(body: bytes, secret: str = SECRET) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(server: Server, body: bytes, signature: str | None = None) -> requests.Response:
    return requests.post(server.url + PD, data=body, timeout=10, headers={
        "Content-Type": "application/json", "X-PagerDuty-Signature": signature or sign(body)})


def pd_events(stage: Stage) -> list[dict]:
    return [r.json for r in stage.proxy["events.pagerduty.com"].requests]


def test_acknowledged_in_pagerduty_acknowledges_as_the_person_with_that_user_id(server: Server, stage: Stage) -> None:
    assert [(e["event_action"], e["dedup_key"]) for e in pd_events(stage)] == [("trigger", PAGE_KEY)]
    answer = post(server, webhook("incident.acknowledged"))
    assert answer.status_code == 200
    assert answer.json() == {"schema": 1, "message": "SEC-2024-001 acknowledged by Support Manager A via pagerduty",
                             "duplicate": False}
    row = server.store.incident("SEC-2024-001")
    assert (row.status, row.acked_by) == ("acknowledged", "Support Manager A")
    [ack] = [e for e in server.store.events("SEC-2024-001") if e.kind == "acknowledged"]
    assert ack.detail == "acknowledged by Support Manager A via pagerduty"
    again = post(server, webhook("incident.acknowledged"))  # PagerDuty delivers at least once
    assert again.json()["duplicate"] is True and again.json()["message"] == answer.json()["message"]


def test_resolved_in_pagerduty_by_someone_unknown_is_recorded_as_their_pagerduty_user(
        server: Server, stage: Stage) -> None:
    answer = post(server, webhook("incident.resolved", agent="PXYZ999", event_id="E2"))
    assert answer.json()["message"] == "SEC-2024-001 resolved by PagerDuty user PXYZ999 in PagerDuty"
    assert server.store.incident("SEC-2024-001").status == "resolved"
    [resolved] = [e for e in server.store.events("SEC-2024-001") if e.kind == "resolved"]
    assert resolved.by == "PagerDuty user PXYZ999"
    server.worker.tick()  # and PagerDuty's other pages of it are resolved there: here, the one it took
    assert pd_events(stage)[1:] == [{"routing_key": KEY, "event_action": "resolve", "dedup_key": PAGE_KEY}]


def test_other_events_and_keys_notify_never_sent_change_nothing(server: Server, stage: Stage) -> None:
    ignored = post(server, webhook("incident.annotated", event_id="E3"))
    assert ignored.json()["message"] == "incident.annotated: not an event notify acts on"
    for key in ("SEC-2024-001/0/ceo", "SEC-2024-999/0/support-manager-a", "", "something-else"):
        answer = post(server, webhook("incident.acknowledged", incident_key=key, event_id=f"E-{key}"))
        assert answer.status_code == 200 and "is no page notify sent: nothing changed" in answer.json()["message"]
    assert server.store.incident("SEC-2024-001").status == "open"


@pytest.mark.parametrize("how", ["wrong secret", "body changed", "no header", "one of two during a rotation"])
def test_the_signature_decides(server: Server, stage: Stage, how: str) -> None:
    body = webhook("incident.acknowledged")
    signature = {"wrong secret": sign(body, "another-secret"), "body changed": sign(body + b" "),
                 "no header": "", "one of two during a rotation": f"{sign(body, 'old-secret')},{sign(body)}"}[how]
    answer = requests.post(server.url + PD, data=body, timeout=10,
                           headers={"X-PagerDuty-Signature": signature} if signature else {})
    if how == "one of two during a rotation":
        assert answer.status_code == 200 and server.store.incident("SEC-2024-001").status == "acknowledged"
        return
    assert answer.status_code == 403 and "X-PagerDuty-Signature does not match" in answer.json()["error"]
    assert SECRET not in answer.text
    assert server.store.incident("SEC-2024-001").status == "open"
