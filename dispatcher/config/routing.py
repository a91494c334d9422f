"""Triage: ordered rules (`routing.toml`) route a report or an alert to an incident class.

A rule matches when every condition it has holds: at least one of its phrases
appears un-negated in the text, every field test passes, every label matcher
matches. The most urgent matching tier wins; within a tier, the first rule.
A win by a rule marked `weak` only is `needs_review`: it keeps its tier but
pages the on-call primary instead of the whole audience. Nothing matched:
the default class, also `needs_review`. Loading validates; triage is pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Mapping

from pydantic import AfterValidator, Field, ValidationError

from .directory import Table, load_toml
from ..domain.matchers import LabelMatcher, parse_matcher
from ..domain.phrases import PhraseHit, compile_phrase, find_phrases
from .policy import AUDIENCE, Policy
from .problems import ConfigError, Problem, error, pydantic_problems, warning

__all__ = ["Report", "RoutingRules", "Rule", "TriageResult", "check_routing", "load_routing", "triage"]

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


def _phrases_compile(phrases: list[str]) -> list[str]:
    for phrase in phrases:
        try:
            compile_phrase(phrase)
        except re.error as exc:
            raise ValueError(f"phrase {phrase!r} is not a valid regular expression: {exc}") from None
    return phrases


def _label_matchers(labels: list[str]) -> list[str]:
    for text in labels:
        parse_matcher(text)
    return labels


def _field_tests(when: dict[str, Any]) -> dict[str, Any]:
    for name, test in when.items():
        _describe_test(name, test)  # raises ValueError on anything it cannot evaluate
    return when


def _audiences(also: list[str]) -> list[str]:
    for audience in also:
        if not AUDIENCE.match(audience):
            raise ValueError(f"{audience!r} is not an audience")
    return also


class Rule(Table):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    criterion: str  # the seed's criterion this rule implements, quoted in the output
    klass: str = Field(alias="class")  # `class` in routing.toml and in its errors (a Python keyword)
    phrases: Annotated[list[str], AfterValidator(_phrases_compile)] = Field(default_factory=list)
    when: Annotated[dict[str, str | float | bool | list[str]], AfterValidator(_field_tests)] = \
        Field(default_factory=dict)
    labels: Annotated[list[str], AfterValidator(_label_matchers)] = Field(default_factory=list)
    weak: bool = False
    level: int | None = Field(default=None, ge=1, le=4)
    also: Annotated[list[str], AfterValidator(_audiences)] = Field(default_factory=list)  # extra step-0 audiences

    def is_catch_all(self) -> bool:
        return not (self.phrases or self.when or self.labels)

    def signature(self) -> tuple:
        return (tuple(sorted(self.phrases)), tuple(sorted((k, str(v)) for k, v in self.when.items())),
                tuple(sorted(self.labels)))


class RoutingRules(Table):
    default_class: str = "technical"
    rules: list[Rule] = Field(default_factory=list)


def _describe_test(name: str, test: Any) -> str:
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
    conditions = tuple(_describe_test(n, t) for n, t in rule.when.items()) + tuple(str(m) for m in matchers)
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


def check_routing(path: Path, policy: Policy | None) -> tuple[RoutingRules | None, list[Problem]]:
    """Load routing.toml and report unknown classes, bad expressions and shadowed rules."""
    data, problems = load_toml(path)
    if data is None:
        return None, problems
    try:
        rules = RoutingRules.model_validate(data)
    except ValidationError as exc:
        return None, pydantic_problems(path, exc)
    if policy is None:
        return rules, []
    file = str(path)
    problems = [error(file, f"rules[{i}].class", f"unknown incident class {r.klass!r}")
                for i, r in enumerate(rules.rules) if r.klass not in policy.classes]
    if rules.default_class not in policy.classes:
        problems.append(error(file, "default_class", f"unknown incident class {rules.default_class!r}"))
    if not problems:
        problems += _shadowed(file, rules, policy)
    return rules, problems


def _shadowed(file: str, rules: RoutingRules, policy: Policy) -> list[Problem]:
    """A rule can never win when an earlier rule of its tier matches everything it matches."""
    problems, seen = [], {}
    for i, rule in enumerate(rules.rules):
        tier = policy.classes[rule.klass].tier
        for j, earlier in seen.get(tier, []):
            if earlier.is_catch_all() or earlier.signature() == rule.signature():
                why = "a catch-all" if earlier.is_catch_all() else "an identical matcher"
                problems.append(error(file, f"rules[{i}]", f"rule {rule.id!r} is shadowed by {why} in its tier: "
                                      f"rules[{j}] ({earlier.id!r}) always wins first"))
                break
        seen.setdefault(tier, []).append((i, rule))
    ids = [r.id for r in rules.rules]
    problems += [warning(file, "rules", f"rule id {rid!r} is used more than once")
                 for rid in sorted({r for r in ids if ids.count(r) > 1})]
    return problems


def load_routing(path: Path, policy: Policy) -> RoutingRules:
    rules, problems = check_routing(path, policy)
    errors = [p for p in problems if p.severity.value == "error"]
    if rules is None or errors:
        raise ConfigError(errors or problems)
    return rules
