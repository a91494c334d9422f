"""Sending step 0 for real: SMTP to an in-process server, providers through a TLS proxy, an injected clock."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Iterator

import pytest

from dispatcher.store import open_store
from dispatcher.testing.providers import HANG, Reply

from .helpers import SID
from .stage import Stage, make_stage



@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    yield from make_stage(config_dir, tmp_path, monkeypatch)


def outcomes(report) -> dict[tuple[str, str], tuple[str, int]]:
    return {(d.recipient, d.channel): (d.outcome, d.attempts) for d in report.deliveries}


def test_step_zero_reaches_every_recipient_on_every_channel(stage: Stage, rotation_week) -> None:
    stage.start_in(rotation_week)
    report = stage.trigger()
    assert report.exit_status() == 0
    assert outcomes(report) == {
        ("list:security-incident", "email"): ("delivered", 1),
        ("slack:security-alerts", "slack"): ("delivered", 1),
        (rotation_week.primary, "phone"): ("delivered", 1),
        (rotation_week.primary, "sms"): ("delivered", 1),
        ("customer", "email"): ("delivered", 1),
    }
    internal, ack = sorted(stage.smtp.messages, key=lambda m: m["To"] != "security-incident@teamflow.com")
    assert internal["To"] == "security-incident@teamflow.com"
    assert internal["Subject"] == "[URGENT] Security Incident - TeamFlow Customer Data"
    assert "Incident ID: SEC-2024-001" in internal.get_body(("plain",)).get_content()
    assert ack["To"] == "jane@acme.example" and "Unusual admin logins" not in ack.get_body(("plain",)).get_content()
    (call,) = stage.twilio("Calls")
    assert call.form["To"] == "+14155550199" and call.form["From"] == "+15550100000"
    (sms,) = stage.twilio("Messages")
    assert sms.form["To"] == "+14155550199" and "SEC-2024-001" in sms.form["Body"]
    (slack,) = stage.proxy["hooks.slack.com"].requests
    assert slack.path == "/services/T0000/B0000/XXXXXXXX" and "SEC-2024-001" in slack.json["text"]


def test_every_attempt_is_a_log_row(stage: Stage) -> None:
    stage.trigger()
    store = open_store(f"sqlite:///{stage.store_path}")
    rows = store.attempts(incident_id="SEC-2024-001")
    assert len(rows) == 5
    assert {(r.channel, r.outcome, r.attempt, r.klass, r.step) for r in rows} == {
        ("email", "delivered", 1, "security", 0), ("slack", "delivered", 1, "security", 0),
        ("phone", "delivered", 1, "security", 0), ("sms", "delivered", 1, "security", 0)}
    assert {r.masked_target for r in rows if r.channel == "phone"} == {"+14******99"}


def test_second_trigger_of_an_open_id_pages_nobody(stage: Stage) -> None:
    stage.trigger()
    before = (len(stage.smtp.messages), len(stage.proxy.requests))
    again = stage.trigger()
    assert (len(stage.smtp.messages), len(stage.proxy.requests)) == before
    assert again.incident["existing"] is True and "nobody was paged again" in again.notes[0]


def test_allocated_ids_count_per_class_and_year(stage: Stage) -> None:
    first = stage.trigger(incident_id="")
    second = stage.trigger(incident_id="")
    assert (first.incident["id"], second.incident["id"]) == ("SEC-2026-001", "SEC-2026-002")


def test_server_error_is_retried_and_delivered_on_attempt_two(stage: Stage) -> None:
    stage.proxy["hooks.slack.com"].script(Reply(500, "boom"), Reply(200, "ok"))
    report = stage.trigger()
    assert outcomes(report)[("slack:security-alerts", "slack")] == ("delivered", 2)
    assert len(stage.proxy["hooks.slack.com"].requests) == 2
    assert len(stage.clock.sleeps) == 1 and 0 < stage.clock.sleeps[0] <= 2.0  # backoff, on the fake clock
    store = open_store(f"sqlite:///{stage.store_path}")
    slack_rows = [r for r in store.attempts(incident_id="SEC-2024-001") if r.channel == "slack"]
    assert [(r.attempt, r.outcome, r.reason) for r in slack_rows] == [
        (1, "failed-transient", "server-error"), (2, "delivered", "ok")]


def test_rate_limit_waits_for_retry_after_on_the_injected_clock(stage: Stage) -> None:
    stage.proxy["hooks.slack.com"].script(Reply(429, "rate_limited", {"Retry-After": "7"}), Reply(200, "ok"))
    report = stage.trigger()
    assert outcomes(report)[("slack:security-alerts", "slack")] == ("delivered", 2)
    assert stage.clock.sleeps == [7.0]


def test_retry_after_longer_than_the_cap_is_capped(stage: Stage) -> None:
    stage.proxy["hooks.slack.com"].script(Reply(429, "", {"Retry-After": "3600"}), Reply(200, "ok"))
    stage.trigger(retry_max_wait=30.0)
    assert stage.clock.sleeps == [30.0]


def test_transient_failures_stop_after_the_configured_attempts(stage: Stage) -> None:
    stage.proxy["hooks.slack.com"].script(Reply(503, "down"))
    report = stage.trigger(retry_attempts=3)
    assert outcomes(report)[("slack:security-alerts", "slack")] == ("failed-transient", 3)
    assert report.exit_status() == 1 and report.unreached() == ["slack:security-alerts"]


def test_bad_request_fails_at_once_and_the_fallback_channel_is_tried(stage: Stage, rotation_week) -> None:
    stage.start_in(rotation_week)
    primary = rotation_week.primary
    stage.proxy["api.twilio.com"].script(Reply(400, {"code": 21211, "message": "Invalid 'To' Phone Number"}))
    report = stage.trigger()
    got = outcomes(report)
    assert got[(primary, "phone")] == ("failed-permanent", 1)
    assert got[(primary, "sms")] == ("failed-permanent", 1)
    assert got[(primary, "email")] == ("delivered", 1)  # the person's next channel, once
    fallback = next(d for d in report.deliveries if d.channel == "email" and d.recipient == primary)
    assert fallback.fallback_of in (f"{primary}/phone", f"{primary}/sms")
    assert [m["To"] for m in stage.smtp.messages].count(f"{primary}@teamflow.example") == 1
    assert len(stage.twilio("Calls")) == 1 and stage.clock.sleeps == []
    assert report.exit_status() == 0  # the person was reached by the fallback


def test_a_hanging_provider_times_out_without_holding_up_the_others(stage: Stage) -> None:
    stage.proxy["hooks.slack.com"].script(HANG)
    report = stage.trigger(read_timeout=0.3, retry_attempts=2)
    got = outcomes(report)
    # Slack had the request and never answered: it may have posted, so it is not posted again.
    assert got.pop(("slack:security-alerts", "slack")) == ("possibly-delivered", 1)
    assert set(got.values()) == {("delivered", 1)}
    store = open_store(f"sqlite:///{stage.store_path}")
    assert {r.reason for r in store.attempts(incident_id="SEC-2024-001") if r.channel == "slack"} == {"timeout"}


def test_a_broken_template_still_sends_a_plain_notice(stage: Stage) -> None:
    (stage.config_dir / "templates" / "security" / "sms.text.j2").write_text("{{ incident.no_such_field }}")
    report = stage.trigger()
    sms_line = next(d for d in report.deliveries if d.channel == "sms")
    assert sms_line.outcome == "delivered" and "sms.text.j2" in sms_line.warning
    (sms,) = stage.twilio("Messages")
    assert "SEC-2024-001" in sms.form["Body"] and "security" in sms.form["Body"].lower()


def test_a_channel_without_settings_is_a_visible_failure(stage: Stage) -> None:
    report = stage.trigger(sms_url=None)
    sms_line = next(d for d in report.deliveries if d.channel == "sms")
    assert (sms_line.outcome, sms_line.reason) == ("failed-permanent", "not-configured")
    assert stage.twilio("Messages") == [] and len(stage.twilio("Calls")) == 1


def test_drill_marks_messages_and_never_contacts_the_customer(stage: Stage) -> None:
    report = stage.trigger(drill=True)
    assert outcomes(report)[("customer", "email")] == ("skipped", 0)
    assert [m["To"] for m in stage.smtp.messages] == ["security-incident@teamflow.com"]
    assert stage.smtp.messages[0]["Subject"].startswith("[DRILL] ")
    assert stage.twilio("Messages")[0].form["Body"].startswith("[DRILL]")


def test_the_outbound_webhook_gets_every_step_when_configured(stage: Stage) -> None:
    from dispatcher.testing.providers import RecordingServer

    with RecordingServer(Reply(200, "ok")) as hook:
        report = stage.trigger(webhook_url=hook.url + "/notify")
    assert outcomes(report)[("webhook", "webhook")] == ("delivered", 1)
    (request,) = hook.requests
    assert request.json["incident"]["id"] == "SEC-2024-001"


def test_a_canary_secret_never_reaches_output_logs_or_the_store(stage: Stage, caplog) -> None:
    canary = "CANARYSECRET123"
    caplog.set_level(logging.DEBUG)
    # Slack echoes the request path (which holds the secret) in an error body.
    stage.proxy["hooks.slack.com"].script(Reply(500, body=lambda request: f"bad hook {request.path}"),
                                          Reply(200, "ok"))
    stage.proxy["api.twilio.com"].script(Reply(401, {"code": 20003, "message": f"Authenticate {canary}"}))
    report = stage.trigger(
        slack_url=f"https://hooks.slack.com/services/T0000/B0000/{canary}",
        sms_url=f"twilio://{SID}:{canary}@+15550100000",
        phone_url=f"twilio://{SID}:{canary}@+15550100000?method=call",
        email_url=stage.smtp.url(password=canary, user="notify", **{"from": "notify@teamflow.example"}))
    dump = "\n".join(sqlite3.connect(stage.store_path).iterdump())
    assert canary not in report.to_json() + report.table()
    assert canary not in dump
    assert canary not in caplog.text
    assert "failed-permanent" in json.dumps(report.as_json())  # the 401 really happened
