"""Contract tests every HTTP channel must pass: one classification table, no secret leaks."""

from __future__ import annotations

import base64
import dataclasses
import logging
import time
from dataclasses import dataclass
from email.utils import format_datetime
from datetime import datetime, timezone

import pytest

import ssl

import httpx

from channels._outcomes import exception_result, parse_retry_after, status_reason
from channels.apprise import install_log_redaction
from channels.phone import PagerDutyChannel, PhoneChannel, TwilioVoiceChannel
from channels.slack import SlackChannel
from channels.sms import SmsChannel
from channels.webhook import WebhookChannel
from dispatcher.api import Channel, ChannelConfig, DeliveryResult, Outcome, Reason, Routing
from dispatcher.testing import HANG, Reply
from tests.providers_fixtures import (  # noqa: F401 - fixtures
    CANARY, FROM, SID, TO, closed_port, make_address, make_notice, proxy, receiver,
)


@dataclass(frozen=True)
class Rig:
    """How to drive one channel configuration against the provider stand-ins."""

    id: str
    cls: type
    url: str  # {local} is the receiver's host:port, for the webhook channel
    host: str | None  # the provider host behind the proxy; None: the local receiver
    ok: Reply
    target: str = TO
    deduplicates: bool = False  # the provider drops a repeat (PagerDuty's dedup key, the webhook's Idempotency-Key)


RIGS = [
    Rig("slack-webhook", SlackChannel, f"https://hooks.slack.com/services/T0001/B0001/{CANARY}",
        "hooks.slack.com", Reply(200, "ok"), "#security-alerts"),
    Rig("slack-bot", SlackChannel, f"slack://xoxb-1-2-{CANARY}/", "slack.com",
        Reply(200, {"ok": True, "channel": "C0001", "ts": "1717761234.000100"}), "#security-alerts"),
    Rig("sms-twilio", SmsChannel, f"twilio://{SID}:{CANARY}@{FROM}", "api.twilio.com",
        Reply(201, {"sid": "SM0001", "status": "queued"})),
    Rig("phone-twilio", PhoneChannel, f"twilio://{SID}:{CANARY}@{FROM}?method=call", "api.twilio.com",
        Reply(201, {"sid": "CA0001", "status": "queued"})),
    Rig("phone-pagerduty", PhoneChannel, f"pagerduty://{CANARY}@apikey{CANARY}/", "events.pagerduty.com",
        Reply(202, {"status": "success", "message": "Event processed", "dedup_key": "INC-20240607-0042"}),
        "security-escalation", deduplicates=True),
    Rig("voice-twilio", TwilioVoiceChannel, f"twilio://{SID}:{CANARY}@{FROM}", "api.twilio.com",
        Reply(201, {"sid": "CA0001", "status": "queued"})),
    Rig("pagerduty", PagerDutyChannel, f"pagerduty://{CANARY}@apikey{CANARY}/", "events.pagerduty.com",
        Reply(202, {"status": "success", "message": "Event processed", "dedup_key": "INC-20240607-0042"}),
        "security-escalation", deduplicates=True),
    Rig("webhook", WebhookChannel, f"json://hook:{CANARY}@{{local}}/notify?+X-Api-Key={CANARY}", None,
        Reply(202, ""), deduplicates=True),
]


@pytest.fixture(params=RIGS, ids=[r.id for r in RIGS])
def rig(request: pytest.FixtureRequest) -> Rig:
    return request.param


@pytest.fixture
def stage(rig, proxy, receiver):
    """(recorder, build): where the rig's requests land, and a channel factory."""
    recorder = proxy[rig.host] if rig.host else receiver

    def build(local: str = f"127.0.0.1:{receiver.port}", **config) -> Channel:
        config.setdefault("url", rig.url.format(local=local))
        return rig.cls(ChannelConfig(ca_bundle=proxy.ca_bundle_path, connect_timeout=2,
                                     read_timeout=0.3, **config))

    return recorder, build


def send(channel: Channel, rig: Rig) -> DeliveryResult:
    return channel.send(make_notice(), make_address(channel.name, rig.target))


def test_channel_satisfies_the_protocol(rig):
    channel = rig.cls(ChannelConfig(url=rig.url.format(local="127.0.0.1:1")))
    assert isinstance(channel, Channel)
    assert channel.configured() and channel.problems() == []


