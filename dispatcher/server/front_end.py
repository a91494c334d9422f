"""The front end of `notify serve`: uvicorn's HTTP/1.1 protocol with the deadlines and limits it lacks.

uvicorn (0.55; httptools, as h11) has no deadline for a request's headers or body: its only
timer is the keep-alive one, armed after an answer and cancelled by any byte,
so a client that connects and then sends one byte every few seconds (or
nothing at all) holds its connection, and its file descriptor, for ever. Out of
file descriptors, asyncio logs a traceback for every failed accept, once per
listen-backlog slot per loop turn: megabytes a second. This module adds, as a
small subclass of uvicorn's own httptools protocol (the server, its signals and its
lifespan stay as they are):

- a deadline for the headers, from the connection (or the previous answer) to
  the end of the headers, and one for the body, from the end of the headers to
  the end of the body: each is a total, not reset by a trickle of bytes; past
  it the client gets `408` and the connection is closed;
- a connection limit, kept below the open-file limit: a connection over it is
  answered `503` at once and closed, instead of holding a descriptor;
- a limit on the request head (16 KiB, as h11 had): more is answered `431`;
- one log line per minute and kind for all of that (and for failed accepts),
  saying how many were left out; every refusal is counted in /metrics.

The app (app.py) limits the requests in progress and checks a bearer token
before it reads a byte of the body.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import json
import logging
import resource
import time
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any, Callable

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["FrontEndLimits", "Guard", "GuardedH11Protocol", "GuardedHttpToolsProtocol", "RateLimitedLog", "fd_budget", "loop_exception_handler",
           "uvicorn_config"]

log = logging.getLogger("notify.server")

LINGER = 1.0  # seconds a refused connection may take to read its 503 before it is closed
LINGER_MAX = 256  # refused connections lingering at once; past that they are closed at once
MAX_HEAD = 16 * 1024  # bytes of request line and headers (h11's limit in uvicorn); more is answered 431
FD_RESERVE = 128  # descriptors kept for the store, the sender child's pipes, the log, DNS...
RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


@dataclass(frozen=True)
class FrontEndLimits:
    header_timeout: float = 10.0  # seconds from connecting (or the previous answer) to the end of the headers
    body_timeout: float = 30.0  # seconds from the end of the headers to the end of the body (1 MiB at 35 KB/s)
    max_connections: int = 4096  # open connections; more are answered 503 and closed
    max_in_flight: int = 64  # requests being read or handled (each may hold a 1 MiB body); more get 503
    backlog: int = 511  # the listen queue (nginx's default); also bounds the descriptors one accept burst takes
    log_interval: float = 60.0  # seconds between two log lines of one kind (the rest are counted)


def fd_budget(limits: FrontEndLimits) -> FrontEndLimits:
    """Raise the soft open-file limit towards the hard one, and keep the connection limit below it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = limits.max_connections + limits.backlog + LINGER_MAX + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return limits
    usable = max(16, soft - limits.backlog - LINGER_MAX - FD_RESERVE)
    log.warning("serve: the open-file limit is %d: at most %d connections, not %d (raise `ulimit -n`, or "
                "LimitNOFILE= in the systemd unit)", soft, usable, limits.max_connections)
    return replace(limits, max_connections=usable)


class RateLimitedLog:
    """At most one line per `interval` seconds for each kind; the next line says how many were left out."""

    def __init__(self, interval: float, now: Callable[[], float] = time.monotonic,
                 logger: logging.Logger = log) -> None:
        self.interval, self.now, self.logger = interval, now, logger
        self.last: dict[str, float] = {}
        self.left_out: dict[str, int] = {}

    def __call__(self, kind: str, level: int, message: str) -> None:
        at, last = self.now(), self.last.get(kind)
        if last is not None and at - last < self.interval:
            self.left_out[kind] = self.left_out.get(kind, 0) + 1
            return
        self.last[kind] = at
        left_out = self.left_out.pop(kind, 0)
        if left_out:
            message += f" (and {left_out} more like it since the previous line)"
        self.logger.log(level, message)


