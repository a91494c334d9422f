"""The email channel against a real in-process SMTP server (dispatcher.testing.smtp)."""

from __future__ import annotations

import logging
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor

import pytest

from channels._mail import parse_mailto
from channels.email import POOL_SIZE, EmailChannel, classify_reply
from dispatcher.api import Address, ChannelConfig, Notice, Outcome, Reason
from dispatcher.testing.smtp import SmtpServer

CANARY = "CANARYSECRET123"


def notice(**kw) -> Notice:
    base = dict(
        incident_id="INC-42",
        incident_class="outage",
        step=1,
        subject="[P1] Checkout is down",
        text="Checkout returns 502 since 03:00.",
        html="<p>Checkout returns <b>502</b> since 03:00.</p>",
    )
    base.update(kw)
    return Notice(**base)


def to(target: str) -> Address:
    return Address(person="p", display="P", role="rotation:primary", channel="email", target=target)


def channel(url: str, **kw) -> EmailChannel:
    return EmailChannel(ChannelConfig(url=url, connect_timeout=2.0, read_timeout=2.0, **kw))


@pytest.fixture
def server():
    with SmtpServer() as s:
        yield s


def free_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- happy path ----------------------------------------------------------


def test_fan_out_of_20_from_8_threads_lands_20_messages_over_pooled_connections(server):
    ch = channel(server.url(name="TeamFlow Alerts", **{"from": "alerts@example.com"}))
    recipients = [f"user{i}@example.com" for i in range(20)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda r: ch.send(notice(), to(r)), recipients))
    ch.close()

    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 20
    assert all(r.status == 250 for r in results)
    messages = server.messages
    assert len(messages) == 20
    assert 1 <= server.connections <= POOL_SIZE
    assert sorted(m["To"] for m in messages) == sorted(recipients)
    assert sorted(e.rcpt_tos[0] for e in server.envelopes) == sorted(recipients)
    ids = [m["Message-ID"] for m in messages]
    assert len(set(ids)) == 20
    assert sorted(ids) == sorted(r.provider_id for r in results)
    for m in messages:
        assert m["From"] == "TeamFlow Alerts <alerts@example.com>"
        assert m["Subject"] == "[P1] Checkout is down"
        assert m["X-Notify-Incident"] == "INC-42"
        assert m["X-Notify-Step"] == "1"
        assert m["Auto-Submitted"] == "auto-generated"
        assert m["Date"] is not None
        assert "X-Notify-Drill" not in m
        assert m.get_content_type() == "multipart/alternative"
        assert m.get_body(("plain",)).get_content().strip() == "Checkout returns 502 since 03:00."
        assert m.get_body(("html",)).get_content().strip() == "<p>Checkout returns <b>502</b> since 03:00.</p>"


def test_text_only_notice_is_a_single_text_part(server):
    ch = channel(server.url())
    assert ch.send(notice(html=None), to("a@example.com")).outcome is Outcome.DELIVERED
    [m] = server.messages
    assert m.get_content_type() == "text/plain"
    assert m.get_content().strip() == "Checkout returns 502 since 03:00."


def test_non_ascii_subject_and_body_survive_the_trip(server):
    ch = channel(server.url(name="Störungsmelder"))
    sent = notice(subject="Störung: Zahlung ✗", text="Bitte prüfen.\n.leading dot stays", html=None)
    assert ch.send(sent, to("a@example.com")).outcome is Outcome.DELIVERED
    [m] = server.messages
    assert m["Subject"] == "Störung: Zahlung ✗"
    assert m["From"].addresses[0].display_name == "Störungsmelder"
    assert m.get_content() == "Bitte prüfen.\n.leading dot stays\n"


def test_drill_is_marked_in_a_header(server):
    channel(server.url(), drill=True).send(notice(), to("a@example.com"))
    channel(server.url()).send(notice(drill=True), to("b@example.com"))
    assert [m["X-Notify-Drill"] for m in server.messages] == ["yes", "yes"]


def test_login_is_used_when_the_url_has_credentials():
    with SmtpServer(users={"alice": "pa ss/word"}) as server:
        ch = channel(server.url(user="alice", password="pa ss/word"))
        assert ch.send(notice(), to("a@example.com")).outcome is Outcome.DELIVERED
        assert server.logins == ["alice"]


