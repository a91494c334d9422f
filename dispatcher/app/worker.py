"""`notify worker`: handle stored webhooks, fire due timers and send due deliveries, one idempotent tick at a time.

There is no sleeping thread per incident: escalations, follow-up steps,
reminders, retries and heartbeats' deadlines are rows with a due time in the store, and
:meth:`Worker.tick` does whatever is due at `now`. Ticking twice, or from two
processes, does nothing twice. On SIGTERM/SIGINT the worker lets the sends in
flight finish, gives back any lease it still holds, and exits.

A tick called directly (a test, `notify worker --once`) returns once its sends
are done. The running loop (:meth:`Worker.run`) does not wait for them: each
send is a task of its own on the sender's pool, bounded per channel, so a
hanging provider holds up neither the loop (timers, stored webhooks) nor the
other channels' pages (issue 21); a finished send wakes the loop for what its
channel had to leave waiting.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_fixed

from ..clock import Clock
from ..delivery.registry import Registry
from ..domain.durations import format_duration
from ..domain.priority import leads_only
from ..store import DUE_NOW, Store, StoreError
from .contact_test import TEST_CLASS
from .engine import Runtime, incident_from_row, make_sender
from .heartbeats import watch
from .inbox import BATCHES_PER_TICK, Inbox
from .incidents import fire_timers
from .quiet_hours import settle_quiet_holds
from .release import release_due
from .reviews import fire_reviews
from .windows import announce_windows

log = logging.getLogger("notify.worker")

__all__ = ["TickResult", "Worker", "pages_early", "worker_id"]

LINKS_KEPT = timedelta(days=1)  # an expired action link is kept a day, so it answers "expired", not "unknown"
INCIDENT_CACHE = 256  # incidents a worker keeps read (a burst's worth), least recently used out first
EARLY_SLACK = timedelta(minutes=1)  # a tick this close to the real clock is "now", give or take a clock's drift
LEADS_RECHECK = 0.1  # seconds: a loop that left due rows behind a burst's leads looks again this soon


def pages_early(at: datetime, real_now: datetime) -> str | None:
    """Why a tick at `at` would page people early (None when it would not): ahead of the real clock, it fires, now
    and for real, every escalation, reminder and step due by then, and dates their events then."""
    if at - real_now <= EARLY_SLACK:
        return None
    return (f"{at.isoformat()} is {format_duration(at - real_now)} ahead of the real clock: every timer due by then "
            "would fire now, for real (pages sent early, their events dated then)")


def worker_id(pid: int | None = None) -> str:
    """The owner name of a worker process's leases (the server names its sender child's with it)."""
    return f"worker-{socket.gethostname()}-{pid or os.getpid()}"


@dataclass(frozen=True)
class TickResult:
    fired: int  # timer actions recorded this tick
    attempted: int  # delivery attempts made this tick


@dataclass
class Worker:
    rt: Runtime
    store: Store
    clock: Clock
    id: str = field(default_factory=worker_id)
    batch: int = 256
    on_attempt: Callable[[str, str, int, float], None] | None = None
    on_tick: Callable[[datetime], None] | None = None  # after each full tick: a child process reports it
    on_ingest: Callable[[str, str], None] | None = None  # (source, outcome) per stored webhook handled
    inbox_batch: int = 64
    handles_inbox: bool = True  # False on a made-up clock (`notify worker --once --at`): real webhooks wait
    # False in serve's second sender (server/burst.py): it triages and sends, and the first, running too, fires the
    # timers; both scanning every open incident's timers each tick was 7 % of the second's CPU in a 1,000-alert burst.
    fires_timers: bool = True
    store_errors: int = 0  # how often the loop met an unavailable store (it keeps going)

    def __post_init__(self) -> None:
        self.registry = Registry(self.rt.settings, self.rt.directory)
        self._incidents: OrderedDict[str, tuple] = OrderedDict()  # (incident, epoch), most recently sent-for
        self._incidents_lock = threading.Lock()  # the loop renders while sends in flight read classes
        self._warned: set[str] = set()  # incidents whose class left the policy: said once, not every tick
        self.sender = make_sender(self.rt, self.store, self.clock, self.registry, owner=self.id,
                                  incidents=self._incident, on_attempt=self.on_attempt)
        self.last_tick: datetime | None = None
        self.inbox = Inbox(self.rt, self.store, self.clock, self.id, self.on_ingest, self.inbox_batch)
        self._detached = False  # True while run() drives the loop: sends are not waited for
        self._wake: threading.Event | None = None
        self._leads_only = False  # the last send_due left due rows behind a burst's leads
        self._backlog_since: datetime | None = None  # when this process saw webhooks waiting, this backlog
        self.sender.on_sent = self._sent

    def _incident(self, incident_id: str, epoch: int = 0):
        """The incident a row is sent for, read once while it is among the recently used, and again for a
        row planned after a reclassification the cached copy predates (`epoch`, engine.row_epoch).

        Bounded: a long-running worker would otherwise keep every incident it ever sent for
        (measured: about 3.5 KB each, so 100,000 incidents would hold some 350 MB).
        """
        with self._incidents_lock:
            cached = self._incidents.get(incident_id)
            if cached is not None and cached[1] >= epoch:
                self._incidents.move_to_end(incident_id)
                return cached[0]
        row = self.store.incident(incident_id)
        incident = incident_from_row(row)
        with self._incidents_lock:
            self._incidents[incident_id] = (incident, int(row.meta.get("reclassified", 0)))
            if len(self._incidents) > INCIDENT_CACHE:
                self._incidents.popitem(last=False)
        return incident

    def tick(self) -> TickResult:
        """Handle every stored webhook, fire every due timer, then make one attempt on every due delivery.

        `last_tick` (what /healthz reads) moves only when a tick completes without a store failure:
        a loop that starts ticks but cannot write (a full disk) is not making progress.
        """
        now = self.clock.now()
        failures = self.store_errors + self.inbox.store_failures
        self.store.heartbeat(self.id, now)
        self.store.forget_links(now - LINKS_KEPT)
        try:
            for _ in range(BATCHES_PER_TICK):  # bounded: under a flood, timers and sends still get their turn
                if not self.drain_inbox():
                    break
        except StoreError as exc:  # timers and sends still run if they can; the webhooks wait, stored
            log.error("stored webhooks wait: the store failed while handling them: %s", exc)
            self.store_errors += 1
        fired = self._fire_all(now) if self.fires_timers else 0
        result = TickResult(fired, self.send_due())
        if self.store_errors + self.inbox.store_failures == failures:
            self.last_tick = now
            if self.on_tick is not None:
                self.on_tick(now)
        return result

    def _fire_all(self, now: datetime) -> int:
        """Every timer due at `now`: late heartbeats, released holds, windows' edges, incidents, reviews."""
        opened = len(watch(self.rt, self.store, now))  # heartbeats late by their grace: a `monitoring` incident each
        open_rows = self.store.incidents(open_only=True)
        # A silence or window that ended (by time or by hand): its held pages are planned now, sent below;
        # a window's start or end is announced once however many workers tick (holds.py, windows.py).
        release_due(self.rt, self.store, now, open_rows)
        announce_windows(self.rt, self.store, now)
        holding = self.store.quiet_held_incidents()  # one read: only these have calls waiting for working hours
        fired = opened + sum(self._fire(row, now, row.id in holding) for row in open_rows)
        return fired + fire_reviews(self.rt, self.store, now)  # resolved incidents' root causes (app/reviews.py)

    def drain_inbox(self) -> int:
        """Handle one batch of stored webhooks and send their pages (see :mod:`.inbox`); rows taken."""
        return self.inbox.drain(self.send_due) if self.handles_inbox else 0

    def send_due(self) -> int:
        """Start one attempt on every due delivery there is room for, batch after batch; how many started.

        Outside the loop each batch is waited for, so every due row is attempted before this returns.
        In the loop it returns once the pool or the channels of the due rows are full: a finished send
        wakes it (:meth:`_sent`) for the rest.
        """
        # Lease no more rows than we send at once: a killed worker leaves few rows in doubt.
        batch = min(self.batch, self.sender.concurrency)
        attempted = 0
        # The running loop, while a burst's webhooks wait: leads first (domain/priority.py). A tick called on
        # its own (a test, `--once`) sends everything due, as it always did.
        self._leads_only = self._detached and leads_only(self._backlog(), self.clock.now())
        while True:  # drain: a fan-out larger than one batch goes out in the same tick
            count = self.sender.attempt_due(limit=batch, wait=not self._detached, leads_only=self._leads_only)
            attempted += count
            more = count == batch or self.sender.held_back > 0  # a full channel's rows are skipped next time
            if self._detached:
                more = more and self.sender.pool.free() > 0
            if count == 0 or not more:
                return attempted

    def _backlog(self) -> datetime | None:
        """Since when webhooks have waited to be triaged, as this process saw it (None: none wait now)."""
        if not self.store.webhooks_waiting():
            self._backlog_since = None
        elif self._backlog_since is None:
            self._backlog_since = self.clock.now()
        return self._backlog_since

    def _sent(self) -> None:
        """A send ended: its slot is free, so the loop looks again at what waited for one."""
        if self._wake is not None:
            self._wake.set()

    def _fire(self, row, now: datetime, holding: bool = False) -> int:
        """Fire one incident's timers; an incident whose class left the policy is skipped, loudly."""
        if row.klass not in self.rt.policy.classes:
            if row.klass != TEST_CLASS and row.id not in self._warned:  # `notify test` incidents have no timers
                self._warned.add(row.id)
                log.warning("%s: class %r is not in the policy; its timers are skipped", row.id, row.klass)
            return 0
        fired = len(fire_timers(self.rt, self.store, row, now))
        return fired + (settle_quiet_holds(self.rt, self.store, row, now) if holding else 0)

    def run(self, stop: threading.Event, interval: float = 5.0, wake: threading.Event | None = None) -> None:
        """Tick every `interval` seconds until stopped; between ticks, send at once what a wake or a retry brings.

        Timers are due at times, so the full tick (heartbeat, stored webhooks, every open incident's
        timers, then the outbox) runs on the interval. A wake means a webhook was stored, or a stored
        event put rows in the outbox: those are handled and sent right away, without the heartbeat
        write and the scan of every open incident's timers that a tick does, so a page goes out
        within milliseconds of its webhook however many incidents are open, and a burst of webhooks
        is not slowed by a timer scan per wake.
        """
        if wake is None:  # a finished send must wake the loop without looking like a stop
            wake = threading.Event()
            threading.Thread(target=lambda: (stop.wait(), wake.set()), name="notify-stop-wake", daemon=True).start()
        self._wake, self._detached = wake, True
        self._next_tick = 0.0
        # A database restart or failover: log, wait an interval (less when woken) and go on, until stopped.
        through_outages = Retrying(retry=retry_if_exception_type(StoreError), wait=wait_fixed(interval),
                                   stop=lambda _: stop.is_set(), sleep=lambda seconds: _rest(wake, seconds),
                                   before_sleep=self._store_unavailable, retry_error_callback=lambda _: 0.0)
        try:
            while not stop.is_set():
                _rest(wake, through_outages(self._turn, interval))
        finally:
            self._detached = False
            self.close()

    def _turn(self, interval: float) -> float:
        """A full tick when one is due, else one batch of webhooks or the due sends; returns the pause after it."""
        if time.monotonic() >= self._next_tick:
            self.tick()
            self._next_tick = time.monotonic() + interval
        elif self.drain_inbox() > 0:
            return 0.0  # one batch of webhooks and their pages, then (without a pause) the next
        else:
            self.send_due()
        if self._leads_only:  # due rows wait for the burst's triage: look again soon, not at the next tick
            return LEADS_RECHECK
        if self.sender.held_back or not self.sender.pool.free():  # due rows wait for a slot: no polling,
            # a finished send wakes the loop (a retry due meanwhile waits for that or the next tick)
            return max(self._next_tick - time.monotonic(), 0.0)
        return self._pause(min(interval, max(self._next_tick - time.monotonic(), 0.0)))

    def _store_unavailable(self, state: RetryCallState) -> None:
        log.error("store unavailable, retrying in %.1f s: %s", state.next_action.sleep, state.outcome.exception())
        self.store_errors += 1

    def _pause(self, interval: float) -> float:
        due = self.store.next_due()
        if due is None or due == DUE_NOW:  # nothing pending, or a row due at once (the tick sends it)
            return interval
        until = (due - self.clock.now()).total_seconds()
        return max(0.05, min(interval, until))

    def close(self) -> None:
        """Let the sends in flight finish, give back leases (their rows are due again at once) and close
        channel connections."""
        self.sender.close()
        try:
            self.store.release(self.id)
        except StoreError as exc:  # the store is gone: our leases expire on their own
            log.warning("could not release leases: %s", exc)
        self.registry.close()


def _rest(wake: threading.Event, seconds: float) -> None:
    """Pause until a wake (a stop wakes too) or for `seconds`; a wake is used up by the pause it cut short."""
    wake.wait(seconds)
    wake.clear()


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT, for a clean shutdown."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop

