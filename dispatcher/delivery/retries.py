"""Retry schedules in tenacity's terms, for retries that outlive the process as much as for those that do not.

A delivery or a stored webhook that failed is a row with a due time, and its
attempt number is persisted with it. After each attempt, :func:`next_wait`
asks a tenacity ``Retrying`` (its ``retry`` predicate, ``stop`` and ``wait``)
what tenacity itself would decide after that attempt: a restarted process
reading the row resumes the same schedule at the same attempt number.

Never ``stop_after_delay`` here: it reads the real monotonic clock, not the
injected one, so a test on fake time or a drill would stop at the wrong point.
Retries that live inside one call run ``Retrying`` with the injected sleep.
"""

from __future__ import annotations

from tenacity import RetryCallState, Retrying
from tenacity.wait import wait_base

__all__ = ["after", "next_wait", "wait_retry_after"]


def after(retrying: Retrying, attempt_number: int, *, result: object = None,
          error: BaseException | None = None) -> RetryCallState:
    """Tenacity's state once attempt `attempt_number` ended with `result` (or raised `error`)."""
    state = RetryCallState(retrying, None, (), {})
    state.attempt_number = attempt_number
    if error is None:
        state.set_result(result)
    else:
        state.set_exception((type(error), error, error.__traceback__))
    return state


def next_wait(retrying: Retrying, attempt_number: int, *, result: object = None,
              error: BaseException | None = None) -> float | None:
    """Seconds until the next attempt after attempt `attempt_number` ended so; None when there is none."""
    state = after(retrying, attempt_number, result=result, error=error)
    if not retrying.retry(state) or retrying.stop(state):  # the order of tenacity's own decision
        return None
    return retrying.wait(state)


class wait_retry_after(wait_base):  # noqa: N801 - named as tenacity names its waits
    """The provider's Retry-After when it asks for longer than `backoff` would wait; never more than `cap`."""

    def __init__(self, backoff: wait_base, cap: float) -> None:
        self.backoff = backoff
        self.cap = cap

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        asked = getattr(outcome.result(), "retry_after", None) if outcome and not outcome.failed else None
        return min(max(asked or 0.0, self.backoff(retry_state)), self.cap)
