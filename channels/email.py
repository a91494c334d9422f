"""The email channel: SMTP spoken directly, one pooled connection per server for a whole fan-out.

Settings use apprise's mailto syntax so one URL works for both::

    mailto://[user:pass@]domain[:port][?from=addr&name=Display&smtp=host&mode=starttls|ssl|insecure]
    mailtos://...   (same, but the default mode is starttls instead of insecure)

As in apprise's email plugin: ``domain`` is the mail domain and the SMTP
server unless ``smtp=`` names another one; the default port follows the mode
(starttls 587, ssl 465, insecure 25); the From address defaults to
``<user's local part>@<domain>``. Unlike apprise, well-known providers (Gmail,
Outlook...) are not auto-detected: give ``smtp=`` and ``mode=`` explicitly.
Recipients come from the directory (``Address.target``); ``to=``, ``cc=``,
``bcc=`` and path recipients in the URL are ignored and reported by
``problems()``.

apprise opens one connection per URL per send; a fan-out of 20 mails would
mean 20 TLS handshakes and logins, so this channel keeps a small pool instead.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import socket
import ssl
import threading
from typing import Callable

from channels._client import CaBundleError, tls_context
from channels._deadline import Deadline
from channels._mail import ADDR_SPEC, Message, build_message, one_line, parse_mailto
from dispatcher.api import (
    Address,
    Capabilities,
    ChannelConfig,
    DeliveryResult,
    Notice,
    Outcome,
    Reason,
    TargetKind,
    mask_secrets,
)

__all__ = ["EmailChannel", "classify_reply"]

log = logging.getLogger(__name__)

POOL_SIZE = 4  # open connections per server; small, servers throttle parallel sessions
def classify_reply(code: int, stage: str) -> tuple[Outcome, Reason]:
    """Map an SMTP reply code at a stage (CONNECT, AUTH, MAIL, RCPT, DATA) to an outcome."""
    if code == 421:
        return Outcome.FAILED_TRANSIENT, Reason.CONNECTION  # server is closing the channel
    if 400 <= code < 500:
        return Outcome.FAILED_TRANSIENT, Reason.SERVER_ERROR
    if code in (530, 534, 535, 538):
        return Outcome.FAILED_PERMANENT, Reason.AUTH
    if stage == "RCPT" and code in (550, 551, 553):
        return Outcome.FAILED_PERMANENT, Reason.BAD_ADDRESS
    if 500 <= code < 600:
        return Outcome.FAILED_PERMANENT, Reason.BAD_REQUEST
    return Outcome.FAILED_TRANSIENT, Reason.UNKNOWN  # not a reply SMTP allows here


class _Failed(Exception):
    """Carries an already classified result out of the SMTP conversation."""

    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(result.detail)
        self.result = result


class _Dropped(Exception):
    """The server had closed the connection before our MAIL command (maybe saying 421 first)."""

    def __init__(self, code: int | None = None, text: bytes | str = b"") -> None:
        super().__init__(code)
        self.code, self.text = code, text


class _Pool:
    """At most ``size`` open connections to one server, each used by one thread at a time."""

    def __init__(self, opener: Callable[[Deadline], smtplib.SMTP], size: int = POOL_SIZE) -> None:
        self._open = opener
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[smtplib.SMTP] = []
        self._lock = threading.Lock()

    def run(self, work: Callable[[smtplib.SMTP], DeliveryResult], deadline: Deadline) -> DeliveryResult:
        """Run one transaction on a pooled connection, reopening once if an idle one was dropped."""
        with self._slots:
            conn, reused = self._take(deadline)
            try:
                try:
                    result = work(conn)
                except _Dropped:
                    if not reused or deadline.expired:  # the deadline closed it: no second try
                        raise
                    # Servers close idle sessions (timeouts, restarts); one fresh try is safe
                    # because nothing of this message had been accepted yet.
                    log.debug("SMTP server dropped an idle connection; reconnecting")
                    _quietly_close(conn)
                    conn = self._open(deadline)
                    result = work(conn)
            except BaseException:
                _quietly_close(conn)
                raise
            self._give(conn)
            return result

    def close(self) -> None:
        """Quit every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                conn.quit()
            _quietly_close(conn)

    def _take(self, deadline: Deadline) -> tuple[smtplib.SMTP, bool]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            return self._open(deadline), False
        if conn.sock is not None:
            deadline.watch(conn.sock)
        return conn, True

    def _give(self, conn: smtplib.SMTP) -> None:
        if conn.sock is None:  # smtplib closed it (disconnect, 421): not reusable
            return
        with self._lock:
            self._idle.append(conn)


