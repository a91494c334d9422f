"""PagerDuty kept in step with notify: `notify ack` and `notify resolve` acknowledge and resolve what was paged there.

The support managers page through PagerDuty (the `pagerduty` channel); the ack and the resolution
send Events API v2 acknowledge/resolve events under each page's own dedup key, through the outbox.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dispatcher.testing.providers import Reply

from .helpers import run

KEY = "DEFAULTSERV1CEKEY0123456789abcde"
TRIGGER = ["security", "--incident", "SEC-2024-001", "--customer", "Acme Corp", "--summary", "Unusual admin logins"]


def paging_through_pagerduty(config_dir: Path, monkeypatch, proxy, channel: str) -> None:
    """The security class's first page to the primary goes to PagerDuty: on the pagerduty channel, or on the
    deprecated phone alias whose URL is PagerDuty's."""
    if channel == "pagerduty":
        policy = config_dir / "policy.toml"
        old = '{ to = "rotation:primary", channel = "phone" },'
        policy.write_text(policy.read_text().replace(old, '{ to = "rotation:primary", channel = "pagerduty" },', 1))
    monkeypatch.setenv("NOTIFY_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv(f"NOTIFY_{channel.upper()}_URL", f"pagerduty://{KEY}@restApiKey")
    proxy["events.pagerduty.com"].script(Reply(202, {"status": "success", "message": "Event processed"}))


def events(proxy) -> list[dict]:
    return [r.json for r in proxy["events.pagerduty.com"].requests]


@pytest.mark.parametrize("channel", ["pagerduty", "phone"])
def test_ack_then_resolve_send_pagerdutys_events_for_the_pages_dedup_key(providers, config_dir, rotation_week,
                                                                          monkeypatch, channel: str) -> None:
    _, proxy, _ = providers
    paging_through_pagerduty(config_dir, monkeypatch, proxy, channel)
    assert run(*TRIGGER).exit_code == 0
    [trigger] = events(proxy)
    page_key = f"SEC-2024-001/0/{rotation_week.primary}"
    assert (trigger["event_action"], trigger["dedup_key"]) == ("trigger", page_key)

    acked = run("ack", "SEC-2024-001", "--by", "Support Manager A")
    assert acked.exit_code == 0, acked.stdout + acked.stderr
    assert events(proxy)[1:] == [{"routing_key": KEY, "event_action": "acknowledge", "dedup_key": page_key}]

    resolved = run("resolve", "SEC-2024-001", "--by", "Support Manager A")
    assert resolved.exit_code == 0, resolved.stdout + resolved.stderr
    assert events(proxy)[2:] == [{"routing_key": KEY, "event_action": "resolve", "dedup_key": page_key}]
    # visible as deliveries of the incident, like any notice (retried by the worker when PagerDuty fails)
    doc = json.loads(run("status", "SEC-2024-001", "--json").stdout)
    told = [(d["kind"], d["outcome"]) for d in doc["deliveries"] if d["channel"] == channel]
    assert sorted(told) == [("ack", "delivered"), ("resolved", "delivered"), ("step", "delivered")]


def test_an_incident_paged_nowhere_on_pagerduty_sends_it_nothing(providers, config_dir, monkeypatch) -> None:
    _, proxy, _ = providers
    monkeypatch.setenv("NOTIFY_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("NOTIFY_PAGERDUTY_URL", f"pagerduty://{KEY}@restApiKey")
    assert run(*TRIGGER).exit_code == 0
    run("ack", "SEC-2024-001", "--by", "Support Manager A")
    run("resolve", "SEC-2024-001", "--by", "Support Manager A")
    assert events(proxy) == []
