"""Triage: route a report or an alert to an incident class by the ordered rules of routing.toml.

A rule matches when every condition it has holds: at least one of its phrases
or concept combinations (concepts.py) appears in the text neither negated nor
hypothetical, every field test passes, every label matcher matches. The most
urgent matching tier wins; within a tier, the first rule, a strong rule before
a weak one. A win by rules marked `weak` only is `needs_review`: it keeps its
class and tier, and a person confirms it. When such a win is in the most urgent
tier it is the *safety bias* (`TriageResult.bias`): a report that mentions a
security, outage or legal concept without a confident match goes to that class
for review rather than to a slower one. Nothing matched: the default class,
also `needs_review`. Pure: the rules and the policy, loaded and validated by
config.routing and config.policy, are read by attribute.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .concepts import ConceptHit, ConceptIndex, concept_index, concepts_found, find_concepts, parse_combination
from .loaded import PerLoaded
from .matchers import LabelMatcher, parse_matcher
from .phrases import PhraseHit, any_phrase, find_phrases

if TYPE_CHECKING:  # the loaded configuration, read here by attribute only
    from ..config.policy import Policy
    from ..config.routing import RoutingRules, Rule

__all__ = ["NUMERIC_FIELDS", "Bias", "Report", "RuleMatch", "TriageResult", "describe_test", "match_rule", "triage"]

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

    def words_text(self) -> str:
        return " | ".join(self.words).lower()

    def word_parts(self) -> list[str]:
        return [part.lower() for w in self.words for part in w.split(" ... ")]


@dataclass(frozen=True)
class Bias:
    """Why a report went to the most urgent tier on a mention alone, and where it would have gone."""

    klass: str
    rules: tuple[str, ...]  # the weak rules that matched in that class
    words: tuple[str, ...]  # what they matched
    instead: str  # the class without the bias: the best confident match, else the default class
    instead_default: bool


@dataclass(frozen=True)
class TriageResult:
    klass: str
    tier: str
    matches: tuple[RuleMatch, ...]  # every rule that matched, winner first
    negated: tuple[tuple[str, str, str], ...]  # (rule, words, cue) suppressed by a negation
    needs_review: bool
    default_used: bool
    hypothetical: tuple[tuple[str, str, str], ...] = ()  # (rule, words, marker) in a hypothetical
    bias: Bias | None = None

    @property
    def winner(self) -> RuleMatch | None:
        return self.matches[0] if self.matches else None

    @property
    def also(self) -> tuple[str, ...]:
        """Extra audiences from every matched rule of the winning class."""
        extra = [a for m in self.matches if m.klass == self.klass for a in m.also]
        return tuple(dict.fromkeys(extra))


def _text_hits(rule: Rule, text: str, index: ConceptIndex | None) -> list[PhraseHit | ConceptHit]:
    hits: list[PhraseHit | ConceptHit] = list(find_phrases(tuple(rule.phrases), text)) if rule.phrases else []
    if rule.concepts and index is not None:
        hits += find_concepts(tuple(rule.concepts), index, rule.window, text)
    return hits


def match_rule(rule: Rule, report: Report, tier: str, index: ConceptIndex | None = None
               ) -> tuple[RuleMatch | None, list[PhraseHit | ConceptHit]]:
    """The rule's match on a report (or None), and the text hits a negation or a hypothetical suppressed."""
    hits = _text_hits(rule, report.text, index)
    live = [h for h in hits if h.negated_by is None and h.hypothetical is None]
    hedged = [h for h in hits if h not in live]
    if (rule.phrases or rule.concepts) and not live:
        return None, hedged
    if not all(_test_passes(name, test, report) for name, test in rule.when.items()):
        return None, hedged
    matchers: list[LabelMatcher] = [parse_matcher(text) for text in rule.labels]
    if not all(m.matches(report.labels) for m in matchers):
        return None, hedged
    conditions = tuple(describe_test(n, t) for n, t in rule.when.items()) + tuple(str(m) for m in matchers)
    words = _distinct(h.words for h in live)
    return RuleMatch(rule.id, rule.criterion, rule.klass, tier, words, conditions, rule.weak, rule.level,
                     tuple(rule.also)), hedged


def _distinct(words: Iterable[str]) -> tuple[str, ...]:
    """Matched words once: a concept's "data ... leaked" adds nothing to a phrase's "data leaked"."""
    kept: list[str] = []
    for w in words:
        flat = w.replace(" ... ", " ").lower()
        if not any(flat == k.replace(" ... ", " ").lower() for k in kept):
            kept.append(w)
    return tuple(kept)


