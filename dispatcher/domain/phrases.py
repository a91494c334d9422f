"""Phrase matching in report text, with a negation rule a person can predict.

A phrase is a case-insensitive regular expression matched on word boundaries
("refund", "data (was )?(exposed|leaked)"). A match is *negated*, and pages
nobody on it, when all of these hold:

- a negation cue (not, no, never, without, isn't, wasn't, don't, didn't, ...)
  stands among the four words right before the match;
- the cue is in the same clause: no `. , ; : ! ?` and none of but, however,
  although, though, yet, except between cue and match;
- no "if", "whether" or question word (who, what, when, where, which, how)
  stands between cue and match: "we don't know if data was exposed" and "we
  don't know who logged in" are uncertainty, not negation, and still match.

A match is *hypothetical*, and pages nobody on it either, when its sentence
asks about a situation rather than reports one (see `hypothetical`): "what if
our data leaked?", "hypothetically, if a subpoena came in...", "in case of an
outage, where do you post updates?". A statement with a condition is no
hypothetical: "if this is not fixed by Friday we will sue" is a threat.

Nothing else suppresses a match. Pure functions; stdlib only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from re import _constants as _c, _parser  # type: ignore[attr-defined]  # what a phrase begins with
from typing import Any

__all__ = ["PhraseHit", "PhraseIndex", "compile_phrase", "find_phrases", "hypothetical", "negation"]

NEGATION_CUES = frozenset({
    "not", "no", "never", "none", "nothing", "nobody", "noone", "nobody's", "without", "neither", "nor", "cannot",
    "isn't", "wasn't", "aren't", "weren't", "don't", "doesn't", "didn't", "hasn't", "haven't", "hadn't",
    "can't", "won't", "wouldn't", "shouldn't", "couldn't", "isnt", "wasnt", "dont", "doesnt", "didnt",
})
UNCERTAINTY = frozenset({"if", "whether", "who", "what", "when", "where", "which", "how"})
WINDOW = 4  # words before a match in which a cue negates it
_CLAUSE_BREAK = re.compile(r"[.,;:!?\n]|\b(?:but|however|although|though|yet|except)\b", re.I)
_WORD = re.compile(r"[\w']+")
_GROUP_REFERENCE = re.compile(r"\\[1-9]|\(\?P[<=]|\(\?\(|\\g<")


@dataclass(frozen=True)
class PhraseHit:
    phrase: str  # the rule's phrase
    words: str  # the text it matched
    negated_by: str | None = None  # the cue that suppressed it, if any
    hypothetical: str | None = None  # the words that make its sentence a hypothetical, if any


@lru_cache(maxsize=1024)
def compile_phrase(phrase: str) -> re.Pattern[str]:
    """Compile a phrase on word boundaries; re.error for a bad expression."""
    return re.compile(rf"(?<![\w])(?:{phrase})(?![\w])", re.IGNORECASE)


@lru_cache(maxsize=1024)
def _any_of(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern that matches where any of the phrases does; None when they cannot share one.

    A phrase that refers to a group (a backreference, a named group) would mean something else
    among the others' groups, so such a rule set is searched phrase by phrase.
    """
    if any(_GROUP_REFERENCE.search(p) for p in phrases):
        return None
    try:
        return re.compile(rf"(?<![\w])(?:{'|'.join(f'(?:{p})' for p in phrases)})(?![\w])", re.IGNORECASE)
    except re.error:
        return None


class PhraseIndex:
    """Which of many phrases may be in a text, by the letters each must begin with, without a search.

    triage runs every rule on every alert, and one search over all their phrases still tried each
    of them at every word (60 us an alert). Most phrases can only begin with a few literal
    beginnings ("(data )?breach": "data", "brea"; the first SHORT letters at most): a phrase is a
    candidate only when the text has one of them where a phrase may begin (no word character
    before it). A phrase whose beginning is not known (a class such as \\d first, a letter
    beyond ASCII) is always a candidate, and so is every phrase on a text beyond ASCII (where
    ignoring case is more than lower()). `candidates` may name phrases that do not match, never
    leaves out one that does.
    """

    def __init__(self, phrases: tuple[str, ...]) -> None:
        self.always: set[str] = set()
        self.by_start: dict[str, set[str]] = {}  # a beginning -> the phrases that may begin so
        for phrase in phrases:
            beginnings = _beginnings(phrase)
            if beginnings is None:
                self.always.add(phrase)
            for start in beginnings or ():
                self.by_start.setdefault(start, set()).add(phrase)
        self.lengths = sorted({len(start) for start in self.by_start})
        self.every = frozenset(phrases)

    def candidates(self, text: str) -> frozenset[str] | set[str]:
        if not text.isascii():
            return self.every
        low, found = text.lower(), set(self.always)
        for at in _MAY_BEGIN.finditer(low):
            i = at.start()
            for length in self.lengths:
                found.update(self.by_start.get(low[i:i + length], ()))
        return found


_MAY_BEGIN = re.compile(r"(?<!\w).", re.DOTALL)  # where a phrase may begin: compile_phrase's (?<![\w])
SHORT = 4  # letters of a beginning that are looked up: enough to tell most phrases apart
_MOST = 64  # beginnings worked out per phrase; beyond, the shorter ones known so far


def _beginnings(phrase: str) -> set[str] | None:
    """The lower-case literal beginnings every match of the phrase starts with; None when one may be empty."""
    try:
        found = _starts(_parser.parse(phrase))
    except Exception:  # noqa: BLE001 - an expression this reading does not know: always a candidate
        return None
    starts = {start for start, _ in found}
    return None if "" in starts else starts


