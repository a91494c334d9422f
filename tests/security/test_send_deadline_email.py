"""The send deadline holds for email too: an SMTP server that drips its replies one byte at a time.

aiosmtpd (dispatcher/testing/smtp.py) answers whole lines, so the stand-in here
is a small line-based SMTP server whose chosen reply drips.
"""

from __future__ import annotations

import socket
import threading
from typing import Iterator

import pytest

from channels.email import EmailChannel
from dispatcher.api import ChannelConfig, Outcome, Reason
from tests.providers_fixtures import make_address, make_notice

DRIP = 0.05


class DrippingSmtp:
    """Speaks enough SMTP for one message; the reply to `slow` ("GREETING" or "DATA") drips."""

    def __init__(self, slow: str) -> None:
        self.slow = slow
        self.commands: list[str] = []
        self.messages = 0
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn, conn.makefile("rb") as lines:
            try:
                self._reply(conn, "220 slow.example ESMTP", "GREETING")
                self._session(conn, lines)
            except OSError:  # the client's deadline closed the connection
                pass

    def _session(self, conn: socket.socket, lines) -> None:
        for raw in lines:
            command = raw.decode().strip()
            self.commands.append(command.split(" ")[0].upper())
            verb = self.commands[-1]
            if verb == "EHLO":
                self._reply(conn, "250 slow.example", verb)
            elif verb == "DATA":
                self._reply(conn, "354 go ahead", "354")
                for body in lines:
                    if body in (b".\r\n", b".\n"):
                        break
                self.messages += 1
                self._reply(conn, "250 2.0.0 queued", "DATA")
            elif verb == "QUIT":
                self._reply(conn, "221 bye", verb)
                return
            else:
                self._reply(conn, "250 ok", verb)

    def _reply(self, conn: socket.socket, line: str, stage: str) -> None:
        data = (line + "\r\n").encode()
        if stage != self.slow:
            conn.sendall(data)
            return
        for i in range(len(data)):
            if self.stop.wait(DRIP):
                return
            conn.sendall(data[i:i + 1])

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def slow_data() -> Iterator[DrippingSmtp]:
    server = DrippingSmtp("DATA")
    yield server
    server.close()


@pytest.fixture
def slow_greeting() -> Iterator[DrippingSmtp]:
    server = DrippingSmtp("GREETING")
    yield server
    server.close()


def channel(server: DrippingSmtp) -> EmailChannel:
    url = f"mailto://127.0.0.1:{server.port}?from=notify@teamflow.example&mode=insecure"
    return EmailChannel(ChannelConfig(url=url, connect_timeout=5.0, read_timeout=5.0, send_deadline=0.3))


def test_a_dripping_answer_to_the_message_is_possibly_delivered(slow_data: DrippingSmtp) -> None:
    result = channel(slow_data).send(make_notice(), make_address("email", "alice@example.com"))
    assert result.outcome is Outcome.POSSIBLY_DELIVERED and result.reason is Reason.TIMEOUT
    assert slow_data.messages == 1  # the server has the message; whether it keeps it is unknown


def test_a_dripping_greeting_is_a_transient_timeout_before_anything_was_sent(slow_greeting: DrippingSmtp) -> None:
    result = channel(slow_greeting).send(make_notice(), make_address("email", "alice@example.com"))
    assert result.outcome is Outcome.FAILED_TRANSIENT and result.reason is Reason.TIMEOUT
    assert "before the message was sent" in result.detail
    assert slow_greeting.commands == []
