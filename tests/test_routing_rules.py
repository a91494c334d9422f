"""The pieces of triage: label matchers, the negation rule, and validation of routing.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatcher.config.directory import load_directory
from dispatcher.domain.matchers import parse_matcher
from dispatcher.domain.phrases import find_phrases
from dispatcher.config.policy import load_policy
from dispatcher.config.routing import check_routing

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("matcher", "labels", "expected"), [
    ('severity="critical"', {"severity": "critical"}, True),
    ('severity="critical"', {"severity": "warning"}, False),
    ('severity!="critical"', {}, True),  # a missing label is the empty string
    ('team=~"sec.*"', {"team": "security"}, True),
    ('team=~"sec.*"', {"team": "infosec"}, False),  # anchored, as in Alertmanager
    ('team!~"sec.*"', {"team": "infosec"}, True),
    ('env=""', {}, True),
    ("severity=critical", {"severity": "critical"}, True),  # unquoted value
    ('msg="a \\"quoted\\" word"', {"msg": 'a "quoted" word'}, True),
])
def test_alertmanager_matcher_grammar(matcher: str, labels: dict, expected: bool) -> None:
    assert parse_matcher(matcher).matches(labels) is expected


@pytest.mark.parametrize("bad", ["severity", "=critical", 'team=~"("', "se verity=x"])
def test_bad_matchers_are_rejected_with_the_text(bad: str) -> None:
    with pytest.raises(ValueError, match="matcher|regular expression"):
        parse_matcher(bad)


PHRASES = ("breach", "data (was )?(exposed|lost)", "hacked", "outage")


@pytest.mark.parametrize(("text", "expected"), [
    ("this is not a breach, just a password reset question", [("breach", "not")]),
    ("There was no sign of a breach", [("breach", "no")]),
    ("we don't know if data was exposed", [("data was exposed", None)]),  # uncertainty is not negation
    ("not sure whether we were hacked", [("hacked", None)]),
    ("No breach. But we were hacked", [("breach", "no"), ("hacked", None)]),
    ("Nothing is wrong on our side, but there is an outage", [("outage", None)]),  # other clause
    ("it is not, as far as I can see after checking all the logs twice, a breach", [("breach", None)]),  # window
    ("We never had an outage", [("outage", "never")]),
    ("Breach!", [("Breach", None)]),
])
def test_negation_scope(text: str, expected: list) -> None:
    assert [(h.words, h.negated_by) for h in find_phrases(PHRASES, text)] == expected


@pytest.fixture
def policy():
    return load_policy(REPO / "policy.toml", load_directory(REPO / "contacts.toml"))


def test_shipped_rules_are_valid(policy) -> None:
    rules, problems = check_routing(REPO / "routing.toml", policy)
    assert rules is not None and problems == []
    assert len(rules.rules) >= 40 and all(r.criterion for r in rules.rules)


def rules_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "routing.toml"
    path.write_text(body)
    return path


CONCEPT_RULE = '[concepts]\nactor = ["someone"]\n\n[[rules]]\nid = "who"\ncriterion = "c"\nclass = "security"\nconcepts = [{}]\n'


@pytest.mark.parametrize(("body", "expected"), [
    ('[[rules]]\nid = "x"\ncriterion = "c"\nclass = "nosuch"\nphrases = ["a"]\n',
     "rules[0].class: unknown incident class 'nosuch'"),
    ('[[rules]]\nid = "x"\ncriterion = "c"\nclass = "security"\nphrases = ["(unclosed"]\n',
     "rules[0].phrases: phrase '(unclosed' is not a valid regular expression"),
    ('[[rules]]\nid = "x"\ncriterion = "c"\nclass = "security"\nlabels = ["severity"]\n',
     "rules[0].labels: 'severity' is not a matcher"),
    ('[[rules]]\nid = "x"\ncriterion = "c"\nclass = "financial"\nwhen = { amount = "lots" }\n',
     "when.amount: 'lots' is not a comparison"),
    ('[[rules]]\nid = "x"\ncriterion = "c"\nclass = "financial"\nwhen = { colour = "red" }\n',
     "when.colour: unknown field"),
    ('[[rules]]\nid = "all"\ncriterion = "c"\nclass = "security"\n\n'
     '[[rules]]\nid = "later"\ncriterion = "c"\nclass = "outage"\nphrases = ["down"]\n',
     "rules[1]: rule 'later' is shadowed by a catch-all in its tier: rules[0] ('all') always wins first"),
    ('[[rules]]\nid = "a"\ncriterion = "c"\nclass = "technical"\nphrases = ["slow"]\n\n'
     '[[rules]]\nid = "b"\ncriterion = "c"\nclass = "satisfaction"\nphrases = ["slow"]\n',
     "rules[1]: rule 'b' is shadowed by an identical matcher in its tier"),
    ('default_class = "nosuch"\n', "default_class: unknown incident class 'nosuch'"),
    (CONCEPT_RULE.format('"actor + acess"'),
     ("rules[0].concepts: rule 'who': 'actor + acess' names unknown concept 'acess': define it under [concepts] "
      "(there: actor)")),
    (CONCEPT_RULE.format('"actor +"'), "rules[0].concepts: rule 'who': 'actor +': write concept names joined by +"),
    ('[concepts]\nactor = ["--"]\n', "concepts: concept 'actor': term '--' has no word"),
    ('[concepts]\nActor = ["someone"]\n', "concepts: concept name 'Actor': use lower-case letters"),
    ('[concepts]\nactor = []\n', "concepts: concept 'actor' has no terms"),
    ('[[rules]]\nid = "x"\ncriterion = "c"\nclass = "security"\nphrases = ["a"]\nwindow = 1\n',
     "rules[0].window: Input should be greater than or equal to 2"),
])
def test_rules_file_problems_are_named(tmp_path: Path, policy, body: str, expected: str) -> None:
    _, problems = check_routing(rules_file(tmp_path, body), policy)
    messages = [f"{p.key}: {p.message}" for p in problems]
    assert any(expected in m for m in messages), messages


def test_same_matcher_in_a_different_tier_is_not_shadowed(tmp_path: Path, policy) -> None:
    body = ('[[rules]]\nid = "a"\ncriterion = "c"\nclass = "security"\nphrases = ["x"]\n\n'
            '[[rules]]\nid = "b"\ncriterion = "c"\nclass = "technical"\nphrases = ["x"]\n')
    assert check_routing(rules_file(tmp_path, body), policy)[1] == []
