"""The apprise channel against a real local HTTP server, through apprise's json:// and ntfy:// plugins."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import channels.apprise as channel_module
from channels.apprise import AppriseChannel, url_secrets
from dispatcher.api import Address, ChannelConfig, Notice, Outcome, Reason

CANARY = "CANARYSECRET123"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpSink:
    """A local HTTP server that records every request and answers with ``status``."""

    server: ThreadingHTTPServer
    requests: list[Recorded] = field(default_factory=list)
    status: int = 200

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"


@pytest.fixture
def sink():
    state: dict[str, HttpSink] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            http = state["sink"]
            http.requests.append(Recorded("POST", self.path, dict(self.headers), body))
            self.send_response(http.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["sink"] = HttpSink(server)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield state["sink"]
    server.shutdown()
    server.server_close()


def notice() -> Notice:
    return Notice(
        incident_id="INC-7", incident_class="outage", step=0,
        subject="[P1] Payments degraded", text="Card auth failing for 12% of requests.",
    )


def to(target: str = "ops") -> Address:
    return Address(person="ops", display="Ops", role="list:ops", channel="apprise", target=target)


def channel(url: str | None = None, **kw) -> AppriseChannel:
    return AppriseChannel(ChannelConfig(url=url, connect_timeout=2.0, read_timeout=2.0, **kw))


def test_import_apprise_inside_channels_apprise_is_the_real_library():
    lib = channel_module.apprise
    assert lib is not channel_module
    assert hasattr(lib, "Apprise") and "site-packages" in Path(lib.__file__).parts


def test_success_is_delivered_with_exactly_one_request(sink):
    result = channel(f"json://{sink.base}/hook").send(notice(), to())

    assert result.outcome is Outcome.DELIVERED
    assert len(sink.requests) == 1
    [request] = sink.requests
    assert request.path == "/hook"
    payload = json.loads(request.body)
    assert payload["title"] == "[P1] Payments degraded"
    assert payload["message"] == "Card auth failing for 12% of requests."


@pytest.mark.parametrize("query", ["", "?retry=3", "?retry=3&wait=0"])
def test_server_error_is_transient_after_exactly_one_request(sink, query):
    """apprise's own retry is off, even when the URL asks for it."""
    sink.status = 500
    result = channel(f"json://{sink.base}/hook{query}").send(notice(), to())

    assert (result.outcome, result.reason) == (Outcome.FAILED_TRANSIENT, Reason.UNKNOWN)
    assert "500" in result.detail  # apprise's own complaint, masked, is kept for the log
    assert len(sink.requests) == 1


def test_plugins_are_loaded_with_throttle_and_retry_off(sink):
    ch = channel()
    plugin = ch.plugin_for(f"ntfy://{sink.base}/alerts?retry=4")
    assert type(plugin).request_rate_per_sec > 0  # ntfy would space requests 5.5 s apart by default
    assert plugin.request_rate_per_sec == 0  # URLBase.throttle() returns at once when it is 0
    assert plugin.retry == 0


def test_consecutive_sends_on_one_channel_all_reach_the_server(sink):
    ch = channel(f"ntfy://{sink.base}/alerts")
    results = [ch.send(notice(), to()) for _ in range(2)]
    two_topics = ch.send(notice(), to(f"ntfy://{sink.base}/alerts/pager"))  # two requests in one send

    assert [r.outcome for r in results + [two_topics]] == [Outcome.DELIVERED] * 3
    assert sorted(json.loads(r.body)["topic"] for r in sink.requests) == ["alerts", "alerts", "alerts", "pager"]


def test_address_url_wins_then_route_then_channel_url(sink):
    ch = channel(f"json://{sink.base}/default", routes={"sre": f"json://{sink.base}/sre"})
    ch.send(notice(), to(f"json://{sink.base}/personal"))
    ch.send(notice(), to("sre"))
    ch.send(notice(), to("anyone"))
    assert [r.path for r in sink.requests] == ["/personal", "/sre", "/default"]


def test_per_address_url_works_without_a_channel_url(sink):
    ch = channel()
    assert not ch.configured()
    assert ch.send(notice(), to(f"json://{sink.base}/p")).outcome is Outcome.DELIVERED


def test_no_url_at_all_is_not_configured_without_network(sink):
    result = channel().send(notice(), to("ops"))
    assert (result.outcome, result.reason) == (Outcome.FAILED_PERMANENT, Reason.NOT_CONFIGURED)
    assert sink.requests == []


@pytest.mark.parametrize("url", ["json://", "nosuchservice://host/x", "json://user:pw@"])
def test_unparseable_url_is_permanent_bad_address_without_request(sink, url):
    result = channel(f"json://{sink.base}/ok").send(notice(), to(url))
    assert (result.outcome, result.reason) == (Outcome.FAILED_PERMANENT, Reason.BAD_ADDRESS)
    assert sink.requests == []


def test_problems_report_unparseable_urls_masked():
    ch = channel(f"nosuchservice://{CANARY}@host/x", routes={"sre": f"json://u:{CANARY}@"})
    problems = ch.problems()
    assert len(problems) == 2
    assert CANARY not in "\n".join(problems)


def test_problems_are_empty_for_a_good_url_and_note_ignored_retry(sink):
    assert channel(f"json://{sink.base}/ok").problems() == []
    assert any("retry" in p for p in channel(f"json://{sink.base}/ok?retry=2").problems())


def test_secret_never_appears_in_results_or_logs(sink, caplog):
    caplog.set_level(logging.DEBUG)
    urls = [
        f"json://user:{CANARY}@{sink.base}/hook",
        f"json://{sink.base}/hook?+X-Api-Token={CANARY}",  # a header value apprise's privacy URL shows
        f"nosuchservice://{CANARY}/x",  # apprise logs unparseable URLs verbatim
        f"json://{CANARY}x@",
    ]
    seen = []
    for status in (200, 500):
        sink.status = status
        for url in urls:
            ch = channel(url)
            result = ch.send(notice(), to())
            seen += [repr(result), repr(ch), *ch.problems()]
    assert any(r.headers.get("X-Api-Token") == CANARY for r in sink.requests)  # it was really sent
    assert "error=500" in caplog.text  # apprise's warnings do reach our logs...
    assert CANARY not in "\n".join(seen)
    assert CANARY not in caplog.text  # ...masked


def test_apprise_logger_is_never_left_at_debug():
    channel()
    assert logging.getLogger("apprise").getEffectiveLevel() >= logging.INFO


@pytest.mark.parametrize(
    "url, secret",
    [
        ("json://user:hunter22@host.example.com/x", "hunter22"),
        ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123", "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"),
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "TIiajkdnlazkcOXrIdevi7FQ"),
        ("json://host.example.com/x?+Authorization=Bearer%20abcd", "Bearer abcd"),
    ],
)
def test_url_secrets_finds_tokens_but_not_hostnames(url, secret):
    found = url_secrets(url)
    assert secret in found
    assert "host.example.com" not in found
