"""The send deadline's watchdog: one thread, woken only for a deadline earlier than every one it watches.

Each test has a watchdog of its own on a FakeClock: time moves when the test says, and the thread is told to
look at the clock again; what the tests wait for (real time, briefly) is the thread's answer, never a timer.
"""

from datetime import timedelta

import pytest

from channels._deadline import _WATCHDOG, Deadline, _Watchdog
from dispatcher.clock import FakeClock
from tests.helpers import wait_for


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def watchdog(clock: FakeClock) -> _Watchdog:
    return _Watchdog(clock.monotonic)


def later(clock: FakeClock, watchdog: _Watchdog, seconds: float) -> None:
    clock.advance(timedelta(seconds=seconds))
    watchdog.look()


def test_a_deadline_expires_when_its_time_has_passed_and_not_before(clock, watchdog):
    deadline = Deadline(10, watchdog=watchdog)
    with deadline:
        later(clock, watchdog, 9.9)
        assert deadline.remaining(cap=60) == pytest.approx(0.1)
        later(clock, watchdog, 0.2)
        wait_for("the deadline to pass", lambda: deadline.expired)
    assert deadline.remaining(cap=60) == 0.001  # passed: a small positive number, for a connect timeout


def test_deadlines_added_while_the_watchdog_sleeps_for_an_earlier_one_still_expire(clock, watchdog):
    first, second, finished = (Deadline(s, watchdog=watchdog) for s in (2, 4, 3))
    first.__enter__()
    second.__enter__()  # after `first`: the sleeping thread is not woken, it sees `second` once `first` is due
    finished.__enter__()
    finished.finish()  # done in time: never expired, dropped when it comes up
    later(clock, watchdog, 2)
    wait_for("the first deadline to pass", lambda: first.expired)
    assert not second.expired
    later(clock, watchdog, 2)
    wait_for("the second deadline to pass", lambda: second.expired)
    assert not finished.expired
    first.finish(), second.finish()


def test_an_earlier_deadline_wakes_the_watchdog_sleeping_for_a_later_one(clock, watchdog):
    far, near = Deadline(3600, watchdog=watchdog), Deadline(2, watchdog=watchdog)
    with far:
        near.__enter__()
        later(clock, watchdog, 2)
        wait_for("the earlier deadline to pass", lambda: near.expired)
        assert not far.expired
    near.finish()


def test_a_wake_up_is_sent_only_for_a_deadline_earlier_than_every_watched(monkeypatch):
    calls = []
    real = _WATCHDOG._cond.notify
    monkeypatch.setattr(_WATCHDOG._cond, "notify", lambda *a: calls.append(1) or real(*a))
    with Deadline(3000):
        with Deadline(3100), Deadline(3200):
            pass
    assert len(calls) <= 1  # the first only (none if a deadline of another test is earlier)
