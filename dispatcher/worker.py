"""`notify worker`: handle stored webhooks, fire due timers and send due deliveries, one idempotent tick at a time.

There is no sleeping thread per incident: escalations, follow-up steps,
reminders and retries are rows with a due time in the store, and
:meth:`Worker.tick` does whatever is due at `now`. Ticking twice, or from two
processes, does nothing twice. On SIGTERM/SIGINT the worker lets the current
tick's sends finish, gives back any lease it still holds, and exits.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from .clock import Clock
from .contact_test import TEST_CLASS
from .engine import Runtime, incident_from_row, make_sender
from .hooks.model import parse
from .incidents import fire_timers
from .ingest import ingest
from .registry import Registry
from .store import InboxRow, Store, StoreError

log = logging.getLogger("notify.worker")

__all__ = ["INBOX_LEASE", "INBOX_RETRY", "TickResult", "Worker"]

# How long one owner may hold the inbox before another takes over (an owner that died mid-batch).
INBOX_LEASE = timedelta(seconds=30)
# When a webhook that failed to be handled is tried again (it stays stored and counted meanwhile).
INBOX_RETRY = timedelta(seconds=60)


@dataclass(frozen=True)
class TickResult:
    fired: int  # timer actions recorded this tick
    attempted: int  # delivery attempts made this tick


@dataclass
class Worker:
    rt: Runtime
    store: Store
    clock: Clock
    id: str = field(default_factory=lambda: f"worker-{socket.gethostname()}-{os.getpid()}")
    batch: int = 256
    on_attempt: Callable[[str, str, int, float], None] | None = None
    on_tick: Callable[[datetime], None] | None = None  # after each full tick: a child process reports it
    on_ingest: Callable[[str, str], None] | None = None  # (source, outcome) per stored webhook handled
    inbox_batch: int = 64
    store_errors: int = 0  # how often the loop met an unavailable store (it keeps going)

    def __post_init__(self) -> None:
        self.registry = Registry(self.rt.settings, self.rt.directory)
        self._incidents: dict[str, object] = {}
        self._warned: set[str] = set()  # incidents whose class left the policy: said once, not every tick
        self.sender = make_sender(self.rt, self.store, self.clock, self.registry, owner=self.id,
                                  incidents=self._incident, on_attempt=self.on_attempt)
        self.last_tick: datetime | None = None

    def _incident(self, incident_id: str):
        if incident_id not in self._incidents:
            self._incidents[incident_id] = incident_from_row(self.store.incident(incident_id))
        return self._incidents[incident_id]

    def tick(self) -> TickResult:
        """Handle every stored webhook, fire every due timer, then make one attempt on every due delivery."""
        now = self.clock.now()
        self.last_tick = now
        self.store.heartbeat(self.id, now.isoformat())
        if self.on_tick is not None:
            self.on_tick(now)
        while self.drain_inbox() == self.inbox_batch:
            self.send_due()  # a batch's pages go out before the next batch is triaged
        fired = sum(self._fire(row, now) for row in self.store.incidents(open_only=True))
        return TickResult(fired, self.send_due())

    def drain_inbox(self) -> int:
        """Turn one batch of stored webhooks, oldest first, into incidents; returns how many were taken.

        A webhook is deleted only after it was handled. A worker that dies in between leaves it
        to be handled again, which is harmless: its group's incident is open by then (a repeat
        pages nobody) or resolved already (a second resolve does nothing).
        """
        now = self.clock.now()
        rows = self.store.claim_inbox(self.id, now.isoformat(), (now + INBOX_LEASE).isoformat(),
                                      limit=self.inbox_batch)
        self.store.inbox_done([row.id for row in rows if self._handle(row)])
        return len(rows)

    def _handle(self, row: InboxRow) -> bool:
        """Ingest one stored webhook; on failure keep it, say why, and try it again later."""
        try:
            result = ingest(self.rt, self.store, parse(row.source, row.body.encode()), self.clock.now())
        except StoreError:
            raise  # the loop waits for the store; the row's lease expires and it is taken again
        except Exception as exc:  # noqa: BLE001 - a webhook accepted is never dropped: kept, logged, retried
            retry_at = self.clock.now() + INBOX_RETRY
            log.error("webhook %d from %s (received %s) could not be handled, attempt %d, retrying at %s: %s",
                      row.id, row.source, row.received, row.attempts + 1, retry_at.isoformat(), exc)
            self.store.inbox_failed(row.id, f"{type(exc).__name__}: {exc}"[:500], retry_at.isoformat())
            return False
        if self.on_ingest is not None:
            self.on_ingest(row.source, result.outcome)
        return True

    def send_due(self) -> int:
        """One attempt on every due delivery, batch after batch; returns how many were attempted."""
        # Lease no more rows than we send at once: a killed worker leaves few rows in doubt.
        batch = min(self.batch, self.sender.concurrency)
        attempted = 0
        while True:  # drain: a fan-out larger than one batch goes out in the same tick
            count = self.sender.attempt_due(limit=batch)
            attempted += count
            if count < batch:
                return attempted

    def _fire(self, row, now: datetime) -> int:
        """Fire one incident's timers; an incident whose class left the policy is skipped, loudly."""
        if row.klass not in self.rt.policy.classes:
            if row.klass != TEST_CLASS and row.id not in self._warned:  # `notify test` incidents have no timers
                self._warned.add(row.id)
                log.warning("%s: class %r is not in the policy; its timers are skipped", row.id, row.klass)
            return 0
        return len(fire_timers(self.rt, self.store, row, now))

    def run(self, stop: threading.Event, interval: float = 5.0, wake: threading.Event | None = None) -> None:
        """Tick every `interval` seconds until stopped; between ticks, send at once what a wake or a retry brings.

        Timers are due at times, so the full tick (heartbeat, every open incident's timers, then the
        outbox) runs on the interval. A wake means a webhook was stored, or a stored event put rows in
        the outbox: those are handled and sent right away, without the heartbeat write and the scan of every open incident's timers
        that a tick does, so a page goes out within milliseconds of its webhook however many
        incidents are open, and a burst of webhooks is not slowed by a timer scan per wake.
        """
        wake = wake or stop
        next_tick = 0.0
        try:
            while not stop.is_set():
                try:
                    more = False
                    if time.monotonic() >= next_tick:
                        self.tick()
                        next_tick = time.monotonic() + interval
                    else:  # one batch of webhooks, then their pages, then the next batch
                        more = self.drain_inbox() == self.inbox_batch
                        self.send_due()
                    pause = 0.0 if more else self._pause(min(interval, max(next_tick - time.monotonic(), 0.0)))
                except StoreError as exc:  # a database restart or failover: keep the loop, try again soon
                    log.error("store unavailable, retrying in %.1f s: %s", interval, exc)
                    self.store_errors += 1
                    pause = interval
                wake.wait(pause)
                if wake is not stop:
                    wake.clear()
        finally:
            self.close()

    def _pause(self, interval: float) -> float:
        due = self.store.next_due()
        if not due:  # nothing pending ("" sorts first: a row due at once)
            return interval
        until = (datetime.fromisoformat(due) - self.clock.now()).total_seconds() if due != "" else 0.0
        return max(0.05, min(interval, until))

    def close(self) -> None:
        """Give back leases (their rows are due again at once) and close channel connections."""
        try:
            self.store.release(self.id)
        except StoreError as exc:  # the store is gone: our leases expire on their own
            log.warning("could not release leases: %s", exc)
        self.registry.close()


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT, for a clean shutdown."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop

