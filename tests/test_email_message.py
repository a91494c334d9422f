"""The email channel writes its messages out directly; a mail reader sees what EmailMessage would have made.

`reference` is the builder the channel used before (email.message.EmailMessage,
SMTP policy, 7bit-safe); each case parses both messages as a mail client does
and compares every header, the structure, the transfer encodings and the bodies.
"""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timezone
from email.headerregistry import Address as MailAddress
from email.message import EmailMessage

import pytest

from channels.email import MAIL_POLICY, SmtpSettings, _one_line, build_message
from dispatcher.api import Notice


def reference(notice: Notice, recipient: str, settings: SmtpSettings, drill: bool, date: str, msgid: str) -> bytes:
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["From"] = MailAddress(display_name=settings.from_name, addr_spec=settings.from_addr)
    msg["To"] = MailAddress(addr_spec=recipient)
    msg["Subject"] = _one_line(notice.subject)
    msg["Date"] = date
    msg["Message-ID"] = msgid
    msg["X-Notify-Incident"] = _one_line(notice.incident_id)
    msg["X-Notify-Step"] = str(notice.step)
    msg["Auto-Submitted"] = "auto-generated"
    if drill or notice.drill:
        msg["X-Notify-Drill"] = "yes"
    msg.set_content(notice.text)
    if notice.html:
        msg.add_alternative(notice.html, subtype="html")
    return msg.as_bytes(policy=MAIL_POLICY)


LONG = "word " * 40
CASES = [
    ("notify", "[P1] API returns 503", "API down since 03:12 UTC.", "<p>API <b>down</b></p>", False),
    ("notify", "short", "one line", None, False),
    ("Störungsmelder", "Störung: Zahlung ✗", "Bitte prüfen.\n.leading dot stays", None, False),
    ('Ops "Team", Berlin: on-call', "subject", "text", "<p>x</p>", True),
    ("notify", "x\r\nBcc: evil@x", "body\r\nwith CRLF\rand CR", "<p>\r\n</p>", False),
    ("notify", LONG + "end of a very long subject line", LONG + "\n" + "x" * 200, "<p>" + "y" * 300 + "</p>", False),
    ("notify", "ünïcödé " * 20, "ünïcödé " * 50, "<p>" + "ü" * 100 + "</p>", False),
    ("notify", "=?utf-8?q?looks_encoded?=", "--===============1234==\nnot a boundary", "<p>.</p>", False),
    ("notify", "emoji 🚨 page", "🚨\n\n\nblank lines above\n", None, True),
    ("notify", "", "", None, False),
    ("notify", "[P1] https://example.com/" + "a" * 1500, "https://example.com/" + "b" * 1500, None, False),
    ("x" * 200, "[P1] " + "ü" + "a" * 300, "text", None, False),
]


@pytest.mark.parametrize("name, subject, text, html, drill", CASES)
def test_a_mail_reader_sees_the_same_message(name: str, subject: str, text: str, html: str | None,
                                             drill: bool) -> None:
    settings = SmtpSettings("smtp.example.com", 25, "insecure", "notify@teamflow.example", name)
    notice = Notice(f"SEC-2026-001{'x' if drill else ''}", "security", 2, subject, text, html, drill=drill)
    ours = build_message(notice, "oncall@example.com", settings)
    parsed_ours = email.message_from_bytes(ours.data, policy=email.policy.default)
    date, msgid = parsed_ours["Date"], ours.message_id
    theirs = reference(notice, "oncall@example.com", settings, False, date, msgid)
    parsed_theirs = email.message_from_bytes(theirs, policy=email.policy.default)

    assert ours.data.endswith(b"\r\n") and b"\n" not in ours.data.replace(b"\r\n", b"")
    assert max(len(line) for line in ours.data.split(b"\r\n")) <= 998
    header_block = ours.data.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in header_block.split(b"\r\n") if not line.startswith(b"From:")) <= 78
    assert all(byte < 128 for byte in ours.data)
    assert _headers(parsed_ours) == _headers(parsed_theirs)
    assert _parts(parsed_ours) == _parts(parsed_theirs)
    assert str(parsed_ours["Message-ID"]) == msgid


def _headers(message) -> list[tuple[str, str]]:
    skip = {"content-type", "content-transfer-encoding", "mime-version"}
    return sorted((k, str(v)) for k, v in message.items() if k.lower() not in skip)


def _parts(message) -> list[tuple]:
    return [(part.get_content_type(), part.get_content_charset(), part.get("Content-Transfer-Encoding"),
             part.get_content() if not part.is_multipart() else None)
            for part in message.walk()]


def test_the_date_is_now_and_ids_are_unique() -> None:
    settings = SmtpSettings("h", 25, "insecure", "notify@teamflow.example", "notify")
    notice = Notice("SEC-2026-001", "security", 0, "s", "t")
    first, second = (build_message(notice, "a@example.com", settings) for _ in range(2))
    parsed = email.message_from_bytes(first.data, policy=email.policy.default)
    assert abs((parsed["Date"].datetime - datetime.now(timezone.utc)).total_seconds()) < 60
    assert first.message_id != second.message_id
