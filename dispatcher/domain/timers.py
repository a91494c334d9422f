"""The incident's timers as pure functions: which follow-up steps, escalations and reminders are due.

Given a class, an incident's state and "now", :func:`due_actions` lists every
timer action whose time has come, each with a key unique within the incident.
The worker records each action once (the store refuses a key it has seen), so
ticking twice, or from two processes, or after a restart, fires nothing twice.

Every timer counts from when notify opened the incident, not from when the
incident started: an alert's ``startsAt`` or a ``--started`` may be hours
earlier, and counting from there would fire every escalation stage at once,
paging the top of the ladder before the first on-call had a chance. For the
same reason a reclassified incident's timers count from its reclassification,
under keys of their own (``r1-escalation-1``...), so the new class's ladder
starts at its first rung whatever the old one had fired.

- Follow-up steps fire at their offsets whether or not anyone acknowledged.
- Escalation stage k fires at k x response SLA, only while unacknowledged;
  each one is a recorded SLA breach.
- With an update cadence, the k-th update is due at last update (or start)
  + k x cadence. The commander is reminded `reminder_lead` before it is due
  (5 minutes, or a third of the cadence if shorter); a due time that passes
  without an update is recorded as missed and escalated. When several were
  missed while no worker ran, the last ten are recorded and only the latest
  notifies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from .durations import format_duration
from .entries import AudienceEntry, Entry, escalation_entries
from .incident import format_time

if TYPE_CHECKING:  # the loaded policy, read here by attribute only
    from ..config.policy import IncidentClass

__all__ = ["Action", "IncidentState", "due_actions", "epoch_prefix", "next_actions", "reminder_lead"]

MAX_MISSED = 500  # bounds the cadence loop for an incident left open for weeks
QUIET_KEPT = 10  # missed updates recorded without a notice, beyond the latest one that notifies


@dataclass(frozen=True)
class IncidentState:
    opened: datetime  # when notify opened the incident, or last reclassified it: every timer counts from here
    status: str  # open|acknowledged|resolved
    last_update_at: datetime | None = None
    reclassified: int = 0  # how many times the class changed: its timers' keys are those of this epoch

    def key(self, name: str) -> str:
        return epoch_prefix(self.reclassified) + name


def epoch_prefix(reclassified: int) -> str:
    """The prefix of a timer's key (and a page's label) after `reclassified` class changes: "" at first."""
    return f"r{reclassified}-" if reclassified else ""


@dataclass(frozen=True)
class Action:
    key: str  # unique within the incident: the store records it once
    kind: str  # step|escalation|reminder|overdue
    due: datetime
    detail: str
    entries: tuple[AudienceEntry, ...] = ()  # who hears about it (empty: recorded only)
    step: int = -1  # the step index, or len(steps) + stage for an escalation
    notice: dict = field(default_factory=dict)  # the template's `notice` context


def reminder_lead(every: timedelta) -> timedelta:
    return min(timedelta(minutes=5), every / 3)


def due_actions(klass: IncidentClass, state: IncidentState, now: datetime) -> list[Action]:
    """Every timer action due at `now` (already-recorded ones included: the store drops repeats)."""
    if state.status == "resolved":
        return []
    actions = _steps(klass, state) + _escalations(klass, state) + _cadence(klass, state, now)
    return sorted((a for a in actions if a.due <= now), key=lambda a: a.due)


def next_actions(klass: IncidentClass, state: IncidentState, now: datetime, limit: int = 5) -> list[Action]:
    """The timer actions still to come after `now`, soonest first (for `notify status`)."""
    if state.status == "resolved":
        return []
    horizon = now + max(klass.response_sla * (len(klass.escalation) + 1), klass.steps[-1].at, timedelta(hours=1))
    actions = _steps(klass, state) + _escalations(klass, state) + _cadence(klass, state, horizon)
    return sorted((a for a in actions if a.due > now), key=lambda a: a.due)[:limit]


def _steps(klass: IncidentClass, state: IncidentState) -> list[Action]:
    return [Action(state.key(f"step-{i}"), "step", state.opened + step.at, step.name, tuple(step.notify), i,
                   {"kind": "initial"})
            for i, step in enumerate(klass.steps) if i > 0]


def _escalations(klass: IncidentClass, state: IncidentState) -> list[Action]:
    if state.status != "open":
        return []
    sla = format_duration(klass.response_sla)
    actions = []
    for k, (offset, audience) in enumerate(klass.escalation_schedule(), start=1):
        stage = f"Escalation {k}: {audience}, no acknowledgement within {format_duration(offset)}"
        due = state.opened + offset
        actions.append(Action(state.key(f"escalation-{k}"), "escalation", due,
                              f"response SLA ({sla}) breached; escalated to {audience}",
                              escalation_entries(klass, audience), len(klass.steps) + k - 1,
                              {"kind": "escalation", "stage": stage, "at": format_time(due)}))
    return actions


def _cadence(klass: IncidentClass, state: IncidentState, until: datetime) -> list[Action]:
    every = klass.update_every
    if every is None:
        return []
    # an update posted before a reclassification does not start the new class's cadence early
    base = max(state.last_update_at, state.opened) if state.last_update_at else state.opened
    lead = reminder_lead(every)
    missed: list[Action] = []
    actions: list[Action] = []
    for k in range(1, MAX_MISSED + 1):
        due = base + every * k
        if due - lead > until:
            break
        due_text = format_time(due)
        notice = {"kind": "reminder", "due": due_text, "number": k}
        actions.append(Action(state.key(f"reminder-{_stamp(due)}"), "reminder", due - lead,
                              f"update due at {due_text}", (Entry(to="commander"),), notice=notice))
        if due <= until:
            missed.append(Action(state.key(f"overdue-{_stamp(due)}"), "overdue", due,
                                 f"update due at {due_text} was not sent",
                                 _overdue_entries(klass), notice={**notice, "kind": "overdue"}))
    quiet = [Action(a.key, a.kind, a.due, a.detail, (), a.step, a.notice) for a in missed[-QUIET_KEPT - 1:-1]]
    return _latest_reminder_only(actions)[-QUIET_KEPT - 1:] + quiet + missed[-1:]


def _stamp(moment: datetime) -> str:
    """A due time for a key: compact UTC, no colons (keys are colon-separated)."""
    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def parse_stamp(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


def _latest_reminder_only(reminders: list[Action]) -> list[Action]:
    """Reminders for updates that are already overdue are recorded, not sent."""
    return [a if i == len(reminders) - 1 else Action(a.key, a.kind, a.due, a.detail, (), a.step, a.notice)
            for i, a in enumerate(reminders)]


def _overdue_entries(klass: IncidentClass) -> tuple[AudienceEntry, ...]:
    entries = [Entry(to="commander")]
    if klass.escalation:
        entries += escalation_entries(klass, klass.escalation[0])
    return tuple(entries)
