"""Escaping of untrusted values for Slack, mail headers and speech."""

import pytest

from dispatcher.render import escaping

WJ = "\u2060"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("@here", f"@{WJ}here"),
        ("ping @channel now", f"ping @{WJ}channel now"),
        ("@Everyone", f"@{WJ}Everyone"),
        ("<https://evil.example|click>", "&lt;https://evil.example|click&gt;"),
        ("<@U123ABC>", "&lt;@U123ABC&gt;"),
        ("AT&T", "AT&amp;T"),
        ("a < b > c", "a &lt; b &gt; c"),
        ("mail jane@acme.example", "mail jane@acme.example"),
        ("*bold* _it_", "*bold* _it_"),
    ],
)
def test_slack_escaping_table(raw, expected):
    assert escaping.slack(raw) == expected


@pytest.mark.parametrize("raw", ["<!channel> & @here", "AT&T <x>", "&amp; already", "@everyone"])
def test_slack_escaping_is_idempotent(raw):
    once = escaping.slack(raw)
    assert escaping.slack(once) == once


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Acme\r\nBcc: x@y", "Acme Bcc: x@y"),
        ("a\nb", "a b"),
        ("a \r\n  b", "a b"),
        ("a\u2028b\x85c", "a b c"),
        ("tab\there", "tab here"),
        ("nul\x00byte", "nulbyte"),
        ("  padded  ", "padded"),
    ],
)
def test_header_is_one_line(raw, expected):
    out = escaping.header(raw)
    assert out == expected
    assert "\r" not in out and "\n" not in out


def test_speech_drops_urls_and_markup():
    out = escaping.speech("see https://evil.example/x?y=1 and *bold* <b>tag</b>\nnext line")
    assert "http" not in out and "*" not in out and "<" not in out
    assert "\n" not in out
    assert "(link omitted)" in out


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("SEC-2026-001", "S E C 2026 001"),
        ("out-2026-12", "O U T 2026 12"),
        ("INC42", "I N C 42"),
    ],
)
def test_spell_id(raw, expected):
    assert escaping.spell_id(raw) == expected
