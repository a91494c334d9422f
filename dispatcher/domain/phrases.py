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

__all__ = ["PhraseHit", "any_phrase", "compile_phrase", "find_phrases", "hypothetical", "negation"]

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
def any_phrase(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
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


def find_phrases(phrases: tuple[str, ...], text: str) -> list[PhraseHit]:
    """Every phrase occurrence in the text, each marked with the cue that negates it, if any."""
    if not phrases:
        return []
    # Most rules match nothing in a given text: one search over all their phrases says so (triage
    # runs every rule on every alert; searching each phrase on its own cost 0.4 ms an alert).
    combined = any_phrase(phrases)
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