def test_idle_connection_dropped_by_the_server_is_reopened_transparently(server):
    ch = channel(server.url())
    assert ch.send(notice(), to("a@example.com")).outcome is Outcome.DELIVERED
    assert server.drop_connections() == 1

    result = ch.send(notice(), to("b@example.com"))

    assert result.outcome is Outcome.DELIVERED
    assert [m["To"] for m in server.messages] == ["a@example.com", "b@example.com"]
    assert server.connections == 2


def test_idle_timeout_421_before_hangup_is_reopened_transparently(server):
    ch = channel(server.url())
    ch.send(notice(), to("a@example.com"))
    server.answer("MAIL", 421, times=1)  # what Postfix says when it times an idle session out
    assert ch.send(notice(), to("b@example.com")).outcome is Outcome.DELIVERED
    assert server.connections == 2


def test_close_quits_pooled_connections_and_a_later_send_reconnects(server):
    ch = channel(server.url())
    ch.send(notice(), to("a@example.com"))
    ch.close()
    assert ch.send(notice(), to("b@example.com")).outcome is Outcome.DELIVERED
    assert server.connections == 2


# -- failures, classified -------------------------------------------------


@pytest.mark.parametrize(
    "stage, code, outcome, reason",
    [
        ("RCPT", 451, Outcome.FAILED_TRANSIENT, Reason.SERVER_ERROR),
        ("DATA", 451, Outcome.FAILED_TRANSIENT, Reason.SERVER_ERROR),
        ("DATA", 452, Outcome.FAILED_TRANSIENT, Reason.SERVER_ERROR),
        ("RCPT", 550, Outcome.FAILED_PERMANENT, Reason.BAD_ADDRESS),
        ("RCPT", 551, Outcome.FAILED_PERMANENT, Reason.BAD_ADDRESS),
        ("RCPT", 553, Outcome.FAILED_PERMANENT, Reason.BAD_ADDRESS),
        ("RCPT", 530, Outcome.FAILED_PERMANENT, Reason.AUTH),
        ("DATA", 554, Outcome.FAILED_PERMANENT, Reason.BAD_REQUEST),
        ("DATA", 550, Outcome.FAILED_PERMANENT, Reason.BAD_REQUEST),
        ("MAIL", 553, Outcome.FAILED_PERMANENT, Reason.BAD_REQUEST),
        ("MAIL", 421, Outcome.FAILED_TRANSIENT, Reason.CONNECTION),
    ],
)
def test_scripted_reply_is_classified(server, stage, code, outcome, reason):
    ch = channel(server.url())
    server.answer(stage, code)
    result = ch.send(notice(), to("a@example.com"))
    assert (result.outcome, result.reason) == (outcome, reason)
    assert str(code) in result.detail and "127.0.0.1" in result.detail
    assert server.messages == []


def test_refusal_leaves_the_connection_reusable(server):
    ch = channel(server.url())
    server.answer("RCPT", 550, address="gone@example.com")
    assert ch.send(notice(), to("gone@example.com")).reason is Reason.BAD_ADDRESS
    assert ch.send(notice(), to("here@example.com")).outcome is Outcome.DELIVERED
    assert server.connections == 1


def test_wrong_password_is_permanent_auth():
    with SmtpServer(users={"alice": "right"}) as server:
        result = channel(server.url(user="alice", password="wrong")).send(notice(), to("a@example.com"))
    assert (result.outcome, result.reason, result.status) == (Outcome.FAILED_PERMANENT, Reason.AUTH, 535)


def test_temporary_auth_failure_is_transient(server):
    server.answer("AUTH", 454, "4.7.0 Temporary authentication failure")
    result = channel(server.url(user="alice", password="pw")).send(notice(), to("a@example.com"))
    assert (result.outcome, result.status) == (Outcome.FAILED_TRANSIENT, 454)


def test_closed_port_is_transient_connection():
    result = channel(f"mailto://127.0.0.1:{free_port()}?from=n@example.com").send(notice(), to("a@example.com"))
    assert (result.outcome, result.reason) == (Outcome.FAILED_TRANSIENT, Reason.CONNECTION)


