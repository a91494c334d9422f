"""What happened in a drill, and whether each expectation held: pure functions over plain rows."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Callable

from ..domain.states import DeliveryState
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
    outcome: DeliveryState
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
    implied: bool = False  # not in the drill file: an SLA it missed without expecting to
    tested: bool = True  # False: the drill never got to show it (it fails an expectation, but is no miss)


@dataclass(frozen=True)
class Facts:
    t0: datetime
    sent: list[Sent]
    acked_at: datetime | None
    response_sla: timedelta
    missed_updates: list[datetime] = field(default_factory=list)
    updates_expected: bool = False
    updates_posted: list[datetime] = field(default_factory=list)
    end: datetime | None = None  # when the drill stopped (None: after every deadline)
    holders: Callable[[str], list[str]] = lambda role: []


def minutes(delta: timedelta) -> str:
    sign = "-" if delta < timedelta(0) else ""
    seconds = int(abs(delta).total_seconds())
    return f"{sign}{seconds // 60}m{seconds % 60:02d}s"


def check_all(expectations: list[Expectation], facts: Facts) -> list[Check]:
    """Each expectation's check, then a failed one for each SLA missed that no expectation names.

    A report that said "MISSED" beside "all expectations held" would contradict itself:
    a drill meant to show a miss says so with `sla = ..., met = false`.
    """
    checks = [_check(e, facts) for e in expectations]
    named = {e.sla for e in expectations if e.sla}
    for sla, measure in (("response", _response_sla), ("updates", _updates_sla)):
        if sla in named or (sla == "updates" and not facts.missed_updates):
            continue
        check = measure(facts, True)
        if not check.held and check.tested:
            checks.append(replace(check, implied=True, detail=f"{check.detail}; the drill file does not expect "
                                  f'this (to show it, add [[expect]] sla = "{sla}", met = false)'))
    return checks


def _check(e: Expectation, facts: Facts) -> Check:
    if e.sla == "response":
        return _response_sla(facts, e.met)
    if e.sla == "updates":
        return _updates_sla(facts, e.met)
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


def _response_sla(facts: Facts, expect_met: bool) -> Check:
    deadline = facts.t0 + facts.response_sla
    name = f"response SLA ({minutes(facts.response_sla)}) " + ("met" if expect_met else "missed, as the drill expects")
    if facts.acked_at is None and facts.end is not None and facts.end < deadline:
        return Check(name, False, f"not tested: nobody acknowledged before the drill ended at "
                                  f"+{minutes(facts.end - facts.t0)}, short of the deadline", deadline, tested=False)
    if facts.acked_at is None:
        return Check(name, not expect_met, "never acknowledged", deadline)
    margin = deadline - facts.acked_at
    met = margin >= timedelta(0)
    verdict = f"met with {minutes(margin)} to spare" if met else f"missed by {minutes(-margin)}"
    return Check(name, met == expect_met, f"acknowledged at +{minutes(facts.acked_at - facts.t0)}: {verdict}",
                 deadline, facts.acked_at, margin)


def _updates_sla(facts: Facts, expect_met: bool) -> Check:
    """The update cadence: "met" only when updates were posted on time and actually delivered."""
    name = "update cadence met" if expect_met else "update cadence missed, as the drill expects"
    if not facts.updates_expected:
        return Check(name, False, "this class has no update cadence (update_every in policy.toml): nothing to check",
                     tested=False)
    if facts.missed_updates:
        when = ", ".join(f"+{minutes(m - facts.t0)}" for m in facts.missed_updates)
        return Check(name, not expect_met, f"{len(facts.missed_updates)} update(s) missed, due at {when}")
    if not expect_met:
        return Check(name, False, "no update was missed")
    if not facts.updates_posted:
        return Check(name, False, "no update was posted in the drill, so the cadence was not shown", tested=False)
    posted = f"{len(facts.updates_posted)} update(s) posted at " + ", ".join(
        f"+{minutes(p - facts.t0)}" for p in facts.updates_posted) + ", each before it was due"
    updates = [s for s in facts.sent if s.kind == "update"]
    if any(s.delivered is not None for s in updates):
        return Check(name, True, f"{posted}, and delivered")
    # Skipped by the drill's own rules (it never contacts customers) is no failure of the cadence; failing is.
    skipped_only = bool(updates) and all(s.outcome == DeliveryState.SKIPPED for s in updates)
    reasons = sorted({s.reason for s in updates if s.reason}) or ["no update had a recipient"]
    return Check("updates posted on time, none delivered", skipped_only,
                 f"{posted}; none was delivered: {'; '.join(reasons)}")
