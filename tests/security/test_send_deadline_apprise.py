"""The apprise channel has the send deadline too (issue 16): apprise opens its own connections, so the send
runs in a worker thread that is abandoned at the deadline.

The receiver reads the request and never answers, far within apprise's read timeout: only the deadline
ends the attempt. The tests assert outcomes and what the receiver got, never elapsed time.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Iterator

import pytest

from channels.apprise import AppriseChannel
from dispatcher.api import Address, ChannelConfig, Notice, Outcome, Reason

CANARY = "CANARYSECRET123"
DEADLINE = 0.3
GUARD = 10.0  # seconds the test waits for the receiver before failing: it never waits on the deadline itself


class SilentReceiver:
    """127.0.0.1:<port>: reads each request's head and answers only when told (`answer`), or never."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received = threading.Event()
        self.answer = threading.Event()
        self.heads: list[bytes] = []
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        head = b""
        try:
            while b"\r\n\r\n" not in head and (chunk := conn.recv(65536)):
                head += chunk
            self.heads.append(head)
            self.received.set()
            if self.answer.wait(GUARD):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        except OSError:
            pass

    def close(self) -> None:
        """Hang up on everyone: the abandoned apprise thread gets its error and ends."""
        self.listener.close()
        for conn in self.accepted:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[SilentReceiver]:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    running = SilentReceiver()
    yield running
    running.close()


def send(receiver: SilentReceiver, deadline: float | None = DEADLINE):
    url = f"json://ops:{CANARY}@127.0.0.1:{receiver.port}/hook"
    channel = AppriseChannel(ChannelConfig(url=url, send_deadline=deadline, connect_timeout=5.0, read_timeout=5.0))
    notice = Notice(incident_id="INC-7", incident_class="outage", step=0, subject="[P1] Payments degraded",
                    text="Card auth failing for 12% of requests.")
    return channel.send(notice, Address(person="ops", display="Ops", role="list:ops", channel="apprise", target="ops"))


def test_an_apprise_send_with_no_answer_by_the_deadline_is_possibly_delivered(receiver, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    result = send(receiver)
    assert result.outcome is Outcome.POSSIBLY_DELIVERED and result.reason is Reason.TIMEOUT
    assert "send deadline (0.3 s)" in result.detail and "may have been delivered" in result.detail
    assert receiver.received.wait(GUARD)  # it did reach the receiver: whether it acted on it is unknown
    (head,) = receiver.heads
    assert head.startswith(b"POST /hook ")
    assert CANARY not in repr(result) and CANARY not in caplog.text


def test_an_apprise_answer_within_the_deadline_is_delivered(receiver) -> None:
    receiver.answer.set()
    result = send(receiver, deadline=GUARD)
    assert result.outcome is Outcome.DELIVERED, result.detail
    assert len(receiver.heads) == 1