# (reply, outcome, reason, status, retry_after)
TABLE = {
    "server-error": (Reply(500, "upstream exploded"), Outcome.FAILED_TRANSIENT, Reason.SERVER_ERROR, 500, None),
    "unavailable-with-retry-after": (Reply(503, "", {"Retry-After": "30"}), Outcome.FAILED_TRANSIENT,
                                     Reason.SERVER_ERROR, 503, 30.0),
    "rate-limited": (Reply(429, "slow down", {"Retry-After": "7"}), Outcome.FAILED_TRANSIENT,
                     Reason.RATE_LIMITED, 429, 7.0),
    "bad-request": (Reply(400, "malformed"), Outcome.FAILED_PERMANENT, Reason.BAD_REQUEST, 400, None),
    "unprocessable": (Reply(422, "nope"), Outcome.FAILED_PERMANENT, Reason.BAD_REQUEST, 422, None),
    "unauthorized": (Reply(401, "who are you"), Outcome.FAILED_PERMANENT, Reason.AUTH, 401, None),
    "forbidden": (Reply(403, "not you"), Outcome.FAILED_PERMANENT, Reason.AUTH, 403, None),
    "redirect-not-followed": (Reply(302, "", {"Location": "https://elsewhere.example/"}),
                              Outcome.FAILED_PERMANENT, Reason.BAD_REQUEST, 302, None),
}


@pytest.mark.parametrize("case", TABLE, ids=list(TABLE))
def test_http_answer_is_classified(stage, rig, case):
    recorder, build = stage
    reply, outcome, reason, status, retry_after = TABLE[case]
    recorder.script(reply)
    result = send(build(), rig)
    assert (result.outcome, result.reason, result.status, result.retry_after) == (outcome, reason, status, retry_after)
    assert len(recorder.requests) == 1  # one attempt: retrying is the core's job
    assert result.detail.startswith(f"HTTP {status} from ")


def test_success_is_delivered(stage, rig):
    recorder, build = stage
    recorder.script(rig.ok)
    result = send(build(), rig)
    assert result.outcome is Outcome.DELIVERED and result.reason is Reason.OK
    assert result.status == rig.ok.status
    assert len(recorder.requests) == 1


def test_a_hanging_provider_is_an_unknown_outcome_retried_only_where_it_deduplicates(stage, rig):
    recorder, build = stage
    recorder.script(HANG)
    result = send(build(), rig)
    unknown = Outcome.FAILED_TRANSIENT if rig.deduplicates else Outcome.POSSIBLY_DELIVERED
    assert (result.outcome, result.reason) == (unknown, Reason.TIMEOUT)
    # On a loaded machine the stand-in's thread may record the request after the client has given up on it.
    deadline = time.monotonic() + 5
    while not recorder.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert result.status is None and len(recorder.requests) == 1


def test_refused_connection_is_transient(stage, rig, monkeypatch):
    _, build = stage
    dead = f"127.0.0.1:{closed_port()}"
    if rig.host:  # the provider is only reachable through the proxy: the proxy is down
        monkeypatch.setenv("HTTPS_PROXY", f"http://{dead}")
        monkeypatch.setenv("https_proxy", f"http://{dead}")
    result = send(build(local=dead), rig)
    assert (result.outcome, result.reason) == (Outcome.FAILED_TRANSIENT, Reason.CONNECTION)


def test_no_url_is_not_configured_and_sends_nothing(proxy, receiver, rig):
    channel = rig.cls(ChannelConfig())
    assert not channel.configured()
    assert channel.problems()  # `notify check` can say what is missing
    result = send(channel, rig)
    assert (result.outcome, result.reason) == (Outcome.FAILED_PERMANENT, Reason.NOT_CONFIGURED)
    assert proxy.requests == [] and proxy.tunnels == [] and receiver.requests == []


def echo(request) -> str:
    """A provider that repeats what it was sent, credentials first, as some error pages do."""
    headers = [request.headers.get(name, "") for name in ("Authorization", "X-Api-Key")]
    return " ".join([*headers, request.body.decode(), f"https://{request.host}{request.path}"])