def test_server_that_never_greets_is_transient_timeout():
    with socket.socket() as silent:  # accepts TCP (backlog) but never speaks SMTP
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        ch = EmailChannel(ChannelConfig(url=f"mailto://127.0.0.1:{port}?from=n@example.com", connect_timeout=0.2))
        result = ch.send(notice(), to("a@example.com"))
    assert (result.outcome, result.reason) == (Outcome.FAILED_TRANSIENT, Reason.TIMEOUT)


@pytest.mark.parametrize(
    "code, stage, expected",
    [
        (421, "MAIL", (Outcome.FAILED_TRANSIENT, Reason.CONNECTION)),
        (450, "RCPT", (Outcome.FAILED_TRANSIENT, Reason.SERVER_ERROR)),
        (535, "AUTH", (Outcome.FAILED_PERMANENT, Reason.AUTH)),
        (550, "RCPT", (Outcome.FAILED_PERMANENT, Reason.BAD_ADDRESS)),
        (552, "RCPT", (Outcome.FAILED_PERMANENT, Reason.BAD_REQUEST)),
        (554, "CONNECT", (Outcome.FAILED_PERMANENT, Reason.BAD_REQUEST)),
        (-1, "DATA", (Outcome.FAILED_TRANSIENT, Reason.UNKNOWN)),
    ],
)
def test_reply_code_table(code, stage, expected):
    assert classify_reply(code, stage) == expected


# -- headers cannot be injected --------------------------------------------


def test_crlf_in_subject_incident_and_display_name_adds_no_header(server):
    evil = "x\r\nBcc: evil@x"
    ch = channel(server.url(name=f"Ops{evil}"))
    result = ch.send(notice(subject=f"Down{evil}", incident_id=f"INC-1{evil}"), to("a@example.com"))

    assert result.outcome is Outcome.DELIVERED
    [m] = server.messages
    assert "Bcc" not in m
    assert sorted(set(m.keys())) == sorted(
        {"From", "To", "Subject", "Date", "Message-ID", "X-Notify-Incident", "X-Notify-Step",
         "Auto-Submitted", "MIME-Version", "Content-Type"}
    )
    assert "\n" not in m["Subject"] and "Bcc: evil@x" in m["Subject"]  # kept as text, on one line
    assert server.envelopes[0].rcpt_tos == ("a@example.com",)


@pytest.mark.parametrize(
    "target", ["a@example.com\r\nBcc: evil@x", "a@example.com, evil@x", "Eve <evil@x>", "not-an-address", ""]
)
def test_recipient_that_is_not_one_plain_address_is_refused_without_network(server, target):
    result = channel(server.url()).send(notice(), to(target))
    assert (result.outcome, result.reason) == (Outcome.FAILED_PERMANENT, Reason.BAD_ADDRESS)
    assert server.connections == 0


# -- configuration -------------------------------------------------------------


def test_no_url_is_not_configured_and_makes_no_connection(server):
    ch = EmailChannel(ChannelConfig())
    assert not ch.configured()
    result = ch.send(notice(), to("a@example.com"))
    assert (result.outcome, result.reason) == (Outcome.FAILED_PERMANENT, Reason.NOT_CONFIGURED)
    assert server.connections == 0


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("mailto://smtp.example.com", "no usable from address"),
        ("mailto://smtp.example.com?from=not-an-address", "no usable from address"),
        ("mailto://u:p@example.com?mode=tls", "mode=tls"),
        ("slack://u:p@example.com", "mailto://"),
        ("mailto://?from=a@example.com", "no domain"),
    ],
)
def test_unusable_url_is_a_problem_and_sends_nothing(url, fragment):
    ch = channel(url)
    assert ch.configured()
    assert any(fragment in p for p in ch.problems())
    result = ch.send(notice(), to("a@example.com"))
    assert (result.outcome, result.reason) == (Outcome.FAILED_PERMANENT, Reason.NOT_CONFIGURED)


