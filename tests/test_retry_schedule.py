"""The retry schedule lives in the outbox: a restarted sender resumes it at the persisted attempt number."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from dispatcher.api import DeliveryResult, Outcome, Reason
from dispatcher.clock import FakeClock
from dispatcher.delivery.sender import RetryPolicy, Sender
from dispatcher.delivery.registry import Registry
from dispatcher.config.settings import load_settings
from dispatcher.store import open_store
from tests.test_outbox_wide import NOTICE, CountingChannel, fill


class DownChannel(CountingChannel):
    """A provider answering 503 to everything, and counting the tries."""

    def send(self, notice, address) -> DeliveryResult:
        super().send(notice, address)
        return DeliveryResult.transient(Reason.SERVER_ERROR, "503 from the stand-in", status=503)


def sender(store, channel, clock: FakeClock, owner: str) -> Sender:
    registry = Registry(load_settings(), None)
    registry._instances["webhook"] = channel
    return Sender(store, registry, clock, lambda row: (NOTICE, None), owner,
                  RetryPolicy(attempts=4, initial_wait=10.0, max_wait=60.0), lease=timedelta(minutes=2))


def attempt_when_due(store, clock: FakeClock, sender: Sender) -> tuple[int, float | None]:
    """Move the clock to the row's due time, make the attempt; (attempts so far, seconds to the next one)."""
    row = store.deliveries("OUT-2026-001")[0]
    clock.advance((row.next_attempt_at or clock.now()) - clock.now())
    assert sender.attempt_due() == 1
    row = store.deliveries("OUT-2026-001")[0]
    due = row.next_attempt_at and (row.next_attempt_at - clock.now()).total_seconds()
    return row.attempts, due


def test_a_restarted_sender_continues_the_backoff_at_the_persisted_attempt_number(tmp_path: Path) -> None:
    path, clock, channel = f"sqlite:///{tmp_path / 'notify.db'}", FakeClock(), DownChannel()
    store = open_store(path)
    fill(store, 1)
    first = sender(store, channel, clock, "worker-before")
    gaps = [attempt_when_due(store, clock, first), attempt_when_due(store, clock, first)]
    store.close()  # the process dies here; its successor opens the same file

    store = open_store(path)
    second = sender(store, channel, clock, "worker-after")
    gaps += [attempt_when_due(store, clock, second), attempt_when_due(store, clock, second)]

    assert [attempts for attempts, _ in gaps] == [1, 2, 3, 4]
    # 10 s doubling, plus up to 10 s of jitter: the third wait is 40 s, not the first's 10 s again.
    for (_, due), low in zip(gaps[:3], (10, 20, 40)):
        assert low <= due <= low + 10
    assert gaps[3][1] is None  # the fourth attempt was the last: stop_after_attempt(4)
    row = store.deliveries("OUT-2026-001")[0]
    assert (row.status, len(channel.sent)) == ("failed-transient", 4)
    clock.advance(timedelta(hours=1))
    assert second.attempt_due() == 0
    store.close()


@pytest.mark.parametrize("result, attempt, low, high", [
    (DeliveryResult.transient(Reason.SERVER_ERROR, "500"), 1, 1.0, 2.0),  # backoff plus jitter
    (DeliveryResult.transient(Reason.SERVER_ERROR, "500"), 3, 4.0, 5.0),
    (DeliveryResult.transient(Reason.RATE_LIMITED, "429", retry_after=7.0), 1, 7.0, 7.0),  # the provider asks longer
    (DeliveryResult.transient(Reason.RATE_LIMITED, "429", retry_after=0.0), 3, 4.0, 5.0),  # never sooner than backoff
    (DeliveryResult.transient(Reason.RATE_LIMITED, "429", retry_after=3600.0), 1, 30.0, 30.0),  # capped
    (DeliveryResult.transient(Reason.SERVER_ERROR, "500"), 9, 30.0, 30.0),
])
def test_the_wait_is_backoff_or_retry_after_within_the_cap(result, attempt, low, high) -> None:
    assert low <= RetryPolicy(attempts=10, max_wait=30.0).delay(attempt, result) <= high


@pytest.mark.parametrize("result, attempt", [
    (DeliveryResult.delivered(status=200), 1),
    (DeliveryResult.permanent(Reason.BAD_ADDRESS, "no such number"), 1),
    (DeliveryResult(Outcome.POSSIBLY_DELIVERED, Reason.TIMEOUT, "sent, no answer"), 1),
    (DeliveryResult.transient(Reason.SERVER_ERROR, "500"), 4),  # the last of four
])
def test_only_a_transient_failure_before_the_last_attempt_is_retried(result, attempt) -> None:
    assert RetryPolicy(attempts=4).delay(attempt, result) is None