def _timed_out(exc: BaseException | None) -> bool:
    """True when a timeout is anywhere in the chain; smtplib re-raises read timeouts as disconnects."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, TimeoutError):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _quietly_close(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        conn.close()


class EmailChannel:
    """Sends a notice as a multipart email over pooled SMTP connections."""

    name = "email"
    capabilities = Capabilities(target=TargetKind.EMAIL, html=True, template="email", quietness=10)

    def __init__(self, config: ChannelConfig) -> None:
        self.config = config
        self._settings, self._problems = parse_mailto(config.url) if config.url else (None, [])
        self._secrets = tuple(s for s in (self._password, config.url) if s)
        self._tls, tls_problem = self._tls_context()
        if tls_problem:
            self._problems.append(tls_problem)
        self._pool = _Pool(self._connect) if self._settings and not tls_problem else None
        self._ehlo_name: str | None = None

    @property
    def _password(self) -> str | None:
        return self._settings.password if self._settings else None

    def __repr__(self) -> str:
        if not self._settings:
            return f"EmailChannel(configured={self.configured()})"
        s = self._settings
        return f"EmailChannel(server={s.server}:{s.port}, mode={s.mode}, from={s.from_addr})"

    def configured(self) -> bool:
        """True when a mailto URL is set."""
        return bool(self.config.url)

    def problems(self) -> list[str]:
        """Problems in the mailto URL and CA bundle, found without connecting."""
        return list(self._problems)

    def send(self, notice: Notice, address: Address) -> DeliveryResult:
        """Submit one message to one recipient; classify whatever the server says."""
        if not self.config.url:
            return DeliveryResult.permanent(Reason.NOT_CONFIGURED, "email channel has no mailto URL")
        if self._pool is None or self._settings is None:
            return DeliveryResult.permanent(Reason.NOT_CONFIGURED, "; ".join(self._problems))
        recipient = address.target.strip()
        if not ADDR_SPEC.match(recipient):
            return DeliveryResult.permanent(Reason.BAD_ADDRESS, "not a plain email address")
        message = build_message(notice, recipient, self._settings, drill=self.config.drill)
        with Deadline(self.config.send_deadline) as deadline:  # a server that drips its replies still ends
            try:
                result = self._pool.run(lambda conn: self._transact(conn, message, recipient, deadline), deadline)
            except _Failed as failed:
                result = failed.result
            except (smtplib.SMTPException, OSError, _Dropped) as exc:
                result = self._from_exception(exc)
            expired = deadline.finish()
        return self._past_deadline(deadline) if expired else result

    def close(self) -> None:
        """Quit all pooled connections."""
        if self._pool is not None:
            self._pool.close()

    def _tls_context(self) -> tuple[ssl.SSLContext | None, str | None]:
        """Build the TLS context once; a CA bundle replaces the system store, as in requests."""
        if not self._settings or self._settings.mode == "insecure":
            return None, None
        try:
            return tls_context(self.config.ca_bundle), None  # the HTTP channels' context: the store is loaded once
        except CaBundleError:
            return None, "CA bundle for email cannot be read"

    def _connect(self, deadline: Deadline) -> smtplib.SMTP:
        """Open, secure and log in one connection; raise _Failed or a socket/SMTP error."""
        s = self._settings
        assert s is not None
        if self._ehlo_name is None:
            self._ehlo_name = socket.getfqdn()  # once per channel: it may do a DNS lookup
        kind = smtplib.SMTP_SSL if s.mode == "ssl" else smtplib.SMTP
        extra = {"context": self._tls} if s.mode == "ssl" else {}
        conn = kind(local_hostname=self._ehlo_name, timeout=deadline.remaining(self.config.connect_timeout), **extra)
        opened = conn._get_socket  # type: ignore[attr-defined]

        def watched(*args: object) -> socket.socket:  # watched from before the greeting is read
            sock = opened(*args)
            deadline.watch(sock)
            return sock

        conn._get_socket = watched  # type: ignore[attr-defined] - the seam smtplib opens its socket through
        conn._host = s.server  # type: ignore[attr-defined] - as the constructor sets it: STARTTLS checks it
        try:
            code, greeting = conn.connect(s.server, s.port)  # what the constructor would do with a host
            if code != 220:
                raise smtplib.SMTPConnectError(code, greeting)
        except BaseException:
            _quietly_close(conn)
            raise
        try:
            conn.sock.settimeout(self.config.read_timeout)
            conn.ehlo()
            if s.mode == "starttls":
                self._starttls(conn)
            if s.user and s.password:
                self._login(conn)
        except BaseException:
            _quietly_close(conn)
            raise
        return conn

    def _starttls(self, conn: smtplib.SMTP) -> None:
        if not conn.has_extn("starttls"):
            # Never fall back to plain text: that is what a downgrade attack looks like.
            raise _Failed(self._failed(Outcome.FAILED_PERMANENT, Reason.BAD_REQUEST, "server does not offer STARTTLS"))
        conn.starttls(context=self._tls)
        conn.sock.settimeout(self.config.read_timeout)
        conn.ehlo()

    def _login(self, conn: smtplib.SMTP) -> None:
        s = self._settings
        assert s is not None and s.user and s.password
        try:
            conn.login(s.user, s.password)
        except smtplib.SMTPNotSupportedError:
            raise _Failed(self._failed(Outcome.FAILED_PERMANENT, Reason.AUTH, "server does not offer AUTH"))
        except smtplib.SMTPAuthenticationError as exc:
            raise _Failed(self._reply(exc.smtp_code, exc.smtp_error, "AUTH"))

    def _transact(self, conn: smtplib.SMTP, message: "Message", recipient: str, deadline: Deadline) -> DeliveryResult:
        """One MAIL/RCPT/DATA exchange; reply failures leave the connection reset and reusable."""
        try:
            # docmd, not mail() and rcpt(): those parse the address again (email.utils) to quote it, a quarter of
            # the client's CPU per message; both addresses are plain addr-specs, checked by ADDR_SPEC.
            code, text = conn.docmd("MAIL", f"FROM:<{self._settings.from_addr}>")  # type: ignore[union-attr]
        except smtplib.SMTPServerDisconnected as exc:
            if _timed_out(exc):
                raise  # a slow server, not a dropped one: reconnecting would only wait twice
            raise _Dropped() from exc
        if code == 421:  # an idle-timeout notice queued before the server hung up
            _quietly_close(conn)
            raise _Dropped(code, text)
        if code != 250:
            return self._refused(conn, code, text, "MAIL")
        code, text = conn.docmd("RCPT", f"TO:<{recipient}>")
        if code not in (250, 251):
            return self._refused(conn, code, text, "RCPT")
        deadline.mark_sent()  # from DATA on, a deadline leaves the outcome unknown
        try:
            code, text = conn.data(message.data)
        except smtplib.SMTPDataError as exc:  # DATA itself refused (no 354)
            code, text = exc.smtp_code, exc.smtp_error
        if code != 250:
            return self._refused(conn, code, text, "DATA")
        return DeliveryResult.delivered(
            detail=f"SMTP 250 from {self._server}",
            status=250,
            provider_id=message.message_id,
        )

    def _refused(self, conn: smtplib.SMTP, code: int, text: bytes | str, stage: str) -> DeliveryResult:
        """Classify a refusal and reset the transaction so the connection can be reused."""
        if code == 421:
            _quietly_close(conn)
        else:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                conn.rset()
        return self._reply(code, text, stage)

    def _reply(self, code: int, text: bytes | str, stage: str) -> DeliveryResult:
        outcome, reason = classify_reply(code, stage)
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        detail = f"SMTP {code} at {stage} from {self._server}: {one_line(text)[:200]}"
        return DeliveryResult(outcome, reason, mask_secrets(detail, self._secrets), status=code)

    def _failed(self, outcome: Outcome, reason: Reason, what: str) -> DeliveryResult:
        detail = mask_secrets(f"{what} ({self._server})", self._secrets)
        return DeliveryResult(outcome, reason, detail)

    def _past_deadline(self, deadline: Deadline) -> DeliveryResult:
        """The send deadline closed the connection: unknown once DATA began (SMTP does not deduplicate)."""
        limit = f"the send deadline ({deadline.seconds:g} s)"
        if not deadline.sent:
            return self._failed(Outcome.FAILED_TRANSIENT, Reason.TIMEOUT, f"{limit} passed before the message was sent")
        return self._failed(Outcome.POSSIBLY_DELIVERED, Reason.TIMEOUT, f"{limit} passed after the message was sent, "
                            "before the server accepted it: it may have been delivered; not retried")

    def _from_exception(self, exc: BaseException) -> DeliveryResult:
        """Classify a socket or protocol error; the order matters, ssl errors are OSErrors."""
        if isinstance(exc, smtplib.SMTPResponseException):  # e.g. a 554 greeting
            return self._reply(exc.smtp_code, exc.smtp_error, "CONNECT")
        if isinstance(exc, _Dropped) and exc.code:
            return self._reply(exc.code, exc.text, "MAIL")
        if isinstance(exc, ssl.SSLCertVerificationError):
            # A wrong certificate stays wrong until someone fixes it: do not retry.
            return self._failed(Outcome.FAILED_PERMANENT, Reason.CONNECTION, "TLS certificate verification failed")
        if _timed_out(exc):
            return self._failed(Outcome.FAILED_TRANSIENT, Reason.TIMEOUT, "SMTP timed out")
        if isinstance(exc, (_Dropped, smtplib.SMTPServerDisconnected)):
            return self._failed(Outcome.FAILED_TRANSIENT, Reason.CONNECTION, "SMTP server closed the connection")
        if isinstance(exc, OSError):
            return self._failed(Outcome.FAILED_TRANSIENT, Reason.CONNECTION, f"SMTP connection failed: {type(exc).__name__}")
        return self._failed(Outcome.FAILED_TRANSIENT, Reason.UNKNOWN, f"SMTP error: {type(exc).__name__}")

    @property
    def _server(self) -> str:
        s = self._settings
        return f"{s.server}:{s.port}" if s else "?"
