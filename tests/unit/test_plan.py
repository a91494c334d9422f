"""Planning (dispatcher/domain/plan.py): who gets what, for each kind of audience, as tables.

A small directory built here (not the shipped contacts.toml), so each row names the rule it shows;
every instant is fixed, so whoever the rotation puts on duty is the same on every run.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from dispatcher.config.directory import Directory
from dispatcher.config.policy import IncidentClass
from dispatcher.domain.entries import Entry
from dispatcher.domain.incident import Incident
from dispatcher.domain.plan import (
    HELD_UNTIL_CONFIRMED,
    Planned,
    plan_audience,
    plan_escalation,
    plan_step,
    template_for,
)

# 2026-01-05 is the rotation's first Monday (UTC hand-off at 09:00): week 0 puts members[0] on duty.
WEEK_0 = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
WEEK_1 = datetime(2026, 1, 12, 12, 0, tzinfo=timezone.utc)
SLOT_PHONE = "+14155550199"

DIRECTORY = Directory.model_validate({
    "roles": {"cto": {"title": "CTO", "level": 1}, "support": {"title": "Support", "level": 3}},
    "people": {
        "ana": {"name": "Ana", "roles": ["support"], "email": "ana@teamflow.example", "phone": "+15550100001",
                "channels": ["phone", "sms", "email"]},
        "bo": {"name": "Bo", "roles": ["support"], "email": "bo@teamflow.example", "channels": ["email"]},
        "cy": {"name": "Cy", "roles": ["cto"], "email": "cy@teamflow.example", "slack": "U012AB3CD",
               "phone": "+15550100003", "channels": ["slack", "email"]},
        "di": {"name": "Di", "email": "di@teamflow.example"},
        "ed": {"name": "Ed", "phone": "+15550100005", "channels": ["sms"]},
        "fay": {"name": "Fay"},
    },
    "rotation": {"timezone": "UTC", "start": "2026-01-05",
                 "slots": {"primary": {"title": "Primary", "phone": SLOT_PHONE, "members": ["ana", "bo"]}}},
    "lists": {"exec": {"title": "Executives", "email": "exec@teamflow.example"},
              "leads": {"title": "Leads", "members": ["bo", "di"]}},
    "slack": {"security": {"channel": "#security-alerts"}},
    "external": {"counsel": {"name": "Outside Counsel", "phone": "+15550100009", "email": "law@firm.example"},
                 "auditor": {"name": "Auditor", "email": "audit@firm.example"}},
    "customers": {"acme": {"name": "Acme Corp", "plan": "enterprise", "success_manager": "di"},
                  "initech": {"name": "Initech", "plan": "enterprise", "success_manager": "di"},
                  "globex": {"name": "Globex", "plan": "pro", "success_manager": "cy"},
                  "hooli": {"name": "Hooli", "plan": "basic"}},
})

KLASS = IncidentClass.model_validate({
    "title": "Security", "prefix": "SEC", "tier": "immediate", "priority": "P1", "response_sla": "15m",
    "commander": "rotation:primary", "escalation": ["role:cto", "slack:security", "person:ana"],
    "escalation_channels": ["phone", "sms"],
    "steps": [{"at": "0m", "name": "Immediate",
               "notify": [{"to": "person:ana"}, {"to": "person:ed", "channel": "sms"}]},
              {"at": "30m", "name": "Escalate", "notify": [{"to": "role:cto"}]}],
})


def incident(**overrides) -> Incident:
    values = dict(id="SEC-2026-001", klass="security", started=WEEK_0,
                  fields={"summary": "Unusual admin logins", "reported_by": "jane@acme.example",
                          "customer": "Acme Corp"}, account="acme")
    values.update(overrides)
    return Incident(**values)


def shown(planned: list[Planned]) -> list[tuple]:
    """Each planned delivery as (person, channel, target, template, fallback channels, skip reason)."""
    return [(p.address.person, p.address.channel, p.address.target, p.template,
             tuple(f.channel for f in p.fallbacks), p.skip) for p in planned]


@pytest.mark.parametrize(("entry", "changes", "expected"), [
    # A person on their preferred channel first, the rest of their channels as fallbacks, in order.
    (Entry("person:ana"), {}, [("ana", "phone", "+15550100001", "voice", ("sms", "email"), None)]),
    # A named channel goes first; their own order follows it.
    (Entry("person:ana", channel="email"), {},
     [("ana", "email", "ana@teamflow.example", "email", ("phone", "sms"), None)]),
    # A named channel they have no address on is dropped; their own channels still reach them.
    (Entry("person:bo", channel="sms"), {}, [("bo", "email", "bo@teamflow.example", "email", (), None)]),
    (Entry("person:ed", channel="email"), {}, [("ed", "sms", "+15550100005", "sms", (), None)]),
    # Someone with no address on any of their channels is skipped, saying why.
    (Entry("person:fay", channel="email"), {},
     [("person:fay", "email", "", "email", (), "Fay has no address for email")]),
    # An entry's own template wins over the channel's family.
    (Entry("person:cy", template="customer"), {}, [("cy", "slack", "U012AB3CD", "customer", ("email",), None)]),
    # A list with an address is one email; a list without one is each member.
    (Entry("list:exec"), {}, [("list:exec", "email", "exec@teamflow.example", "email", (), None)]),
    (Entry("list:leads"), {}, [("bo", "email", "bo@teamflow.example", "email", (), None),
                               ("di", "email", "di@teamflow.example", "email", (), None)]),
    (Entry("slack:security"), {}, [("slack:security", "slack", "#security-alerts", "slack", (), None)]),
    # The rotation: whoever is on duty at the incident's opening, reached on the slot's shared phone.
    (Entry("rotation:primary"), {}, [("ana", "phone", SLOT_PHONE, "voice", ("sms", "email"), None)]),
    (Entry("rotation:primary"), {"started": WEEK_1}, [("bo", "email", "bo@teamflow.example", "email", (), None)]),
    # Opened now for an alert that started last week: the on-call of the opening is paged.
    (Entry("rotation:primary"), {"started": WEEK_0, "opened": WEEK_1},
     [("bo", "email", "bo@teamflow.example", "email", (), None)]),
    (Entry("role:support"), {}, [("ana", "phone", "+15550100001", "voice", ("sms", "email"), None),
                                 ("bo", "email", "bo@teamflow.example", "email", (), None)]),
    # An external contact: by phone when they have one, else by email.
    (Entry("external:counsel"), {}, [("external:counsel", "phone", "+15550100009", "voice", (), None)]),
    (Entry("external:auditor"), {}, [("external:auditor", "email", "audit@firm.example", "email", (), None)]),
    (Entry("customer"), {}, [("customer", "email", "jane@acme.example", "email", (), None)]),
    (Entry("customer"), {"fields": {"summary": "x"}},
     [("customer", "email", "", "email", (), "no customer email (give --reported-by or a known --customer)")]),
    (Entry("success-manager"), {}, [("di", "email", "di@teamflow.example", "email", (), None)]),
    (Entry("success-manager"), {"account": "hooli"},
     [("success-manager", "email", "", "email", (), "no dedicated success manager (customer unknown or has none)")]),
    # Every success manager of a plan, each once, though two accounts share one.
    (Entry("success-managers:enterprise"), {}, [("di", "email", "di@teamflow.example", "email", (), None)]),
    (Entry("commander"), {}, [("ana", "phone", "+15550100001", "voice", ("sms", "email"), None)]),
    (Entry("commander"), {"fields": {"commander": "cy"}}, [("cy", "slack", "U012AB3CD", "slack", ("email",), None)]),
    (Entry("commander"), {"fields": {"commander": "Someone Else"}},
     [("commander", "email", "", "email", (), "commander 'Someone Else' is not in the directory")]),
])
def test_an_audience_resolves_to_these_deliveries(entry: Entry, changes: dict, expected: list[tuple]) -> None:
    assert shown(plan_audience(entry, incident(**changes), KLASS, 0, DIRECTORY)) == expected


def test_a_webhook_reporter_nobody_vouched_for_is_recorded_never_mailed() -> None:
    [planned] = plan_audience(Entry("customer"), incident(reporter_unverified=True), KLASS, 0, DIRECTORY)
    assert planned.skip and "came from a webhook" in planned.skip and planned.address.target == ""


@pytest.mark.parametrize("audience", ["customer", "external:counsel"])
def test_a_drill_never_reaches_outside_the_company(audience: str) -> None:
    [planned] = plan_audience(Entry(audience), incident(drill=True), KLASS, 0, DIRECTORY)
    assert planned.skip == "drills never contact customers or external contacts"


@pytest.mark.parametrize(("allow", "reached"), [
    (("ana",), {"ana"}),  # by person id
    (("role:support",), {"ana", "bo"}),  # by the audience that named them
    ((), set()),
])
def test_a_live_drill_reaches_only_those_its_allow_list_names(allow: tuple, reached: set) -> None:
    planned = plan_audience(Entry("role:support"), incident(drill=True, allow=allow), KLASS, 0, DIRECTORY)
    assert {p.address.person for p in planned if not p.skip} == reached
    assert all(p.skip == "not in the drill's --allow list" and not p.fallbacks for p in planned
               if p.address.person not in reached)


@pytest.mark.parametrize(("changes", "step", "expected"), [
    # Step 0 as the policy writes it; Ed's sms-only entry keeps its own channel.
    ({}, 0, [("ana", "phone"), ("ed", "sms")]),
    # Triage's extra audiences join step 0 only.
    ({"also": ("role:cto",)}, 0, [("ana", "phone"), ("ed", "sms"), ("cy", "slack")]),
    ({"also": ("role:cto",)}, 1, [("cy", "slack")]),
    # A weak triage match pages the step's people inside the company as the step says (nothing outside here).
    ({"needs_review": True}, 0, [("ana", "phone"), ("ed", "sms")]),
    ({"needs_review": True}, 1, [("cy", "slack")]),
])
def test_a_step_plans_its_audiences(changes: dict, step: int, expected: list[tuple]) -> None:
    planned = plan_step(incident(**changes), KLASS, step, DIRECTORY)
    assert [(p.address.person, p.address.channel) for p in planned] == expected


OUTSIDE_TOO = KLASS.model_copy(update={"steps": [KLASS.steps[0].model_copy(update={"notify": [
    Entry("person:ana"), Entry("list:exec"), Entry("customer", channel="email", template="customer"),
    Entry("external:auditor")]})]})


@pytest.mark.parametrize(("changes", "expected"), [
    # Triage was sure: everyone is sent at once.
    ({}, [("ana", None), ("list:exec", None), ("customer", None), ("external:auditor", None)]),
    # Triage was unsure: the internal audience is paged; the customer and outside contacts wait for a person.
    ({"needs_review": True}, [("ana", None), ("list:exec", None), ("customer", HELD_UNTIL_CONFIRMED),
                              ("external:auditor", HELD_UNTIL_CONFIRMED)]),
])
def test_a_needs_review_step_holds_only_what_goes_outside(changes: dict, expected: list[tuple]) -> None:
    planned = plan_step(incident(**changes), OUTSIDE_TOO, 0, DIRECTORY)
    assert [(p.address.person, p.held) for p in planned] == expected
    assert all(p.skip is None for p in planned)


def test_a_delivery_skipped_anyway_is_not_held() -> None:
    """A drill never contacts a customer: skipped, not held (held means "sent once confirmed")."""
    planned = plan_step(incident(needs_review=True, drill=True), OUTSIDE_TOO, 0, DIRECTORY)
    customer = next(p for p in planned if p.address.person == "customer")
    assert customer.skip and customer.held is None


def test_a_step_plans_each_person_and_channel_once_and_drops_fallbacks_it_sends_anyway() -> None:
    klass = KLASS.model_copy(update={"steps": [KLASS.steps[0].model_copy(update={"notify": [
        Entry("person:ana"), Entry("rotation:primary"), Entry("person:ana", channel="sms")]})]})
    planned = plan_step(incident(), klass, 0, DIRECTORY)
    # The rotation's Ana (on the slot phone) is the same (person, channel) as the first entry: kept once.
    assert shown(planned) == [("ana", "phone", "+15550100001", "voice", ("email",), None),
                              ("ana", "sms", "+15550100001", "sms", ("email",), None)]


@pytest.mark.parametrize(("stage", "expected"), [
    # A role is paged on each escalation channel; the stage's step number follows the policy's steps.
    (0, [(2, "cy", "phone"), (2, "cy", "sms")]),
    # A Slack channel (or a list) is one post, whatever the escalation channels.
    (1, [(3, "slack:security", "slack")]),
    # Someone the stage names on both channels is paged on each, the other one dropped as a fallback.
    (2, [(4, "ana", "phone"), (4, "ana", "sms")]),
])
def test_an_escalation_stage_uses_the_escalation_channels(stage: int, expected: list[tuple]) -> None:
    planned = plan_escalation(incident(), KLASS, stage, DIRECTORY)
    assert [(p.step, p.address.person, p.address.channel) for p in planned] == expected


@pytest.mark.parametrize(("channel", "kind", "template"), [
    ("phone", "step", "voice"), ("sms", "step", "sms"), ("slack", "step", "slack"), ("email", "step", "email"),
    ("webhook", "step", "email"), ("apprise", "test", "email"), ("sms", "resolve", "resolve-sms"),
    ("slack", "update", "update-slack"), ("email", "ack", "ack-email"),
])
def test_each_channel_renders_its_template_family(channel: str, kind: str, template: str) -> None:
    # the family each installed channel declares (Capabilities.template), as the directory hands it to planning
    assert template_for(DIRECTORY.family(channel), kind) == template


def test_the_delivery_key_names_incident_step_person_and_channel() -> None:
    [planned] = plan_audience(Entry("person:ana"), incident(), KLASS, 1, DIRECTORY)
    assert planned.key().stored("SEC-2026-001") == "SEC-2026-001:1:ana:phone"
    assert planned.key("escalation-1").stored("SEC-2026-001") == "SEC-2026-001:escalation-1:ana:phone"
