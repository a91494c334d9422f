"""find_phrases: one search over a rule's phrases decides nothing; the hits are those of each phrase alone."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from dispatcher.domain.phrases import PhraseHit, _negation, compile_phrase, find_phrases
from dispatcher.config.directory import load_directory
from dispatcher.config.policy import load_policy
from dispatcher.config.routing import load_routing

ROOT = Path(__file__).resolve().parent.parent


def one_by_one(phrases: tuple[str, ...], text: str) -> list[PhraseHit]:
    """The definition: each phrase searched on its own."""
    return [PhraseHit(p, m.group(0), _negation(text, m.start())) for p in phrases
            for m in compile_phrase(p).finditer(text)]


def shipped_rules() -> list[tuple[str, ...]]:
    rules = load_routing(ROOT / "routing.toml", load_policy(ROOT / "policy.toml",
                                                                  load_directory(ROOT / "contacts.toml")))
    return [tuple(r.phrases) for r in rules.rules if r.phrases]


def texts(rule_sets: list[tuple[str, ...]]) -> list[str]:
    """Alert-like texts, texts built from the phrases' own words, negated and not, and random mixtures."""
    words = sorted({w for phrases in rule_sets for p in phrases for w in p.replace("(", " ").replace(")", " ")
                    .replace("|", " ").replace("?", " ").split() if w.isalpha()})
    rng = random.Random(8)
    made = ["", "Disk 91% full on build-agent-7", "High request latency on checkout: p99 above 2s for 10m",
            "We don't know if data was exposed", "no data leaked, but the refund failed twice"]
    made += [" ".join(rng.choice(words + ["not", "no", "but", ",", "if", "the"]) for _ in range(rng.randint(1, 30)))
             for _ in range(300)]
    return made


def test_the_shipped_rules_find_what_each_phrase_finds_alone() -> None:
    rule_sets = shipped_rules()
    assert rule_sets
    for text in texts(rule_sets):
        for phrases in rule_sets:
            assert find_phrases(phrases, text) == one_by_one(phrases, text), (phrases, text)


@pytest.mark.parametrize("phrases, text, words", [
    ((r"(ab)\1", "zzz"), "x abab y", ["abab"]),  # a backreference: searched phrase by phrase
    ((r"(?P<w>data) (?P=w)", "leak"), "data data", ["data data"]),
    (("(a|b)c", "c(d)"), "bc cd", ["bc", "cd"]),  # plain groups combine
    (("refund",), "refunds", []),  # word boundaries hold in the combined search too
    (("refund", "refunds?"), "two refunds", ["refunds"]),
    ((), "anything", []),
])
def test_phrase_sets_with_groups_and_boundaries(phrases: tuple[str, ...], text: str, words: list[str]) -> None:
    assert [h.words for h in find_phrases(phrases, text)] == words
    assert find_phrases(phrases, text) == one_by_one(phrases, text)
