"""The SMS budget: GSM-7 transliteration, septet counting and cutting."""

import pytest

from dispatcher.render import gsm7


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Plain ASCII, 100% fine.", "Plain ASCII, 100% fine."),
        ("Café résumé naïve Ångström", "Cafe resume naive Angstrom"),
        ("“quoted” ‘single’ — dash – en", "\"quoted\" 'single' - dash - en"),
        ("fire 🔥 now", "fire now"),
        ("thumbs 👍🏽 up", "thumbs up"),
        ("wait…", "wait..."),
        ("non\u00a0breaking\tspace", "non breaking space"),
        ("braces {x} [y] ~^|\\ €5", "braces {x} [y] ~^|\\ €5"),
        ("£10 ¥20 §3 ¿qué? ¡sí!", "£10 ¥20 §3 ¿que? ¡si!"),
        ("Straße Œuvre", "Straße OEuvre"),
        ("日本", "??"),
        ("a\r\nb", "a\nb"),
        ("`tick`", "'tick'"),
    ],
)
def test_transliterate_table(raw, expected):
    assert gsm7.transliterate(raw) == expected


def test_transliterate_output_is_gsm7_only():
    mixed = "Ünïcödé “mess” 🔥 — 日本 ✓ ™ ½ ﬁ"
    out = gsm7.transliterate(mixed)
    assert all(ch in gsm7.BASIC or ch in gsm7.EXTENSION for ch in out)


def test_transliterate_is_idempotent():
    once = gsm7.transliterate("Café “x” 🔥 {y}")
    assert gsm7.transliterate(once) == once


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("hello", 5),
        ("", 0),
        ("é", 1),  # folded to "e"
        ("{}", 4),  # extension table: ESC + char each
        ("€", 2),
        ("a[b]c", 7),
        ("~^|\\", 8),
        ("🔥", 0),  # dropped
        ("—", 1),  # "-"
    ],
)
def test_septets_table(text, count):
    assert gsm7.septets(text) == count


def test_fit_leaves_short_text_alone():
    assert gsm7.fit("SEC-2026-001 short page") == "SEC-2026-001 short page"


def test_fit_cuts_long_text_with_marker_within_budget():
    out = gsm7.fit("word " * 100)
    assert out.endswith("...")
    assert gsm7.septets(out) <= 160


def test_fit_counts_extension_chars_as_two():
    out = gsm7.fit("{" * 200)
    assert gsm7.septets(out) <= 160
    assert out.count("{") == (160 - 3) // 2


def test_fit_exactly_at_budget_is_not_cut():
    text = "x" * 160
    assert gsm7.fit(text) == text
    assert gsm7.fit(text + "y").endswith("...")


def test_fit_never_cuts_protected_head():
    head = "[DRILL] SEC-2026-001 "
    out = gsm7.fit(head + "z" * 500, protected_head=head)
    assert out.startswith(head)
    assert gsm7.septets(out) <= 160


def test_fit_prepends_missing_head():
    out = gsm7.fit("body text", protected_head="[DRILL] ")
    assert out == "[DRILL] body text"


def test_cut_measures_with_given_function():
    out = gsm7.cut("abcdefghij" * 5, 20, protected_head="ID-1 ")
    assert out.startswith("ID-1 ")
    assert len(out) <= 20
    assert out.endswith("...")


def test_cut_prefers_word_boundary():
    out = gsm7.cut("alpha beta gamma delta epsilon", 20)
    assert out == "alpha beta gamma..."
