"""`notify escalate-now` and `notify ack` as typed, and what `notify check` says of NOTIFY_PUBLIC_URL."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from .helpers import run

TRIGGER = ["security", "--incident", "SEC-2024-001", "--customer", "Acme Corp", "--summary", "Unusual admin logins"]


def started_at() -> datetime:
    doc = json.loads(run("status", "SEC-2024-001", "--json").stdout)
    return datetime.fromisoformat(doc["incident"]["started"])


def test_escalate_now_pages_the_next_stage_and_the_timers_count_from_it(providers) -> None:
    _, proxy, _ = providers
    run(*TRIGGER)
    fired = run("escalate-now", "SEC-2024-001", "--by", "Support Manager A", "--json")
    assert fired.exit_code == 0, fired.stdout + fired.stderr
    report = json.loads(fired.stdout)
    assert "escalation stage 1 (rotation:secondary) fired by Support Manager A" in report["notes"][0]
    [(secondary, outcome)] = {(d["recipient"], d["outcome"]) for d in report["deliveries"]}
    assert secondary in ("engineering-manager-a", "engineering-manager-b") and outcome == "delivered"  # on duty
    calls = [r.form["To"] for r in proxy["api.twilio.com"].requests if r.path.endswith("/Calls.json")]
    assert "+14155550188" in calls  # the secondary's shared number, at once
    doc = json.loads(run("status", "SEC-2024-001", "--json").stdout)
    [next_stage] = [n for n in doc["next_due"] if n["kind"] == "escalation"][:1]
    t_escalated = datetime.fromisoformat(next(e["at"] for e in doc["timeline"] if e["kind"] == "escalated"))
    assert datetime.fromisoformat(next_stage["at"]) == t_escalated + timedelta(minutes=15)  # stage 2, from now
    second = run("escalate-now", "SEC-2024-001", "--by", "Support Manager A")
    assert second.exit_code == 0 and "escalation stage 2 (rotation:escalation)" in second.stdout


def test_ack_says_how_many_queued_pages_it_kept_from_being_sent(providers, monkeypatch) -> None:
    # unpaced: `worker --once --at` stands the clock still, so a paced route's second call never gets its turn
    monkeypatch.setenv("NOTIFY_RATE_LIMITS", '{"twilio": "off", "slack": "off"}')
    run(*TRIGGER)
    t0 = started_at()
    # +15's pages planned by a worker on a made-up time... then acknowledged before any is retried
    run("worker", "--once", "--yes", "--at", (t0 + timedelta(minutes=16)).isoformat())
    ack = run("ack", "SEC-2024-001", "--by", "Support Manager A", "--json")
    doc = json.loads(ack.stdout)
    assert doc["acknowledged"] and doc["via"] == "cli" and doc["cancelled"] == []  # all sent already: none queued
    [event] = [e for e in json.loads(run("status", "SEC-2024-001", "--json").stdout)["timeline"]
               if e["kind"] == "acknowledged"]
    assert event["detail"] == "acknowledged by Support Manager A via cli"
    refused = run("escalate-now", "SEC-2024-001", "--by", "Support Manager A")
    assert refused.exit_code == 2 and "acknowledged" in refused.stdout + refused.stderr


def test_check_says_what_a_public_url_would_enable_and_what_is_wrong_with_one(providers, monkeypatch) -> None:
    unset = run("check")
    assert "NOTIFY_PUBLIC_URL" in unset.stdout and "action links" in unset.stdout and unset.exit_code == 0
    monkeypatch.setenv("NOTIFY_PUBLIC_URL", "http://notify.teamflow.example")
    monkeypatch.setenv("NOTIFY_LINK_SECRET", "short")
    checked = run("check")
    assert "is http://" in checked.stdout and "NOTIFY_LINK_SECRET" in checked.stdout
    assert "short" not in checked.stdout.replace("shorter", "")  # a secret is never quoted back
    assert checked.exit_code == 2


def test_check_says_which_provider_callbacks_are_on_and_why_the_others_are_off(providers, monkeypatch) -> None:
    monkeypatch.setenv("NOTIFY_PUBLIC_URL", "https://notify.teamflow.example")
    monkeypatch.setenv("NOTIFY_PAGERDUTY_WEBHOOK_SECRET", "pd-webhook-secret-0123456789")
    checked = run("check")
    out = " ".join(checked.stdout.split())
    assert "provider callbacks on: twilio-sms (https://notify.teamflow.example/providers/twilio/sms)" in out
    assert "pagerduty (https://notify.teamflow.example/providers/pagerduty)" in out
    assert "/providers/slack/actions: off (answers 404): NOTIFY_SLACK_SIGNING_SECRET is unset" in out
    assert "pd-webhook-secret-0123456789" not in checked.stdout + checked.stderr
