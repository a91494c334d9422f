"""Quiet hours applied to a plan: which planned calls and texts wait, and when a held one is released.

Pure, over the loaded directory and class (read by attribute only). A
standard-tier call or text to a person outside their working hours is planned
held (its reason starts with :data:`QUIET_HOURS`, which the store and the
timeline show) and, when the step tells them nothing else, their first quiet
fallback (email or Slack) is planned in its place now; what goes now loses the
fallbacks that would ring them instead (a Slack post that fails must not turn
into a 3 a.m. call). A held page is released
when their working hours begin or when the incident reaches its response SLA
unacknowledged, whichever is first; the escalation ladder keeps its own clock.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from .durations import format_duration
from .plan import Planned, template_for
from .working_hours import (
    QUIET_TIERS,
    RINGING_FAMILIES,
    is_working,
    next_start,
    pages_now,
    parse_working_hours,
)

if TYPE_CHECKING:
    from ..config.directory import Directory
    from ..config.policy import IncidentClass

__all__ = ["QUIET_HOURS", "hold_quiet_pages", "person_zone", "release_reason"]

QUIET_HOURS = "quiet hours"  # how a quiet-hours hold's reason starts (a needs-review hold reads differently)
Event = tuple[str, str, str]  # (key, kind, detail) of a timeline event


def person_zone(directory: Directory, pid: str) -> str:
    """A person's time zone: their own, else the rotation's, else UTC."""
    own = directory.people[pid].timezone
    return own or (directory.rotation.timezone if directory.rotation is not None else "UTC")


def hold_quiet_pages(planned: list[Planned], klass: IncidentClass, directory: Directory, now: datetime, *,
                     opened: datetime) -> tuple[list[Planned], list[Event]]:
    """The plan with quiet hours applied, and one `quiet-hours` timeline event per page held."""
    sla_at = opened + klass.response_sla
    if klass.tier not in QUIET_TIERS or now >= sla_at:
        return planned, []
    taken = {(p.address.person, p.address.channel) for p in planned}
    out: list[Planned] = []
    events: list[Event] = []
    for item in planned:
        reason = _quiet_reason(item, klass, directory, now, sla_at)
        if reason is None:  # it goes now, but never falls back to a call or text that would wake them
            out.append(replace(item, fallbacks=tuple(f for f in item.fallbacks
                                                     if _may_ring(f.person, f.channel, klass, directory, now))))
            continue
        out.append(replace(item, held=reason))
        a = item.address
        events.append((f"quiet-hours-{item.step}-{a.person}-{a.channel}", "quiet-hours",
                       f"{a.channel} to {a.display} held: {reason}"))
        quiet = next((f for f in item.fallbacks if directory.family(f.channel) not in RINGING_FAMILIES
                      and (f.person, f.channel) not in taken), None)
        if quiet is not None:  # told now on a channel that does not wake them
            taken.add((quiet.person, quiet.channel))
            out.append(Planned(item.step, quiet, template_for(directory.family(quiet.channel))))
    return out, events


def _may_ring(pid: str, channel: str, klass: IncidentClass, directory: Directory, now: datetime) -> bool:
    person = directory.people.get(pid)
    if person is None:
        return True
    return pages_now(klass.tier, directory.family(channel), parse_working_hours(person.working_hours),
                     person_zone(directory, pid), now)


def _quiet_reason(item: Planned, klass: IncidentClass, directory: Directory, now: datetime,
                  sla_at: datetime) -> str | None:
    """Why this planned page waits, or None when it goes now."""
    person = directory.people.get(item.address.person)
    if person is None or item.skip or item.held:
        return None
    hours, zone = parse_working_hours(person.working_hours), person_zone(directory, item.address.person)
    if pages_now(klass.tier, directory.family(item.address.channel), hours, zone, now):
        return None
    begins = next_start(hours, zone, now)
    release = min(begins, sla_at) if begins is not None else sla_at
    why = "their working hours begin" if begins is not None and begins <= sla_at else \
        f"the response SLA ({format_duration(klass.response_sla)}) passes unacknowledged"
    return (f"{QUIET_HOURS}: {_local(now, zone)} is outside {person.name}'s working hours ({hours.text}, {zone}); "
            f"a {klass.tier}-tier page rings at {_local(release, zone)}, when {why}, unless acknowledged first")


def release_reason(directory: Directory, pid: str, now: datetime, sla_at: datetime,
                   klass: IncidentClass) -> str | None:
    """Why a held page to `pid` goes now (their working hours began, or the SLA passed), or None: it still waits."""
    if now >= sla_at:
        return f"the response SLA ({format_duration(klass.response_sla)}) passed unacknowledged"
    person = directory.people.get(pid)
    if person is None:  # no longer in the directory: nothing says they sleep
        return "the person is no longer in contacts.toml"
    zone = person_zone(directory, pid)
    if is_working(parse_working_hours(person.working_hours), zone, now):
        return f"{person.name}'s working hours began ({_local(now, zone)})"
    return None


def _local(at: datetime, zone: str) -> str:
    from zoneinfo import ZoneInfo

    return at.astimezone(ZoneInfo(zone)).strftime("%a %H:%M")

