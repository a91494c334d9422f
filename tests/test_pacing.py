"""The token bucket of a provider route (domain/pacing.py), case by case: a table, no clock."""

from __future__ import annotations

import pytest

from dispatcher.domain.pacing import MIN_SLOWDOWN, RECOVERY, Bucket, Limit, late_in_queue, settle, take, throttle

ONE_A_SECOND = Limit(rate=1.0, burst=1.0)
BURST_OF_3 = Limit(rate=2.0, burst=3.0)

# (case, bucket before, now, limit, expected tokens after, expected wait)
TAKES = [
    ("a route never used has a full bucket", None, 100.0, ONE_A_SECOND, 0.0, 0.0),
    ("an empty bucket waits a whole token's time", Bucket(0.0, 100.0), 100.0, ONE_A_SECOND, 0.0, 1.0),
    ("half a second later, half a token to wait", Bucket(0.0, 100.0), 100.5, ONE_A_SECOND, 0.5, 0.5),
    ("a token's time later, it is taken", Bucket(0.0, 100.0), 101.0, ONE_A_SECOND, 0.0, 0.0),
    ("an idle route never holds more than its burst", Bucket(0.0, 100.0), 1000.0, BURST_OF_3, 2.0, 0.0),
    ("two a second: a quarter token in an eighth of a second", Bucket(0.5, 10.0), 10.125, BURST_OF_3, 0.75, 0.125),
    ("blocked by a 429: waits out the Retry-After though tokens are there",
     Bucket(3.0, 10.0, blocked_until=15.0), 12.0, BURST_OF_3, 3.0, 3.0),
    ("past the block, tokens count only from its end", Bucket(0.0, 10.0, blocked_until=15.0), 15.5, ONE_A_SECOND,
     0.5, 0.5),
    ("a halved rate takes two seconds a token", Bucket(0.0, 10.0, slowdown=0.5, throttled_at=10.0), 10.0,
     ONE_A_SECOND, 0.0, 2.0),
    ("a clock that went back grants nothing new", Bucket(0.0, 100.0), 99.0, ONE_A_SECOND, 0.0, 1.0),
]


@pytest.mark.parametrize(("case", "before", "now", "limit", "tokens", "wait"), TAKES, ids=[t[0] for t in TAKES])
def test_take(case: str, before: Bucket | None, now: float, limit: Limit, tokens: float, wait: float) -> None:
    after, waited = take(before, now, limit)
    assert waited == pytest.approx(wait)
    assert after.tokens == pytest.approx(tokens)


def test_a_refused_send_takes_nothing_so_the_next_asker_waits_as_long() -> None:
    first, wait = take(Bucket(0.0, 0.0), 0.25, ONE_A_SECOND)
    second, again = take(first, 0.25, ONE_A_SECOND)
    assert wait == again == pytest.approx(0.75)
    assert second.tokens == pytest.approx(0.25)


def test_sends_at_once_get_one_token_each_then_wait_in_turn() -> None:
    bucket, granted, waits = None, 0, []
    for _ in range(5):
        bucket, wait = take(bucket, 0.0, BURST_OF_3)
        granted, waits = granted + (wait == 0), waits + [wait]
    assert granted == 3
    assert waits[3:] == [pytest.approx(0.5), pytest.approx(0.5)]


# (case, bucket before, now, retry_after, blocked until, slowdown after, 429s after)
THROTTLES = [
    ("a Retry-After blocks the route that long and halves it", Bucket(1.0, 0.0), 0.0, 30.0, 30.0, 0.5, 1),
    ("no Retry-After: a token's time", Bucket(1.0, 0.0), 5.0, None, 6.0, 0.5, 1),
    ("a second 429 halves it again", Bucket(0.0, 0.0, slowdown=0.5, throttled_at=0.0, throttled=1), 0.0, 2.0,
     2.0, 0.25, 2),
    ("a block already longer stays", Bucket(0.0, 0.0, blocked_until=60.0), 1.0, 2.0, 60.0, 0.5, 1),
    ("the slowdown has a floor", Bucket(0.0, 0.0, slowdown=MIN_SLOWDOWN, throttled_at=0.0), 0.0, 1.0, 1.0,
     MIN_SLOWDOWN, 1),
]


