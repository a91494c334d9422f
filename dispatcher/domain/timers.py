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
  each one is a recorded SLA breach. A class with ``repeat = N`` then climbs
  the ladder N more times from its first stage, one stage per response SLA
  (N+1 passes in all, as PagerDuty counts): a repeated stage has a key of its
  own (``escalation-K-pass-P``) and is recorded as a repeat, not as a breach.
  When a late tick finds a stage due in several passes, only its latest pass
  pages (the earlier ones are recorded): nobody is paged twice at once.
  Someone may fire the next stage at once (:func:`escalate_now`, `notify
  escalate-now`): the stages after it then count from that moment, keeping
  their spacing, so a manual escalation never leaves the next stage due a
  minute later.
- With an update cadence, the k-th update is due at last update (or start)
  + k x cadence. The commander is reminded `reminder_lead` before it is due
  (5 minutes, or a third of the cadence if shorter); a due time that passes
  without an update is recorded as missed and escalated. When several were
  missed while no worker ran, the last ten are recorded and only the latest
  notifies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from .durations import format_duration
from .entries import AudienceEntry, Entry, escalation_entries
from .incident import format_time
from .resolution import DAILY, daily_updates_from
from .states import IncidentStatus

if TYPE_CHECKING:  # the loaded policy, read here by attribute only
    from ..config.policy import IncidentClass

__all__ = ["REPEAT_KIND", "Action", "IncidentState", "due_actions", "epoch_prefix", "escalate_now", "escalation_pass",
           "escalation_position", "next_actions", "reminder_lead", "split_epoch"]

MAX_MISSED = 500  # bounds the cadence loop for an incident left open for weeks
QUIET_KEPT = 10  # missed updates recorded without a notice, beyond the latest one that notifies
REPEAT_KIND = "escalation-repeat"  # the event of a repeated pass: pages like a stage, but is no new SLA breach


@dataclass(frozen=True)
class IncidentState:
    opened: datetime  # when notify opened the incident, or last reclassified it: every timer counts from here
    status: IncidentStatus
    last_update_at: datetime | None = None
    escalated: tuple[int, datetime] | None = None  # (page number across passes, when) of the latest page fired by hand
    reclassified: int = 0  # how many times the class changed: its timers' keys are those of this epoch
    complex: bool = False  # `notify update --complex`: daily updates once the class's resolution target passed
    created: datetime | None = None  # when notify first opened it (None: `opened`); the resolution target's start
    updates: int = 0  # status updates posted so far: the next one due is number updates + 1

    def key(self, name: str) -> str:
        return epoch_prefix(self.reclassified) + name


_EPOCH = re.compile(r"^r[0-9]+-")


def split_epoch(label: str) -> tuple[str, str]:
    """A key's epoch prefix and the rest ("r1-escalation-2" -> ("r1-", "escalation-2")); "" before any change."""
    found = _EPOCH.match(label)
    return (found.group(0), label[found.end():]) if found else ("", label)


def epoch_prefix(reclassified: int) -> str:
    """The prefix of a timer's key (and a page's label) after `reclassified` class changes: "" at first."""
    return f"r{reclassified}-" if reclassified else ""


@dataclass(frozen=True)
class Action:
    key: str  # unique within the incident: the store records it once
    kind: str  # step|escalation|reminder|overdue: its deliveries' kind and templates
    due: datetime
    detail: str
    entries: tuple[AudienceEntry, ...] = ()  # who hears about it (empty: recorded only)
    step: int = -1  # the step index, or len(steps) + stage for an escalation
    notice: dict = field(default_factory=dict)  # the template's `notice` context
    event: str = ""  # the timeline event's kind when it differs from `kind` (a repeated escalation pass)

    @property
    def event_kind(self) -> str:
        return self.event or self.kind


def reminder_lead(every: timedelta) -> timedelta:
    return min(timedelta(minutes=5), every / 3)


