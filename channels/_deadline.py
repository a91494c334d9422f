"""A deadline on one whole attempt (connect, send and read together), enforced by closing its connection.

Per-read timeouts cannot bound an attempt: a provider that answers one byte
every few seconds passes every read, and one Slack answer took 156 s that way.
So a watchdog thread shuts the connection down when the deadline passes; a read
or write blocked on it fails at once, and :attr:`Deadline.expired` tells the
caller that the failure was the deadline's, whatever error the HTTP stack made
of it. The email channel watches its SMTP connection the same way.

It sits at the channel/transport boundary and needs only two reports from the
transport: each socket it opens or reuses (:meth:`watch`, as soon as TCP is
connected, so a TLS handshake or a proxy's CONNECT that drips is covered too)
and the moment the request has gone out in full (:meth:`mark_sent`). For
httpx, :mod:`channels._client` wraps httpcore's network backend so every stream
reports its socket to the deadline of the thread using it (a pooled connection
too, which httpcore's ``trace`` extension never names), and
:mod:`channels._http` marks the request sent from that extension's
``http11.send_request_body.complete`` (not a proxy's CONNECT). Whether the request was
sent decides what a deadline means: before, the provider never saw it; after,
it may have acted on it, and the outcome is unknown.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # imported on first use: channel modules must stay cheap to import
    import socket

__all__ = ["Deadline"]


class Deadline:
    """One attempt's deadline in seconds (None: none); use as a context manager around the exchange.

    `watchdog`: the one that enforces it, the process's own unless a test gives one on a clock of its own."""

    def __init__(self, seconds: float | None, *, watchdog: "_Watchdog | None" = None) -> None:
        self.seconds = seconds
        self.expired = False  # the watchdog fired: the connection was shut down under the exchange
        self.sent = False  # the whole request was written (the provider may act on it)
        self._watchdog = watchdog or _WATCHDOG
        self._ends = None if seconds is None else self._watchdog.monotonic() + seconds
        self._lock = threading.Lock()
        self._watched: list[socket.socket] = []  # duplicates of the connection's descriptor, ours to close
        self._over = False

    def __enter__(self) -> "Deadline":
        if self._ends is not None:
            self._watchdog.add(self._ends, self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def finish(self) -> bool:
        """Stop watching (the exchange is over); True when the deadline had passed by then."""
        with self._lock:
            self._over = True
            watched, self._watched = self._watched, []
        for dup in watched:
            dup.close()
        return self.expired

    def remaining(self, cap: float) -> float:
        """Seconds left, at most `cap` (a connect timeout); a small positive number once it has passed."""
        if self._ends is None:
            return cap
        return max(min(cap, self._ends - self._watchdog.monotonic()), 0.001)

    def watch(self, sock: socket.socket) -> None:
        """Shut this connection down when the deadline passes (at once if it has passed already)."""
        if self._ends is None:
            return
        # A duplicate descriptor: shutting it down stops the connection however the transport wraps the
        # socket (TLS takes the descriptor over), and the descriptor cannot be reused under us meanwhile.
        import socket

        dup = socket.fromfd(sock.fileno(), sock.family, sock.type)
        with self._lock:
            if not self._over:
                self._watched.append(dup)
                if self.expired:
                    _shut(dup)
                return
        dup.close()

    def mark_sent(self) -> None:
        """The request has been written in full: from now on a deadline means the outcome is unknown.

        Marked even when the deadline passed a moment ago: written to the kernel, the request still
        goes out before the shutdown's FIN, and "unknown" is the answer that never pages twice.
        """
        self.sent = True

    def _expire(self) -> None:
        with self._lock:
            if self._over:
                return
            self.expired = True
            for dup in self._watched:
                _shut(dup)


class _Watchdog:
    """One thread for every deadline of the process, woken at the earliest; a thread per attempt cost 0.2 ms.

    `monotonic`: its clock. A test's watchdog reads a clock the test advances, then calls :meth:`look`: the
    thread sleeps in real time, but only until it is told to look again."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.monotonic = monotonic
        self._forget()
        os.register_at_fork(after_in_child=self._forget)  # the thread does not survive a fork (`notify serve`)

    def _forget(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, ends: float, deadline: Deadline) -> None:
        """Watch `deadline`; the thread is woken only when it ends before every one watched: otherwise the thread
        is asleep until an earlier one and sees this one then (a wake-up per send was 4% of a burst's sending)."""
        with self._cond:
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (ends, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="notify-send-deadline", daemon=True)
                self._thread.start()
            if earliest is None or ends < earliest:
                self._cond.notify()

    def look(self) -> None:
        """Wake the thread to look at the clock again (after a test moved it)."""
        with self._cond:
            self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][2]._over:  # finished in time: dropped when they come up
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0][0] - self.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)[2]._expire()


_WATCHDOG = _Watchdog()


def _shut(sock: socket.socket) -> None:
    """Wake whoever is blocked on the connection: its reads see end of file, its writes fail."""
    import socket

    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed by the other side
        pass
