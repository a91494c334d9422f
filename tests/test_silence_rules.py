"""The silence and maintenance-window decision (domain/silences.py), as a table."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dispatcher.domain.silences import AlertFacts, Silence, applies, holding

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)


def silence(*matchers: str, starts=T0, ends=T0 + 2 * H, created=T0) -> Silence:
    return Silence("S-1", "silence", starts, ends, created, "alice", "planned", matchers=matchers)


def window(*services: str, starts=T0, ends=T0 + 2 * H, created=T0 - H) -> Silence:
    return Silence("M-1", "maintenance", starts, ends, created, "bob", "upgrade", services=services)


DISK_DB = AlertFacts({"alertname": "DiskFull", "instance": "db-1"}, "technical", "standard", "alertmanager", ("db",))
DISK_WEB = AlertFacts({"alertname": "DiskFull", "instance": "web-1"}, "technical", "standard", "alertmanager", ())
API_DOWN = AlertFacts({"alertname": "ApiDown", "service": "api"}, "outage", "immediate", "alertmanager", ("api",))
GENERIC = AlertFacts({"severity": "critical"}, "outage", "immediate", "generic", ("API", "Webhooks"))
CLI_SEC = AlertFacts({}, "security", "immediate", "cli", ("api",))

CASES = [
    # (why, silence, alert, now, arrived, held?)
    ("equal and regex matchers all match", silence('alertname="DiskFull"', 'instance=~"db-.*"'), DISK_DB, T0, None,
     True),
    ("one matcher fails", silence('alertname="DiskFull"', 'instance=~"db-.*"'), DISK_WEB, T0, None, False),
    ("regex is anchored", silence('instance=~"db"'), DISK_DB, T0, None, False),
    ("negative matcher", silence('alertname!="DiskFull"'), API_DOWN, T0, None, True),
    ("before it starts", silence('alertname="DiskFull"', starts=T0 + H), DISK_DB, T0, None, False),
    ("at its end it no longer holds", silence('alertname="DiskFull"'), DISK_DB, T0 + 2 * H, None, False),
    ("just before its end", silence('alertname="DiskFull"'), DISK_DB, T0 + 2 * H - timedelta(seconds=1), None,
     True),
    ("made after the alert arrived: future alerts only", silence('alertname="DiskFull"', created=T0 + H), DISK_DB,
     T0 + H, T0, False),
    ("pseudo-label class", silence('class="outage"'), API_DOWN, T0, None, True),
    ("pseudo-label tier", silence('tier="standard"'), DISK_DB, T0, None, True),
    ("pseudo-label source", silence('source="generic"'), API_DOWN, T0, None, False),
    ("pseudo-label service: any named service", silence('service="Webhooks"'), GENERIC, T0, None, True),
    ("generic hook events are alerts", silence('severity="critical"'), GENERIC, T0, None, True),
    ("a CLI trigger: not without its class named", silence('source="cli"'), CLI_SEC, T0, None, False),
    ("a CLI trigger: class named by regex is not explicit", silence('class=~"sec.*"'), CLI_SEC, T0, None, False),
    ("a CLI trigger: its class named explicitly", silence('class="security"'), CLI_SEC, T0, None, True),
    ("no matcher holds nothing", silence(), DISK_DB, T0, None, False),
    ("maintenance: a service of the alert", window("api"), API_DOWN, T0, None, True),
    ("maintenance: case-insensitive service", window("webhooks"), GENERIC, T0, None, True),
    ("maintenance: another service", window("billing"), API_DOWN, T0, None, False),
    ("maintenance: scheduled ahead, not started", window("api", starts=T0 + H), API_DOWN, T0, None, False),
    ("maintenance never holds a CLI trigger", window("api"), CLI_SEC, T0, None, False),
]


@pytest.mark.parametrize("why, rule, alert, now, arrived, held", CASES, ids=[c[0] for c in CASES])
def test_applies(why, rule, alert, now, arrived, held):
    assert applies(rule, alert, now, arrived) is held


def test_a_group_is_held_only_when_every_firing_alert_is():
    rule = silence('alertname="DiskFull"')
    assert [s.id for s in holding([rule], [DISK_DB, DISK_WEB], T0)] == ["S-1"]
    assert holding([rule], [DISK_DB, API_DOWN], T0) == ()
    assert holding([rule, window("api")], [DISK_DB, API_DOWN], T0) == (rule, window("api"))
    assert holding([rule], [], T0) == ()