def due_actions(klass: IncidentClass, state: IncidentState, now: datetime) -> list[Action]:
    """Every timer action due at `now` (already-recorded ones included: the store drops repeats)."""
    if state.status == IncidentStatus.RESOLVED:
        return []
    escalations = _latest_pass_pages([a for a in _escalations(klass, state) if a.due <= now])
    actions = _steps(klass, state) + escalations + _cadence(klass, state, now)
    return sorted((a for a in actions if a.due <= now), key=lambda a: a.due)


def next_actions(klass: IncidentClass, state: IncidentState, now: datetime, limit: int = 5) -> list[Action]:
    """The timer actions still to come after `now`, soonest first (for `notify status`)."""
    if state.status == IncidentStatus.RESOLVED:
        return []
    ladder = len(klass.escalation) * (klass.repeat + 1) + 1
    horizon = now + max(klass.response_sla * ladder, klass.steps[-1].at, timedelta(hours=1))
    actions = _steps(klass, state) + _escalations(klass, state) + _cadence(klass, state, horizon)
    return sorted((a for a in actions if a.due > now), key=lambda a: a.due)[:limit]


def _steps(klass: IncidentClass, state: IncidentState) -> list[Action]:
    return [Action(state.key(f"step-{i}"), "step", state.opened + step.at, step.name, tuple(step.notify), i,
                   {"kind": "initial"})
            for i, step in enumerate(klass.steps) if i > 0]


def _escalations(klass: IncidentClass, state: IncidentState) -> list[Action]:
    if state.status != IncidentStatus.OPEN:
        return []
    sla = format_duration(klass.response_sla)
    passes = klass.repeat + 1
    actions = []
    for n, (k, p, offset, audience) in enumerate(klass.escalation_pages(), start=1):
        due = _stage_due(klass, state, n, offset)
        base = f"Escalation {k}: {audience}, no acknowledgement within {format_duration(offset)}"
        notice = {"kind": "escalation", "stage": base if p == 1 else f"{base} (pass {p} of {passes})",
                  "at": format_time(due)}
        step = len(klass.steps) + k - 1
        if p == 1:
            actions.append(Action(state.key(f"escalation-{k}"), "escalation", due,
                                  f"response SLA ({sla}) breached; escalated to {audience}",
                                  escalation_entries(klass, audience), step, notice))
        else:
            actions.append(Action(state.key(f"escalation-{k}-pass-{p}"), "escalation", due,
                                  f"still unacknowledged: pass {p} of {passes}; escalated to {audience}",
                                  escalation_entries(klass, audience), step, notice, event=REPEAT_KIND))
    return actions


def escalation_pass(label: str) -> int:
    """The pass of an escalation's key (escalation-2 -> 1, r1-escalation-2-pass-3 -> 3); 0 for any other key."""
    head, _, tail = split_epoch(label)[1].partition("-pass-")
    if not head.startswith("escalation-"):
        return 0
    return int(tail) if tail.isdigit() else 1


def escalation_position(klass: IncidentClass, label: str) -> tuple[int, int, str]:
    """(page number across every pass, stage, audience) of an escalation's key, with or without a
    reclassification's epoch prefix (``r1-escalation-2``); ValueError for another key."""
    bare = split_epoch(label)[1]
    for n, (k, p, _offset, audience) in enumerate(klass.escalation_pages(), start=1):
        if bare == (f"escalation-{k}" if p == 1 else f"escalation-{k}-pass-{p}"):
            return n, k, audience
    raise ValueError(f"{label!r} is not an escalation of this class")


def _latest_pass_pages(due: list[Action]) -> list[Action]:
    """A stage due in several passes at once (a late tick) pages only in its latest; earlier passes are recorded."""
    latest = {a.step: a.key for a in sorted(due, key=lambda a: a.due)}
    return [a if latest[a.step] == a.key else
            replace(a, entries=(), detail=f"{a.detail} (recorded late: a later pass of this stage pages)")
            for a in due]


