"""What the worker's triage and planning remember between webhooks changes nothing they answer (issue 21 item 5).

triage() skips the rules that read the text and can find nothing in it, with one search over
every rule's phrases and one look at which concepts the text has; plan_step() remembers a
person's addresses per loaded directory. These tests hold each to what it did before: the
whole TriageResult of every held-out report, under several label sets and account facts,
against the rules read one by one; a rotation hand-off between two incidents planned from the
same directory; a number's stem.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dispatcher.config.directory import load_directory
from dispatcher.config.policy import load_policy
from dispatcher.config.routing import load_routing
from dispatcher.domain import triage as triage_module
from dispatcher.domain.concepts import concept_index, stem
from dispatcher.domain.entries import Entry
from dispatcher.domain.plan import plan_step
from dispatcher.domain.triage import Report, TriageResult, triage

REPO = Path(__file__).resolve().parent.parent
TEXTS = [r["text"] for r in json.loads((REPO / "tests" / "triage_holdout.json").read_text(encoding="utf-8"))]
LABELS = [{}, {"severity": "critical"}, {"severity": "critical", "category": "security"},
          {"alertname": "BruteForceLogin", "severity": "warning"}]


@pytest.fixture(scope="module")
def loaded():
    policy = load_policy(REPO / "policy.toml", load_directory(REPO / "contacts.toml"))
    return load_routing(REPO / "routing.toml", policy), policy


def every_rule_read(rules, policy, report: Report) -> TriageResult:
    """triage() as it was before the skip: every rule matched on the report, one by one."""
    t = triage_module
    urgency = {name: tier.within for name, tier in policy.tiers.items()}
    vocabulary = concept_index(rules.concepts)
    matches, negated, hypothetical = [], [], []
    for index, rule in enumerate(rules.rules):
        tier = policy.classes[rule.klass].tier
        found, suppressed = t.match_rule(rule, report, tier, vocabulary)
        negated += t._first_per_cue(rule.id, [(h.words, h.negated_by) for h in suppressed if h.negated_by])
        hypothetical += t._first_per_cue(rule.id, [(h.words, h.hypothetical) for h in suppressed
                                                   if not h.negated_by])
        if found:
            matches.append((urgency[tier], found.weak, index, found))
    return t.decided(rules, policy, urgency, matches, negated, hypothetical)  # the decision itself is shared


@pytest.mark.parametrize("labels", LABELS, ids=lambda labels: ",".join(labels) or "no-labels")
def test_triage_answers_as_reading_every_rule_does(loaded, labels: dict) -> None:
    rules, policy = loaded
    differ = []
    for text in TEXTS:
        for plan, acv in ((None, None), ("enterprise", 120000.0)):
            report = Report(text=text, labels=labels, plan=plan, acv=acv)
            if triage(rules, policy, report) != every_rule_read(rules, policy, report):
                differ.append(text)
    assert differ == []


def test_rules_loaded_again_are_read_again(loaded) -> None:
    rules, policy = loaded
    report = Report(text="Our data was leaked by an attacker")
    before = triage(rules, policy, report)
    quiet = rules.model_copy(update={"rules": [r for r in rules.rules if r.klass != before.klass]})
    assert triage(quiet, policy, report).klass != before.klass


def test_a_number_is_its_own_stem() -> None:
    assert [stem(n) for n in ("0", "7", "2026", "9100")] == ["0", "7", "2026", "9100"]
    assert stem("logging") == stem("logged")


def test_a_rotation_hand_off_between_two_incidents_pages_whoever_is_on_duty() -> None:
    from tests.unit.test_plan import DIRECTORY, KLASS, WEEK_0, WEEK_1, incident

    klass = KLASS.model_copy(update={"steps": [KLASS.steps[0].model_copy(update={"notify": [
        Entry("rotation:primary")]})]})
    first = plan_step(incident(started=WEEK_0), klass, 0, DIRECTORY)
    second = plan_step(incident(started=WEEK_1), klass, 0, DIRECTORY)
    again = plan_step(incident(started=datetime(2026, 1, 19, 12, 0, tzinfo=timezone.utc)), klass, 0, DIRECTORY)
    assert [p.address.person for p in first + second + again] == ["ana", "bo", "ana"]
    assert first[0].address.channel == "phone" and second[0].address.channel == "email"
