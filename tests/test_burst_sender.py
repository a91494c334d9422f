"""A second sender runs only while a burst's backlog drains: the decision, and the watch that acts on it.

Time is a number the test moves; the helper is a fake process; nothing here waits for a timer. The
process-level behaviour (a real `notify serve` starting and stopping a real second `notify worker`)
is in tests/test_serve_sender.py.
"""

from __future__ import annotations

from typing import Callable

import pytest

from dispatcher.errors import StoreError
from dispatcher.server.burst import (
    BURST_EVENTS,
    QUIET,
    RETRY_PAUSE,
    START_AT,
    BurstSender,
    second_sender_wanted,
)


@pytest.mark.parametrize("running, quiet_for, backlog, wanted", [
    (False, QUIET, START_AT, True),  # the burst is accepted and left a backlog: start one
    (False, QUIET / 2, 10 * START_AT, False),  # webhooks still arriving: the server needs its core
    (False, 3600.0, START_AT - 1, False),  # a single alert's pages: not worth a process start
    (False, 3600.0, 0, False),
    (True, 0.0, 1, True),  # running: kept until drained, even while webhooks arrive again
    (True, 3600.0, 1, True),
    (True, 3600.0, 0, False),  # drained: stopped
])
def test_a_second_sender_starts_after_a_burst_on_a_backlog_and_runs_until_it_is_drained(
        running: bool, quiet_for: float, backlog: int, wanted: bool) -> None:
    assert second_sender_wanted(running, quiet_for, backlog) is wanted


class FakeHelper:
    def __init__(self, pid: int, on_exit: Callable[[int], None]) -> None:
        self.pid, self.on_exit = pid, on_exit
        self.wakes, self.stopped = 0, False

    def wake(self) -> None:
        self.wakes += 1

    def stop(self, timeout: float = 60.0) -> int | None:
        self.stopped = True
        self.on_exit(0)  # as SenderProcess: the reader hears the exit it asked for
        return 0


class Setup:
    """A BurstSender on a clock and a backlog the test sets, spawning fake helpers."""

    def __init__(self) -> None:
        self.now, self.waiting, self.spawned = 1000.0, 0, []
        self.burst = BurstSender(self.spawn, lambda: self.waiting, lambda: self.now)

    def spawn(self, on_exit: Callable[[int], None]) -> FakeHelper:
        helper = FakeHelper(len(self.spawned) + 1, on_exit)
        self.spawned.append(helper)
        return helper

    def stored(self, waiting: int) -> None:
        """A webhook is stored (as the server's wake says); no watch thread runs: the test calls check()."""
        self.waiting = waiting
        self.burst.stored()


def test_a_backlog_left_by_a_burst_gets_a_second_sender_until_it_is_drained() -> None:
    s = Setup()
    s.stored(waiting=5 * START_AT)
    assert s.burst.check() is True and s.spawned == []  # still within the burst: look again later
    s.now += QUIET
    assert s.burst.check() is True
    (helper,) = s.spawned
    assert s.burst.helper is helper
    s.waiting = 1
    assert s.burst.check() is True and not helper.stopped
    s.waiting = 0
    assert s.burst.check() is False  # drained: the watch ends until something is stored again
    assert helper.stopped and s.burst.helper is None


def test_the_watch_is_asked_to_look_only_once_a_burst_of_events_is_stored() -> None:
    """A lone alert at low load never costs the server a look at the store (the watch thread waits on
    this event; no thread runs here)."""
    s = Setup()
    for _ in range(BURST_EVENTS - 1):
        s.burst.stored()
    assert not s.burst._stored.is_set()
    s.burst.stored()
    assert s.burst._stored.is_set()


def test_a_small_backlog_after_the_burst_ends_the_watch_without_a_second_sender() -> None:
    s = Setup()
    s.stored(waiting=START_AT - 1)
    s.now += QUIET
    assert s.burst.check() is False
    assert s.spawned == []


def test_webhooks_stored_while_the_second_sender_runs_wake_the_first_not_it() -> None:
    """Only pages wake it (the first sender, woken per webhook, triages them); a wake per webhook was a claim
    while the server stored the burst."""
    s = Setup()
    s.stored(waiting=START_AT)
    s.now += QUIET
    s.burst.check()
    s.stored(waiting=2 * START_AT)
    assert s.spawned[0].wakes == 0 and len(s.spawned) == 1
    s.burst.planned()
    assert s.spawned[0].wakes == 1


def test_pages_the_first_sender_planned_and_each_look_while_running_wake_the_second_sender() -> None:
    """Pages the first sender made while the second finds nothing due: the second must not rest its interval."""
    s = Setup()
    s.burst.planned()  # no second sender: nothing to wake, nothing started
    s.stored(waiting=START_AT)
    s.now += QUIET
    s.burst.check()
    (helper,) = s.spawned
    s.burst.planned()
    assert helper.wakes == 1
    s.burst.check()
    assert helper.wakes == 2 and len(s.spawned) == 1


def test_a_second_sender_that_dies_is_not_replaced_until_the_pause_has_passed() -> None:
    s = Setup()
    s.stored(waiting=START_AT)
    s.now += QUIET
    s.burst.check()
    s.spawned[0].on_exit(-9)  # killed, unasked
    assert s.burst.helper is None
    assert s.burst.check() is True and len(s.spawned) == 1  # still a backlog, but no restart loop
    s.now += RETRY_PAUSE
    assert s.burst.check() is True and len(s.spawned) == 2


def test_close_stops_a_running_second_sender() -> None:
    s = Setup()
    s.stored(waiting=START_AT)
    s.now += QUIET
    s.burst.check()
    s.burst.close()
    assert s.spawned[0].stopped and s.burst.helper is None


def test_a_backlog_that_cannot_be_counted_keeps_the_watch_going() -> None:
    def broken() -> int:
        raise StoreError("the store is away")

    s = Setup()
    s.burst = BurstSender(s.spawn, broken, lambda: s.now)
    s.burst.stored()
    s.now += QUIET
    assert s.burst.check() is True and s.spawned == []
