"""The contact directory: the shipped one is valid, and each mistake is named by file and key."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from dispatcher.config.directory import check_directory, load_directory
from dispatcher.config.problems import ConfigError

from .helpers import replace_in

REPO = Path(__file__).resolve().parent.parent


def errors_of(path: Path) -> list[str]:
    _, problems = check_directory(path)
    return [f"{p.key}: {p.message}" for p in problems if p.severity.value == "error"]


def test_shipped_directory_has_no_errors_and_notes_placeholders() -> None:
    directory, problems = check_directory(REPO / "contacts.toml")
    assert directory is not None
    assert [p for p in problems if p.severity.value != "note"] == []
    notes = {p.key: p.message for p in problems}
    assert notes["people.cto.email"] == "placeholder address: replace with a real one"
    assert notes["customers.acme-corp.contact"] == "placeholder address: replace with a real one"
    # The seed's lists are TeamFlow's real inboxes: another team's first trigger would mail them.
    assert {key for key, message in notes.items() if "shipped example company's address (teamflow.com)" in message} \
        == {"lists.security-incident.email", "lists.outage-response.email", "lists.legal-emergency.email",
            "lists.executive-escalation.email"}


def test_a_teams_own_addresses_draw_no_note(tmp_path: Path) -> None:
    mine = tmp_path / "contacts.toml"
    mine.write_text((REPO / "contacts.toml").read_text().replace("teamflow.example", "ourteam.io")
                    .replace("@teamflow.com", "@ourteam.io").replace(".example\"", ".io\""))
    _, problems = check_directory(mine)
    assert [f"{p.key}: {p.message}" for p in problems] == []


def test_shipped_directory_reproduces_the_seed() -> None:
    d = load_directory(REPO / "contacts.toml")
    slots = d.rotation.slots
    assert (slots["primary"].phone, slots["primary"].role) == ("+14155550199", "support-manager")
    assert (slots["secondary"].phone, slots["secondary"].role) == ("+14155550188", "engineering-manager")
    assert (slots["escalation"].phone, slots["escalation"].role) == ("+14155550177", "vp-customer-success")
    assert {lst.email for lst in d.lists.values()} == {
        "security-incident@teamflow.com", "outage-response@teamflow.com",
        "legal-emergency@teamflow.com", "executive-escalation@teamflow.com"}
    assert {s.channel for s in d.table("slack").values()} == {
        "#support-escalation", "#security-alerts", "#outage-response", "#customer-success"}
    assert d.external["legal-counsel"].phone == "+14155550166"
    assert d.external["legal-international"].phone == "+442012345678"
    assert {r.level for r in d.roles.values()} == {1, 2, 3, 4}
    assert d.customer("acme corp")[1].plan == "enterprise"


# (edit to contacts.toml, expected "key: message" fragment)
MISTAKES = [
    pytest.param('phone = "+14155550111"', 'phone = "415-555-0111"',
                 "people.support-manager-a.phone: phone '415-555-0111' is not E.164", id="phone-not-e164"),
    pytest.param('email = "cto@teamflow.example"', 'email = "cto-at-teamflow"',
                 "people.cto.email: 'cto-at-teamflow' is not an email address", id="bad-email"),
    pytest.param('roles = ["cto"]', 'roles = ["chief-techie"]',
                 "people.cto.roles: unknown role 'chief-techie'", id="unknown-role"),
    pytest.param('email = "ceo@teamflow.example"', 'email = "cto@teamflow.example"',
                 "people.ceo.email: duplicate person: same email as people.cto", id="duplicate-person"),
    pytest.param('email = "legal-emergency@teamflow.com"', 'members = []',
                 "lists.legal-emergency: empty list: no email and no members", id="empty-list"),
    pytest.param('roles = ["finance-director"]', 'roles = []',
                 "roles.finance-director: nobody can be reached in this role", id="unreachable-role"),
    pytest.param('members = ["vp-customer-success"]', 'members = ["vp-nobody"]',
                 "rotation.slots.escalation.members: unknown person 'vp-nobody'", id="unknown-rotation-member"),
    pytest.param('success_manager = "csm-a"', 'success_manager = "csm-z"',
                 "customers.acme-corp.success_manager: unknown person 'csm-z'", id="unknown-success-manager"),
    pytest.param('timezone = "America/Los_Angeles"', 'timezone = "Mars/Olympus"',
                 "rotation.timezone: unknown time zone 'Mars/Olympus'", id="unknown-time-zone"),
    pytest.param('channel = "#security-alerts"', 'channel = "security alerts"',
                 "slack.security-alerts.channel: String should match pattern", id="slack-channel-name"),
    pytest.param('slack = "U0TSA00001"', 'slack = "tsa-1"',
                 "people.tsa-1.slack: 'tsa-1' is not a Slack member id (like U012AB3CD)", id="slack-member-id"),
    pytest.param('slack = "U0TSA00001"', 'slack = "U0TSA00001"\naddresses = { slack = "U0TSA00002" }',
                 "people.tsa-1: slack and addresses.slack both give an address on slack: keep one", id="slack-address-twice"),
    pytest.param('plan = "basic"', 'plan = "platinum"',
                 "customers.hooli-labs.plan: 'platinum': input should be 'basic', 'pro' or 'enterprise'", id="unknown-plan"),
    pytest.param('name = "CTO"\n', 'name = "CTO"\nnickname = "boss"\n',
                 "people.cto.nickname: unknown key (typo?)", id="unknown-key"),
]


@pytest.mark.parametrize(("old", "new", "expected"), MISTAKES)
def test_each_mistake_is_named_by_key(config_dir: Path, old: str, new: str, expected: str) -> None:
    path = config_dir / "contacts.toml"
    replace_in(path, old, new)
    assert any(expected in e for e in errors_of(path)), errors_of(path)


def test_person_listing_a_channel_without_an_address_is_an_error(config_dir: Path) -> None:
    path = config_dir / "contacts.toml"
    replace_in(path, 'email = "product-manager@teamflow.example"\nchannels = ["email"]',
               'email = "product-manager@teamflow.example"\nchannels = ["sms", "email"]')
    assert "people.product-manager.channels: lists 'sms' but the person has no phone" in errors_of(path)


def test_a_malformed_pagerduty_routing_key_is_named_without_repeating_it(config_dir: Path) -> None:
    path = config_dir / "contacts.toml"
    replace_in(path, 'name = "CTO"\n', 'name = "CTO"\npagerduty_routing_key = "https://events.pagerduty.com/x"\n')
    (problem,) = errors_of(path)
    assert problem.startswith("people.cto.pagerduty_routing_key: not a PagerDuty Events v2 routing")
    assert "events.pagerduty" not in problem


def test_routing_keys_serve_the_slot_and_the_person_and_stay_out_of_reprs(config_dir: Path) -> None:
    path = config_dir / "contacts.toml"
    replace_in(path, 'name = "CTO"\n', 'name = "CTO"\npagerduty_routing_key = "CT0KEY0123456789abcdef0123456789"\n')
    replace_in(path, '[rotation.slots.escalation]\n',
               '[rotation.slots.escalation]\npagerduty_routing_key = "SL0TKEY0123456789abcdef012345678"\n')
    d = load_directory(path)
    assert d.pagerduty_routes() == {"person:cto": "CT0KEY0123456789abcdef0123456789",
                                    "rotation:escalation": "SL0TKEY0123456789abcdef012345678"}
    assert set(d.secrets()) == set(d.pagerduty_routes().values())
    assert "KEY0123" not in repr(d.people["cto"]) + repr(d.rotation.slots["escalation"])


def test_toml_syntax_error_names_the_file_and_line(config_dir: Path) -> None:
    path = config_dir / "contacts.toml"
    replace_in(path, '[people.cto]', '[people.cto')
    _, problems = check_directory(path)
    assert problems[0].file == str(path) and "line" in problems[0].message


def test_load_directory_raises_with_every_error(config_dir: Path) -> None:
    path = config_dir / "contacts.toml"
    replace_in(path, 'roles = ["cto"]', 'roles = ["x"]')
    replace_in(path, 'success_manager = "csm-a"', 'success_manager = "nobody"')
    with pytest.raises(ConfigError) as caught:
        load_directory(path)
    keys = {p.key for p in caught.value.problems}
    assert keys == {"people.cto.roles", "customers.acme-corp.success_manager", "roles.cto"}


@pytest.mark.parametrize(("moment", "expected"), [
    (datetime(2026, 1, 5, 17, 0, tzinfo=timezone.utc), "support-manager-a"),  # Monday 09:00 in Los Angeles
    (datetime(2026, 1, 5, 16, 59, tzinfo=timezone.utc), "support-manager-b"),  # a minute before hand-off
    (datetime(2026, 1, 12, 17, 0, tzinfo=timezone.utc), "support-manager-b"),  # next week
    (datetime(2026, 1, 19, 17, 0, tzinfo=timezone.utc), "support-manager-a"),
    (datetime(2026, 7, 6, 16, 0, tzinfo=timezone.utc), "support-manager-a"),  # summer time: 09:00 PDT = 16:00 UTC
])
def test_weekly_handoff_in_the_rotation_time_zone(moment: datetime, expected: str) -> None:
    d = load_directory(REPO / "contacts.toml")
    assert d.on_duty("primary", moment) == expected


def test_dated_override_wins_over_the_weekly_turn(config_dir: Path) -> None:
    path = config_dir / "contacts.toml"
    with path.open("a") as f:
        f.write('\n[[rotation.overrides]]\nslot = "primary"\nperson = "support-manager-b"\n'
                'start = 2026-01-06T00:00:00\nend = 2026-01-07T00:00:00\n')
    d = load_directory(path)
    assert d.on_duty("primary", datetime(2026, 1, 6, 12, 0, tzinfo=timezone.utc)) == "support-manager-b"
    assert d.on_duty("primary", datetime(2026, 1, 7, 12, 0, tzinfo=timezone.utc)) == "support-manager-a"
