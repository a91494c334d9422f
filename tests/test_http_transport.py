"""The stdlib transport in channels/_http.py, against real sockets: reuse, proxies, timeouts, TLS.

Servers here are scripted per connection (``RawServer``), so a test can say exactly
what a server does with its n-th connection and count connections and requests.
Nothing waits on a timer: servers that hang wait for an event the test sets.
"""

from __future__ import annotations

import base64
import datetime
import json
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import pytest

from channels._http import HttpClient, Response
from dispatcher.api import ChannelConfig, DeliveryResult, Outcome, Reason
from dispatcher.testing import ProviderProxy, RecordingServer, Reply
from tests.providers_fixtures import CANARY, closed_port

REPO = Path(__file__).resolve().parent.parent
HOOK = f"https://hooks.slack.com/services/T1/B1/{CANARY}"
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
                   "NO_PROXY", "no_proxy")


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test with no proxy settings from the developer's shell."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def set_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    """Set proxy variables in both cases, as shells usually do."""
    for name, value in values.items():
        monkeypatch.setenv(name.upper(), value)
        monkeypatch.setenv(name.lower(), value)


def client(**config) -> HttpClient:
    config.setdefault("connect_timeout", 2)
    config.setdefault("read_timeout", 2)
    return HttpClient(ChannelConfig(**config))


def answered(result: Response | DeliveryResult) -> Response:
    assert isinstance(result, Response), result
    return result


# --- a server scripted per connection -------------------------------------------------------

def read_request(stream: BinaryIO) -> bytes | None:
    """One request (head and Content-Length body) from a connection, or None at EOF."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = stream.readline()
        if not line:
            return None
        head += line
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    return head + stream.read(length)


def reply(sock: socket.socket, body: bytes = b"ok", status: str = "200 OK", headers: str = "") -> None:
    """An HTTP/1.1 answer with a Content-Length: the connection stays open."""
    sock.sendall(f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{headers}\r\n".encode() + body)


class RawServer:
    """127.0.0.1:<port>; ``handle(server, sock, stream, n)`` scripts the n-th connection in its own thread."""

    def __init__(self, handle: Callable[["RawServer", socket.socket, BinaryIO, int], None]) -> None:
        self._handle = handle
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self.requests: list[tuple[int, bytes]] = []  # (connection number, request)
        self.release = threading.Event()  # hanging handlers wait for this
        self.closed = threading.Event()  # a handler sets it after closing its connection
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._accepted: list[socket.socket] = []

    def record(self, n: int, request: bytes) -> None:
        with self._lock:
            self.requests.append((n, request))

    def __enter__(self) -> "RawServer":
        thread = threading.Thread(target=self._serve, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux
        except OSError:
            pass
        self._listener.close()
        for sock in self._accepted:  # wake handlers still reading from a client that keeps its connection
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(timeout=5)

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                n, self.connections = self.connections, self.connections + 1
                self._accepted.append(sock)
            thread = threading.Thread(target=self._run, args=(sock, n), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _run(self, sock: socket.socket, n: int) -> None:
        with sock, sock.makefile("rb") as stream:
            try:
                self._handle(self, sock, stream, n)
            except OSError:
                pass


def keep_alive(server: RawServer, sock: socket.socket, stream: BinaryIO, n: int) -> None:
    """Answer every request on the connection until the client closes it."""
    while (request := read_request(stream)) is not None:
        server.record(n, request)
        reply(sock, b'{"ok": true}', headers="Content-Type: application/json\r\n")


# --- keep-alive -----------------------------------------------------------------------------

def test_an_idle_connection_is_reused():
    with RawServer(keep_alive) as server:
        http = client()
        for _ in range(3):
            assert answered(http.post(server.url + "/hook", json={})).json() == {"ok": True}
    assert server.connections == 1 and [n for n, _ in server.requests] == [0, 0, 0]


def test_close_drops_pooled_connections():
    with RawServer(keep_alive) as server:
        http = client()
        answered(http.post(server.url))
        http.close()
        answered(http.post(server.url))
    assert server.connections == 2


def test_a_connection_the_server_closed_while_idle_is_replaced_and_nothing_is_sent_twice():
    def one_answer_then_close(server, sock, stream, n):
        server.record(n, read_request(stream))
        reply(sock)  # no "Connection: close": the client believes it may reuse this connection
        sock.close()
        server.closed.set()

    with RawServer(one_answer_then_close) as server:
        http = client()
        assert answered(http.post(server.url)).status_code == 200
        server.closed.wait(5)
        assert answered(http.post(server.url)).status_code == 200
    assert server.connections == 2 and [n for n, _ in server.requests] == [0, 1]


def test_a_request_lost_on_a_reused_connection_is_reported_not_sent_again():
    def answer_once_then_drop_the_next(server, sock, stream, n):
        server.record(n, read_request(stream))
        if n == 0:
            reply(sock)
            server.record(n, read_request(stream))  # read the second request, then hang up without answering
        else:
            reply(sock)

    with RawServer(answer_once_then_drop_the_next) as server:
        http = client()
        answered(http.post(server.url))
        lost = http.post(server.url)
        assert isinstance(lost, DeliveryResult)
        assert (lost.outcome, lost.reason) == (Outcome.FAILED_TRANSIENT, Reason.CONNECTION)
        assert lost.detail.startswith(f"connection to 127.0.0.1:{server.port} lost before an answer")
        assert [n for n, _ in server.requests] == [0, 0]  # the lost request went out once
        answered(http.post(server.url))  # the core's retry gets a fresh connection
    assert server.connections == 2


def test_a_chunked_answer_is_read_whole_and_the_connection_kept():
    def chunked(server, sock, stream, n):
        while (request := read_request(stream)) is not None:
            server.record(n, request)
            sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
                         b"9\r\n{\"sid\": \"\r\n5\r\nSM1\"}\r\n0\r\n\r\n")

    with RawServer(chunked) as server:
        http = client()
        assert answered(http.post(server.url)).json() == {"sid": "SM1"}
        assert answered(http.post(server.url)).json() == {"sid": "SM1"}
    assert server.connections == 1


def test_an_answer_ended_by_closing_is_read_whole_and_the_connection_not_reused():
    def until_close(server, sock, stream, n):
        server.record(n, read_request(stream))
        sock.sendall(b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\nbusy, try later")

    with RawServer(until_close) as server:
        http = client()
        assert answered(http.post(server.url)).text == "busy, try later"
        assert answered(http.post(server.url)).status_code == 503
    assert server.connections == 2


def test_an_answer_cut_short_is_a_transient_failure():
    def cut_short(server, sock, stream, n):
        server.record(n, read_request(stream))
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")

    with RawServer(cut_short) as server:
        result = client().post(server.url)
    assert isinstance(result, DeliveryResult)
    assert (result.outcome, result.reason) == (Outcome.FAILED_TRANSIENT, Reason.UNKNOWN)
    assert result.detail == f"broken answer from 127.0.0.1:{server.port}: IncompleteRead"


def test_concurrent_sends_share_the_pool_safely():
    with RawServer(keep_alive) as server:
        http = client()
        results: list[Response | DeliveryResult] = []
        threads = [threading.Thread(target=lambda: results.append(http.post(server.url))) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        opened = server.connections
        answered(http.post(server.url))  # an idle connection from the wave serves the next send
    assert all(answered(r).status_code == 200 for r in results) and len(results) == 20
    assert 1 <= opened <= 20 and server.connections == opened and len(server.requests) == 21


# --- what goes on the wire ------------------------------------------------------------------

def test_form_body_basic_auth_and_user_agent():
    with RecordingServer(Reply(201, {"sid": "SM1"})) as server:
        response = answered(client().post(server.url + "/Messages.json", data={"To": "+1555", "Body": "a b&c"},
                                          auth=("AC1", "s3cret"), headers={"Accept": "application/json"}))
    (request,) = server.requests
    assert request.form == {"To": "+1555", "Body": "a b&c"}
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"AC1:s3cret").decode()
    assert request.headers["User-Agent"] == "teamflow-notify/0.1"
    assert request.headers["Accept"] == "application/json"
    assert response.status_code == 201 and response.json() == {"sid": "SM1"}


def test_json_body_encodes_what_json_cannot_as_text_and_caller_headers_win():
    started = datetime.datetime(2024, 6, 7, 3, 0, tzinfo=datetime.timezone.utc)
    with RecordingServer(Reply(200, "ok")) as server:
        answered(client().post(server.url, json={"at": started},
                               headers={"content-type": "application/json; charset=utf-8"}))
    (request,) = server.requests
    assert request.json == {"at": "2024-06-07 03:00:00+00:00"}
    assert request.headers.get_all("Content-Type") == ["application/json; charset=utf-8"]


def test_path_and_query_are_sent_as_written_and_unsafe_characters_quoted():
    with RecordingServer() as server:
        answered(client().post(server.url + "/a b/%2F/é?x=1&y=a b"))
    assert server.requests[0].path == "/a%20b/%2F/%C3%A9?x=1&y=a%20b"


def test_the_response_reads_like_requests():
    with RecordingServer(Reply(429, "slow down", {"Retry-After": "7", "Content-Type": "text/plain; charset=latin-1"})) \
            as server:
        response = answered(client().post(server.url + "/x"))
    assert (response.status_code, response.text, response.url) == (429, "slow down", server.url + "/x")
    assert response.headers.get("retry-after") == "7" and response.headers.get("RETRY-AFTER") == "7"
    with pytest.raises(ValueError):
        response.json()
    assert CANARY not in repr(answered(Response(HOOK, 200, response.headers, b"")))


def test_redirects_are_not_followed():
    with RecordingServer(Reply(302, "", {"Location": "/elsewhere"})) as server:
        response = answered(client().post(server.url + "/first"))
    assert response.status_code == 302 and [r.path for r in server.requests] == ["/first"]


@pytest.mark.parametrize("url, headers", [
    ("ftp://example.com/x", None),
    ("https:///no-host", None),
    ("http://127.0.0.1:99999/x", None),
    ("127.0.0.1/no-scheme", None),
    ("http://127.0.0.1:{port}/x", {"X-Token": f"{CANARY}\r\nInjected: yes"}),
    ("http://127.0.0.1:{port}/x", {"Bad Name": "x"}),
])
def test_a_malformed_request_is_permanent_and_sends_nothing(url, headers):
    with RecordingServer() as server:
        result = client().post(url.format(port=server.port), headers=headers, secrets=(CANARY,))
    assert isinstance(result, DeliveryResult)
    assert (result.outcome, result.reason) == (Outcome.FAILED_PERMANENT, Reason.BAD_REQUEST)
    assert "is malformed: Invalid" in result.detail or "is malformed: Missing" in result.detail
    assert CANARY not in result.detail and server.requests == []


# --- failures before an answer --------------------------------------------------------------

def test_a_refused_connection_names_the_host_not_the_path():
    port = closed_port()
    result = client().post(f"http://127.0.0.1:{port}/services/T1/B1/{CANARY}", secrets=(CANARY,))
    assert isinstance(result, DeliveryResult)
    assert (result.outcome, result.reason) == (Outcome.FAILED_TRANSIENT, Reason.CONNECTION)
    assert result.detail == f"cannot connect to 127.0.0.1:{port}: [Errno 111] Connection refused"


def test_no_connection_within_connect_timeout_is_a_connect_timeout():
    # A listener whose accept queue is full drops new SYNs: the connect hangs.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(listener.getsockname())
        try:
            port = listener.getsockname()[1]
            result = client(connect_timeout=0.2, read_timeout=5).post(f"http://127.0.0.1:{port}/x")
        finally:
            for filler in fillers:
                filler.close()
    assert isinstance(result, DeliveryResult)
    assert (result.outcome, result.reason, result.detail) == (
        Outcome.FAILED_TRANSIENT, Reason.TIMEOUT, f"connect timeout to 127.0.0.1:{port}")


def silent(server, sock, stream, n):
    """Accept and say nothing (no answer, no TLS handshake) until the test ends."""
    server.release.wait(5)


def test_a_tls_handshake_that_never_completes_is_a_connect_timeout():
    with RawServer(silent) as server:
        result = client(connect_timeout=0.2, read_timeout=5).post(f"https://127.0.0.1:{server.port}/x")
    assert isinstance(result, DeliveryResult)
    assert (result.reason, result.detail) == (Reason.TIMEOUT, f"connect timeout to 127.0.0.1:{server.port}")


def test_no_answer_within_read_timeout_is_a_read_timeout():
    def read_then_hang(server, sock, stream, n):
        server.record(n, read_request(stream))
        server.release.wait(5)

    with RawServer(read_then_hang) as server:
        result = client(connect_timeout=5, read_timeout=0.2).post(server.url)
    assert isinstance(result, DeliveryResult)
    assert (result.outcome, result.reason, result.detail) == (
        Outcome.FAILED_TRANSIENT, Reason.TIMEOUT, f"read timeout from 127.0.0.1:{server.port}")
    assert len(server.requests) == 1


def test_a_certificate_from_an_unknown_ca_is_a_tls_error(monkeypatch):
    with ProviderProxy(hosts=("hooks.slack.com",)) as proxy:
        set_env(monkeypatch, https_proxy=proxy.proxy_url)
        result = client().post(HOOK, secrets=(CANARY,))  # no ca_bundle: the system store
    assert isinstance(result, DeliveryResult)
    assert (result.outcome, result.reason) == (Outcome.FAILED_TRANSIENT, Reason.CONNECTION)
    assert result.detail == "TLS error with hooks.slack.com: unable to get local issuer certificate"
    assert proxy.tunnels == ["hooks.slack.com"] and proxy["hooks.slack.com"].requests == []


def test_a_certificate_for_another_host_is_a_tls_error(tmp_path):
    import ssl

    import trustme

    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks.slack.com").configure_cert(context)

    def tls_for_slack(server, sock, stream, n):
        try:
            with context.wrap_socket(sock, server_side=True) as tls:
                server.record(n, read_request(tls.makefile("rb")) or b"")
        except OSError:  # the client rejects the certificate during the handshake
            pass

    with RawServer(tls_for_slack) as server:
        result = client(ca_bundle=str(tmp_path / "ca.pem")).post(f"https://127.0.0.1:{server.port}/x")
    assert isinstance(result, DeliveryResult) and result.reason is Reason.CONNECTION
    assert result.detail.startswith(f"TLS error with 127.0.0.1:{server.port}: ")
    assert "mismatch" in result.detail.lower() and server.requests == []


def test_an_unreadable_ca_bundle_is_a_tls_error(tmp_path, monkeypatch):
    with ProviderProxy(hosts=("hooks.slack.com",)) as proxy:
        set_env(monkeypatch, https_proxy=proxy.proxy_url)
        result = client(ca_bundle=str(tmp_path / "missing.pem")).post(HOOK)
    assert isinstance(result, DeliveryResult) and result.reason is Reason.CONNECTION
    assert result.detail.startswith("TLS error with hooks.slack.com: cannot load the CA bundle")


def test_the_ca_bundle_is_trusted(monkeypatch):
    with ProviderProxy(hosts=("hooks.slack.com",)) as proxy:
        set_env(monkeypatch, https_proxy=proxy.proxy_url)
        http = client(ca_bundle=proxy.ca_bundle_path)
        assert answered(http.post(HOOK, json={"text": "hi"})).text == "ok"
        assert answered(http.post(HOOK, json={"text": "again"})).text == "ok"
    assert [r.json["text"] for r in proxy["hooks.slack.com"].requests] == ["hi", "again"]
    assert proxy.tunnels == ["hooks.slack.com"]  # one tunnel, one TLS session, kept alive


def test_channels_share_one_tls_context_per_ca_bundle(monkeypatch):
    """Loading a CA store costs 25-30 ms: Slack, SMS and phone must not each load it."""
    from channels._transport import tls_context

    with ProviderProxy(hosts=("hooks.slack.com",)) as proxy:
        set_env(monkeypatch, https_proxy=proxy.proxy_url)
        first, second = client(ca_bundle=proxy.ca_bundle_path), client(ca_bundle=proxy.ca_bundle_path)
        assert answered(first.post(HOOK, json={"text": "one"})).text == "ok"
        assert answered(second.post(HOOK, json={"text": "two"})).text == "ok"
        assert tls_context(proxy.ca_bundle_path) is tls_context(proxy.ca_bundle_path)
        assert tls_context(proxy.ca_bundle_path) is not tls_context(None)
    assert [r.json["text"] for r in proxy["hooks.slack.com"].requests] == ["one", "two"]


# --- proxies --------------------------------------------------------------------------------

class AuthProxy:
    """A CONNECT proxy that wants Basic user:pw, then hands the tunnel to a ProviderProxy behind it."""

    def __init__(self, upstream: ProviderProxy, user: str = "ops", password: str = CANARY) -> None:
        self.upstream = upstream
        self.expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.seen: list[str | None] = []  # the Proxy-Authorization of each CONNECT
        self.server = RawServer(self._handle)

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.server.port}"

    def _handle(self, server, sock, stream, n):
        head = read_request(stream) or b""
        lines = head.decode("latin-1").split("\r\n")
        auth = next((line.split(":", 1)[1].strip() for line in lines
                     if line.lower().startswith("proxy-authorization:")), None)
        self.seen.append(auth)
        if auth != self.expected:
            sock.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            return
        with socket.create_connection(("127.0.0.1", self.upstream.port)) as upstream:
            upstream.sendall(f"{lines[0]}\r\n\r\n".encode())
            pipe = threading.Thread(target=_pump, args=(upstream, sock), daemon=True)
            pipe.start()
            _pump(stream, upstream)
            pipe.join(timeout=5)


def _pump(source, target: socket.socket) -> None:
    """Copy bytes until EOF (source is a socket or the buffered stream already reading it)."""
    read = source.recv if isinstance(source, socket.socket) else source.read1
    try:
        while data := read(65536):
            target.sendall(data)
        target.shutdown(socket.SHUT_WR)
    except OSError:
        pass


@pytest.fixture
def auth_proxy() -> Iterator[AuthProxy]:
    with ProviderProxy(hosts=("hooks.slack.com",)) as upstream:
        proxy = AuthProxy(upstream)
        with proxy.server:
            yield proxy


def test_https_through_a_proxy_sends_proxy_authorization_on_connect(auth_proxy, monkeypatch):
    set_env(monkeypatch, https_proxy=auth_proxy.url(f"ops:{CANARY}@"))
    result = client(ca_bundle=auth_proxy.upstream.ca_bundle_path).post(HOOK, json={"text": "hi"})
    assert answered(result).status_code == 200
    assert auth_proxy.seen == [auth_proxy.expected]
    (request,) = auth_proxy.upstream["hooks.slack.com"].requests
    assert request.path == f"/services/T1/B1/{CANARY}" and "Proxy-Authorization" not in request.headers


def test_a_proxy_refusing_the_tunnel_is_a_proxy_error_without_credentials(auth_proxy, monkeypatch):
    set_env(monkeypatch, https_proxy=auth_proxy.url(f"ops:wrong{CANARY}@"))
    result = client(ca_bundle=auth_proxy.upstream.ca_bundle_path).post(HOOK, secrets=(CANARY,))
    assert isinstance(result, DeliveryResult)
    assert (result.outcome, result.reason) == (Outcome.FAILED_TRANSIENT, Reason.CONNECTION)
    assert result.detail == "proxy error reaching hooks.slack.com: CONNECT answered 407"


def test_the_configured_proxy_wins_over_the_environment(auth_proxy, monkeypatch):
    set_env(monkeypatch, https_proxy=f"http://127.0.0.1:{closed_port()}")
    http = client(ca_bundle=auth_proxy.upstream.ca_bundle_path, proxy=auth_proxy.url(f"ops:{CANARY}@"))
    assert answered(http.post(HOOK)).status_code == 200


def test_a_dead_proxy_is_a_proxy_error(monkeypatch):
    port = closed_port()
    set_env(monkeypatch, https_proxy=f"http://127.0.0.1:{port}")
    result = client().post(HOOK, secrets=(CANARY,))
    assert isinstance(result, DeliveryResult) and result.reason is Reason.CONNECTION
    assert result.detail == "proxy error reaching hooks.slack.com: [Errno 111] Connection refused"


def test_plain_http_goes_to_the_proxy_as_an_absolute_url_with_proxy_authorization(monkeypatch):
    with RecordingServer() as proxy:
        set_env(monkeypatch, http_proxy=f"http://ops:pw@127.0.0.1:{proxy.port}")
        answered(client().post("http://receiver.example:8080/hook?a=1", json={}))
    (request,) = proxy.requests
    assert request.path == "http://receiver.example:8080/hook?a=1"
    assert request.headers["Host"] == "receiver.example:8080"
    assert request.headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"ops:pw").decode()


@pytest.mark.parametrize("no_proxy, host, direct", [
    ("127.0.0.1", "127.0.0.1", True),
    ("10.0.0.1, 127.0.0.1", "127.0.0.1", True),
    ("127.0.0.0/8", "127.0.0.1", True),
    ("*", "127.0.0.1", True),
    ("localhost", "localhost", True),
    (".localhost", "localhost", True),
    ("127.0.0.1:{port}", "127.0.0.1", True),
    ("127.0.0.1:1", "127.0.0.1", False),
    ("10.0.0.0/8", "127.0.0.1", False),
    ("", "127.0.0.1", False),
])
def test_no_proxy_decides_who_is_reached_directly(monkeypatch, no_proxy, host, direct):
    with RecordingServer() as receiver, RecordingServer() as proxy:
        set_env(monkeypatch, http_proxy=proxy.url, no_proxy=no_proxy.format(port=receiver.port))
        answered(client().post(f"http://{host}:{receiver.port}/hook"))
    assert (len(receiver.requests), len(proxy.requests)) == ((1, 0) if direct else (0, 1))


def test_the_environment_is_read_when_the_client_is_built(monkeypatch):
    with RecordingServer() as receiver, RecordingServer() as proxy:
        set_env(monkeypatch, http_proxy=proxy.url)
        http = client()
        set_env(monkeypatch, http_proxy="", no_proxy="*")
        answered(http.post(receiver.url))
    assert (len(receiver.requests), len(proxy.requests)) == (0, 1)


def test_lower_case_variables_win_and_an_empty_one_means_no_proxy(monkeypatch):
    with RecordingServer() as receiver:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
        monkeypatch.setenv("http_proxy", "")
        answered(client().post(receiver.url))
    assert len(receiver.requests) == 1


# --- start-up cost --------------------------------------------------------------------------

def test_sending_a_slack_message_never_imports_requests():
    with ProviderProxy(hosts=("hooks.slack.com",)) as proxy:
        script = (
            "import sys\n"
            "from channels.slack import SlackChannel\n"
            "from dispatcher.api import ChannelConfig\n"
            "from tests.providers_fixtures import make_address, make_notice\n"
            f"channel = SlackChannel(ChannelConfig(url={HOOK!r}, ca_bundle={proxy.ca_bundle_path!r}))\n"
            "result = channel.send(make_notice(), make_address('slack', '#ops'))\n"
            "print(result.outcome.value, sorted(m for m in ('requests', 'urllib3', 'certifi') if m in sys.modules))\n"
        )
        env = {name: value for name, value in __import__("os").environ.items() if name not in PROXY_VARIABLES}
        env.update(HTTPS_PROXY=proxy.proxy_url, PYTHONPATH=str(REPO))
        done = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, text=True,
                              timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["delivered", "[]"]
    assert len(proxy["hooks.slack.com"].requests) == 1
    assert json.loads(proxy["hooks.slack.com"].requests[0].body)["unfurl_links"] is False
