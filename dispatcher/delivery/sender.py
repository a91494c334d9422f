"""Fan-out with retries and fallback over the outbox: lease, attempt, record, reschedule.

Deliveries are leased from the store before they are sent, so two processes
never send the same row; leases are renewed while the sends run, so a slow send
is never taken over as if its sender had died. Each attempt is recorded with
its outcome before the next one starts. A transient failure (5xx, 429, timeout, connection) is due
again after an exponential backoff with jitter, or the provider's Retry-After when longer;
a permanent one stops at once. The schedule is tenacity's (:class:`RetryPolicy`), asked with
the attempt number the outbox persists, so a restarted worker resumes it where it was. After the last attempt, the recipient's next
channel is planned as a fallback that says whom it stands in for.

Two ways to drive it: :meth:`Sender.send_now` (a CLI command: every row at
once, retries slept on the injected clock until a deadline, the rest left to
the worker) and :meth:`Sender.attempt_due` (the worker: one attempt per row,
each a task of its own on a pool bounded per channel (:mod:`.pool`), retries
rescheduled in the store, no sleeping).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Callable, Iterable

from tenacity import (
    Retrying,
    retry_if_result,
    stop_after_attempt,
    wait_exponential_jitter,
)

from ..api import (
    Address,
    DeliveryResult,
    Notice,
    Outcome,
    Reason,
    mask_secrets,
    mask_target,
)
from ..clock import Clock
from ..config.directory import carries_credential
from ..domain.priority import Priority, priority_of
from ..domain.states import DeliveryState
from ..eventlog import emit
from ..store import AttemptRow, DeliveryRow, NewDelivery, Store
from .lease_keeper import LeaseKeeper
from .paced import Pacer
from .pool import SendPool, provider_route
from .registry import Registry, carries_own_url, refuse
from .retries import next_wait, wait_retry_after

__all__ = ["Composer", "RetryPolicy", "Sender"]

log = logging.getLogger("notify.delivery")

# Renders the notice for a stored delivery: (notice, warning when a template failed).
Composer = Callable[[DeliveryRow], tuple[Notice, str | None]]


@dataclass(frozen=True)
class RetryPolicy:
    """A delivery's retries, as tenacity: transient outcomes only, `attempts` in all, exponential backoff
    with up to `initial_wait` of jitter, or longer when the provider's Retry-After asks; never over `max_wait`."""

    attempts: int = 4
    initial_wait: float = 1.0
    max_wait: float = 60.0

    @cached_property
    def retrying(self) -> Retrying:
        """The schedule; its sleep is never called: the outbox keeps the due time, the caller its clock."""
        backoff = wait_exponential_jitter(multiplier=self.initial_wait, max=self.max_wait, jitter=self.initial_wait)
        return Retrying(retry=retry_if_result(_transient), stop=stop_after_attempt(self.attempts),
                        wait=wait_retry_after(backoff, self.max_wait))

    def delay(self, attempt_no: int, result: DeliveryResult) -> float | None:
        """Seconds before the attempt after `attempt_no` (the number the outbox persisted); None: it was the last."""
        return next_wait(self.retrying, attempt_no, result=result)


def _transient(result: DeliveryResult) -> bool:
    return result.outcome is Outcome.FAILED_TRANSIENT


