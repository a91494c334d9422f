"""A person on Slack: a direct message with a bot token; with an incoming webhook, only a mention in its channel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dispatcher.testing.providers import Reply

from .helpers import replace_in, run

TRIGGER = ["technical", "--incident", "TEC-2024-007", "--summary", "Partner API returns 500s", "--json"]
SPECIALIST = "senior-tech-1"  # the directory's Senior Technical Specialist: Slack U0STS00001, then email


def deliveries_to(doc: dict, person: str) -> dict[str, str]:
    return {d["channel"]: d["outcome"] for d in doc["deliveries"] if d["recipient"] == person}


def test_a_webhook_mention_is_posted_not_delivered_and_the_fallback_reaches_the_person(providers) -> None:
    smtp, proxy, _ = providers
    result = run(*TRIGGER)
    doc = json.loads(result.stdout)
    mention = next(r for r in proxy["hooks.slack.com"].requests if "<@" in r.json["text"])
    assert mention.json["text"].startswith("<@U0STS00001> ")
    assert mention.path == "/services/T0000/B0000/XXXXXXXX"  # the webhook's own channel: all a webhook can do
    assert deliveries_to(doc, SPECIALIST) == {"slack": "posted", "email": "delivered"}
    assert [m["To"] for m in smtp.messages if "senior-tech-1" in m["To"]] == ["senior-tech-1@teamflow.example"]
    assert (result.exit_code, doc["summary"]["reached_all"], doc["summary"]["posted"]) == (0, True, 1)
    log = json.loads(run("log", "--incident", "TEC-2024-007", "--json").stdout)["attempts"]
    assert {a["outcome"] for a in log if a["recipient"] == SPECIALIST and a["channel"] == "slack"} == {"posted"}


@pytest.mark.slow
def test_someone_reachable_only_by_a_webhook_mention_is_not_reached(providers, config_dir: Path,
                                                                     monkeypatch) -> None:
    replace_in(config_dir / "contacts.toml", 'slack = "U0STS00001"\nchannels = ["slack", "email"]',
               'slack = "U0STS00001"\nchannels = ["slack"]')
    monkeypatch.setenv("NOTIFY_CONFIG_DIR", str(config_dir))
    check = json.loads(run("check", "--json").stdout)["problems"]
    (warned,) = [p for p in check if p["key"] == f"people.{SPECIALIST}.channels"]
    assert warned["severity"] == "warning" and "incoming webhook" in warned["message"]

    result = run(*TRIGGER)
    doc = json.loads(result.stdout)
    assert deliveries_to(doc, SPECIALIST) == {"slack": "posted"}
    assert (result.exit_code, doc["summary"]["reached_all"], doc["summary"]["unreached"]) == (1, False, [SPECIALIST])
    table = run(*TRIGGER[:-1], "--incident", "TEC-2024-008").stdout
    assert "1 posted (in a channel, not sent to the person)" in table and f"NOT ACCEPTED FOR: {SPECIALIST}" in table


def test_a_bot_token_sends_the_person_a_direct_message(providers, monkeypatch) -> None:
    smtp, proxy, _ = providers
    monkeypatch.setenv("NOTIFY_SLACK_URL", "slack://xoxb-1111-2222-BotTokenSecret/")
    proxy["slack.com"].script(Reply(200, {"ok": True, "channel": "D0STS0001", "ts": "1717761234.000300"}))
    assert not [p for p in json.loads(run("check", "--json").stdout)["problems"] if p["key"].startswith("people.")
                and p["severity"] == "warning"]
    result = run(*TRIGGER)
    doc = json.loads(result.stdout)
    dm = next(r for r in proxy["slack.com"].requests if r.json["channel"] == "U0STS00001")
    assert dm.path == "/api/chat.postMessage" and "<@" not in dm.json["text"]
    assert deliveries_to(doc, SPECIALIST) == {"slack": "delivered"}  # no fallback needed
    specialist = next(d for d in doc["deliveries"] if d["recipient"] == SPECIALIST)
    assert specialist["delivered_to"] == "D0STS0001"
    assert (result.exit_code, doc["summary"]["reached_all"], doc["summary"]["posted"]) == (0, True, 0)


def test_check_warns_when_directory_channels_share_one_incoming_webhook(providers, config_dir: Path,
                                                                        monkeypatch) -> None:
    monkeypatch.setenv("NOTIFY_CONFIG_DIR", str(config_dir))
    shared = [p for p in json.loads(run("check", "--json").stdout)["problems"] if p["key"] == "slack"]
    assert [(p["severity"], p["message"].split(" share ")[0]) for p in shared] == [
        ("warning", "#support-escalation, #security-alerts, #outage-response, #customer-success")]

    replace_in(config_dir / "contacts.toml", 'channel = "#security-alerts"\n',
               'channel = "#security-alerts"\nwebhook_env = "SLACK_SECURITY_HOOK"\n')
    monkeypatch.setenv("SLACK_SECURITY_HOOK", "https://hooks.slack.com/services/T0000/B0SEC/SecurityHook")
    shared = [p for p in json.loads(run("check", "--json").stdout)["problems"] if p["key"] == "slack"]
    assert [p["message"].split(" share ")[0] for p in shared] == [
        "#support-escalation, #outage-response, #customer-success"]

    monkeypatch.setenv("NOTIFY_SLACK_URL", "slack://xoxb-1111-2222-BotTokenSecret/")
    assert not [p for p in json.loads(run("check", "--json").stdout)["problems"] if p["key"] == "slack"]
