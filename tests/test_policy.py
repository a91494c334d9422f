"""The escalation policy: the seed resolved into steps and timers, validated by key."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dispatcher.config.directory import load_directory
from dispatcher.config.policy import check_policy, load_policy, steps_due
from dispatcher.domain.durations import format_duration, parse_duration

from .helpers import replace_in

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def policy():
    return load_policy(REPO / "policy.toml", load_directory(REPO / "contacts.toml"))


@pytest.mark.parametrize(("text", "expected"), [
    ("15m", timedelta(minutes=15)), ("1h", timedelta(hours=1)), ("2h30m", timedelta(hours=2, minutes=30)),
    ("1d", timedelta(days=1)), ("45s", timedelta(seconds=45)), ("0m", timedelta(0)),
])
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "15", "fifteen minutes", "1h15", "m"])
def test_bad_durations_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(("value", "expected"), [
    (timedelta(minutes=15), "15 minutes"), (timedelta(hours=1), "1 hour"), (timedelta(hours=4), "4 hours"),
    (timedelta(minutes=90), "1 hour 30 minutes"), (timedelta(minutes=1), "1 minute"),
])
def test_durations_format_for_templates(value: timedelta, expected: str) -> None:
    assert format_duration(value) == expected


# The seed's response SLAs and update cadences, class by class.
@pytest.mark.parametrize(("klass", "prefix", "tier", "sla", "cadence"), [
    ("security", "SEC", "immediate", "15m", "30m"),
    ("outage", "OUT", "immediate", "15m", "15m"),
    ("legal", "LEG", "immediate", "30m", None),
    ("enterprise", "ENT", "priority", "1h", None),
])
def test_shipped_classes_carry_the_seed_slas(policy, klass, prefix, tier, sla, cadence) -> None:
    c = policy.classes[klass]
    assert (c.prefix, c.tier, c.response_sla) == (prefix, tier, parse_duration(sla))
    assert c.update_every == (parse_duration(cadence) if cadence else None)


def test_security_step_zero_is_the_seed_immediate_actions(policy) -> None:
    step0 = policy.classes["security"].steps[0]
    assert [(n.to, n.channel) for n in step0.notify] == [
        ("list:security-incident", "email"), ("slack:security-alerts", "slack"),
        ("rotation:primary", "phone"), ("rotation:primary", "sms"), ("customer", "email")]
    assert step0.notify[-1].template == "customer"


def test_security_follow_up_informs_cto_and_ceo_at_15_minutes(policy) -> None:
    step1 = policy.classes["security"].steps[1]
    assert step1.at == timedelta(minutes=15)
    assert {"role:cto", "role:ceo"} <= {n.to for n in step1.notify}


def test_escalation_advances_one_stage_per_response_sla(policy) -> None:
    schedule = policy.classes["security"].escalation_schedule()
    assert schedule == [(timedelta(minutes=15), "rotation:secondary"), (timedelta(minutes=30), "rotation:escalation"),
                        (timedelta(minutes=45), "role:cto")]
    assert policy.classes["legal"].escalation_schedule()[0][0] == timedelta(minutes=30)


def test_updates_reach_the_team_as_well_as_the_customer(policy) -> None:
    assert policy.classes["security"].updates_to() == ["customer", "slack:security-alerts", "commander"]
    assert policy.classes["outage"].updates_to() == ["slack:outage-response", "commander", "statuspage:public"]
    # unset: the class's Slack channel and the commander, never the step-0 pages again
    assert policy.classes["legal"].updates_to() == ["slack:support-escalation", "commander"]


def test_an_update_audience_written_as_one_string_still_loads(config_dir: Path) -> None:
    path = config_dir / "policy.toml"
    replace_in(path, 'update_audience = ["slack:outage-response", "commander", "statuspage:public"]',
               'update_audience = "slack:outage-response"')
    loaded, problems = check_policy(path, load_directory(config_dir / "contacts.toml"))
    assert [p for p in problems if p.severity.value == "error"] == []
    assert loaded.classes["outage"].updates_to() == ["slack:outage-response"]


def test_steps_due_by_offset(policy) -> None:
    security = policy.classes["security"]
    t0 = datetime(2026, 11, 26, 3, 0, tzinfo=timezone.utc)
    assert steps_due(security, t0, t0) == [0]
    assert steps_due(security, t0, t0 + timedelta(minutes=14, seconds=59)) == [0]
    assert steps_due(security, t0, t0 + timedelta(minutes=15)) == [0, 1]


POLICY_MISTAKES = [
    pytest.param('to = "list:security-incident"', 'to = "list:security"',
                 "classes.security.steps[0].notify[0].to: unknown list 'security'", id="unknown-list"),
    pytest.param('{ to = "role:cto" },\n  { to = "role:ceo" },', '{ to = "role:chief" },\n  { to = "role:ceo" },',
                 "classes.security.steps[1].notify[0].to: unknown role 'chief'", id="unknown-role"),
    pytest.param('to = "slack:security-alerts", channel = "slack"', 'to = "slack:security-alerts", channel = "sms"',
                 "a slack is reached by slack, not sms", id="wrong-channel-for-slack"),
    pytest.param('response_sla = "30m"', 'response_sla = "half an hour"',
                 "classes.legal.response_sla: 'half an hour' is not a duration", id="bad-duration"),
    pytest.param('prefix = "SEC"', 'prefix = "sec"',
                 "classes.security.prefix: String should match pattern", id="bad-prefix"),
    pytest.param('to = "customer", channel = "email", template = "customer" },\n]\n\n[[classes.security.steps]]',
                 'to = "customers", channel = "email", template = "customer" },\n]\n\n[[classes.security.steps]]',
                 "classes.security.steps[0].notify[4].to: 'customers' is not an audience", id="bad-audience"),
    pytest.param('escalation = ["rotation:secondary", "rotation:escalation", "role:cto"]\nescalation_channels = ["phone", "sms"]\n\n[[classes.security.steps]]',
                 'escalation = ["rotation:tertiary"]\nescalation_channels = ["phone", "sms"]\n\n[[classes.security.steps]]',
                 "classes.security.escalation[0]: unknown rotation slot 'tertiary'", id="unknown-slot"),
    pytest.param('update_audience = ["customer", "slack:security-alerts", "commander"]',
                 'update_audience = ["customer", "slack:security-alert", "commander"]',
                 "classes.security.update_audience[1]: unknown slack 'security-alert'", id="unknown-update-audience"),
    pytest.param('update_audience = ["customer", "slack:security-alerts", "commander"]',
                 'update_audience = ["customer", "the team"]',
                 "'the team' is not an audience", id="bad-update-audience"),
]


@pytest.mark.parametrize(("old", "new", "expected"), POLICY_MISTAKES)
def test_each_policy_mistake_is_named_by_key(config_dir: Path, old: str, new: str, expected: str) -> None:
    path = config_dir / "policy.toml"
    replace_in(path, old, new)
    _, problems = check_policy(path, load_directory(config_dir / "contacts.toml"))
    messages = [f"{p.key}: {p.message}" for p in problems]
    assert any(expected in m for m in messages), messages
