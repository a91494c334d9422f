"""Slack buttons over real HTTP: personal Slack pages carry them, and a press acts as its presser.

Requests are signed as Slack signs them (checked against slack_sdk's own SignatureVerifier); the
original message is updated through its response_url, which the provider stand-in (a local server
behind the TLS proxy) records, so the exact JSON is asserted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from slack_sdk.signature import SignatureVerifier

from dispatcher.server.slack_actions import MAX_AGE, slack_signature
from dispatcher.testing.providers import Reply

from .stage import Stage, make_stage
from .test_server import API_TOKEN, TOKEN, Server

PUBLIC = "https://notify.teamflow.example"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT = "slack://xoxb-1111-2222-BotTokenSecret/"
ACTIONS = "/providers/slack/actions"
INCIDENT = "TEC-2024-007"
SPECIALIST = "U0STS00001"  # Senior Technical Specialist 1 in the shipped contacts.toml
RESPONSE_URL = "https://hooks.slack.com/actions/T0000/1234567890/AbCdEf"
FIELDS = {"summary": "Partner API returns 500s"}


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    yield from make_stage(config_dir, tmp_path, monkeypatch)


SETTINGS = {"public_url": PUBLIC, "slack_url": BOT, "slack_signing_secret": SIGNING_SECRET}


@pytest.fixture
def server(stage: Stage) -> Iterator[Server]:
    stage.proxy["slack.com"].script(Reply(200, {"ok": True, "channel": "D0STS0001", "ts": "1717761234.000300"}))
    srv = Server(stage, webhook_token=TOKEN, api_token=API_TOKEN, **SETTINGS)
    yield srv
    srv.stop()


def trigger(stage: Stage) -> None:
    stage.trigger(INCIDENT, "technical", fields=FIELDS, **SETTINGS)


class Clock:
    """slack_sdk's verifier reads the time through an object with now(): the stage's fake clock."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage

    def now(self) -> float:
        return self.stage.clock.now().timestamp()