def loop_exception_handler(report: RateLimitedLog) -> Callable[[asyncio.AbstractEventLoop, dict], None]:
    """An event loop exception handler that reports failed accepts (out of descriptors) rate-limited, in one line."""
    def handle(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in RESOURCE_ERRNOS:
            report("accept", logging.ERROR, f"serve: cannot accept connections: {exc.strerror or exc}; they wait "
                   "in the listen queue (raise the open-file limit, or lower --max-connections)")
            return
        loop.default_exception_handler(context)

    return handle


class Guard:
    """What every connection shares: the limits, the refused connections still lingering, the reports."""

    def __init__(self, limits: FrontEndLimits, on_refused: Callable[[int], None] | None = None,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.on_refused = on_refused or (lambda status: None)  # metrics: notify_rejected_requests{status}
        self.report = RateLimitedLog(limits.log_interval, now)
        self.lingering = 0

    def timed_out(self, waiting: str, timeout: float) -> None:
        self.on_refused(408)
        self.report(f"timeout-{waiting}", logging.WARNING,
                    f"serve: closed a connection whose request {waiting} did not arrive within {timeout:g} s")

    def refused(self) -> None:
        self.on_refused(503)
        self.report("connections", logging.WARNING, f"serve: refused a connection: {self.limits.max_connections} "
                    "are open (--max-connections)")


def canned(status: int, message: str, *, retry_after: int | None = None) -> bytes:
    """A whole HTTP/1.1 answer that closes the connection, written without the app."""
    body = json.dumps({"error": message}).encode()
    head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "content-type: application/json",
            f"content-length: {len(body)}", "connection: close"]
    if retry_after is not None:
        head.append(f"retry-after: {retry_after}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class _Guarded:
    """The guards, over either of uvicorn's HTTP/1.1 protocols: a subclass says what the connection waits for
    (`_waiting`: "headers", "body" or None while the app handles a request) and calls `_watch` when that may have
    changed; a deadline is armed when it changes, never reset by bytes."""

    guard: Guard
    deadline: asyncio.TimerHandle | None
    waiting_for: str | None
    refused: bool
    lingering: bool

    def _setup(self, guard: Guard) -> None:
        self.guard = guard
        self.deadline = None
        self.waiting_for = None
        self.refused = self.lingering = False

    def _waiting(self) -> str | None:
        raise NotImplementedError

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.guard.limits.max_connections:  # type: ignore[attr-defined]
            self._refuse(transport)
            return
        super().connection_made(transport)  # type: ignore[misc]
        self._watch()

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return  # read and dropped, so closing does not reset the connection before the 503 is read
        super().data_received(data)  # type: ignore[misc]
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        if self.refused:
            self.guard.lingering -= self.lingering
            self.lingering = False
            return
        super().connection_lost(exc)  # type: ignore[misc]

    def _refuse(self, transport: asyncio.Transport) -> None:
        self.transport, self.refused = transport, True
        self.guard.refused()
        transport.write(canned(503, "too many connections; retry later", retry_after=1))
        if self.guard.lingering >= LINGER_MAX or not transport.can_write_eof():
            transport.close()
            return
        self.guard.lingering += 1
        self.lingering = True
        transport.write_eof()
        self.deadline = self.loop.call_later(LINGER, transport.close)  # type: ignore[attr-defined]

    def _watch(self) -> None:
        waiting = self._waiting()
        if waiting == self.waiting_for:
            return
        self._cancel()
        self.waiting_for = waiting
        if waiting is not None and not self.transport.is_closing():
            limits = self.guard.limits
            timeout = limits.header_timeout if waiting == "headers" else limits.body_timeout
            self.deadline = self.loop.call_later(timeout, self._expired, waiting, timeout)  # type: ignore[attr-defined]

    def _cancel(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _expired(self, waiting: str, timeout: float) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        self.guard.timed_out(waiting, timeout)
        cycle = self.cycle  # type: ignore[attr-defined]
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app, waiting for the body, is told the client is gone
            cycle.message_event.set()
            if cycle.response_started:
                self.transport.close()
                return
        self.transport.write(canned(408, f"the request {waiting} did not arrive within {timeout:g} s"))
        self.transport.close()


class GuardedHttpToolsProtocol(_Guarded, HttpToolsProtocol):
    """uvicorn's httptools protocol (llhttp parses in C, where h11 parsed in Python) with the guards.

    The parser's callbacks say what the connection waits for: headers from the connection, or the previous
    answer, to the end of the headers; then the body to the end of the message; nothing while the app
    handles it. The head (request line and headers) is limited to MAX_HEAD bytes, as h11 limited it.
    """

    def __init__(self, *args: Any, guard: Guard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup(guard)
        self.phase: str | None = "headers"
        self.head_size = 0

    def _waiting(self) -> str | None:
        return self.phase

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.phase, self.head_size = "headers", 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.phase = "body"
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.phase = None
        super().on_message_complete()

    def on_response_complete(self) -> None:
        if self.phase is None and not self.pipeline:  # idle now: the next request's headers are awaited
            self.phase = "headers"
        super().on_response_complete()

    def _count(self, size: int) -> None:
        self.head_size += size
        if self.head_size > MAX_HEAD:
            raise HeadTooLarge()  # llhttp stops; uvicorn answers its parse error with send_400_response, below

    def send_400_response(self, msg: str) -> None:
        self._cancel()
        if self.head_size <= MAX_HEAD:
            super().send_400_response(msg)
            return
        self.guard.on_refused(431)
        self.transport.write(canned(431, f"the request head is over the {MAX_HEAD} byte limit"))
        self.transport.close()


class HeadTooLarge(Exception):
    """Raised from a parser callback: llhttp stops parsing, and the client is answered 431."""


class GuardedH11Protocol(_Guarded, H11Protocol):
    """uvicorn's h11 protocol with the guards; what the connection waits for is read from h11's view of the
    client (IDLE: headers; SEND_BODY: the body) after each event uvicorn handles."""

    def __init__(self, *args: Any, guard: Guard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup(guard)

    def _waiting(self) -> str | None:
        state = self.conn.their_state
        return "headers" if state is h11.IDLE else "body" if state is h11.SEND_BODY else None


def uvicorn_config(app: Any, limits: FrontEndLimits, *, host: str = "127.0.0.1", port: int = 0,
                   on_refused: Callable[[int], None] | None = None, **options: Any) -> Any:
    """uvicorn's Config for `app` behind the guarded protocol."""
    import uvicorn

    guard = Guard(limits, on_refused)
    return uvicorn.Config(app, host=host, port=port, http=functools.partial(GuardedHttpToolsProtocol, guard=guard),
                          backlog=limits.backlog, **options)
