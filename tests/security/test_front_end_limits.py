"""The front end of `notify serve` under slow and greedy clients: deadlines, limits, and a quiet log.

Each test runs the real app under uvicorn with notify's guarded protocol on a local port, with
short deadlines or small limits passed in. A socket timeout only keeps a test from hanging when the
server never answers (as it did before): no assertion is made on how long anything took.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from typing import Iterator

import pytest
import requests

from dispatcher.server.front_end import FrontEndLimits, uvicorn_config
from dispatcher.server.run import build, server_class

from ..stage import Stage

TOKEN = "inbound-token-123"
SECRET = "hmac-secret-456"
HANG_GUARD = 20.0  # seconds a read may block before the test fails: the server never answered
LONG = 600.0  # a deadline no test reaches


class Server:
    """notify's app behind notify's uvicorn configuration, on a local port; the worker is not run."""

    def __init__(self, stage: Stage, limits: FrontEndLimits, secret: str | None = SECRET) -> None:
        self.store = stage.store()
        rt = stage.runtime(webhook_token=TOKEN, webhook_hmac_secret=secret)
        self.app, self.worker, _ = build(rt, self.store, stage.clock, limits=limits)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = server_class()(uvicorn_config(self.app, limits, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=HANG_GUARD)
        return sock

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.worker.close()
        self.store.close()


@pytest.fixture
def serve(stage: Stage) -> Iterator:
    servers: list[Server] = []

    def start(secret: str | None = SECRET, **limits) -> Server:
        servers.append(Server(stage, FrontEndLimits(**{"header_timeout": LONG, "body_timeout": LONG, **limits}),
                              secret))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def read_to_end(sock: socket.socket) -> bytes:
    """Everything the server writes until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def head(path: str, token: str | None, length: int, extra: str = "") -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"POST {path} HTTP/1.1\r\nHost: notify\r\n{auth}{extra}Content-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def test_a_connection_that_dribbles_its_headers_gets_408_and_is_closed_at_the_header_deadline(serve) -> None:
    server = serve(header_timeout=0.3)
    with server.connect() as sock:
        sock.sendall(b"POST /hooks/generic HTTP/1.1\r\nHost: notify\r\n")
        sock.settimeout(0.02)  # a byte every 20 ms: each one would reset a keep-alive style timer
        sent, answer = 0, b""
        for _ in range(int(HANG_GUARD / 0.02)):
            try:
                answer = sock.recv(65536)
                break
            except TimeoutError:
                sock.sendall(b"X-Slow: a\r\n"[sent % 11:sent % 11 + 1])
                sent += 1
        sock.settimeout(HANG_GUARD)
        answer += read_to_end(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"headers did not arrive within 0.3 s" in answer
    assert sent > 1  # the client was still sending when it was cut off
    assert requests.get(server.url + "/metrics", timeout=HANG_GUARD).status_code == 200  # still serving


def test_a_connection_that_sends_nothing_is_closed_at_the_header_deadline(serve) -> None:
    server = serve(header_timeout=0.1)
    with server.connect() as sock:
        assert read_to_end(sock).startswith(b"HTTP/1.1 408 ")


def test_a_slow_body_is_cut_off_at_the_body_deadline_and_nothing_is_stored(serve) -> None:
    server = serve(body_timeout=0.2)
    with server.connect() as sock:
        sock.sendall(head("/hooks/generic", TOKEN, 100_000) + b'{"summary": "slow')
        answer = read_to_end(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"body did not arrive within 0.2 s" in answer
    assert server.store.incidents() == []


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_an_unauthenticated_large_body_is_refused_before_a_byte_of_it_is_read(serve, token: str | None) -> None:
    server = serve()
    with server.connect() as sock:
        sock.sendall(head("/hooks/alertmanager", token, 1_000_000))  # announced; never sent
        answer = read_to_end(sock)  # answered and closed: nothing of the body was waited for
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    assert b"connection: close" in answer.lower()
    assert server.store.inbox_counts() == (0, 0, 0)


def test_a_signature_header_does_not_skip_the_early_check_when_no_hmac_secret_is_set(serve) -> None:
    server = serve(secret=None)
    with server.connect() as sock:
        sock.sendall(head("/hooks/alertmanager", None, 1_000_000, extra="X-Notify-Signature: sha256=00\r\n"))
        answer = read_to_end(sock)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]


def test_a_signed_request_is_still_read_whole_and_checked(serve, stage: Stage) -> None:
    from .signing import v1

    server = serve()
    body = b'{"summary": "signed"}'
    signed = v1(SECRET, "POST", "/hooks/generic", int(stage.clock.now().timestamp()), body)
    answer = requests.post(server.url + "/hooks/generic", data=body, timeout=HANG_GUARD, headers=signed)
    assert answer.status_code == 202, answer.text


def test_over_the_connection_limit_a_new_connection_is_answered_503_at_once(serve) -> None:
    server = serve(max_connections=2)
    held = [server.connect(), server.connect()]
    try:
        with server.connect() as probe:
            answer = read_to_end(probe)
        assert answer.startswith(b"HTTP/1.1 503 "), answer[:200]
        assert b"retry-after: 1" in answer.lower() and b"too many connections" in answer
    finally:
        for sock in held:
            sock.close()
    for _ in range(200):  # the server sees the held connections close: connections are answered again
        with server.connect() as probe:
            probe.sendall(b"GET /metrics HTTP/1.1\r\nHost: notify\r\nConnection: close\r\n\r\n")
            if not read_to_end(probe).startswith(b"HTTP/1.1 503 "):
                break
    else:
        pytest.fail("the connection limit never let a connection in again")


def test_over_the_in_flight_limit_a_request_gets_503_before_its_body_is_read(serve) -> None:
    server = serve(max_in_flight=1)
    with server.connect() as slow:
        slow.sendall(head("/hooks/generic", TOKEN, 1000) + b"{")  # in progress: its body is being read
        for _ in range(200):  # once the server has taken the slow request in, the next one is refused
            with server.connect() as other:
                other.sendall(head("/hooks/generic", TOKEN, 1_000_000))
                answer = read_to_end(other)
            if answer.startswith(b"HTTP/1.1 503 "):
                break
        assert answer.startswith(b"HTTP/1.1 503 "), answer[:200]
        assert b"requests in progress" in answer
    assert requests.get(server.url + "/metrics", timeout=HANG_GUARD).status_code == 200


def test_failed_accepts_out_of_descriptors_are_logged_once_a_minute_not_once_each(
        serve, caplog: pytest.LogCaptureFixture) -> None:
    server = serve()
    loop = server.server.servers[0].get_loop()
    listening = server.server.servers[0].sockets[0]
    done = threading.Event()

    def fail_accepts() -> None:  # what asyncio's accept loop reports, per backlog slot, when out of descriptors
        for _ in range(1000):
            loop.call_exception_handler({"message": "socket.accept() out of system resource",
                                         "exception": OSError(errno.EMFILE, "Too many open files"),
                                         "socket": listening})
        done.set()

    with caplog.at_level(logging.DEBUG):
        loop.call_soon_threadsafe(fail_accepts)
        assert done.wait(HANG_GUARD)
    lines = [r for r in caplog.records if "Too many open files" in r.getMessage()
             or "out of system resource" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage()[:120] for r in lines[:3]]
    assert lines[0].exc_info is None  # one line, no traceback
    assert "raise the open-file limit" in lines[0].getMessage()


def test_the_rate_limited_log_says_how_many_lines_it_left_out(caplog: pytest.LogCaptureFixture) -> None:
    from dispatcher.server.front_end import RateLimitedLog

    now = [100.0]
    report = RateLimitedLog(60.0, now=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="notify"):
        for _ in range(500):
            report("accept", logging.ERROR, "cannot accept")
        now[0] += 60.0
        report("accept", logging.ERROR, "cannot accept")
        report("other", logging.WARNING, "another kind")
    assert [r.getMessage() for r in caplog.records] == [
        "cannot accept", "cannot accept (and 499 more like it since the previous line)", "another kind"]


def test_a_request_head_over_the_limit_is_answered_431_and_closed(serve) -> None:
    from dispatcher.server.front_end import MAX_HEAD

    server = serve()
    with server.connect() as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: notify\r\n")
        try:
            for _ in range(MAX_HEAD // 1000 + 2):  # headers without end: the server stops reading at the limit
                sock.sendall(b"X-Filler: " + b"a" * 1000 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = read_to_end(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert requests.get(server.url + "/metrics", timeout=HANG_GUARD).status_code == 200  # still serving


def test_pipelined_requests_are_each_answered_and_the_connection_stays_guarded(serve) -> None:
    server = serve(header_timeout=0.3)
    with server.connect() as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: notify\r\n\r\n" * 2)  # two at once; then nothing
        answer = read_to_end(sock)  # both answered, then closed at the header deadline
    assert answer.count(b"HTTP/1.1 200 ") == 2, answer[:300]
    assert b"HTTP/1.1 408 " in answer