@dataclass
class Sender:
    store: Store
    registry: Registry
    clock: Clock
    compose: Composer
    owner: str
    retry: RetryPolicy = RetryPolicy()
    concurrency: int = 32
    lease: timedelta = timedelta(minutes=2)
    renew_every: float | None = None  # real seconds between lease renewals while sends run (None: a third of a lease)
    secrets: tuple[str, ...] = ()
    klass_of: Callable[[str], str] = lambda incident_id: ""
    on_attempt: Callable[[str, str, int, float], None] | None = None  # (channel, outcome, attempt, ms): metrics
    per_route: int | None = None  # the worker's sends on one provider route at once (None: half of `concurrency`)
    on_sent: Callable[[], None] = lambda: None  # after each of the worker's sends ends: its loop looks again
    pacer: Pacer | None = None  # rate budgets per provider route (None: unpaced)
    held_back: int = field(default=0, init=False)  # rows the last attempt_due gave back for want of room
    _routes: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    # -- the two drivers -------------------------------------------------------------

    def send_now(self, rows: Iterable[DeliveryRow], deadline: datetime | None = None) -> None:
        """Lease these rows and drive each to its end, sleeping between retries until the deadline."""
        ids = [r.id for r in rows if r.status is DeliveryState.PENDING]
        claimed = self._claim(ids=ids, limit=len(ids)) if ids else []  # all of them: the store's default is 100
        self._fan_out(claimed, lambda row, notice: self._until_done(row, deadline, notice))

    def attempt_due(self, limit: int = 256, *, wait: bool = True, leads_only: bool = False) -> int:
        """Start one attempt on up to `limit` due rows, each a task of its own, as far as the pool has room;
        returns how many started (or were queued for their route's rate budget). `wait`: return once they are done (a tick); else at once (the loop).

        Rows of a route with no free slot are not claimed, and rows claimed past a route's room are
        given back at once (`held_back`): they wait in the outbox, not behind this process's hung sends.
        `leads_only`: only new incidents' leads (store.claim; domain/priority.py says when).
        """
        self.pool.raise_failures()
        room = min(limit, self.pool.free())
        claimed = self._claim(limit=room, skip_channels=self._full_channels(), leads_only=leads_only) if room else []
        started, unstarted = self._start_each(claimed)
        if unstarted:
            self.store.release(self.owner, ids=unstarted)
        self.held_back = len(unstarted)
        if wait:
            self.pool.wait_idle()
            self.pool.raise_failures()
        return started

    @cached_property
    def pool(self) -> SendPool:
        """The worker's sends in flight (made on first use: `notify send` never needs it)."""
        every = self.renew_every if self.renew_every is not None else self.lease.total_seconds() / 3
        per_route = self.per_route if self.per_route is not None else max(1, self.concurrency // 2)
        return SendPool(self.concurrency, per_route, self._renew_leases, every, on_done=lambda: self.on_sent())

    def close(self) -> None:
        """Let the worker's sends in flight finish (each within the send deadline)."""
        if "pool" in self.__dict__:
            self.pool.close()

    def _start_each(self, rows: list[DeliveryRow]) -> tuple[int, list[int]]:
        """Render each row's notice and start its send; (started, ids of rows whose channel had no room).

        Only this thread starts sends, so a channel with room when looked at still has it at the start.
        A row still being sent here was claimed again because its lease ran out (the store was away when
        it was due for renewal): it is left to the send in flight, leased, never sent a second time.
        """
        started, unstarted = 0, []
        for row in rows:
            if self.pool.sending(row.id):
                continue
            if not self.pool.has_room(self._route(row.channel)):
                unstarted.append(row.id)
                continue
            refused = self._unsendable(row)
            if refused is not None:  # fails whatever its notice says: not rendered, and takes no token
                self.pool.start(self._route(row.channel), row.id, lambda row=row, refused=refused: self._one_round(
                    row, result=refused))
                started += 1
                continue
            if self.pacer is not None and not self.pacer.admit(row):  # queued for its route's budget: dealt with,
                started += 1  # so the worker claims on (the next due rows may be on other routes)
                continue
            try:
                notice = self._notice(row)
            except Exception as exc:  # noqa: BLE001 - raised by its own task, so the loop sees it
                self.pool.start(self._route(row.channel), row.id, lambda exc=exc: _reraise(exc))
                continue
            self.pool.start(self._route(row.channel), row.id,
                            lambda row=row, notice=notice: self._one_round(row, notice, admitted=True))
            started += 1
            time.sleep(0)  # let that sender start its I/O before the next render takes the GIL
        return started, unstarted

    def _claim(self, at: datetime | None = None, **which) -> list[DeliveryRow]:
        at = at or self.clock.now()
        return self.store.claim(self.owner, at, at + self.lease, **which)

    def _fan_out(self, rows: list[DeliveryRow], work: Callable[[DeliveryRow, Notice], None]) -> None:
        """Run every row concurrently; one slow or failing provider never holds up the others.

        Notices are rendered here, one after the other, and each row's sending starts as soon as its
        own notice is ready. Rendering is CPU work under the GIL: rendered in the senders, all at once,
        every notice finished late and the first send waited for all of them.
        """
        if not rows:
            return
        workers = min(self.concurrency, len(rows))
        with self._keeping_leases(), ThreadPoolExecutor(max_workers=workers, thread_name_prefix="notify-send") as pool:
            futures = []
            for row in rows:
                try:
                    notice = self._notice(row)
                except Exception as exc:  # noqa: BLE001 - raised by its own future, after the others went out
                    futures.append(pool.submit(_reraise, exc))
                    continue
                futures.append(pool.submit(work, row, notice))
                time.sleep(0)  # let that sender start its I/O before the next render takes the GIL
            for future in futures:
                future.result()

    def _route(self, channel: str) -> str:
        """The provider route a channel's sends share slots on: its URL's scheme and host (Twilio's SMS and
        calls from one number are one route), else the channel's name."""
        if channel not in self._routes:
            self._routes[channel] = provider_route(self.registry.settings.channel_url(channel)) or channel
        return self._routes[channel]

    def _full_channels(self) -> set[str]:
        """The channels whose route has no slot left (their rows are left in the outbox)."""
        full = self.pool.full_routes()
        return {c for c in {*self.registry.names(), *self._routes} if self._route(c) in full} if full else set()

    def _keeping_leases(self) -> LeaseKeeper:
        """Renew this owner's leases while its sends run: a slow send is not a dead sender."""
        every = self.renew_every if self.renew_every is not None else self.lease.total_seconds() / 3
        return LeaseKeeper(self._renew_leases, every)

    def _renew_leases(self) -> int:
        return self.store.renew(self.owner, self.clock.now() + self.lease)

    # -- one delivery -------------------------------------------------------------------

    def _until_done(self, row: DeliveryRow, deadline: datetime | None, notice: Notice | None = None) -> None:
        """Retry on the clock until final; a retry due after the deadline is left to the worker."""
        refused = self._unsendable(row)
        if refused is not None:  # fails whatever its notice says: at once, taking no token of a route's budget
            self._attempt(row, None, row.attempts + 1, refused)
            self._fall_back(row, lambda r: self._until_done(r, deadline))
            return
        notice = notice or self._notice(row)
        attempt_no = row.attempts
        while True:
            if not self._paced(row, deadline):
                return
            attempt_no += 1
            result, wait, due = self._attempt(row, notice, attempt_no)
            if wait is None or due is None:
                break
            if deadline is not None and due > deadline:
                return
            if not self._claim(at=due, ids=[row.id]):  # another process took it over: it is theirs now
                return
            self.clock.sleep(wait)
        if result.outcome is not Outcome.DELIVERED:
            self._fall_back(row, lambda r: self._until_done(r, deadline))

    def _paced(self, row: DeliveryRow, deadline: datetime | None) -> bool:
        """A command's send waits on the clock for its route's token, a page until the deadline; a notice, or a
        page the deadline comes first for, is queued for the worker, which sends pages first (False: queued)."""
        if self.pacer is None:
            return True
        while True:
            route, wait = self.pacer.wait(row)
            if wait <= 0.0:
                return True
            page = priority_of(row.kind, row.step) is Priority.PAGE
            if not page or deadline is not None and self.clock.now() + timedelta(seconds=wait) > deadline:
                self.pacer.queue(row, route, wait)
                return False
            self.clock.sleep(max(wait, 0.001))  # a clock's resolution is a microsecond at best

    def _one_round(self, row: DeliveryRow, notice: Notice | None = None, result: DeliveryResult | None = None,
                   admitted: bool = False) -> None:
        """The worker's single attempt (`result`: its outcome, known without sending; `admitted`: its route's
        token already taken); a retry stays in the store, due at its time."""
        if result is None and notice is None:
            result = self._unsendable(row)
        if result is None and not admitted and self.pacer is not None and not self.pacer.admit(row):
            return
        if result is None and notice is None:
            notice = self._notice(row)
        result, wait, _ = self._attempt(row, notice, row.attempts + 1, result)
        if wait is None and result.outcome is not Outcome.DELIVERED:
            self._fall_back(row, self._one_round)

    def _notice(self, row: DeliveryRow) -> Notice:
        notice, warning = self.compose(row)
        if warning:
            self.store.set_warning(row.id, warning)
        return notice

    def _attempt(self, row: DeliveryRow, notice: Notice | None, attempt_no: int,
                 result: DeliveryResult | None = None) -> tuple[DeliveryResult, float | None, datetime | None]:
        """Make and record one attempt (`result`: its outcome when known without sending, `notice` then None);
        return the wait before the next one and when it is due, as stored (None, None: this was the last)."""
        started, sent_at = self.clock.monotonic(), self.clock.now()
        if result is None:
            result = self._call_channel(row, notice)  # type: ignore[arg-type]
            if self.pacer is not None:  # only a real send spends or learns about the route's budget
                self.pacer.after(row, result, sent_at)
        latency_ms = (self.clock.monotonic() - started) * 1000
        wait = self.retry.delay(attempt_no, result)
        final = wait is None
        due = None if wait is None else self.clock.now() + timedelta(seconds=wait)
        self.store.record_attempt(row, self._attempt_row(row, result, attempt_no, latency_ms),
                                  final_status=DeliveryState(result.outcome.value) if final else None,
                                  next_attempt_at=due)
        if self.on_attempt is not None:
            self.on_attempt(row.channel, result.outcome.value, attempt_no, latency_ms)
        if result.outcome is not Outcome.DELIVERED:
            self._log_failure(row, result, attempt_no, wait)
        return result, wait, due

    def _log_failure(self, row: DeliveryRow, result: DeliveryResult, attempt_no: int, wait: float | None) -> None:
        """One line per attempt that did not deliver: a warning while it is retried, an error when final."""
        emit("delivery.failed", row.incident_id, level=logging.ERROR if wait is None else logging.WARNING,
             step=row.step, kind=row.kind, person=row.person, channel=row.channel, target=row.masked_target,
             attempt=attempt_no, outcome=result.outcome.value, reason=result.reason.value, status=result.status,
             retry_in=None if wait is None else round(wait, 1), final=wait is None,
             detail=mask_secrets(result.detail or "", self.secrets) or None)

    def _unsendable(self, row: DeliveryRow) -> DeliveryResult | None:
        """The permanent failure of a row no notice could be sent for (no such channel, no target, no settings);
        None when it can be tried. Asked before its notice is rendered."""
        channel = self.registry.get(row.channel)
        if channel is None:
            # Recorded failed, never dropped: the recipient's next channel is tried (`notify check` says so first).
            return DeliveryResult.permanent(Reason.NOT_CONFIGURED, f"no channel {row.channel!r} is installed "
                                            f"(installed: {', '.join(self.registry.names())})")
        target = self._real_target(row)
        if target is None:
            return DeliveryResult.permanent(Reason.BAD_ADDRESS, f"{row.person} has no {row.channel} URL in the "
                                            "directory any more (the store keeps only a masked copy)")
        address = Address(row.person, row.display, row.role, row.channel, target)
        if not channel.configured() and not carries_own_url(channel.capabilities, address):
            return DeliveryResult.permanent(Reason.NOT_CONFIGURED, f"channel {row.channel!r} has no settings")
        return None

    def _call_channel(self, row: DeliveryRow, notice: Notice) -> DeliveryResult:
        unsendable = self._unsendable(row)
        if unsendable is not None:
            return unsendable
        channel = self.registry.get(row.channel)
        address = Address(row.person, row.display, row.role, row.channel, self._real_target(row))
        refusal = refuse(channel.capabilities, notice, address, channel)
        if refusal is not None:
            return refusal
        try:
            return channel.send(notice, address)
        except Exception as exc:  # a plugin bug must not stop the other deliveries; it is logged and recorded
            log.error("channel %s raised %s", row.channel, type(exc).__name__)
            return DeliveryResult.transient(Reason.UNKNOWN, f"channel {row.channel} raised {type(exc).__name__}")

    def _real_target(self, row: DeliveryRow) -> str | None:
        """The row's target; a personal URL is stored masked, so the real one comes from the directory now."""
        directory = self.registry.directory
        if directory is None:
            return None if carries_credential(row.target) else row.target
        return directory.delivery_target(row.person, row.channel, row.target)

    def _attempt_row(self, row: DeliveryRow, result: DeliveryResult, attempt_no: int, latency_ms: float) -> AttemptRow:
        detail = mask_secrets(result.detail or "", self.secrets)
        delivered_to = mask_secrets(result.delivered_to, self.secrets) if result.delivered_to else None
        return AttemptRow(at=self.clock.now(), incident_id=row.incident_id,
                          klass=self.klass_of(row.incident_id), step=row.step, person=row.person, role=row.role,
                          channel=row.channel, masked_target=row.masked_target, attempt=attempt_no,
                          outcome=DeliveryState(result.outcome.value), reason=result.reason.value, detail=detail,
                          latency_ms=latency_ms, fallback_of=row.fallback_of, delivered_to=delivered_to,
                          kind=row.kind, possible_duplicate=row.possible_duplicate,
                          provider_id=_provider_id(result, self.secrets))

    def _fall_back(self, failed: DeliveryRow, drive: Callable[[DeliveryRow], None]) -> None:
        """Plan the recipient's next channel that is not planned yet, and drive it."""
        from ..config.plugins import family
        from ..domain.plan import template_for

        remaining = list(failed.fallbacks)
        while remaining:
            channel, target = remaining.pop(0)
            planned = NewDelivery(failed.delivery_key.label, failed.step, failed.person, failed.display, failed.role,
                                  channel, target, mask_target(target), template_for(family(channel), failed.kind),
                                  fallbacks=tuple((c, t) for c, t in remaining))
            new_id = self.store.add_fallback(failed, planned, self.clock.now())
            if new_id is None:  # that channel was planned already: never page twice
                continue
            for row in self._claim(ids=[new_id]):
                drive(row)
            return


def _reraise(exc: BaseException) -> None:
    raise exc


def _provider_id(result: DeliveryResult, secrets: tuple[str, ...]) -> str | None:
    """The id an accepted attempt was answered with, kept so a later notice can update what it created
    (api.Capabilities.follows_up); a failed attempt created nothing to update."""
    if result.provider_id is None or result.outcome not in (Outcome.DELIVERED, Outcome.POSTED):
        return None
    return mask_secrets(str(result.provider_id), secrets)[:200]
