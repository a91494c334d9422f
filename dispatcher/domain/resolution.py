"""Resolution targets as timers, pure: the reminder at 75 %, the breach at 100 %, and a complex incident's week.

`resolution_target` in policy.toml is the authority (the seed's "Resolution Time
Targets": critical 4 hours, high priority 24 hours, standard 72 hours). The
target counts from when notify opened the incident, whatever its class's
reclassifications: a customer waits from the first page, not from the last
change of label.

- At 75 % of the target the incident commander is reminded (kind ``target``).
- At 100 % a breach is recorded and the first escalation stage not yet paged is
  paged (kind ``breach``); when every stage was paged, the breach notice goes to
  the commander.
- An incident marked complex (`notify update ID --complex`) has the seed's
  "Complex Issues: 1 week with daily updates": a 7-day target from its opening,
  with a reminder and breach of its own, and once its class's target has passed,
  an update a day replaces the class's cadence (:func:`daily_updates_from`).

Each action's key names its target in whole hours (``resolution-reminder-4h``,
``resolution-breach-168h``): marking an incident complex after its class's
target fired starts the week's timers under keys of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .durations import format_duration
from .entries import Entry, escalation_entries
from .incident import format_time

if TYPE_CHECKING:  # the loaded policy, read here by attribute only
    from ..config.policy import IncidentClass

__all__ = ["COMPLEX_TARGET", "DAILY", "REMINDER_SHARE", "TargetAction", "breach_stage", "daily_updates_from",
           "resolution_actions", "target_of", "time_to_target"]

COMPLEX_TARGET = timedelta(days=7)  # the seed: "Complex Issues: 1 week with daily updates"
DAILY = timedelta(days=1)
REMINDER_SHARE = 0.75  # the commander hears when three quarters of the target are gone


@dataclass(frozen=True)
class TargetAction:
    key: str
    kind: str  # target (the reminder) | breach
    due: datetime
    target: timedelta
    detail: str


def target_of(klass: IncidentClass, complex_: bool) -> timedelta | None:
    """The incident's resolution target: a week when complex, else its class's (None: the class has none)."""
    return COMPLEX_TARGET if complex_ else klass.resolution_target


def _hours(target: timedelta) -> str:
    return f"{int(target.total_seconds() // 3600)}h"


def resolution_actions(klass: IncidentClass, opened: datetime, complex_: bool, now: datetime) -> list[TargetAction]:
    """The reminder and breach of the incident's target due at `now`, recorded ones included (the store drops
    repeats). Marked complex, the week replaces the class's target: what the class's already fired stays
    recorded, what it had still to fire never does."""
    target = target_of(klass, complex_)
    if target is None:
        return []
    deadline, name = opened + target, format_duration(target)
    actions = [TargetAction(f"resolution-reminder-{_hours(target)}", "target", opened + target * REMINDER_SHARE,
                            target, f"resolution target ({name}) ends at {format_time(deadline)}"),
               TargetAction(f"resolution-breach-{_hours(target)}", "breach", deadline, target,
                            f"resolution target ({name}) breached: not resolved by {format_time(deadline)}")]
    return [a for a in actions if a.due <= now]


def breach_stage(klass: IncidentClass, paged_steps: set[int]) -> tuple[int, str, tuple[Entry, ...]] | None:
    """(stage, audience, entries) of the first escalation stage not yet paged, by the delivery steps paged so far
    (stage k pages as step len(steps) + k - 1); None when every stage was paged."""
    for k, audience in enumerate(klass.escalation, start=1):
        if len(klass.steps) + k - 1 not in paged_steps:
            return k, audience, escalation_entries(klass, audience)
    return None


def daily_updates_from(klass: IncidentClass, opened: datetime, complex_: bool) -> datetime | None:
    """When a complex incident's daily updates replace its class's cadence: once the class's target has passed
    (at its opening when the class has none); None for an incident not complex."""
    if not complex_:
        return None
    return opened + (klass.resolution_target or timedelta(0))


def time_to_target(klass: IncidentClass, opened: datetime, complex_: bool, now: datetime) -> dict | None:
    """The target, its deadline and how long is left (negative once breached), for `notify status`."""
    target = target_of(klass, complex_)
    if target is None:
        return None
    deadline = opened + target
    return {"target": format_duration(target), "deadline": deadline, "left": deadline - now, "complex": complex_}
