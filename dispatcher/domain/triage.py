"""Triage: route a report or an alert to an incident class by the ordered rules of routing.toml.

A rule matches when every condition it has holds: at least one of its phrases
appears un-negated in the text, every field test passes, every label matcher
matches. The most urgent matching tier wins; within a tier, the first rule.
A win by a rule marked `weak` only is `needs_review`: it keeps its tier but
pages the on-call primary instead of the whole audience. Nothing matched:
the default class, also `needs_review`. Pure: the rules and the policy, loaded
and validated by config.routing and config.policy, are read by attribute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from .matchers import LabelMatcher, parse_matcher
from .phrases import PhraseHit, find_phrases

if TYPE_CHECKING:  # the loaded configuration, read here by attribute only
    from ..config.policy import Policy
    from ..config.routing import RoutingRules, Rule

__all__ = ["NUMERIC_FIELDS", "Report", "RuleMatch", "TriageResult", "describe_test", "match_rule", "triage"]

NUMERIC_FIELDS = ("acv", "amount", "unresolved_hours", "customers_affected")
_NUMERIC_TEST = re.compile(r"^\s*(>=|<=|>|<|==)\s*(-?\d+(?:\.\d+)?)\s*$")
_OPS = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__, "==": float.__eq__}


@dataclass(frozen=True)
class Report:
    """What triage looks at: the text, the account facts, and any alert labels."""

    text: str = ""
    plan: str | None = None
    acv: float | None = None
    amount: float | None = None
    fortune500: bool | None = None
    unresolved_hours: float | None = None
    customers_affected: float | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


def describe_test(name: str, test: Any) -> str:
    """A field test as text ('acv > 50000'); ValueError for an unknown field or test."""
    if name in NUMERIC_FIELDS:
        if isinstance(test, bool) or not isinstance(test, (int, float, str)):
            raise ValueError(f"when.{name}: use a comparison like \"> 1000\"")
        if not isinstance(test, str):
            return f"{name} == {test}"
        if not _NUMERIC_TEST.match(test):
            raise ValueError(f"when.{name}: {test!r} is not a comparison like \"> 1000\" or \">= 24\"")
        return f"{name} {test.strip()}"
    if name == "plan":
        plans = [test] if isinstance(test, str) else test
        if not isinstance(plans, list) or not set(plans) <= {"basic", "pro", "enterprise"}:
            raise ValueError(f"when.plan: {test!r} is not basic, pro, enterprise or a list of them")
        return f"plan in {'/'.join(plans)}"
    if name == "fortune500":
        if not isinstance(test, bool):
            raise ValueError("when.fortune500: use true or false")
        return f"fortune500 = {str(test).lower()}"
    raise ValueError(f"when.{name}: unknown field (use plan, acv, amount, fortune500, unresolved_hours, "
                     "customers_affected)")


def _test_passes(name: str, test: Any, report: Report) -> bool:
    value = getattr(report, name)
    if value is None:
        return False
    if name in NUMERIC_FIELDS:
        op, number = ("==", float(test)) if not isinstance(test, str) else _NUMERIC_TEST.match(test).groups()
        return _OPS[op](float(value), float(number))
    if name == "plan":
        return value in ([test] if isinstance(test, str) else test)
    return value is test


@dataclass(frozen=True)
class RuleMatch:
    rule: str
    criterion: str
    klass: str
    tier: str
    words: tuple[str, ...]  # the text that matched, for the person reading the result
    conditions: tuple[str, ...]  # field tests and label matchers that held
    weak: bool
    level: int | None
    also: tuple[str, ...]


@dataclass(frozen=True)
class TriageResult:
    klass: str
    tier: str
    matches: tuple[RuleMatch, ...]  # every rule that matched, winner first
    negated: tuple[tuple[str, str, str], ...]  # (rule, words, cue) suppressed by a negation
    needs_review: bool
    default_used: bool

    @property
    def winner(self) -> RuleMatch | None:
        return self.matches[0] if self.matches else None

    @property
    def also(self) -> tuple[str, ...]:
        """Extra audiences from every matched rule of the winning class."""
        extra = [a for m in self.matches if m.klass == self.klass for a in m.also]
        return tuple(dict.fromkeys(extra))


def match_rule(rule: Rule, report: Report, tier: str) -> tuple[RuleMatch | None, list[PhraseHit]]:
    """The rule's match on a report (or None), and the phrase hits a negation suppressed."""
    hits = find_phrases(tuple(rule.phrases), report.text) if rule.phrases else []
    live = [h for h in hits if h.negated_by is None]
    negated = [h for h in hits if h.negated_by is not None]
    if rule.phrases and not live:
        return None, negated
    if not all(_test_passes(name, test, report) for name, test in rule.when.items()):
        return None, negated
    matchers: list[LabelMatcher] = [parse_matcher(text) for text in rule.labels]
    if not all(m.matches(report.labels) for m in matchers):
        return None, negated
    conditions = tuple(describe_test(n, t) for n, t in rule.when.items()) + tuple(str(m) for m in matchers)
    words = tuple(dict.fromkeys(h.words for h in live))
    return RuleMatch(rule.id, rule.criterion, rule.klass, tier, words, conditions, rule.weak, rule.level,
                     tuple(rule.also)), negated


def triage(rules: RoutingRules, policy: Policy, report: Report) -> TriageResult:
    """Route a report: the most urgent tier wins, then the first rule; strong beats weak in a tier."""
    urgency = {name: tier.within for name, tier in policy.tiers.items()}
    matches, negated = [], []
    for index, rule in enumerate(rules.rules):
        tier = policy.classes[rule.klass].tier
        found, suppressed = match_rule(rule, report, tier)
        negated += [(rule.id, h.words, h.negated_by) for h in suppressed]
        if found:
            matches.append((urgency[tier], found.weak, index, found))
    if not matches:
        default = rules.default_class
        return TriageResult(default, policy.classes[default].tier, (), tuple(negated), True, True)
    matches.sort(key=lambda m: m[:3])
    ordered = tuple(m[3] for m in matches)
    winner = ordered[0]
    return TriageResult(winner.klass, winner.tier, ordered, tuple(negated), winner.weak, False)


