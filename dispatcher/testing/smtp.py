"""An in-process SMTP server for tests: records messages, scripts replies, counts connections.

A real aiosmtpd server on 127.0.0.1 with an ephemeral port, so the code under
test speaks real SMTP over a real socket::

    with SmtpServer(users={"alice": "s3cret"}) as server:
        channel = EmailChannel(ChannelConfig(url=server.url(user="alice", password="s3cret")))
        server.answer("RCPT", 550, address="nobody@example.com")
        channel.send(notice, address)
        [message] = server.messages          # email.message.EmailMessage
        assert server.connections == 1

Stages that can be scripted: MAIL, RCPT, DATA, AUTH. AUTH is advertised
without TLS (auth_require_tls=False) so tests need no certificates; pass
``tls=`` an ``ssl.SSLContext`` to offer STARTTLS as well.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Mapping
from urllib.parse import quote, urlencode

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

__all__ = ["Envelope", "SmtpServer"]

STAGES = ("MAIL", "RCPT", "DATA", "AUTH")
_DEFAULT_TEXT = {
    421: "4.4.2 Closing connection",
    450: "4.2.1 Mailbox busy",
    451: "4.3.0 Try again later",
    452: "4.3.1 Insufficient storage",
    530: "5.7.0 Authentication required",
    535: "5.7.8 Authentication credentials invalid",
    550: "5.1.1 Unknown mailbox",
    551: "5.1.6 User not local",
    552: "5.3.4 Message too big",
    553: "5.1.3 Mailbox name not allowed",
    554: "5.7.1 Transaction failed",
}


@dataclass(frozen=True)
class Envelope:
    """The SMTP envelope of one accepted message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]


@dataclass
class _Answer:
    stage: str
    reply: str
    address: str | None
    times: int | None  # None: every time


