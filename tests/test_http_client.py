"""channels/_http.py and _client.py over httpx, against real sockets: TLS trust, proxies, timeouts, the deadline.

Only what notify adds to httpx is tested here (which CA store, which proxy, how an error is
classified and masked, the deadline on a pooled connection); httpx's own HTTP is not.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from channels._client import bypass
from channels._http import HttpClient
from dispatcher.api import ChannelConfig, DeliveryResult, Outcome, Reason
from dispatcher.testing import ProviderProxy, RecordingServer, Reply
from tests.providers_fixtures import CANARY, closed_port

REPO = Path(__file__).resolve().parent.parent
HOOK = f"https://hooks.slack.com/services/T1/B1/{CANARY}"
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
                   "NO_PROXY", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR")


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def client(**config) -> HttpClient:
    config.setdefault("connect_timeout", 2)
    config.setdefault("read_timeout", 2)
    return HttpClient(ChannelConfig(**config))


def failed(result: httpx.Response | DeliveryResult) -> DeliveryResult:
    assert isinstance(result, DeliveryResult), result
    return result


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[ProviderProxy]:
    """hooks.slack.com behind a CONNECT proxy set as https_proxy."""
    with ProviderProxy(hosts=("hooks.slack.com",)) as proxy:
        monkeypatch.setenv("https_proxy", proxy.proxy_url)
        yield proxy


# --- TLS: the system store or the configured bundle, never certifi's -------------------------------

def test_the_ca_bundle_is_trusted_and_the_connection_kept(slack):
    http = client(ca_bundle=slack.ca_bundle_path)
    assert http.post(HOOK, json={"text": "hi"}).text == "ok"
    assert http.post(HOOK, json={"text": "again"}).text == "ok"
    assert [r.json["text"] for r in slack["hooks.slack.com"].requests] == ["hi", "again"]
    assert slack.tunnels == ["hooks.slack.com"]  # one tunnel, one TLS session, kept alive


def test_a_certificate_from_an_unknown_ca_is_permanent_and_named(slack):
    result = failed(client().post(HOOK, secrets=(CANARY,)))  # no ca_bundle: the system store
    assert (result.outcome, result.reason) == (Outcome.FAILED_PERMANENT, Reason.CONNECTION)
    assert result.detail == "TLS certificate of hooks.slack.com not trusted: unable to get local issuer certificate"
    assert slack["hooks.slack.com"].requests == []


def test_a_certificate_for_another_host_is_permanent_and_named(tmp_path):
    import ssl

    import trustme

    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks.slack.com").configure_cert(context)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def handshake() -> None:
        with listener, listener.accept()[0] as sock:
            try:
                context.wrap_socket(sock, server_side=True).close()
            except OSError:  # the client rejects the certificate during the handshake
                pass

    threading.Thread(target=handshake, daemon=True).start()
    result = failed(client(ca_bundle=str(tmp_path / "ca.pem")).post(f"https://127.0.0.1:{port}/x"))
    assert result.outcome is Outcome.FAILED_PERMANENT
    assert result.detail.startswith(f"TLS certificate of 127.0.0.1:{port} not trusted: ")
    assert "mismatch" in result.detail.lower()


def test_an_unreadable_ca_bundle_is_permanent_and_names_the_file(tmp_path):
    missing = tmp_path / "missing.pem"
    result = failed(client(ca_bundle=str(missing)).post(HOOK))
    assert (result.outcome, result.reason) == (Outcome.FAILED_PERMANENT, Reason.CONNECTION)
    assert result.detail.startswith(f"TLS with hooks.slack.com: cannot load the CA bundle {missing}")


def test_a_ca_installed_in_the_system_store_is_trusted_and_requests_is_never_imported(slack):
    """SSL_CERT_FILE moves OpenSSL's default store: trusted means the system store, not certifi's bundle."""
    script = (
        "import sys\n"
        "from channels._http import HttpClient\n"
        "from dispatcher.api import ChannelConfig\n"
        f"answer = HttpClient(ChannelConfig()).post({HOOK!r}, json={{'text': 'hi'}})\n"
        "loaded = sorted(m for m in ('requests', 'urllib3') if m in sys.modules)\n"
        "print(getattr(answer, 'status_code', answer), loaded)\n"
    )
    env = {name: value for name, value in os.environ.items() if name not in PROXY_VARIABLES}
    env.update(HTTPS_PROXY=slack.proxy_url, SSL_CERT_FILE=slack.ca_bundle_path, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["200", "[]"]
    assert len(slack["hooks.slack.com"].requests) == 1


# --- proxies ------------------------------------------------------------------------------

class AuthProxy:
    """A CONNECT proxy that wants Basic ops:CANARY, then splices the tunnel to a ProviderProxy."""

    def __init__(self, upstream: ProviderProxy) -> None:
        self.upstream = upstream
        self.expected = "Basic " + base64.b64encode(f"ops:{CANARY}".encode()).decode()
        self.seen: list[str | None] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, userinfo: str) -> str:
        return f"http://{userinfo}127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(sock,), daemon=True).start()

    def _tunnel(self, sock: socket.socket) -> None:
        with sock:
            head = b""
            while b"\r\n\r\n" not in head and (chunk := sock.recv(4096)):
                head += chunk
            lines = head.decode("latin-1").split("\r\n")
            auth = next((line.split(":", 1)[1].strip() for line in lines
                         if line.lower().startswith("proxy-authorization:")), None)
            self.seen.append(auth)
            if auth != self.expected:
                sock.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
                return
            with socket.create_connection(("127.0.0.1", self.upstream.port)) as upstream:
                upstream.sendall(f"{lines[0]}\r\n\r\n".encode())
                threading.Thread(target=_pump, args=(upstream, sock), daemon=True).start()
                _pump(sock, upstream)

    def close(self) -> None:
        self.listener.close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
        target.shutdown(socket.SHUT_WR)
    except OSError:
        pass


@pytest.fixture
def auth_proxy() -> Iterator[AuthProxy]:
    with ProviderProxy(hosts=("hooks.slack.com",)) as upstream:
        proxy = AuthProxy(upstream)
        yield proxy
        proxy.close()


def test_https_through_a_proxy_sends_proxy_authorization_on_connect_only(auth_proxy, monkeypatch):
    monkeypatch.setenv("https_proxy", auth_proxy.url(f"ops:{CANARY}@"))
    answer = client(ca_bundle=auth_proxy.upstream.ca_bundle_path).post(HOOK, json={"text": "hi"})
    assert answer.status_code == 200 and auth_proxy.seen == [auth_proxy.expected]
    (request,) = auth_proxy.upstream["hooks.slack.com"].requests
    assert request.path == f"/services/T1/B1/{CANARY}" and "Proxy-Authorization" not in request.headers


def test_a_proxy_refusing_the_tunnel_is_a_proxy_error_without_credentials(auth_proxy, monkeypatch):
    monkeypatch.setenv("https_proxy", auth_proxy.url(f"ops:wrong{CANARY}@"))
    result = failed(client(ca_bundle=auth_proxy.upstream.ca_bundle_path).post(HOOK, secrets=(CANARY,)))
    assert (result.outcome, result.reason) == (Outcome.FAILED_TRANSIENT, Reason.CONNECTION)
    assert result.detail == "proxy error reaching hooks.slack.com: CONNECT answered 407 Proxy Authentication Required"


def test_the_configured_proxy_wins_over_the_environment(auth_proxy, monkeypatch):
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{closed_port()}")
    http = client(ca_bundle=auth_proxy.upstream.ca_bundle_path, proxy=auth_proxy.url(f"ops:{CANARY}@"))
    assert http.post(HOOK).status_code == 200


def test_a_dead_proxy_is_a_proxy_error(monkeypatch):
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{closed_port()}")
    result = failed(client().post(HOOK, secrets=(CANARY,)))
    assert (result.outcome, result.reason) == (Outcome.FAILED_TRANSIENT, Reason.CONNECTION)
    assert result.detail == "proxy error reaching hooks.slack.com: [Errno 111] Connection refused"


def test_plain_http_goes_to_the_proxy_as_an_absolute_url_with_proxy_authorization(monkeypatch):
    with RecordingServer() as proxy:
        monkeypatch.setenv("http_proxy", f"http://ops:pw@127.0.0.1:{proxy.port}")
        client().post("http://receiver.example:8080/hook?a=1", json={})
    (request,) = proxy.requests
    assert request.path == "http://receiver.example:8080/hook?a=1"
    assert request.headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"ops:pw").decode()


@pytest.mark.parametrize("no_proxy, host, direct", [
    ("127.0.0.1", "127.0.0.1", True), ("10.0.0.1, 127.0.0.1", "127.0.0.1", True), ("127.0.0.0/8", "127.0.0.1", True),
    ("*", "127.0.0.1", True), ("localhost", "localhost", True), (".example.com", "hooks.example.com", True),
    ("example.com", "example.com", True), ("127.0.0.1:8080", "127.0.0.1", True), ("127.0.0.1:1", "127.0.0.1", False),
    ("10.0.0.0/8", "127.0.0.1", False), ("ample.com", "example.com", False), ("", "127.0.0.1", False),
])
def test_no_proxy_decides_who_is_reached_directly(no_proxy, host, direct):
    entries = tuple(e.strip() for e in no_proxy.split(",") if e.strip())
    assert bypass(host, 8080, entries) is direct


def test_lower_case_variables_win_and_an_empty_one_means_no_proxy(monkeypatch):
    with RecordingServer() as receiver:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
        monkeypatch.setenv("http_proxy", "")
        assert client().post(receiver.url).status_code == 200
    assert len(receiver.requests) == 1


# --- failures before an answer, masked ------------------------------------------------------

def test_a_refused_connection_names_the_host_not_the_path():
    port = closed_port()
    result = failed(client().post(f"http://127.0.0.1:{port}/services/T1/B1/{CANARY}", secrets=(CANARY,)))
    assert (result.outcome, result.reason) == (Outcome.FAILED_TRANSIENT, Reason.CONNECTION)
    assert result.detail == f"cannot connect to 127.0.0.1:{port}: [Errno 111] Connection refused"


@pytest.mark.parametrize("url, headers", [
    ("ftp://example.com/x", None),
    ("http://127.0.0.1:99999/x", None),
    ("127.0.0.1/no-scheme", None),
    ("http://127.0.0.1:{port}/x", {"X-Token": f"{CANARY}\r\nInjected: yes"}),
    ("http://127.0.0.1:{port}/x", {"X-Token": f"caf\u00e9{CANARY}\u2603"}),
])
def test_a_malformed_request_is_permanent_and_sends_nothing(url, headers):
    with RecordingServer() as server:
        result = failed(client().post(url.format(port=server.port), headers=headers, secrets=(CANARY,)))
        assert server.requests == []
    assert (result.outcome, result.reason) == (Outcome.FAILED_PERMANENT, Reason.BAD_REQUEST)
    assert "is malformed" in result.detail and CANARY not in result.detail


def test_no_answer_within_read_timeout_after_the_request_went_out_is_possibly_delivered():
    with RecordingServer(Reply(hang=True)) as server:
        result = failed(client(read_timeout=0.2).post(server.url))
        assert len(server.requests) == 1
    assert (result.outcome, result.reason, result.detail) == (
        Outcome.POSSIBLY_DELIVERED, Reason.TIMEOUT, f"read timeout: 127.0.0.1:{server.port} had the request and "
        "did not answer: it may have been delivered; not retried, so nobody gets it twice")


class HangUp:
    """127.0.0.1:<port>: reads one request and closes the connection without a word."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.heads: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with self.listener:
            sock, _ = self.listener.accept()
            with sock:
                head = b""
                while b"\r\n\r\n" not in head and (chunk := sock.recv(65536)):
                    head += chunk
                self.heads.append(head)


