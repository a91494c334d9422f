"""Concept matching: a rule's idea as groups of words found near each other, in any order, on word stems.

routing.toml names each concept once, as a list of terms (`actor = ["someone",
"unknown person", "attacker", ...]`), and a rule combines concepts with `+`
(`"actor + access + unauthorized"`): the rule's idea is there when one term of
every concept appears within `window` words of the others, in any order (a
combination may set its own: `"nobody + able within 12"`). A
term is one or more words, compared on their Snowball English stems, so
"log in", "logged in" and "logging in" are one term; a word ending in `*` is a
prefix of the written word instead ("unauthori*": unauthorized, unauthorised).
A hyphenated word is one piece: "down" is not found in "drop-down", while "sign
in" is found in "sign-in". One word of the text counts for one concept only.

A combination found where a negation cue governs one of its words (phrases.py's
rule; the cues inside its own terms, such as "without" in "without
permission", do not count) or inside a hypothetical (phrases.hypothetical) is
kept aside for the reader and matches nothing. Pure: the stemmer
(`snowballstemmer`, imported on first use: `notify --help` never needs it) is
the only import outside the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from .loaded import PerLoaded
from .phrases import hypothetical, negation

__all__ = ["ConceptHit", "ConceptIndex", "Token", "concept_index", "concepts_found", "find_concepts",
           "parse_combination", "stem", "term_words", "tokens"]

_WORD = re.compile(r"[\w']+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})


class Token(NamedTuple):  # a tuple: made for every word of every report
    word: str  # lower-cased as written
    stem: str
    start: int  # character offsets in the text
    end: int
    opens: bool = True  # not the second part of a hyphenated word ("down" of "drop-down")
    closes: bool = True  # not followed by a hyphen and more of the word


@dataclass(frozen=True)
class ConceptHit:
    combination: str  # the rule's "actor + access + unauthorized"
    words: str  # the matched words, in text order, joined by " ... "
    negated_by: str | None = None
    hypothetical: str | None = None


class _Found(NamedTuple):
    concept: str
    first: int  # token indexes, inclusive
    last: int


@lru_cache(maxsize=1)
def _stemmer():
    import snowballstemmer  # 30 ms of imports (every language's stemmer): only when a report is triaged

    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """The Snowball English stem of one lower-cased word (possessives and n't kept apart)."""
    if word.isascii() and word.isdigit():  # its own stem (Snowball's rules are about letters): alerts carry new
        return word  # numbers every time (counts, ids, ports), and stemming each cost 28 us
    word = word.translate(_APOSTROPHES).lower()
    word = word.removesuffix("'s")
    return _stemmer().stemWord(word.replace("'", ""))


@lru_cache(maxsize=256)
def tokens(text: str) -> tuple[Token, ...]:
    """The words of a text with their stems (cached: every rule of a triage reads the same text)."""
    return tuple(Token(m.group(0).translate(_APOSTROPHES).lower(), stem(m.group(0)), m.start(), m.end(),
                       not _joined(text, m.start() - 1), not _joined(text, m.end()))
                 for m in _WORD.finditer(text))


def _joined(text: str, at: int) -> bool:
    """A hyphen at `at` between two word characters."""
    return 0 < at < len(text) - 1 and text[at] == "-" and text[at - 1].isalnum() and text[at + 1].isalnum()


@lru_cache(maxsize=4096)
def term_words(term: str) -> tuple[str, ...]:
    """A term as it is compared: stems, or `prefix*` for a written-word prefix. ValueError if it has no word."""
    words = _WORD.findall(term.replace("*", "_STAR_"))
    if not words:
        raise ValueError(f"term {term!r} has no word")
    return tuple(w.lower().replace("_star_", "*") if "_STAR_" in w else stem(w) for w in words)


_WITHIN = re.compile(r"\s+within\s+(\d+)\s*$")


@lru_cache(maxsize=1024)
def parse_combination(text: str) -> tuple[tuple[str, ...], int | None]:
    """'actor + access within 12' -> (('actor', 'access'), 12); ValueError names what is wrong."""
    within = _WITHIN.search(text)
    window = int(within.group(1)) if within else None
    parts = tuple(p.strip() for p in text[:within.start() if within else len(text)].split("+"))
    if not all(re.fullmatch(r"[a-z][a-z0-9-]*", p) for p in parts):
        raise ValueError(f"{text!r}: write concept names joined by +, like \"actor + access + unauthorized\", "
                         "optionally ending in \"within 12\"")
    if len(set(parts)) != len(parts):
        raise ValueError(f"{text!r}: a concept appears twice")
    if window is not None and not 2 <= window <= 40:
        raise ValueError(f"{text!r}: a window is 2 to 40 words")
    return parts, window


def _word_matches(pattern: str, token: Token) -> bool:
    return token.word.startswith(pattern[:-1]) if pattern.endswith("*") else token.stem == pattern


class ConceptIndex:
    """A vocabulary ready to search: every term of every concept by its first stem."""

    def __init__(self, vocabulary: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
        self.by_first: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        self.prefixed: dict[str, list[tuple[str, tuple[str, ...]]]] = {}  # by the prefix's first letter
        for concept, terms in vocabulary:
            for words in map(term_words, terms):
                if words[0].endswith("*"):
                    self.prefixed.setdefault(words[0][0], []).append((concept, words))
                else:
                    self.by_first.setdefault(words[0], []).append((concept, words))

    def candidates(self, tok: Token) -> list[tuple[str, tuple[str, ...]]]:
        found = self.by_first.get(tok.stem, [])
        prefixed = self.prefixed.get(tok.word[:1])
        return found + [c for c in prefixed if tok.word.startswith(c[1][0][:-1])] if prefixed else found


_BUILT: PerLoaded[ConceptIndex] = PerLoaded()


def concept_index(vocabulary: Mapping[str, Sequence[str]]) -> ConceptIndex:
    """The index of a vocabulary (routing.toml's [concepts]), built once per loaded vocabulary.

    Keyed by identity, holding the vocabulary so its id is not reused: triage asks on every
    alert, and a key made of every term would cost more than the matching.
    """
    return _BUILT.get((vocabulary,), lambda: ConceptIndex(
        tuple((name, tuple(terms)) for name, terms in vocabulary.items())))


@lru_cache(maxsize=64)
def _occurrences(index: ConceptIndex, text: str) -> dict[str, tuple[_Found, ...]]:
    """Where each concept's terms are in the text: one pass over its words (cached: every rule reads it)."""
    toks = tokens(text)
    found: dict[str, list[_Found]] = {}
    for i, tok in enumerate(toks):
        if not tok.opens:
            continue
        for concept, words in index.candidates(tok):
            last = i + len(words) - 1
            if last < len(toks) and toks[last].closes \
                    and all(_word_matches(w, toks[i + k]) for k, w in enumerate(words)):
                found.setdefault(concept, []).append(_Found(concept, i, last))
    return {concept: tuple(places) for concept, places in found.items()}


def concepts_found(index: ConceptIndex, text: str) -> frozenset[str]:
    """The concepts with a term in the text: a combination that names another one finds nothing there."""
    return frozenset(_occurrences(index, text))


def _overlaps(a: _Found, chosen: list[_Found]) -> bool:
    return any(a.first <= c.last and c.first <= a.last for c in chosen)


def _spans(by_concept: dict[str, tuple[_Found, ...]], window: int):
    """Each set of one occurrence per concept within the window, leftmost first, nearest others."""
    for anchor in sorted((f for found in by_concept.values() for f in found), key=lambda f: f.first):
        chosen = [anchor]
        for concept, found in by_concept.items():
            if concept == anchor.concept:
                continue
            after = [f for f in found if f.first >= anchor.first and not _overlaps(f, chosen)]
            if not after:
                break
            chosen.append(min(after, key=lambda f: f.last))
        else:
            if max(f.last for f in chosen) - anchor.first < window:
                yield sorted(chosen, key=lambda f: f.first)


def _hedge(text: str, toks: tuple[Token, ...], chosen: list[_Found]) -> tuple[str | None, str | None]:
    """(negation cue, hypothetical marker) governing a found combination, cues inside its terms aside."""
    masked = list(text)
    for f in chosen:  # a cue that is part of a matched term ("without permission") negates nothing
        for k in range(toks[f.first].start, toks[f.last].end):
            masked[k] = "_" if k == toks[f.first].start else " "
    masked_text = "".join(masked)
    cue = next((c for f in chosen if (c := negation(masked_text, toks[f.first].start))), None)
    return cue, hypothetical(text, toks[chosen[0].first].start)


def find_concepts(combinations: tuple[str, ...], index: ConceptIndex, window: int, text: str) -> list[ConceptHit]:
    """For each combination: its first live occurrence, or its first hedged one when it has none."""
    toks = tokens(text)
    places = _occurrences(index, text)
    hits: list[ConceptHit] = []
    for combination in combinations:
        concepts, own_window = parse_combination(combination)
        if not all(c in places for c in concepts):  # most combinations miss
            continue
        hedged = []
        for chosen in _spans({c: places[c] for c in concepts}, own_window or window):
            words = " ... ".join(text[toks[f.first].start:toks[f.last].end] for f in chosen)
            cue, maybe = _hedge(text, toks, chosen)
            hit = ConceptHit(combination, words, cue, maybe)
            if cue is None and maybe is None:
                hits.append(hit)
                break
            hedged.append(hit)
        else:
            hits += hedged[:1]
    return hits
