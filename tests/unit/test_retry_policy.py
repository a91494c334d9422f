"""The retry policy (dispatcher/delivery/retries.py and RetryPolicy in delivery/sender.py), as tables.

The policy says how many seconds to wait after a given attempt; the outbox adds them to its
injected clock, so no clock is needed here and nothing sleeps. Backoff has up to `initial_wait`
of jitter, so each expectation is a range: [low, low + jitter].
"""

from __future__ import annotations

import pytest
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from dispatcher.api import DeliveryResult, Reason
from dispatcher.delivery.retries import after, next_wait
from dispatcher.delivery.sender import RetryPolicy

POLICY = RetryPolicy(attempts=4, initial_wait=10.0, max_wait=60.0)
DOWN = DeliveryResult.transient(Reason.SERVER_ERROR, "503", status=503)
SAMPLES = 25  # draws of the jitter per row: every one must fall in the row's range


def asked(seconds: float) -> DeliveryResult:
    return DeliveryResult.transient(Reason.RATE_LIMITED, "429", status=429, retry_after=seconds)


@pytest.mark.parametrize(("attempt", "result", "low", "high"), [
    # Exponential from initial_wait, doubling: 10, 20, 40 s, each plus up to 10 s of jitter.
    (1, DOWN, 10, 20),
    (2, DOWN, 20, 30),
    (3, DOWN, 40, 50),
    # A provider's Retry-After longer than the backoff is honoured...
    (1, asked(45), 45, 45),
    # ...a shorter one is not: the backoff still spaces the attempts.
    (1, asked(2), 10, 20),
    # ...and one longer than max_wait is cut to it, so a hostile header cannot park a page for a day.
    (1, asked(86_400), 60, 60),
])
def test_a_transient_failure_waits_this_long(attempt: int, result: DeliveryResult, low: float, high: float) -> None:
    for _ in range(SAMPLES):
        wait = POLICY.delay(attempt, result)
        assert wait is not None and low <= wait <= high


@pytest.mark.parametrize("attempts", [1, 2, 4])
def test_the_last_attempt_is_the_last(attempts: int) -> None:
    policy = RetryPolicy(attempts=attempts, initial_wait=10.0, max_wait=60.0)
    assert policy.delay(attempts, DOWN) is None
    assert policy.delay(attempts, asked(5)) is None  # a Retry-After does not buy another attempt


@pytest.mark.parametrize("result", [
    DeliveryResult.delivered(),
    DeliveryResult.posted(),
    DeliveryResult.permanent(Reason.AUTH, "401"),
    DeliveryResult.permanent(Reason.BAD_ADDRESS, "not a number"),
    # No answer in time: it may have arrived, and a retry could page twice.
    DeliveryResult.possibly_delivered(Reason.TIMEOUT, "no answer within the deadline"),
], ids=lambda r: r.outcome.value + "/" + r.reason.value)
def test_only_a_transient_failure_is_retried(result: DeliveryResult) -> None:
    assert POLICY.delay(1, result) is None


def test_the_backoff_never_exceeds_max_wait_however_late_the_attempt() -> None:
    policy = RetryPolicy(attempts=20, initial_wait=10.0, max_wait=60.0)
    waits = [policy.delay(n, DOWN) for n in range(1, 20)]
    assert all(w is not None and 10 <= w <= 60 for w in waits)
    assert waits[-1] == 60  # 10 * 2**18 s, cut to the cap


def test_a_restarted_policy_resumes_at_the_persisted_attempt_number() -> None:
    """The schedule depends on the attempt number alone: a new process reading the row waits as the old would."""
    restarted = RetryPolicy(attempts=4, initial_wait=10.0, max_wait=60.0)
    assert 40 <= restarted.delay(3, DOWN) <= 50
    assert restarted.delay(4, DOWN) is None


# next_wait asks any tenacity Retrying what it would decide; the inbox retries stored webhooks so.
ON_OSERROR = Retrying(retry=retry_if_exception_type(OSError), stop=stop_after_attempt(3), wait=wait_fixed(5))


@pytest.mark.parametrize(("attempt", "error", "wait"), [
    (1, OSError("connection refused"), 5),
    (2, TimeoutError("read timed out"), 5),  # a subclass of OSError
    (3, OSError("connection refused"), None),  # stop_after_attempt(3)
    (1, ValueError("a payload that never parses"), None),  # not retried at all
])
def test_next_wait_decides_as_tenacity_would(attempt: int, error: BaseException, wait: float | None) -> None:
    assert next_wait(ON_OSERROR, attempt, error=error) == wait


def test_after_rebuilds_tenacitys_state_at_the_persisted_attempt() -> None:
    state = after(ON_OSERROR, 2, error=OSError("down"))
    assert state.attempt_number == 2 and state.outcome is not None and state.outcome.failed
    assert isinstance(state.outcome.exception(), OSError)
    assert after(ON_OSERROR, 1, result="ok").outcome.result() == "ok"
