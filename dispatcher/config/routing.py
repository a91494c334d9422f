"""The routing rules (`routing.toml`): loaded and validated, with every problem named by rule and key.

Each rule's phrases must compile, its concept combinations name concepts of
the `[concepts]` table, its field tests and label matchers parse, its class
exist in the policy; a rule that can never win (shadowed by an earlier one of
its tier) is an error. Errors about a rule name it by position and id. Applying the rules to a report is
domain/triage.py's job.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError

from ..domain.concepts import parse_combination, term_words
from ..domain.matchers import parse_matcher
from ..domain.phrases import compile_phrase
from ..domain.triage import describe_test
from .directory import Table, load_toml
from .policy import Duration, Policy, is_audience
from .problems import ConfigError, Problem, error, pydantic_problems, warning

__all__ = ["HEARTBEAT_NAME", "MONITORING_CLASS", "Heartbeat", "RoutingRules", "Rule", "check_routing", "load_routing"]

HEARTBEAT_NAME = r"^[a-z0-9][a-z0-9._-]{0,63}$"  # a heartbeat's name: it is part of a URL path
MONITORING_CLASS = "monitoring"  # the policy's class a silent heartbeat opens

def _phrases_compile(phrases: list[str]) -> list[str]:
    for phrase in phrases:
        try:
            compile_phrase(phrase)
        except re.error as exc:
            raise ValueError(f"phrase {phrase!r} is not a valid regular expression: {exc}") from None
    return phrases


def _vocabulary(concepts: dict[str, list[str]]) -> dict[str, list[str]]:
    for name, terms in concepts.items():
        if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
            raise ValueError(f"concept name {name!r}: use lower-case letters, digits and -")
        if not terms:
            raise ValueError(f"concept {name!r} has no terms")
        for term in terms:
            try:
                term_words(term)
            except ValueError as exc:
                raise ValueError(f"concept {name!r}: {exc}") from None
    return concepts


def _label_matchers(labels: list[str]) -> list[str]:
    for text in labels:
        parse_matcher(text)
    return labels


def _field_tests(when: dict[str, Any]) -> dict[str, Any]:
    for name, test in when.items():
        describe_test(name, test)  # raises ValueError on anything it cannot evaluate
    return when


def _audiences(also: list[str]) -> list[str]:
    for audience in also:
        if not is_audience(audience):
            raise ValueError(f"{audience!r} is not an audience")
    return also


class Rule(Table):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    criterion: str  # the seed's criterion this rule implements, quoted in the output
    klass: str = Field(alias="class")  # `class` in routing.toml and in its errors (a Python keyword)
    phrases: Annotated[list[str], AfterValidator(_phrases_compile)] = Field(default_factory=list)
    concepts: list[str] = Field(default_factory=list)  # "actor + access + unauthorized": checked by check_routing
    window: int = Field(default=8, ge=2, le=40)  # words within which a combination's concepts must all appear
    when: Annotated[dict[str, str | float | bool | list[str]], AfterValidator(_field_tests)] = \
        Field(default_factory=dict)
    labels: Annotated[list[str], AfterValidator(_label_matchers)] = Field(default_factory=list)
    weak: bool = False
    fallback: bool = False  # counts only when no strong rule that reads the text matched
    level: int | None = Field(default=None, ge=1, le=4)
    also: Annotated[list[str], AfterValidator(_audiences)] = Field(default_factory=list)  # extra step-0 audiences

    def is_catch_all(self) -> bool:
        return not (self.phrases or self.concepts or self.when or self.labels)

    def signature(self) -> tuple:
        return (tuple(sorted(self.phrases)), tuple(sorted(self.concepts)), self.window,
                tuple(sorted((k, str(v)) for k, v in self.when.items())), tuple(sorted(self.labels)))


class Heartbeat(Table):
    """A monitor's declared heartbeat (`[heartbeats.NAME]`): how often it beats, how late it may be."""

    interval: Duration  # it beats at least this often
    grace: Duration | None = None  # how late a beat may be before the silence pages (default: one interval)
    description: str = ""  # what stops beating when it goes silent, shown in the incident

    @property
    def late_after(self) -> timedelta:
        return self.grace if self.grace is not None else self.interval


class RoutingRules(Table):
    default_class: str = "technical"
    # Dead man's switches (`POST /heartbeat/NAME`, Alertmanager's Watchdog): the expected interval and grace.
    heartbeats: dict[Annotated[str, Field(pattern=HEARTBEAT_NAME)], Heartbeat] = Field(default_factory=dict)
    concepts: Annotated[dict[str, list[str]], AfterValidator(_vocabulary)] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)


def check_routing(path: Path, policy: Policy | None) -> tuple[RoutingRules | None, list[Problem]]:
    """Load routing.toml and report unknown classes, bad expressions and shadowed rules."""
    data, problems = load_toml(path)
    if data is None:
        return None, problems
    try:
        rules = RoutingRules.model_validate(data)
    except ValidationError as exc:
        return None, pydantic_problems(path, exc)
    file = str(path)
    concept_problems = _concept_problems(file, rules)
    if policy is None:
        return rules, concept_problems
    problems = concept_problems + [error(file, f"rules[{i}].class", f"unknown incident class {r.klass!r}")
                for i, r in enumerate(rules.rules) if r.klass not in policy.classes]
    if rules.default_class not in policy.classes:
        problems.append(error(file, "default_class", f"unknown incident class {rules.default_class!r}"))
    if not problems:
        problems += _shadowed(file, rules, policy)
    if rules.heartbeats and MONITORING_CLASS not in policy.classes:
        problems.append(warning(file, "heartbeats", f"heartbeats are declared but policy.toml has no "
                                f"`{MONITORING_CLASS}` class: a silent one would page nobody (copy the class from "
                                "the shipped policy.toml; see docs/operations/heartbeats.md)"))
    return rules, problems


def _concept_problems(file: str, rules: RoutingRules) -> list[Problem]:
    """Each combination parses and names concepts of the [concepts] table; said with the rule's id."""
    problems = []
    for i, rule in enumerate(rules.rules):
        for text in rule.concepts:
            try:
                names, _ = parse_combination(text)
            except ValueError as exc:
                problems.append(error(file, f"rules[{i}].concepts", f"rule {rule.id!r}: {exc}"))
                continue
            unknown = [n for n in names if n not in rules.concepts]
            if unknown:
                problems.append(error(file, f"rules[{i}].concepts", f"rule {rule.id!r}: {text!r} names unknown "
                                      f"concept {', '.join(map(repr, unknown))}: define it under [concepts] "
                                      f"(there: {', '.join(sorted(rules.concepts)) or 'none'})"))
    return problems


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
