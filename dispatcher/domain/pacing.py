"""A provider route's rate budget as a token bucket: whether a send may go now, and what a 429 does to it.

Pure arithmetic on numbers (times are seconds since the epoch), so the store can
run it inside the one transaction that reads and writes a route's bucket, and a
table of cases can test it without a clock.

- A bucket holds at most `burst` tokens and gains `rate` tokens a second; a send
  takes one. Without a token the send waits (it is *queued*, not failed) for as
  long as the next token needs.
- At most `burst` sends are in flight on a route at once (each until it ends,
  or for the longest a send may take, if its sender died).
- A send's token counts from when the send ended, not from when it started: the
  tokens gained while it was in flight are given up (`settle`), so jitter in
  how long a request takes to arrive never brings two within a token's time.
- A 429 from the provider blocks the route until its Retry-After has passed,
  leaves one token for then (the retry the provider asked for), and halves the
  rate ("slowdown"). The slowdown then
  recovers on its own: it doubles back every RECOVERY seconds after the last
  429, up to the full rate, so one 429 costs a minute or so of caution, not a
  permanent slowdown, and a second 429 in that time halves it again.
- A page queued longer than a tenth of its class's response SLA is late: the
  wait itself eats into the time a responder has to act.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["MIN_SLOWDOWN", "RECOVERY", "Bucket", "Limit", "late_in_queue", "settle", "take", "throttle"]

RECOVERY = 30.0  # seconds for a halved rate to double back after the last 429
MIN_SLOWDOWN = 1 / 16  # however many 429s, a route keeps a sixteenth of its rate
# A token short of one by less than this is a token: stored times are microseconds, and a wait shorter
# than one would never come.
EPSILON = 1e-6
DEFAULT_BLOCK = 1.0  # tokens' time a route waits after a 429 that names no Retry-After


@dataclass(frozen=True)
class Limit:
    """A route's budget: `rate` sends a second on average, at most `burst` at once."""

    rate: float
    burst: float = 1.0

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError(f"a rate budget needs a rate above 0 and a burst of at least 1, not {self}")


@dataclass(frozen=True)
class Bucket:
    """A route's budget as stored: tokens at time `at`, blocked until `blocked_until`, the rate's slowdown
    since `throttled_at` (the last 429), and how many 429s the route has had."""

    tokens: float
    at: float
    blocked_until: float = 0.0
    slowdown: float = 1.0
    throttled_at: float = 0.0
    throttled: int = 0
    in_flight: int = 0  # sends started and not ended yet (until `busy_until`: a sender that died frees them)
    busy_until: float = 0.0

    @classmethod
    def full(cls, limit: Limit, now: float) -> Bucket:
        """A route never used: a full bucket."""
        return cls(tokens=limit.burst, at=now)

    def slowdown_at(self, now: float) -> float:
        """The share of the full rate this route may use at `now` (1.0: recovered)."""
        if self.slowdown >= 1.0:
            return 1.0
        recovered = self.slowdown * 2 ** (max(0.0, now - self.throttled_at) / RECOVERY)
        return min(1.0, recovered)


def _refilled(bucket: Bucket, now: float, limit: Limit) -> Bucket:
    """The bucket at `now`: tokens gained since its time, at the rate of its slowdown then (the lower one:
    a recovering route never gains more than it had earned)."""
    at = max(now, bucket.at)  # a clock that went back grants nothing
    start = min(at, max(bucket.at, bucket.blocked_until))  # nothing is gained while blocked
    gained = (at - start) * limit.rate * bucket.slowdown_at(bucket.at)
    slowdown = bucket.slowdown_at(at)
    return replace(bucket, tokens=min(limit.burst, bucket.tokens + gained), at=at, slowdown=slowdown,
                   throttled_at=at if slowdown < 1.0 else bucket.throttled_at)


def take(bucket: Bucket | None, now: float, limit: Limit, hold: float = 0.0) -> tuple[Bucket, float]:
    """Take a token for one send at `now`: (the bucket after, 0.0) when granted, else (the bucket after, the
    seconds until a token will be there); a refused send takes nothing.

    `hold`: the longest a send may take (0: not tracked). Then no more than `burst` sends are in flight on
    the route at once, each counted until it is settled or `hold` has passed: a request slow to arrive is
    never overtaken by the next one on its route.
    """
    current = _refilled(bucket or Bucket.full(limit, now), now, limit)
    if now >= current.busy_until:
        current = replace(current, in_flight=0)
    if now < current.blocked_until:
        return current, current.blocked_until - now
    if hold > 0 and current.in_flight >= limit.burst:
        return current, 1.0 / (limit.rate * current.slowdown_at(now))  # looked at again then
    if current.tokens >= 1.0 - EPSILON:
        if hold <= 0:
            return replace(current, tokens=max(0.0, current.tokens - 1.0)), 0.0
        return replace(current, tokens=max(0.0, current.tokens - 1.0), in_flight=current.in_flight + 1,
                       busy_until=max(current.busy_until, now + hold)), 0.0
    return current, (1.0 - current.tokens) / (limit.rate * current.slowdown_at(now))


def settle(bucket: Bucket | None, now: float, limit: Limit, sent_at: float) -> Bucket:
    """The bucket after a send that started at `sent_at` ended at `now`: the tokens the route gained meanwhile are
    given up. A provider counts from when a request arrived, which may be any time until its answer: spaced
    from the end of the last send, the next one never reaches it sooner than a token's time after it."""
    current = _refilled(bucket or Bucket.full(limit, now), now, limit)
    lost = max(0.0, now - sent_at) * limit.rate * current.slowdown
    return replace(current, tokens=max(0.0, current.tokens - lost), in_flight=max(0, current.in_flight - 1))


def throttle(bucket: Bucket | None, now: float, limit: Limit, retry_after: float | None) -> Bucket:
    """The bucket after the provider answered 429 at `now`, asking to wait `retry_after` seconds (None: it
    did not say: a token's time): blocked that long, then one token (the retry the provider asked for), its
    rate halved."""
    current = _refilled(bucket or Bucket.full(limit, now), now, limit)
    block = retry_after if retry_after is not None else DEFAULT_BLOCK / limit.rate
    return replace(current, tokens=min(1.0, limit.burst), blocked_until=max(current.blocked_until, now + block),
                   slowdown=max(MIN_SLOWDOWN, current.slowdown / 2), throttled_at=now,
                   throttled=current.throttled + 1, in_flight=max(0, current.in_flight - 1))


def late_in_queue(waited: float, response_sla: float) -> bool:
    """Whether a page queued for `waited` seconds is late: longer than a tenth of its response SLA."""
    return waited > response_sla / 10
