"""What happened in a drill, and whether each expectation held: pure functions over plain rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from .scenario import Expectation

__all__ = ["Check", "Sent", "check_all", "minutes"]


@dataclass(frozen=True)
class Sent:
    """One delivery of the drill with its times (None: never happened)."""

    kind: str
    step: int
    person: str
    display: str
    role: str
    channel: str
    target: str
    outcome: str
    due: datetime
    first_attempt: datetime | None
    delivered: datetime | None
    attempts: int
    reason: str | None = None
    fallback_of: str | None = None
    failures: tuple[datetime, ...] = ()  # failed attempts, for the timeline


@dataclass(frozen=True)
class Check:
    expectation: str
    held: bool
    detail: str
    deadline: datetime | None = None
    when: datetime | None = None  # the moment that met (or missed) it
    margin: timedelta | None = None  # positive: met with time to spare; negative: missed by


@dataclass(frozen=True)
class Facts:
    t0: datetime
    sent: list[Sent]
    acked_at: datetime | None
    response_sla: timedelta
    missed_updates: list[datetime] = field(default_factory=list)
    updates_expected: bool = False
    holders: Callable[[str], list[str]] = lambda role: []


def minutes(delta: timedelta) -> str:
    sign = "-" if delta < timedelta(0) else ""
    seconds = int(abs(delta).total_seconds())
    return f"{sign}{seconds // 60}m{seconds % 60:02d}s"


def check_all(expectations: list[Expectation], facts: Facts) -> list[Check]:
    return [_check(e, facts) for e in expectations]


def _check(e: Expectation, facts: Facts) -> Check:
    if e.sla == "response":
        return _response_sla(facts)
    if e.sla == "updates":
        return _updates_sla(facts)
    matches = [s for s in facts.sent if _matches(e, s, facts) and s.delivered is not None]
    if e.never:
        return Check(e.describe(), not matches,
                     "not notified" if not matches else f"notified: {matches[0].display} by {matches[0].channel}"
                     f" at +{minutes(matches[0].delivered - facts.t0)}")
    deadline = facts.t0 + e.within
    if not matches:
        return Check(e.describe(), False, "never notified", deadline)
    first = min(matches, key=lambda s: s.delivered)
    margin = deadline - first.delivered
    verdict = f"met with {minutes(margin)} to spare" if margin >= timedelta(0) else f"missed by {minutes(-margin)}"
    return Check(e.describe(), margin >= timedelta(0),
                 f"{first.display} by {first.channel} at +{minutes(first.delivered - facts.t0)}: {verdict}",
                 deadline, first.delivered, margin)


def _matches(e: Expectation, s: Sent, facts: Facts) -> bool:
    who = e.who or ""
    kind, _, ident = who.partition(":")
    by_who = who in (s.person, s.role) or (kind == "role" and s.person in facts.holders(ident))
    return by_who and (e.channel is None or e.channel == s.channel) and (e.kind is None or e.kind == s.kind)


def _response_sla(facts: Facts) -> Check:
    deadline = facts.t0 + facts.response_sla
    name = f"response SLA ({minutes(facts.response_sla)}) met"
    if facts.acked_at is None:
        return Check(name, False, "never acknowledged", deadline)
    margin = deadline - facts.acked_at
    verdict = f"met with {minutes(margin)} to spare" if margin >= timedelta(0) else f"missed by {minutes(-margin)}"
    return Check(name, margin >= timedelta(0), f"acknowledged at +{minutes(facts.acked_at - facts.t0)}: {verdict}",
                 deadline, facts.acked_at, margin)


def _updates_sla(facts: Facts) -> Check:
    if not facts.updates_expected:
        return Check("update cadence met", True, "this class has no update cadence")
    if not facts.missed_updates:
        return Check("update cadence met", True, "every update was sent before it was due")
    when = ", ".join(f"+{minutes(m - facts.t0)}" for m in facts.missed_updates)
    return Check("update cadence met", False, f"{len(facts.missed_updates)} update(s) missed, due at {when}")
