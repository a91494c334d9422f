"""What a mail reader sees of a notice: the headers we set, one text part (and an HTML alternative), nothing injected.

Each case is parsed back as a mail client does; hostile values (CR/LF in a subject, an incident
id or a display name) must stay text on their own header line, never start a header of their own.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime, timezone

import pytest

from channels._mail import SmtpSettings, build_message
from dispatcher.api import Notice

LONG = "word " * 40
# (display name, subject, text, html, drill)
CASES = [
    ("notify", "[P1] API returns 503", "API down since 03:12 UTC.", "<p>API <b>down</b></p>", False),
    ("notify", "short", "one line", None, False),
    ("Störungsmelder", "Störung: Zahlung ✗", "Bitte prüfen.\n.leading dot stays", None, False),
    ('Ops "Team", Berlin: on-call', "subject", "text", "<p>x</p>", True),
    ("notify\r\nBcc: evil@x", "x\r\nBcc: evil@x", "body\r\nwith CRLF\rand CR", "<p>\r\n</p>", False),
    ("notify", LONG + "end of a very long subject line", LONG + "\n" + "x" * 200, "<p>" + "y" * 300 + "</p>", False),
    ("notify", "ünïcödé " * 20, "ünïcödé " * 50, "<p>" + "ü" * 100 + "</p>", False),
    ("notify", "=?utf-8?q?looks_encoded?=", "--===============1234==\nnot a boundary", "<p>.</p>", False),
    ("notify", "emoji 🚨 page", "🚨\n\n\nblank lines above\n", None, True),
    ("notify", "", "", None, False),
    ("notify", "[P1] https://example.com/" + "a" * 1500, "https://example.com/" + "b" * 1500, None, False),
    ("x" * 200, "[P1] " + "ü" + "a" * 300, "text", None, False),
]


def one_line(value: str) -> str:
    return re.sub(r"[\r\n]+", " ", value).strip()


def lines_of(text: str) -> str:
    """A text part as a reader gets it back: line ends normalised, ending in one."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


@pytest.mark.parametrize("name, subject, text, html, drill", CASES)
def test_a_mail_reader_sees_the_notice_and_nothing_injected(name: str, subject: str, text: str, html: str | None,
                                                            drill: bool) -> None:
    settings = SmtpSettings("smtp.example.com", 25, "insecure", "notify@teamflow.example", name)
    notice = Notice("SEC-2026-001\r\nX-Evil: 1", "security", 2, subject, text, html, drill=drill)
    ours = build_message(notice, "oncall@example.com", settings)
    parsed = email.message_from_bytes(ours.data, policy=email.policy.default)

    assert ours.data.endswith(b"\r\n") and b"\n" not in ours.data.replace(b"\r\n", b"")
    assert max(len(line) for line in ours.data.split(b"\r\n")) <= 998
    if len(name) < 70:  # a display name with no space to fold at stays one long line (within 998)
        assert max(len(line) for line in ours.data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")) <= 78  # folded
    assert all(byte < 128 for byte in ours.data)  # 7bit: we never negotiate 8BITMIME
    expected = ["From", "To", "Subject", "Date", "Message-ID", "X-Notify-Incident", "X-Notify-Step",
                "Auto-Submitted"] + (["X-Notify-Drill"] if drill else []) + ["MIME-Version", "Content-Type"]
    assert sorted(k for k in parsed.keys() if k != "Content-Transfer-Encoding") == sorted(expected)  # each once
    assert parsed["From"].addresses[0].addr_spec == "notify@teamflow.example"
    assert parsed["From"].addresses[0].display_name == one_line(name)
    assert str(parsed["To"]) == "oncall@example.com"
    # Text shaped like an RFC 2047 encoded word is decoded by the reader: shown differently, still one header.
    assert str(parsed["Subject"]) == ("looks encoded" if subject.startswith("=?") else one_line(subject))
    assert str(parsed["X-Notify-Incident"]) == "SEC-2026-001 X-Evil: 1"
    assert (str(parsed["X-Notify-Step"]), str(parsed["Message-ID"])) == ("2", ours.message_id)
    texts = [(p.get_content_type(), p.get_content_charset(), lines_of(p.get_content())) for p in parsed.walk()
             if not p.is_multipart()]
    assert texts == [("text/plain", "utf-8", lines_of(text))] + (
        [("text/html", "utf-8", lines_of(html))] if html else [])
    assert parsed.get_content_type() == ("multipart/alternative" if html else "text/plain")


def test_the_date_is_now_and_ids_are_unique() -> None:
    settings = SmtpSettings("h", 25, "insecure", "notify@teamflow.example", "notify")
    notice = Notice("SEC-2026-001", "security", 0, "s", "t")
    first, second = (build_message(notice, "a@example.com", settings) for _ in range(2))
    parsed = email.message_from_bytes(first.data, policy=email.policy.default)
    assert abs((parsed["Date"].datetime - datetime.now(timezone.utc)).total_seconds()) < 60
    assert first.message_id != second.message_id


def test_a_boundary_never_occurs_in_the_parts_and_a_look_alike_line_stays_text() -> None:
    settings = SmtpSettings("h", 25, "insecure", "notify@teamflow.example", "notify")
    look_alike = "--=_notify_00000000000000000000000000000000--"
    notice = Notice("SEC-2026-001", "security", 0, "s", f"before\n{look_alike}\nafter", html=f"<p>{look_alike}</p>")
    first = email.message_from_bytes(build_message(notice, "a@example.com", settings).data, policy=email.policy.default)
    text, html = (part.get_content() for part in first.iter_parts())
    assert look_alike in text and look_alike in html
    # Messages share the process's boundary (its header is parsed once); whoever has seen it in a message
    # cannot use it: a notice that contains it is sent with another.
    seen = first.get_boundary()
    for parts in ((f"line\n--{seen}\n", "<p>.</p>"), ("text", f"<p>{seen}</p>"), ("text", f"<p>{seen.upper()}</p>")):
        echoed = email.message_from_bytes(build_message(Notice("SEC-2026-001", "security", 0, "s", *parts),
                                                        "a@example.com", settings).data, policy=email.policy.default)
        assert echoed.get_boundary() != seen and echoed.get_boundary().startswith("=_notify_")
        assert [lines_of(p.get_content()) for p in echoed.iter_parts()] == [lines_of(parts[0]), lines_of(parts[1])]
    plain = build_message(Notice("SEC-2026-001", "security", 0, "s", "t", html="<p>h</p>"), "a@example.com", settings)
    assert email.message_from_bytes(plain.data, policy=email.policy.default).get_boundary() == seen


def test_an_address_with_a_final_newline_is_not_a_plain_address() -> None:
    from channels._mail import ADDR_SPEC

    assert ADDR_SPEC.match("oncall@example.com")
    assert not ADDR_SPEC.match("oncall@example.com\n")  # `$` would have let it through to MAIL/RCPT


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_unicode_line_separators_in_a_header_value_stay_one_line(separator: str) -> None:
    settings = SmtpSettings("h", 25, "insecure", "notify@teamflow.example", f"notify{separator}Bcc: x@example.com")
    notice = Notice(f"SEC-2026-001{separator}X-Evil: 1", "security", 0, f"a{separator}b", "t")
    parsed = email.message_from_bytes(build_message(notice, "a@example.com", settings).data,
                                      policy=email.policy.default)
    assert (str(parsed["Subject"]), str(parsed["X-Notify-Incident"])) == ("a b", "SEC-2026-001 X-Evil: 1")
    assert parsed["From"].addresses[0].display_name == "notify Bcc: x@example.com" and "Bcc" not in parsed