@pytest.mark.parametrize(
    "url", ["mailto://u:p@example.com?to=x@example.com", "mailto://u:p@example.com/x@example.com",
            "mailto://u:p@example.com?bcc=x@example.com"]
)
def test_recipients_in_the_url_are_reported_and_ignored(server, url):
    assert any("recipients come from the directory" in p for p in channel(url).problems())
    ch = channel(server.url(to="other@example.com"))
    ch.send(notice(), to("a@example.com"))
    assert server.envelopes[0].rcpt_tos == ("a@example.com",)


@pytest.mark.parametrize(
    "url",
    [
        "mailto://alice:pw@example.com",
        "mailtos://alice:pw@example.com",
        "mailtos://alice:pw@example.com:2525",
        "mailto://alice:pw@example.com?mode=ssl",
        "mailto://alice:pw@example.com?smtp=smtp.example.net&mode=starttls",
        "mailto://alice:pw@example.com?from=ops@example.org&name=Ops",
        "mailto://alice:pw@example.com?from=Ops%20Team%20<ops@example.org>",
        "mailto://example.com?from=ops@example.com",
        "mailtos://alice@example.com?mode=insecure",
    ],
)
def test_url_means_what_it_means_to_apprise(url):
    """Our parser agrees with apprise's email plugin on server, port, mode, login and sender."""
    apprise = pytest.importorskip("apprise")
    theirs = apprise.Apprise.instantiate(url)
    ours, problems = parse_mailto(url)
    assert ours is not None and problems == []
    assert (ours.server, ours.port, ours.mode, ours.user, ours.from_addr) == (
        theirs.smtp_host, theirs.port, theirs.secure_mode, theirs.user, theirs.from_addr[1]
    )
    if theirs.from_addr[0] not in (False, None, theirs.app_id):
        assert ours.from_name == theirs.from_addr[0]


# -- TLS ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls():
    """A throwaway CA and a server certificate for 127.0.0.1."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    return ca, server_ctx


def test_starttls_verifies_against_the_configured_ca_bundle(tls, tmp_path):
    ca, server_ctx = tls
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with SmtpServer(tls=server_ctx, users={"alice": "pw"}) as server:
        ch = channel(server.url(user="alice", password="pw", mode="starttls"), ca_bundle=str(bundle))
        assert ch.send(notice(), to("a@example.com")).outcome is Outcome.DELIVERED
        assert server.logins == ["alice"]


def test_starttls_with_an_untrusted_certificate_is_permanent(tls):
    _, server_ctx = tls
    with SmtpServer(tls=server_ctx) as server:
        result = channel(server.url(mode="starttls")).send(notice(), to("a@example.com"))
    assert (result.outcome, result.reason) == (Outcome.FAILED_PERMANENT, Reason.CONNECTION)
    assert "certificate" in result.detail


def test_starttls_required_but_not_offered_is_permanent_and_not_downgraded(server):
    result = channel(server.url(mode="starttls")).send(notice(), to("a@example.com"))
    assert (result.outcome, result.reason) == (Outcome.FAILED_PERMANENT, Reason.BAD_REQUEST)
    assert server.messages == []


def test_unreadable_ca_bundle_is_a_problem(tmp_path):
    ch = channel("mailtos://u:p@example.com", ca_bundle=str(tmp_path / "missing.pem"))
    assert any("CA bundle" in p for p in ch.problems())


# -- secrets -------------------------------------------------------------------


def test_password_never_appears_in_results_repr_or_logs(caplog):
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    with SmtpServer(users={"alice": CANARY}) as good, SmtpServer(users={"alice": "other"}) as bad:
        for server in (good, bad):
            ch = channel(server.url(user="alice", password=CANARY))
            results = [ch.send(notice(), to("a@example.com"))]
            server.answer("RCPT", 550)
            results.append(ch.send(notice(), to("b@example.com")))
            ch.close()
            seen += [repr(ch), str(ch), repr(ch._settings), *map(repr, results), *ch.problems()]
        assert good.logins == ["alice"] and bad.logins == []
    closed = channel(f"mailto://alice:{CANARY}@127.0.0.1:{free_port()}?from=n@example.com")
    seen.append(repr(closed.send(notice(), to("a@example.com"))))
    assert any("AUTH" in s and "535" in s for s in seen)  # the auth failure really happened
    assert CANARY not in "\n".join(seen)
    assert CANARY not in caplog.text