def press(server: Server, stage: Stage, action: str = "ack", *, user: str = SPECIALIST, secret: str = SIGNING_SECRET,
          timestamp: int | None = None, message: dict | None = None) -> tuple[requests.Response, str]:
    """Press a button as Slack posts it: a form with one `payload` field, signed v0 by slack_sdk."""
    payload = {"type": "block_actions", "user": {"id": user, "username": "someone", "team_id": "T0000"},
               "api_app_id": "A0NOTIFY", "trigger_id": "1.2.3", "response_url": RESPONSE_URL,
               "container": {"type": "message", "message_ts": "1717761234.000300", "channel_id": "D0STS0001"},
               "message": message if message is not None else {"text": "TEC-2024-007 page", "blocks": [
                   {"type": "section", "block_id": "b1", "text": {"type": "mrkdwn", "text": "TEC-2024-007 page"}},
                   {"type": "actions", "block_id": "notify.actions", "elements": []}]},
               "actions": [{"type": "button", "action_id": f"notify.{action}", "block_id": "notify.actions",
                            "value": INCIDENT, "action_ts": "1717761300.000100"}]}
    body = "payload=" + requests.utils.quote(json.dumps(payload))
    ts = str(timestamp if timestamp is not None else int(stage.clock.now().timestamp()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    answer = requests.post(server.url + ACTIONS, data=body.encode(), timeout=10, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature})
    return answer, signature


def responses(stage: Stage) -> list:
    return [r for r in stage.proxy["hooks.slack.com"].requests if r.path.startswith("/actions/")]


def test_our_signature_check_agrees_with_slack_sdks(stage: Stage) -> None:
    from dispatcher.server.http_error import HTTPError
    from dispatcher.server.slack_actions import verify_slack

    verifier = SignatureVerifier(SIGNING_SECRET, clock=Clock(stage))
    now = int(Clock(stage).now())
    body = b"payload=%7B%22type%22%3A%22block_actions%22%7D"
    cases = [(str(now), slack_signature(SIGNING_SECRET, str(now), body)),
             (str(now - MAX_AGE), slack_signature(SIGNING_SECRET, str(now - MAX_AGE), body)),
             (str(now - MAX_AGE - 1), slack_signature(SIGNING_SECRET, str(now - MAX_AGE - 1), body)),
             (str(now), slack_signature("another-secret", str(now), body)),
             (str(now), "v0=" + "0" * 64)]
    assert cases[0][1] == verifier.generate_signature(timestamp=str(now), body=body.decode())
    for timestamp, signature in cases:
        theirs = verifier.is_valid(body.decode(), timestamp, signature)
        try:
            verify_slack(SIGNING_SECRET, {"x-slack-request-timestamp": timestamp, "x-slack-signature": signature},
                         body, now)
            ours = True
        except HTTPError as exc:
            assert exc.status == 403
            ours = False
        assert ours == theirs, (timestamp, signature)


def test_a_personal_slack_page_carries_the_buttons_and_the_channel_message_none(server: Server, stage: Stage) -> None:
    trigger(stage)
    posted = [r.json for r in stage.proxy["slack.com"].requests if r.path == "/api/chat.postMessage"]
    [dm] = [m for m in posted if m["channel"] == SPECIALIST]
    assert dm["blocks"][-1] == {"type": "actions", "block_id": "notify.actions", "elements": [
        {"type": "button", "action_id": "notify.ack", "text": {"type": "plain_text", "text": "Acknowledge",
                                                                 "emoji": False},
         "value": INCIDENT, "style": "primary"},
        {"type": "button", "action_id": "notify.escalate", "text": {"type": "plain_text", "text": "Escalate",
                                                                      "emoji": False}, "value": INCIDENT},
        {"type": "button", "action_id": "notify.resolve", "text": {"type": "plain_text", "text": "Resolve",
                                                                     "emoji": False}, "value": INCIDENT}]}
    others = [m for m in posted if m["channel"] != SPECIALIST]
    assert others and all(b["type"] != "actions" for m in others for b in m.get("blocks", []))


def test_without_the_signing_secret_a_slack_page_has_no_buttons(stage: Stage) -> None:
    stage.proxy["slack.com"].script(Reply(200, {"ok": True, "channel": "D0STS0001", "ts": "1.2"}))
    stage.trigger(INCIDENT, "technical", fields=FIELDS, public_url=PUBLIC, slack_url=BOT)
    [dm] = [r.json for r in stage.proxy["slack.com"].requests if r.json["channel"] == SPECIALIST]
    assert all(b["type"] != "actions" for b in dm["blocks"]) and PUBLIC + "/a/" in json.dumps(dm)


def test_acknowledge_acts_as_the_presser_and_replaces_the_buttons_with_who_did_it(
        server: Server, stage: Stage) -> None:
    trigger(stage)
    answer, _ = press(server, stage, "ack")
    assert answer.status_code == 200
    row = server.store.incident(INCIDENT)
    assert (row.status, row.acked_by) == ("acknowledged", "Senior Technical Specialist 1")
    [ack] = [e for e in server.store.events(INCIDENT) if e.kind == "acknowledged"]
    assert ack.detail == "acknowledged by Senior Technical Specialist 1 via slack"
    at = stage.clock.now().strftime("%H:%M")
    [update] = responses(stage)
    assert update.path == "/actions/T0000/1234567890/AbCdEf"
    assert update.json == {"replace_original": True,
                           "text": f"TEC-2024-007 page\nAcknowledged by Senior Technical Specialist 1 at {at} UTC",
                           "blocks": [{"type": "section", "block_id": "b1",
                                       "text": {"type": "mrkdwn", "text": "TEC-2024-007 page"}},
                                      {"type": "context", "elements": [{"type": "mrkdwn", "text":
                                       f"*Acknowledged by Senior Technical Specialist 1 at {at} UTC*"}]}]}


def test_escalate_is_told_to_the_presser_alone_and_a_replay_changes_nothing(server: Server, stage: Stage) -> None:
    trigger(stage)
    answer, _ = press(server, stage, "escalate")
    assert answer.status_code == 200
    [told] = responses(stage)
    assert told.json["response_type"] == "ephemeral" and told.json["replace_original"] is False
    assert told.json["text"].startswith("Escalated by Senior Technical Specialist 1 at ")
    escalated = [e.key for e in server.store.events(INCIDENT) if e.kind == "escalated"]
    assert len(escalated) == 1
    # the same signed request again, within the 5 minutes: answered, nothing done, nothing posted
    payload_body = answer.request.body
    again = requests.post(server.url + ACTIONS, data=payload_body, headers=dict(answer.request.headers), timeout=10)
    assert again.status_code == 200
    assert [e.key for e in server.store.events(INCIDENT) if e.kind == "escalated"] == escalated
    assert len(responses(stage)) == 1


def test_an_unknown_slack_user_changes_nothing_and_is_told_so(server: Server, stage: Stage) -> None:
    trigger(stage)
    answer, _ = press(server, stage, "ack", user="U0NOBODY01")
    assert answer.status_code == 200
    assert server.store.incident(INCIDENT).status == "open"
    [told] = responses(stage)
    assert told.json == {"response_type": "ephemeral", "replace_original": False, "text": (
        "Your Slack account (U0NOBODY01) is not a person in notify's contacts.toml, so notify cannot record who "
        "acted: nothing changed. Ask the on-call admin to add your Slack id.")}


@pytest.mark.parametrize("how", ["stale", "future", "wrong secret"])
def test_a_stale_or_forged_press_is_refused_and_changes_nothing(server: Server, stage: Stage, how: str) -> None:
    trigger(stage)
    now = int(stage.clock.now().timestamp())
    if how == "stale":  # a captured request replayed 5 minutes and a second later
        answer, _ = press(server, stage, "ack", timestamp=now - MAX_AGE - 1)
    elif how == "future":
        answer, _ = press(server, stage, "ack", timestamp=now + MAX_AGE + 1)
    else:
        answer, _ = press(server, stage, "ack", secret="not-the-signing-secret")
    assert answer.status_code == 403 and "nothing was done" in answer.json()["error"]
    assert SIGNING_SECRET not in answer.text
    assert server.store.incident(INCIDENT).status == "open" and responses(stage) == []


def test_a_refused_press_is_logged_without_its_body_or_the_secret(server: Server, stage: Stage, caplog) -> None:
    trigger(stage)
    with caplog.at_level("DEBUG"):
        answer, signature = press(server, stage, "ack", secret="not-the-signing-secret")
    assert answer.status_code == 403
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "refused a Slack callback: its X-Slack-Signature does not match" in logged
    assert SIGNING_SECRET not in logged and signature not in logged and "block_actions" not in logged


@pytest.mark.parametrize("timestamp", ["²", "１７", "", "1" * 13])
def test_a_timestamp_that_is_not_ascii_digits_is_refused_403_not_a_crash(timestamp: str) -> None:
    """str.isdigit() takes '²' and fullwidth digits, which int() then refuses: anyone could turn that into a 500."""
    from dispatcher.server.http_error import HTTPError
    from dispatcher.server.slack_actions import verify_slack

    with pytest.raises(HTTPError) as refused:
        verify_slack(SIGNING_SECRET, {"x-slack-request-timestamp": timestamp, "x-slack-signature": "v0=x"},
                     b"payload=%7B%7D", 1_800_000_000)
    assert refused.value.status == 403