@pytest.mark.parametrize("deduplicated, outcome", [(False, Outcome.POSSIBLY_DELIVERED),
                                                   (True, Outcome.FAILED_TRANSIENT)])
def test_a_connection_lost_after_the_request_went_out_is_outcome_unknown(deduplicated, outcome):
    server = HangUp()
    result = failed(client().post(f"http://127.0.0.1:{server.port}/x", json={}, deduplicated=deduplicated))
    assert (result.outcome, result.reason) == (outcome, Reason.CONNECTION)
    assert result.detail.startswith(f"connection to 127.0.0.1:{server.port} lost before an answer")
    assert len(server.heads) == 1  # sent once, never again here


@pytest.mark.slow
def test_concurrent_sends_share_the_channels_pools_safely():
    with RecordingServer(Reply(200, "ok")) as server:
        http = client()
        results: list[httpx.Response | DeliveryResult] = []
        threads = [threading.Thread(target=lambda: results.append(http.post(server.url, json={}))) for _ in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        http.close()
        assert http.post(server.url).status_code == 200  # closed pools are rebuilt on the next send
        assert [getattr(r, "status_code", r) for r in results] == [200] * 40 and len(server.requests) == 41


# --- the deadline on a pooled connection ---------------------------------------------------

class AnswerOnceThenHold:
    """127.0.0.1:<port>: answers the first request of a connection at once (kept alive), then reads the
    next and answers nothing until the client hangs up, which it records."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/x"
        self.connections = 0
        self.hung_up = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with self.listener:
            while True:
                sock, _ = self.listener.accept()
                self.connections += 1
                with sock:
                    self._read_request(sock)
                    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    self._read_request(sock)
                    while sock.recv(65536):  # nothing comes until the client closes
                        pass
                    self.hung_up.set()

    @staticmethod
    def _read_request(sock: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data and (chunk := sock.recv(65536)):
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length and (chunk := sock.recv(65536)):
            body += chunk


def test_the_deadline_closes_a_pooled_connection_under_a_silent_provider():
    """The read timeout (60 s) never ends this attempt: only the watchdog closing the reused socket does."""
    server = AnswerOnceThenHold()
    http = client(read_timeout=60, send_deadline=0.3)
    results: list[httpx.Response | DeliveryResult] = []
    # One thread sends both, as a sender thread does: a thread keeps to one of the channel's pools.
    sender = threading.Thread(target=lambda: results.extend(http.post(server.url, json={}) for _ in range(2)),
                              daemon=True)
    sender.start()
    assert server.hung_up.wait(10)  # a guard, not a timing: without the watchdog it takes the 60 s read timeout
    sender.join(10)
    first, second = results
    assert first.status_code == 200
    assert (failed(second).outcome, second.reason) == (Outcome.POSSIBLY_DELIVERED, Reason.TIMEOUT)
    assert server.connections == 1  # the second request went over the pooled connection
