"""A second sender for the backlog a burst of webhooks leaves: started once the hooks go quiet, stopped when drained.

During a burst the server takes one core (HTTP, a check, one insert per
webhook) and the sender child the other; once the burst has been accepted the
server idles while the child triages and sends what piled up, one process under
one GIL (issue 17: httpx and EmailMessage made each delivery cost the child more
CPU, and a burst's first pages came later). A second `notify worker` uses the idle
core. It runs only for a burst, not always: two senders always running cost
12 % of the accept rate, 28 MB of idle memory and the low-load p99 (measured,
bench/README.md, issue 17).

It starts once the burst has been accepted (no webhook stored for QUIET). Started
as soon as a burst's backlog was seen, at nice 10 so that it would import while
the burst was accepted, the accept path fell to about half on a loaded machine
(sender stopped: 622 against 1,148 alerts/s, bench/README.md): the server counted
the backlog every CHECK_EVERY during the burst, and a process at low priority
that holds the store's write lock while it waits for a core holds up the server's
writes too.

The second sender triages stored webhooks and sends (``notify worker --no-timers``):
each sender leases groups of webhooks of its own (the store's ``claim_inbox``), so
a burst's triage, which makes its incidents' first pages, runs on both cores
(issue 21: triaged by the first sender alone, the last of 1,000 incidents was
opened 6 s after the first; by both, 4.3 s). The first fires the timers, and
wakes the second with each webhook it turns into pages. Two senders never send
a delivery twice: each leases its rows in the outbox (the store's claims).

The decision is a pure function of three numbers (:func:`second_sender_wanted`);
:class:`BurstSender` is the thread that looks at them, started by each stored
event and idle otherwise (no polling of the store while nothing arrives).
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Protocol

from ..errors import StoreError

__all__ = ["BURST_EVENTS", "CHECK_EVERY", "QUIET", "RETRY_PAUSE", "START_AT", "BurstSender", "second_sender_wanted"]

log = logging.getLogger("notify.server")

QUIET = 0.1  # seconds without a stored webhook: the burst has been accepted and the server's core is free
# Stored webhooks waiting plus deliveries due. One new incident plans about ten step-0 rows, so a
# single alert never reaches it; a burst does. A second sender costs about half a second of CPU to start.
START_AT = 50
CHECK_EVERY = 0.1  # seconds between looks at the backlog, only while a burst's backlog is being watched
BURST_EVENTS = 10  # stored events before the backlog is looked at: a lone alert never costs a look at the store
RETRY_PAUSE = 5.0  # seconds before another second sender, after one exited unasked (no tight restart loop)


def second_sender_wanted(running: bool, quiet_for: float, backlog: int) -> bool:
    """Whether a second sender should run now.

    ``quiet_for``: seconds since a webhook was last stored; ``backlog``: stored webhooks waiting plus
    deliveries due. Started only after the burst (quiet) on a backlog worth its start-up; once
    running, kept until the backlog is gone, even if webhooks arrive meanwhile (stopping it halfway
    would throw its start-up away).
    """
    if running:
        return backlog > 0
    return quiet_for >= QUIET and backlog >= START_AT


class Helper(Protocol):
    """What BurstSender needs of a sender process (:class:`~.sender.SenderProcess`)."""

    pid: int

    def wake(self) -> None: ...
    def stop(self, timeout: float = 60.0) -> int | None: ...


class BurstSender:
    """Starts and stops the second sender: :meth:`watch` once, :meth:`stored` after each stored event,
    :meth:`close` at the end.

    ``start(on_exit)`` spawns a sender that calls ``on_exit(status)`` once it has exited (asked or
    not; its leases run out or are given back as any sender's); ``backlog()`` counts
    what waits; ``monotonic`` is the clock. :meth:`check` is one look (what the thread does each time,
    and what a test calls).
    """

    def __init__(self, start: Callable[[Callable[[int], None]], Helper], backlog: Callable[[], int],
                 monotonic: Callable[[], float]) -> None:
        self._start, self._backlog, self._monotonic = start, backlog, monotonic
        self._lock = threading.Lock()
        self._stop, self._stored = threading.Event(), threading.Event()
        self._last_stored = float("-inf")
        self._events = 0  # stored since the watch last went idle
        self._not_before = float("-inf")
        self.helper: Helper | None = None
        self._thread: threading.Thread | None = None

    def watch(self) -> BurstSender:
        """Start the thread that acts on the backlog (idle until something is stored)."""
        self._thread = threading.Thread(target=self._watch, name="notify-burst-sender", daemon=True)
        self._thread.start()
        return self

    def stored(self, count: int = 1) -> None:
        """A webhook or an event was stored: the BURST_EVENTS-th since the watch went idle starts it again.

        The helper is not woken: the first sender is, and triages the webhook (the helper triages what it
        finds when it looks, and :meth:`planned` wakes it for the pages). Woken per webhook, it claimed (a
        write) while the server stored the burst, and the server's writes waited for its.
        """
        self._last_stored = self._monotonic()
        self._events += count  # not exact across threads, and need not be: it only decides when to start looking
        if self._events >= BURST_EVENTS:
            self._stored.set()

    def planned(self) -> None:
        """The first sender put pages in the outbox: the running helper takes them at once. Without this the
        helper, finding nothing due, would rest its interval."""
        helper = self.helper
        if helper is not None:
            helper.wake()

    def check(self) -> bool:
        """Start or stop the helper as :func:`second_sender_wanted` says; True while there is more to watch."""
        now = self._monotonic()
        quiet_for = now - self._last_stored
        running = self.helper is not None
        if not running and (quiet_for < QUIET or now < self._not_before):
            return True  # the burst goes on (or a helper just failed): look again later, without counting
        try:
            backlog = self._backlog()
        except StoreError as exc:  # a store hiccup must not end the watch: the next look counts again
            log.warning("could not count the backlog for a second sender: %s", exc)
            return True
        wanted = second_sender_wanted(running, quiet_for, backlog)
        if wanted and not running:
            self._begin(backlog)
        elif running and not wanted:
            self._end()
        elif running:
            self.planned()  # retries and fallbacks come due without a webhook: a look each CHECK_EVERY
        return wanted

    def close(self) -> None:
        """Stop watching and stop the helper (its sends finish, its leases are given back)."""
        self._stop.set()
        self._stored.set()
        if self._thread is not None:
            self._thread.join()
        self._end()

    def _watch(self) -> None:
        while not self._stop.is_set():
            self._stored.wait()  # idle until a burst is stored: no polling of the store at rest
            self._stored.clear()
            while not self._stop.is_set() and self.check():
                self._stop.wait(CHECK_EVERY)
            self._events = 0

    def _begin(self, backlog: int) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            try:
                self.helper = helper = self._start(self._exited)
            except OSError as exc:  # out of processes or descriptors: the one sender carries on alone
                log.error("could not start a second sender: %s", exc)
                self._not_before = self._monotonic() + RETRY_PAUSE
                return
        log.info("backlog of %d after a burst: second sender %d started", backlog, helper.pid)

    def _end(self) -> None:
        with self._lock:
            helper, self.helper = self.helper, None
        if helper is not None:
            status = helper.stop(timeout=60)
            log.info("backlog drained: second sender %d stopped (status %s)", helper.pid, status)

    def _exited(self, status: int) -> None:
        """On the helper's reader thread: one that exits unasked is forgotten, and not replaced for a while."""
        with self._lock:
            helper = self.helper
            if helper is None or self._stop.is_set():
                return  # asked to stop (by _end or close)
            self.helper = None
            self._not_before = self._monotonic() + RETRY_PAUSE
        # 0: most likely the SIGTERM a service manager sends the whole process group, stopping the server too
        log.log(logging.ERROR if status else logging.INFO, "the second sender %d exited with status %s",
                helper.pid, status)
