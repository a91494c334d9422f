"""Fan-out with retries and fallback: every stored delivery of a step, sent concurrently.

Each delivery runs in its own worker thread (bounded by NOTIFY_CONCURRENCY),
so one slow or failing provider never holds up the others. Transient failures
are retried with exponential backoff and jitter (tenacity), honouring a
provider's Retry-After; permanent ones stop at once. Every attempt is written
to the store before the next one starts. After the last attempt a recipient
with a fallback channel is tried there, as a new delivery that says whom it
stands in for.
"""

from __future__ import annotations

import itertools
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_attempt, wait_exponential_jitter

from .api import Address, DeliveryResult, Notice, Outcome, Reason, mask_secrets
from .clock import Clock
from .registry import Registry, refuse
from .store import AttemptRow, DeliveryRow, SQLiteStore

__all__ = ["Composer", "RetryPolicy", "Sender"]

log = logging.getLogger("notify.delivery")

# Renders the notice for a stored delivery: (notice, warning when a template failed).
Composer = Callable[[DeliveryRow], tuple[Notice, str | None]]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    initial_wait: float = 1.0
    max_wait: float = 60.0

    def wait(self, state: RetryCallState) -> float:
        """A provider's Retry-After when it gave one (capped), else exponential backoff with jitter."""
        result: DeliveryResult = state.outcome.result()
        if result.retry_after is not None:
            return min(max(result.retry_after, 0.0), self.max_wait)
        return wait_exponential_jitter(initial=self.initial_wait, max=self.max_wait, jitter=self.initial_wait)(state)


def _is_transient(result: DeliveryResult) -> bool:
    return result.outcome is Outcome.FAILED_TRANSIENT


@dataclass
class Sender:
    store: SQLiteStore
    registry: Registry
    clock: Clock
    compose: Composer
    retry: RetryPolicy = RetryPolicy()
    concurrency: int = 32
    secrets: tuple[str, ...] = ()
    klass: str = ""

    def send_all(self, rows: list[DeliveryRow]) -> None:
        """Send every pending delivery concurrently and wait for all of them."""
        pending = [r for r in rows if r.status == "pending"]
        if not pending:
            return
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(pending)),
                                thread_name_prefix="notify-send") as pool:
            for future in [pool.submit(self.deliver, row) for row in pending]:
                future.result()

    def deliver(self, row: DeliveryRow) -> None:
        """One delivery to its end: attempts, then its fallback channels in order."""
        if self._attempts(row) or not row.fallbacks:
            return
        self._fall_back(row)

    def _attempts(self, row: DeliveryRow) -> bool:
        """Retry one delivery until delivered, permanent failure or attempts run out; True if delivered."""
        notice, warning = self.compose(row)
        if warning:
            self.store.set_warning(row.id, warning)
        numbers = itertools.count(row.attempts + 1)  # continue the count of an earlier run
        last = row.attempts + self.retry.attempts
        retrying = Retrying(stop=stop_after_attempt(self.retry.attempts), wait=self.retry.wait,
                            retry=retry_if_result(_is_transient), sleep=self.clock.sleep,
                            retry_error_callback=lambda state: state.outcome.result())
        result = retrying(lambda: self._one_attempt(row, notice, next(numbers), last))
        return result.outcome is Outcome.DELIVERED

    def _one_attempt(self, row: DeliveryRow, notice: Notice, attempt_no: int, last: int) -> DeliveryResult:
        started = self.clock.monotonic()
        result = self._call_channel(row, notice)
        latency_ms = (self.clock.monotonic() - started) * 1000
        final = result.outcome is not Outcome.FAILED_TRANSIENT or attempt_no >= last
        self.store.record_attempt(row, self._attempt_row(row, result, attempt_no, latency_ms),
                                  final_status=result.outcome.value if final else None)
        return result

    def _call_channel(self, row: DeliveryRow, notice: Notice) -> DeliveryResult:
        channel = self.registry.get(row.channel)
        if channel is None:
            return DeliveryResult.permanent(Reason.UNSUPPORTED, f"no channel {row.channel!r} is installed")
        if not channel.configured():
            return DeliveryResult.permanent(Reason.NOT_CONFIGURED, f"channel {row.channel!r} has no settings")
        address = Address(row.person, row.display, row.role, row.channel, row.target)
        refusal = refuse(channel.capabilities, notice, address)
        if refusal is not None:
            return refusal
        try:
            return channel.send(notice, address)
        except Exception as exc:  # a plugin bug must not stop the other deliveries; it is logged and recorded
            log.error("channel %s raised %s", row.channel, type(exc).__name__)
            return DeliveryResult.transient(Reason.UNKNOWN, f"channel {row.channel} raised {type(exc).__name__}")

    def _attempt_row(self, row: DeliveryRow, result: DeliveryResult, attempt_no: int, latency_ms: float) -> AttemptRow:
        detail = mask_secrets(result.detail or "", self.secrets)
        return AttemptRow(at=self.clock.now().isoformat(), incident_id=row.incident_id, klass=self.klass,
                          step=row.step, person=row.person, role=row.role, channel=row.channel,
                          masked_target=row.masked_target, attempt=attempt_no, outcome=result.outcome.value,
                          reason=result.reason.value, detail=detail, latency_ms=latency_ms,
                          fallback_of=row.fallback_of,
                          delivered_to=mask_secrets(result.delivered_to, self.secrets) if result.delivered_to else None)

    def _fall_back(self, failed: DeliveryRow) -> None:
        """Try the recipient's next channels in order until one delivers."""
        from .api import mask_target
        from .plan import idempotency_key, template_for

        remaining = list(failed.fallbacks)
        while remaining:
            channel, target = remaining.pop(0)
            planned = {"key": idempotency_key(failed.incident_id, failed.step, failed.person, channel),
                       "step": failed.step, "person": failed.person, "display": failed.display,
                       "role": failed.role, "channel": channel, "target": target,
                       "masked_target": mask_target(target), "template": template_for(channel),
                       "fallbacks": remaining}
            new_id = self.store.add_fallback(failed, planned, self.clock.now().isoformat())
            if new_id is None:  # that channel was planned already for this step: never page twice
                continue
            row = next(r for r in self.store.deliveries(failed.incident_id, failed.step) if r.id == new_id)
            if self._attempts(row):
                return