def _stage_due(klass: IncidentClass, state: IncidentState, n: int, offset: timedelta) -> datetime:
    """When escalation page n (counted across passes) is due: from the opening, or, after a page fired by
    hand, from then, keeping the spacing.

    A page at or before the one fired by hand is due no later than that moment (it has fired: the store
    has its key), so it never shows as still to come.
    """
    due = state.opened + offset
    if state.escalated is None:
        return due
    fired, at = state.escalated
    if n <= fired:
        return min(due, at)
    return at + (offset - klass.escalation_pages()[fired - 1][2])


def escalate_now(klass: IncidentClass, state: IncidentState, fired: set[str], now: datetime) -> Action | None:
    """The next escalation page (the first whose key is not in `fired`), due at `now`; None when none is left.

    Its key is the page's own (``escalation-k``, ``escalation-k-pass-p``): the worker, ticking at the same
    time, records it once.
    """
    if state.status != "open":
        return None
    for action in _escalations(klass, state):
        if action.key not in fired:
            _n, k, audience = escalation_position(klass, action.key)
            stage = f"Escalation {k}: {audience}, escalated at once"
            return Action(action.key, "escalation", now, f"escalated at once to {audience}", action.entries,
                          action.step, {"kind": "escalation", "stage": stage, "at": format_time(now)})
    return None


def _update_dues(klass: IncidentClass, state: IncidentState, base: datetime,
                 until: datetime) -> list[tuple[datetime, timedelta]]:
    """(due, cadence) of each update owed from `base` whose reminder is due by `until`, at most MAX_MISSED:
    the class's cadence, and for a complex incident a day's once its class's resolution target has passed."""
    daily = daily_updates_from(klass, state.created or state.opened, state.complex)
    dues: list[tuple[datetime, timedelta]] = []
    every = klass.update_every
    for k in range(1, MAX_MISSED + 1) if every is not None else ():
        due = base + every * k
        if (daily is not None and due >= daily) or due - reminder_lead(every) > until:
            break
        dues.append((due, every))
    if daily is not None:
        start = max(base, daily)
        for k in range(1, MAX_MISSED + 1 - len(dues)):
            if start + DAILY * k - reminder_lead(DAILY) > until:
                break
            dues.append((start + DAILY * k, DAILY))
    return dues


def _cadence(klass: IncidentClass, state: IncidentState, until: datetime) -> list[Action]:
    # an update posted before a reclassification does not start the new class's cadence early
    base = max(state.last_update_at, state.opened) if state.last_update_at else state.opened
    missed: list[Action] = []
    actions: list[Action] = []
    for k, (due, every) in enumerate(_update_dues(klass, state, base, until), start=1):
        due_text = format_time(due)
        notice = {"kind": "reminder", "due": due_text, "number": state.updates + k}  # as `notify update` numbers it
        actions.append(Action(state.key(f"reminder-{_stamp(due)}"), "reminder", due - reminder_lead(every),
                              f"update due at {due_text}", (Entry(to="commander"),), notice=notice))
        if due <= until:
            missed.append(Action(state.key(f"overdue-{_stamp(due)}"), "overdue", due,
                                 f"update due at {due_text} was not sent",
                                 _overdue_entries(klass), notice={**notice, "kind": "overdue"}))
    quiet = [Action(a.key, a.kind, a.due, a.detail, (), a.step, a.notice) for a in missed[-QUIET_KEPT - 1:-1]]
    return _latest_reminder_only(actions)[-QUIET_KEPT - 1:] + quiet + missed[-1:]


def _stamp(moment: datetime) -> str:
    """A due time for a key: compact UTC, no colons (keys are colon-separated)."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def parse_stamp(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _latest_reminder_only(reminders: list[Action]) -> list[Action]:
    """Reminders for updates that are already overdue are recorded, not sent."""
    return [a if i == len(reminders) - 1 else Action(a.key, a.kind, a.due, a.detail, (), a.step, a.notice)
            for i, a in enumerate(reminders)]


def _overdue_entries(klass: IncidentClass) -> tuple[AudienceEntry, ...]:
    entries = [Entry(to="commander")]
    if klass.escalation:
        entries += escalation_entries(klass, klass.escalation[0])
    return tuple(entries)