def triage(rules: RoutingRules, policy: Policy, report: Report) -> TriageResult:
    """Route a report: the most urgent tier wins, then the first rule; strong beats weak in a tier."""
    ready = _prepared(rules, policy)
    urgency = ready.urgency
    vocabulary = concept_index(rules.concepts)
    text = report.text
    # Rules that read the text and find nothing there match nothing and hedge nothing: skipped unread.
    phrases_absent = ready.any_phrase is not None and ready.any_phrase.search(text) is None
    present = concepts_found(vocabulary, text) if ready.any_concepts else frozenset()
    matches, negated, hypothetical = [], [], []
    for index, (rule, tier, combinations) in enumerate(ready.rules):
        if (rule.phrases or rule.concepts) and (not rule.phrases or phrases_absent) \
                and not any(present.issuperset(c) for c in combinations):
            continue
        found, suppressed = match_rule(rule, report, tier, vocabulary)
        if suppressed:
            negated += _first_per_cue(rule.id, [(h.words, h.negated_by) for h in suppressed if h.negated_by])
            hypothetical += _first_per_cue(rule.id, [(h.words, h.hypothetical) for h in suppressed
                                                     if not h.negated_by])
        if found:
            matches.append((urgency[tier], found.weak, index, found))
    return decided(rules, policy, urgency, matches, negated, hypothetical)


def decided(rules: RoutingRules, policy: Policy, urgency: dict[str, Any], matches: list[tuple],
            negated: list, hypothetical: list) -> TriageResult:
    """The result of the rules that matched, as (urgency, weak, rule index, RuleMatch), and the hedged words."""
    matches = _without_explained(_without_fallbacks(matches, rules))
    hedged = {"negated": tuple(negated), "hypothetical": tuple(hypothetical)}
    if not matches:
        default = rules.default_class
        return TriageResult(default, policy.classes[default].tier, (), needs_review=True, default_used=True,
                            **hedged)
    matches.sort(key=lambda m: m[:3])
    ordered = tuple(m[3] for m in matches)
    winner = ordered[0]
    bias = _bias(ordered, rules.default_class, min(urgency.values()), urgency[winner.tier]) if winner.weak else None
    return TriageResult(winner.klass, winner.tier, ordered, needs_review=winner.weak, default_used=False,
                        bias=bias, **hedged)


@dataclass(frozen=True)
class _Ready:
    """What triage reads of the rules and the policy on every alert, worked out once per loaded pair."""

    urgency: dict[str, Any]
    rules: tuple[tuple[Any, str, tuple[frozenset[str], ...]], ...]  # (rule, its tier, each combination's concepts)
    any_phrase: re.Pattern[str] | None  # where any rule's phrase is; None when they cannot share one pattern
    any_concepts: bool


_READY: PerLoaded[_Ready] = PerLoaded()


def _prepared(rules: RoutingRules, policy: Policy) -> _Ready:
    """The rules ready to run, once per loaded rules and policy (domain/loaded.py)."""
    return _READY.get((rules, policy), lambda: _ready(rules, policy))


def _ready(rules: RoutingRules, policy: Policy) -> _Ready:
    every = tuple(dict.fromkeys(p for rule in rules.rules for p in rule.phrases))
    return _Ready(
        {name: tier.within for name, tier in policy.tiers.items()},
        tuple((rule, policy.classes[rule.klass].tier,
               tuple(frozenset(parse_combination(c)[0]) for c in rule.concepts)) for rule in rules.rules),
        any_phrase(every) if every else None, any(rule.concepts for rule in rules.rules))


def _first_per_cue(rule: str, hedged: list[tuple[str, Any]]) -> list[tuple[str, str, str]]:
    """One line per rule and cue: a phrase and a concept that found the same words say it once."""
    first: dict[str, str] = {}
    for words, cue in hedged:
        first.setdefault(cue, words)
    return [(rule, words, cue) for cue, words in first.items()]


def _without_fallbacks(matches: list, rules: RoutingRules) -> list:
    """A `fallback` rule (a label alone, say) yields to any strong rule that found words in the text."""
    if not any(m[3].words and not m[3].weak for m in matches):
        return matches
    return [m for m in matches if not rules.rules[m[2]].fallback]


def _without_explained(matches: list) -> list:
    """A weak rule's words that a strong rule's words already contain say nothing more.

    "Payment provider unavailable" is a payment failure: its "unavailable" does not also
    make it a possible outage that the safety bias would put first.
    """
    strong = " | ".join(m[3].words_text() for m in matches if not m[3].weak)
    return [m for m in matches if not (m[3].weak and m[3].words and strong
                                       and all(part in strong for part in m[3].word_parts()))]


def _bias(ordered: tuple[RuleMatch, ...], default: str, most_urgent: Any, winner_urgency: Any) -> Bias | None:
    """The safety bias, when a weak rule of the most urgent tier won: what it saw and what it overrode."""
    if winner_urgency != most_urgent:
        return None
    winner = ordered[0]
    mine = [m for m in ordered if m.klass == winner.klass and m.weak]
    confident = next((m for m in ordered if not m.weak), None)
    return Bias(winner.klass, tuple(m.rule for m in mine), tuple(dict.fromkeys(w for m in mine for w in m.words)),
                confident.klass if confident else default, confident is None)