@pytest.mark.parametrize("status", [200, 201, 400, 401, 404, 429, 500])
def test_secrets_never_leak_even_when_the_provider_echoes_them(stage, rig, status, caplog):
    caplog.set_level(logging.DEBUG)
    recorder, build = stage
    recorder.script(Reply(status, echo))
    channel = build()
    result = send(channel, rig)
    channel.close()
    (request,) = recorder.requests
    echoed_auth = request.headers.get("Authorization", "").partition(" ")[2]
    visible = [repr(result), caplog.text, repr(channel), *channel.problems(),
               *(str(v) for v in dataclasses.asdict(result).values())]
    for text in visible:
        assert CANARY not in text
        assert base64.b64encode(CANARY.encode()).decode()[:12] not in text
        assert not echoed_auth or echoed_auth not in text


def test_malformed_url_problems_do_not_echo_the_secret(rig):
    broken = rig.url.format(local="127.0.0.1:1").replace("://", f"://{CANARY}!%zz/", 1)
    broken = broken if rig.cls is not WebhookChannel else f"ftp://u:{CANARY}@host/"
    channel = rig.cls(ChannelConfig(url=broken))
    problems = channel.problems()
    assert problems and all(CANARY not in p for p in problems)
    result = send(channel, rig)
    assert result.reason is Reason.NOT_CONFIGURED and CANARY not in repr(result)


ROUTING_RIGS = [r for r in RIGS if issubclass(r.cls, Routing)]  # the channels `notify check` asks about routing


@pytest.mark.parametrize("rig", ROUTING_RIGS, ids=[r.id for r in ROUTING_RIGS])
def test_routing_hooks_answer_without_sending_or_showing_a_secret(stage, rig):
    recorder, build = stage
    channel = build(routes={"#ops": rig.url.format(local="127.0.0.1:1")})
    said = [*channel.route_warnings(["#ops", "#support", rig.target]), channel.posted_only("U0STS00001") or ""]
    channel.close()
    assert all(isinstance(text, str) and CANARY not in text for text in said)
    assert recorder.requests == []


# --- the shared rules in channels/_http.py, tested directly -------------------------------

@pytest.mark.parametrize("status, reason", [
    (200, Reason.OK), (204, Reason.OK), (301, Reason.BAD_REQUEST), (400, Reason.BAD_REQUEST),
    (401, Reason.AUTH), (403, Reason.AUTH), (404, Reason.BAD_ADDRESS), (408, Reason.TIMEOUT),
    (409, Reason.BAD_REQUEST), (410, Reason.BAD_ADDRESS), (429, Reason.RATE_LIMITED),
    (500, Reason.SERVER_ERROR), (502, Reason.SERVER_ERROR), (504, Reason.SERVER_ERROR),
])
def test_status_table(status, reason):
    assert status_reason(status) is reason


def test_retry_after_accepts_seconds_and_http_dates():
    now = datetime(2024, 6, 7, 3, 0, 0, tzinfo=timezone.utc).timestamp()
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 120 ") == 120.0
    assert parse_retry_after(format_datetime(datetime(2024, 6, 7, 3, 0, 42, tzinfo=timezone.utc), usegmt=True),
                             now=now) == 42.0
    assert parse_retry_after("Fri, 07 Jun 2024 02:59:00 GMT", now=now) == 0.0  # already past
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") is None


def wrapped(outer: type[Exception], cause: BaseException) -> Exception:
    """An httpx exception as httpx raises it: its message, then httpcore's, then the stdlib error as the cause."""
    exc = outer(str(cause))
    exc.__cause__ = cause
    return exc


def untrusted() -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    exc.verify_message = "certificate has expired"
    return exc