def _clip(start: str, going: bool) -> tuple[str, bool]:
    return (start[:SHORT], False) if len(start) >= SHORT else (start, going)


def _starts(items: Any) -> set[tuple[str, bool]]:
    """(literal beginning, whether it may go on) for each way through a parsed sequence."""
    now = {("", True)}
    for op, av in items:
        if not any(going for _, going in now):
            break
        if op in (_c.ASSERT, _c.ASSERT_NOT, _c.AT):
            continue  # no width: the next item goes on from here
        if op is _c.LITERAL:
            options = {(chr(av).lower(), True)} if chr(av).isascii() else None
        elif op is _c.IN:
            chars = _in_set(av)
            options = {(c, True) for c in chars} if chars is not None else None
        elif op is _c.SUBPATTERN:
            options = _starts(av[3])
        elif op is _c.BRANCH:
            options = {way for branch in av[1] for way in _starts(branch)}
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            least, most, sub = av
            once = _starts(sub)
            # One time through, then it may repeat (stop there); none at all goes on with the next item.
            options = once if least == most == 1 else \
                {(s, False) for s, _ in once} | ({("", True)} if least == 0 else set())
        else:
            options = None  # any character, a class, a backreference: the beginning ends here
        if options is None:
            now = {(start, False) for start, _ in now}
            continue
        ahead = {_clip(start + more, goes) if going else (start, False)
                 for start, going in now for more, goes in (options if going else [("", False)])}
        now = ahead if len(ahead) <= _MOST else {(start, False) for start, _ in now}
    return now


def _in_set(items: Any) -> set[str] | None:
    """The lower-case ASCII characters of a small [set]; None for a negated set, a class or a wide range."""
    chars: set[str] = set()
    for op, av in items:
        if op is _c.LITERAL:
            chars.add(chr(av))
        elif op is _c.RANGE and av[1] - av[0] < 16:
            chars.update(chr(i) for i in range(av[0], av[1] + 1))
        else:
            return None
    lowered = {c.lower() for c in chars}
    return lowered if all(c.isascii() for c in lowered) and len(lowered) <= 16 else None


def find_phrases(phrases: tuple[str, ...], text: str) -> list[PhraseHit]:
    """Every phrase occurrence in the text, each marked with the cue that negates it, if any."""
    if not phrases:
        return []
    # Most rules match nothing in a given text: one search over all their phrases says so (triage
    # runs every rule on every alert; searching each phrase on its own cost 0.4 ms an alert).
    combined = _any_of(phrases)
    if combined is not None and combined.search(text) is None:
        return []
    hits = []
    for phrase in phrases:
        for match in compile_phrase(phrase).finditer(text):
            hits.append(PhraseHit(phrase, match.group(0), _negation(text, match.start()),
                                  hypothetical(text, match.start())))
    return hits


def _negation(text: str, start: int) -> str | None:
    """The negation cue governing the words at `start`, per the module's rule."""
    before = text[:start]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    clause = before[breaks[-1].end():] if breaks else before
    words = [w.lower() for w in _WORD.findall(clause)][-WINDOW:]
    for i in range(len(words) - 1, -1, -1):
        if words[i] in UNCERTAINTY:
            return None
        if words[i] in NEGATION_CUES:
            return words[i]
    return None


negation = _negation  # the public name, for concepts.py

# Words that, before a match in its sentence, make the sentence about a situation that has not happened.
_ALWAYS_HYPOTHETICAL = re.compile(
    r"\b(?:what if|what happens if|what would happen|hypothetical(?:ly)?|in theory|theoretically|suppose|"
    r"supposing|imagine|(?<!just )in case|in the event (?:of|that)|if (?:\w+ )?ever|were to)\b", re.IGNORECASE)
# In a question, a conditional "if" (not "do you know if") or a modal about what could happen.
_CONDITIONAL_IF = re.compile(r"(?<!\bknow )(?<!\bsure )(?<!\bwonder )(?<!\bcheck )(?<!\bsee )(?<!\bconfirm )"
                             r"(?<!\btell )(?<!\bask )(?<!\bunclear )\bif\b", re.IGNORECASE)
# A question that opens on a modal about something else than the asker: "Could an attacker ...?",
# "Would an outage ...?". Not a request ("Could you ...", "Could we ...", "Can someone ...").
_MODAL_QUESTION = re.compile(r"^\W*(?:could|would|might|what would|how would|is it possible|are you protected|"
                             r"how do you (?:protect|prevent|handle)|do you (?:protect|prevent|have a (?:plan|process|"
                             r"policy)))\b(?! (?:you|u|we|i|someone|somebody|anyone|anybody|please)\b)", re.IGNORECASE)
_HAPPENED = re.compile(r"\b(?:has|have|had) been\b|\balready\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?\n]")


def hypothetical(text: str, start: int) -> str | None:
    """The words that make the sentence around `start` a hypothetical ('what if', 'could'), or None."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, start)]
    begin = ends[-1] if ends else 0
    stop = _SENTENCE_END.search(text, start)
    before = text[begin:start]
    if found := _ALWAYS_HYPOTHETICAL.search(before):
        return found.group(0).lower()
    if stop is None or stop.group(0) != "?" or _HAPPENED.search(text[begin:stop.end()]):
        return None
    if found := _CONDITIONAL_IF.search(before):
        return found.group(0).lower() + " ...?"
    if found := _MODAL_QUESTION.search(before):
        return found.group(0).strip().lower() + " ...?"
    return None
