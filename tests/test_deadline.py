"""The send deadline's watchdog: one thread, woken only for a deadline earlier than every one it watches."""

from channels._deadline import _WATCHDOG, Deadline
from tests.helpers import wait_for


def test_deadlines_added_while_the_watchdog_sleeps_for_an_earlier_one_still_expire():
    first, later, finished = Deadline(0.2), Deadline(0.4), Deadline(0.3)
    first.__enter__()
    later.__enter__()  # after `first`: the sleeping thread is not woken, it sees `later` once `first` is due
    finished.__enter__()
    finished.finish()  # done in time: never expired, dropped when it comes up
    wait_for("both deadlines to pass", lambda: first.expired and later.expired)
    assert not finished.expired
    first.finish(), later.finish()


def test_an_earlier_deadline_wakes_the_watchdog_sleeping_for_a_later_one():
    far, near = Deadline(3600), Deadline(0.2)
    with far:
        near.__enter__()
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