@pytest.mark.parametrize(("case", "before", "now", "retry_after", "blocked", "slowdown", "count"), THROTTLES,
                         ids=[t[0] for t in THROTTLES])
def test_throttle(case: str, before: Bucket, now: float, retry_after: float | None, blocked: float,
                  slowdown: float, count: int) -> None:
    after = throttle(before, now, ONE_A_SECOND, retry_after)
    assert after.tokens == 1.0  # for when the block ends: the retry the provider asked for
    assert after.blocked_until == pytest.approx(blocked)
    assert after.slowdown == pytest.approx(slowdown)
    assert after.throttled == count


def test_a_slowdown_recovers_to_the_full_rate() -> None:
    slowed = throttle(None, 0.0, ONE_A_SECOND, 1.0)
    assert slowed.slowdown_at(RECOVERY / 2) == pytest.approx(0.5 * 2 ** 0.5)
    assert slowed.slowdown_at(RECOVERY) == 1.0
    recovered, wait = take(Bucket(0.0, RECOVERY * 3, slowdown=slowed.slowdown, throttled_at=0.0), RECOVERY * 3,
                           ONE_A_SECOND)
    assert wait == pytest.approx(1.0)  # a whole token at the full rate again
    assert recovered.slowdown == 1.0


@pytest.mark.parametrize(("waited", "sla", "late"), [(59.0, 600.0, False), (60.0, 600.0, False),
                                                      (61.0, 600.0, True), (0.0, 0.0, False)])
def test_a_page_is_late_past_a_tenth_of_its_response_sla(waited: float, sla: float, late: bool) -> None:
    assert late_in_queue(waited, sla) is late


@pytest.mark.parametrize("limit", [{"rate": 0.0}, {"rate": -1.0}, {"rate": 1.0, "burst": 0.5}])
def test_a_budget_that_could_never_send_is_refused(limit: dict) -> None:
    with pytest.raises(ValueError, match="rate budget"):
        Limit(**limit)


# (case, bucket before, now, sent at, expected tokens after)
SETTLES = [
    ("a send that took no time changes nothing", Bucket(0.0, 10.0), 10.0, 10.0, 0.0),
    ("the tokens gained in flight are given up", Bucket(0.0, 10.0), 10.4, 10.0, 0.0),
    ("an idle route keeps what it had before the send", Bucket(2.0, 10.0), 10.5, 10.0, 2.0),
    ("never below empty", Bucket(0.0, 10.0), 13.0, 10.0, 0.0),
]


@pytest.mark.parametrize(("case", "before", "now", "sent_at", "tokens"), SETTLES, ids=[t[0] for t in SETTLES])
def test_settle(case: str, before: Bucket, now: float, sent_at: float, tokens: float) -> None:
    assert settle(before, now, BURST_OF_3, sent_at).tokens == pytest.approx(tokens)


def test_the_next_token_counts_from_the_end_of_the_last_send() -> None:
    bucket, _ = take(None, 0.0, ONE_A_SECOND)
    bucket = settle(bucket, 0.3, ONE_A_SECOND, 0.0)  # the send took 0.3 s: the provider may have seen it only then
    _, wait = take(bucket, 0.3, ONE_A_SECOND)
    assert wait == pytest.approx(1.0)


def test_no_more_than_a_burst_of_sends_is_in_flight_on_a_route() -> None:
    hold = 20.0
    bucket, wait = take(None, 0.0, ONE_A_SECOND, hold)
    assert wait == 0.0 and bucket.in_flight == 1
    _, wait = take(bucket, 5.0, ONE_A_SECOND, hold)  # a token is there, but the first send has not ended
    assert wait == pytest.approx(1.0)
    bucket = settle(bucket, 5.0, ONE_A_SECOND, 0.0)
    assert bucket.in_flight == 0
    bucket, wait = take(bucket, 6.0, ONE_A_SECOND, hold)
    assert wait == 0.0
    _, wait = take(bucket, 6.0 + hold + 1.0, ONE_A_SECOND, hold)  # never settled (its sender died): freed after hold
    assert wait == 0.0


def test_a_token_short_by_less_than_a_microsecond_is_a_token() -> None:
    """Stored times are microseconds: a wait shorter than that would never come, and a sender would spin."""
    _, wait = take(Bucket(0.9999999, 0.0), 0.0, ONE_A_SECOND)
    assert wait == 0.0
