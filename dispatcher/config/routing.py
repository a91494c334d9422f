"""The routing rules (`routing.toml`): loaded and validated, with every problem named by rule and key.

Each rule's phrases must compile, its field tests and label matchers parse,
its class exist in the policy; a rule that can never win (shadowed by an
earlier one of its tier) is an error. Applying the rules to a report is
domain/triage.py's job.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError

from ..domain.matchers import parse_matcher
from ..domain.phrases import compile_phrase
from ..domain.triage import describe_test
from .directory import Table, load_toml
from .policy import AUDIENCE, Policy
from .problems import ConfigError, Problem, error, pydantic_problems, warning

__all__ = ["RoutingRules", "Rule", "check_routing", "load_routing"]

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
        describe_test(name, test)  # raises ValueError on anything it cannot evaluate
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