@pytest.mark.parametrize("exc, kw, outcome, reason, detail", [
    (httpx.ConnectTimeout("timed out"), {}, Outcome.FAILED_TRANSIENT, Reason.TIMEOUT,
     "connect timeout to api.twilio.com"),
    (httpx.ReadTimeout("timed out"), {"sent": True}, Outcome.POSSIBLY_DELIVERED, Reason.TIMEOUT,
     "read timeout: api.twilio.com had the request and did not answer: it may have been delivered; not retried, "
     "so nobody gets it twice"),
    (httpx.ReadTimeout("timed out"), {"sent": True, "deduplicated": True}, Outcome.FAILED_TRANSIENT, Reason.TIMEOUT,
     "read timeout: api.twilio.com had the request and did not answer; safe to retry: the provider drops a repeat "
     "by its dedup key"),
    (httpx.WriteTimeout("timed out"), {}, Outcome.FAILED_TRANSIENT, Reason.TIMEOUT, "timeout sending to api.twilio.com"),
    (httpx.ProxyError("403 Forbidden"), {}, Outcome.FAILED_TRANSIENT, Reason.CONNECTION,
     "proxy error reaching api.twilio.com: CONNECT answered 403 Forbidden"),
    (wrapped(httpx.ConnectError, untrusted()), {}, Outcome.FAILED_PERMANENT, Reason.CONNECTION,
     "TLS certificate of api.twilio.com not trusted: certificate has expired"),
    (wrapped(httpx.ConnectError, ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")), {},
     Outcome.FAILED_TRANSIENT, Reason.CONNECTION, "TLS error with api.twilio.com: [Errno 1] [SSL: WRONG_VERSION_NUMBER] "
                                                  "wrong version number"),
    (wrapped(httpx.ConnectError, ConnectionRefusedError(111, "Connection refused")), {}, Outcome.FAILED_TRANSIENT,
     Reason.CONNECTION, "cannot connect to api.twilio.com: [Errno 111] Connection refused"),
    (wrapped(httpx.ConnectError, ConnectionRefusedError(111, "Connection refused")), {"via_proxy": True},
     Outcome.FAILED_TRANSIENT, Reason.CONNECTION, "proxy error reaching api.twilio.com: [Errno 111] Connection refused"),
    (wrapped(httpx.ReadError, ConnectionResetError(104, "Connection reset by peer")), {}, Outcome.FAILED_TRANSIENT,
     Reason.CONNECTION, "connection to api.twilio.com lost before the request was sent: [Errno 104] Connection "
                        "reset by peer"),
    (httpx.RemoteProtocolError("Server disconnected without sending a response."), {"sent": True},
     Outcome.POSSIBLY_DELIVERED, Reason.CONNECTION, "connection to api.twilio.com lost before an answer: Server "
     "disconnected without sending a response.: it may have been delivered; not retried, so nobody gets it twice"),
    (httpx.RemoteProtocolError("Server disconnected without sending a response."), {"sent": True,
                                                                                     "deduplicated": True},
     Outcome.FAILED_TRANSIENT, Reason.CONNECTION, "connection to api.twilio.com lost before an answer: Server "
     "disconnected without sending a response.; safe to retry: the provider drops a repeat by its dedup key"),
    (httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
     {"sent": True, "answered": True}, Outcome.FAILED_TRANSIENT, Reason.UNKNOWN,
     "broken answer from api.twilio.com: peer closed connection without sending complete message body"),
    (httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'."), {}, Outcome.FAILED_PERMANENT,
     Reason.BAD_REQUEST, "request to api.twilio.com is malformed: Request URL has an unsupported protocol 'ftp://'."),
], ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None)
def test_transport_errors_are_classified(exc, kw, outcome, reason, detail):
    result = exception_result(exc, "api.twilio.com", **kw)
    assert (result.outcome, result.reason, result.detail, result.status) == (outcome, reason, detail, None)


def test_transport_error_detail_is_masked():
    result = exception_result(wrapped(httpx.ConnectError, OSError(f"no route to {CANARY}")), "hooks.slack.com",
                              (CANARY,))
    assert CANARY not in result.detail and result.detail.startswith("cannot connect to hooks.slack.com: ")


def test_a_url_in_an_httpx_message_never_reaches_the_detail():
    hook = f"https://hooks.slack.com/services/T1/B1/{CANARY}"
    result = exception_result(httpx.LocalProtocolError(f"Illegal header value for {hook}"), "hooks.slack.com")
    assert result.reason is Reason.BAD_REQUEST and CANARY not in result.detail and "hooks.slack.com" in result.detail


def test_urllib3_debug_lines_lose_everything_after_the_first_path_segment(caplog):
    install_log_redaction()
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s %s', "https", "hooks.slack.com", 443, "POST",
        f"/services/T1/B1/{CANARY}?token={CANARY}", "HTTP/1.1", 200, 2)
    assert caplog.messages == ['https://hooks.slack.com:443 "POST /services/*** HTTP/1.1" 200 2']