class SmtpServer:
    """A real SMTP server in a background thread; use it as a context manager."""

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        tls: Any = None,
        host: str = "127.0.0.1",
    ) -> None:
        """``users`` maps login to password (None accepts any login); ``tls`` is an ssl.SSLContext."""
        self.host = host
        self.port = 0
        self._users = dict(users) if users is not None else None
        self._tls = tls
        self._lock = threading.Lock()
        self._messages: list[EmailMessage] = []
        self._envelopes: list[Envelope] = []
        self._logins: list[str] = []
        self._answers: list[_Answer] = []
        self._connections = 0
        self._live: set[_CountingSMTP] = set()
        self._controller: _Controller | None = None

    # -- lifecycle -------------------------------------------------------

    def __enter__(self) -> "SmtpServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Bind an ephemeral port and serve in a thread."""
        kwargs: dict[str, Any] = dict(
            server_hostname="smtp.test",  # avoids a reverse DNS lookup per connection
            authenticator=self._authenticate,
            auth_require_tls=False,
            require_starttls=False,
        )
        if self._tls is not None:
            kwargs["tls_context"] = self._tls
        self._controller = _Controller(self, _Handler(self), hostname=self.host, port=0, **kwargs)
        logging.getLogger("mail.log").addFilter(_quiet_login_data)
        self._controller.start()
        self.port = self._controller.port
        with self._lock:
            self._connections = 0  # aiosmtpd's own start-up probe is not a client

    def stop(self) -> None:
        """Stop serving and close every connection."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        logging.getLogger("mail.log").removeFilter(_quiet_login_data)

    # -- what tests read -------------------------------------------------

    @property
    def messages(self) -> list[EmailMessage]:
        """Accepted messages, parsed, in arrival order."""
        with self._lock:
            return list(self._messages)

    @property
    def envelopes(self) -> list[Envelope]:
        """Envelopes of the accepted messages, in the same order."""
        with self._lock:
            return list(self._envelopes)

    @property
    def logins(self) -> list[str]:
        """Logins that authenticated successfully."""
        with self._lock:
            return list(self._logins)

    @property
    def connections(self) -> int:
        """TCP connections accepted since start."""
        with self._lock:
            return self._connections

    def url(self, *, user: str | None = None, password: str | None = None, scheme: str = "mailto", **params: str) -> str:
        """A mailto URL for this server; from= defaults to notify@example.com, mode to insecure."""
        params.setdefault("from", "notify@example.com")
        params.setdefault("mode", "insecure")
        auth = ""
        if user:
            auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "") + "@"
        return f"{scheme}://{auth}{self.host}:{self.port}?{urlencode(params)}"

    # -- scripting -------------------------------------------------------

    def answer(self, stage: str, code: int, text: str | None = None, *, address: str | None = None, times: int | None = None) -> None:
        """Reply ``code text`` to the next ``times`` (default: every) ``stage`` commands, only for ``address`` if given."""
        stage = stage.upper()
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}")
        reply = f"{code} {text or _DEFAULT_TEXT.get(code, 'Scripted reply')}"
        with self._lock:
            self._answers.append(_Answer(stage, reply, address.lower() if address else None, times))

    def clear_answers(self) -> None:
        """Forget every scripted reply: the server accepts everything again."""
        with self._lock:
            self._answers.clear()

    def drop_connections(self, timeout: float = 5.0) -> int:
        """Close every open client connection from the server side, as an idle timeout would; return how many."""
        assert self._controller is not None, "server not started"
        future = asyncio.run_coroutine_threadsafe(self._drop(), self._controller.loop)
        return future.result(timeout)

    # -- server side (runs on the server's event loop) -------------------

    async def _drop(self) -> int:
        live = [p for p in self._live if p.transport is not None]
        for protocol in live:
            protocol.transport.close()
        await asyncio.gather(*(p.closed.wait() for p in live))
        return len(live)

    def _scripted(self, stage: str, addresses: tuple[str, ...]) -> str | None:
        """Return (and consume) the scripted reply for this command, if any."""
        wanted = {a.lower() for a in addresses}
        with self._lock:
            for answer in self._answers:
                if answer.stage != stage or (answer.address and answer.address not in wanted):
                    continue
                if answer.times is not None:
                    answer.times -= 1
                    if answer.times <= 0:
                        self._answers.remove(answer)
                return answer.reply
        return None

    def _authenticate(self, server: SMTP, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        scripted = self._scripted("AUTH", ())
        if scripted:
            return AuthResult(success=False, handled=False, message=scripted)
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        if self._users is not None and self._users.get(login) != password:
            return AuthResult(success=False, handled=False)
        with self._lock:
            self._logins.append(login)
        return AuthResult(success=True)

    def _record(self, envelope: Any) -> None:
        raw = envelope.original_content or envelope.content
        # Wire line ends are CRLF; parse as a mail client shows it, with plain newlines.
        message = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
        with self._lock:
            self._messages.append(message)  # type: ignore[arg-type]
            self._envelopes.append(Envelope(envelope.mail_from, tuple(envelope.rcpt_tos)))

    def _opened(self, protocol: "_CountingSMTP") -> None:
        with self._lock:
            self._connections += 1
        self._live.add(protocol)

    def _closed(self, protocol: "_CountingSMTP") -> None:
        self._live.discard(protocol)


def _quiet_login_data(record: logging.LogRecord) -> bool:
    """Drop aiosmtpd's own deprecation warning on every successful AUTH; it is noise in caplog."""
    return "login_data is deprecated" not in record.getMessage()


class _Handler:
    """aiosmtpd hooks: answer from the script, otherwise accept and record."""

    def __init__(self, owner: SmtpServer) -> None:
        self._owner = owner

    async def handle_MAIL(self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        scripted = self._owner._scripted("MAIL", (address,))
        if scripted:
            return scripted
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        scripted = self._owner._scripted("RCPT", (address,))
        if scripted:
            return scripted
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        scripted = self._owner._scripted("DATA", tuple(envelope.rcpt_tos))
        if scripted:
            return scripted
        self._owner._record(envelope)  # recorded before the 250 leaves, so no test has to wait
        return "250 2.0.0 Message accepted"


class _CountingSMTP(SMTP):
    """An aiosmtpd session that reports its connection to the owner."""

    def __init__(self, owner: SmtpServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owner = owner
        self.closed = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None  # STARTTLS calls this again for the same connection
        super().connection_made(transport)
        if first:
            self._owner._opened(self)

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        self._owner._closed(self)
        self.closed.set()


class _Controller(Controller):
    """aiosmtpd's Controller, with port 0 resolved and counting sessions."""

    def __init__(self, owner: SmtpServer, handler: _Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._owner = owner

    def factory(self) -> SMTP:
        return _CountingSMTP(self._owner, self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # aiosmtpd probes hostname:port after binding; with port 0 learn the real port first.
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()
