"""Concept matching (domain/concepts.py) and the hypothetical rule (domain/phrases.py), on small vocabularies."""

from __future__ import annotations

import pytest

from dispatcher.domain.concepts import concept_index, find_concepts, parse_combination, term_words
from dispatcher.domain.phrases import hypothetical

VOCABULARY = {
    "actor": ("someone", "unknown person", "attacker"),
    "access": ("log in", "access", "sign in"),
    "unauthorized": ("without permission", "unauthori*", "isn't ours"),
    "service": ("site", "app"),
    "down": ("down", "unavailable"),
}


def hits(combination: str, text: str, window: int = 8) -> list[tuple[str, str | None, str | None]]:
    index = concept_index(VOCABULARY)
    return [(h.words, h.negated_by, h.hypothetical) for h in find_concepts((combination,), index, window, text)]


@pytest.mark.parametrize(("text", "words"), [
    ("someone accessed our account without permission", "someone ... accessed ... without permission"),
    ("Without permission, someone logged in to the admin account", "Without permission ... someone ... logged in"),
    ("An unknown person was logging in; it is unauthorised", "unknown person ... logging in ... unauthorised"),
    ("an attacker signed in; the device isn't ours", "attacker ... signed in ... isn't ours"),
])
def test_any_order_and_any_inflection_on_stems(text: str, words: str) -> None:
    assert hits("actor + access + unauthorized", text) == [(words, None, None)]


def test_every_concept_must_be_there_within_the_window() -> None:
    assert hits("actor + access + unauthorized", "someone logged in") == []
    far = "someone said yesterday that after lunch the team would log in again without permission"
    assert hits("actor + access + unauthorized", far, window=8) == []
    assert hits("actor + access + unauthorized", far, window=14) != []
    assert hits("actor + access + unauthorized within 14", far, window=8) != []


def test_a_hyphenated_word_is_one_piece() -> None:
    assert hits("service + down", "the drop-down in the app is empty") == []
    assert hits("actor + access", "someone used the sign-in page") == [("someone ... sign-in", None, None)]


def test_a_cue_inside_a_term_is_no_negation_but_one_before_a_term_is() -> None:
    assert hits("access + unauthorized", "accessed without permission")[0][1] is None
    assert hits("access + unauthorized", "nobody accessed it without permission")[0][1] == "nobody"
    assert hits("service + down", "the site is not down, just slow")[0][1] == "not"
    assert hits("service + down", "we don't know if the site is down")[0][1] is None


def test_a_hedged_combination_is_returned_only_when_there_is_no_live_one() -> None:
    text = "The app isn't down for us. But the site is down for everyone else."
    assert hits("service + down", text) == [("site ... down", None, None)]


@pytest.mark.parametrize(("text", "marker"), [
    ("What if our data leaked?", "what if"),
    ("Hypothetically, if a subpoena came in, would you tell us?", "hypothetically"),
    ("In case the site goes down, where do you post updates?", "in case"),
    ("If we ever had a breach, would you notify us?", "if we ever"),
    ("If the API is down, do we get credits?", "if ...?"),
    ("Could an attacker brute-force our logins?", "could ...?"),
])
def test_hypotheticals(text: str, marker: str) -> None:
    assert hypothetical(text, len(text) - 8) == marker


@pytest.mark.parametrize("text", [
    "We will sue if nobody answers by Monday.",  # a condition in a statement is a threat
    "Do you know if the API is down?",  # an embedded question is uncertainty
    "Could you check why the site is down?",  # a request
    "Could we amend our contract?",
    "Could our data have been exposed?",  # asks what happened
    "What if our data leaked? Anyway, today the site is down.",  # the next sentence is a report
])
def test_not_hypotheticals(text: str) -> None:
    assert hypothetical(text, len(text) - 6) is None


@pytest.mark.parametrize(("text", "message"), [
    ("actor +", "write concept names joined by +"),
    ("actor + actor", "a concept appears twice"),
    ("actor + access within 99", "a window is 2 to 40 words"),
    ("Actor", "write concept names"),
])
def test_bad_combinations_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_combination(text)


def test_terms_are_stems_or_prefixes() -> None:
    assert term_words("logged in") == term_words("log in") == ("log", "in")
    assert term_words("unauthori*") == ("unauthori*",)
    with pytest.raises(ValueError, match="has no word"):
        term_words("--")
