"""What a person does to an open incident, wherever they do it from: acknowledge it, or escalate it now.

One use case per action, called alike by the CLI, the HTTP API and action links
(and by Slack buttons, SMS replies and keypresses as they come): each records who
acted and through what (``via``), so the timeline says "acknowledged by Jane via
sms" whichever way it came. Update and resolve are in :mod:`.incidents`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..domain.entries import Entry
from ..domain.incident import format_time
from ..domain.states import DeliveryState, IncidentStatus
from ..domain.timers import escalate_now as next_stage
from ..domain.timers import escalation_position
from ..errors import IncidentError, InputError
from ..store import DeliveryRow, IncidentRow, Store
from .engine import Runtime, incident_from_row, outbox_row, webhook_planned
from .incidents import state_of
from .links import PAGE_KINDS
from .pager_events import pager_event_rows
from .planning import load, plan_entries, planned_for
from .release import release

__all__ = ["VIAS", "Acknowledged", "Escalated", "acknowledge", "escalate_now", "via_label"]

# How an action reached notify: the CLI, the HTTP API, an action link (in an email), a reply or button on the
# channel the page went out on (an SMS reply or a link in an SMS is "sms"), PagerDuty, a drill's script, the web view.
VIAS = ("cli", "api", "link", "sms", "slack", "voice", "pagerduty", "drill", "web")
_LABELS = {"cli": "the CLI", "api": "the API", "link": "link", "sms": "SMS", "slack": "Slack", "voice": "voice call",
           "pagerduty": "PagerDuty", "drill": "drill",
           "web": "the web view"}


def via_label(via: str) -> str:
    """How a channel of action reads in a sentence ("Acknowledged by Jane via SMS")."""
    return _LABELS.get(via, via)


def _checked_via(via: str) -> str:
    if via not in VIAS:
        raise InputError("via", f"{via!r} is not a way to act; expected one of {', '.join(VIAS)}")
    return via


@dataclass(frozen=True)
class Acknowledged:
    """An ack's outcome: whether this call acknowledged, the incident after it, the pages it cancelled and
    the notice planned to the class's Slack channel (both empty when it was acknowledged already)."""

    done: bool
    row: IncidentRow
    cancelled: list[DeliveryRow]
    notices: list[DeliveryRow]


def acknowledge(rt: Runtime, store: Store, incident_id: str, by: str, now: datetime, *,
                via: str = "cli") -> Acknowledged:
    """Stop escalation, cancel the incident's queued pages to people, and tell the class's Slack channel.

    All in one write: the ack, the cancellations (only pages still waiting: one being sent goes out)
    and the notice. Not done (False) when the incident was acknowledged or resolved already.
    """
    via = _checked_via(via)
    row = load(store, incident_id)
    if row.status != IncidentStatus.OPEN:
        return Acknowledged(False, row, [], [])
    key = state_of(row).key("acknowledged")  # after a reclassification, the new class's pages need their own ack
    # Pages still queued for people are not sent once someone acknowledged; a list or a channel keeps its notice.
    before = store.deliveries(incident_id)
    queued = [d.id for d in before
              if d.status == DeliveryState.PENDING and d.kind in PAGE_KINDS and d.person in rt.directory.people]
    notice = {"kind": "ack", "by": by, "via": via_label(via), "at": format_time(now)}
    rows = [outbox_row(p, kind="ack", label=key, notice=notice)
            for p in planned_for(rt, incident_from_row(row), _class_destination(rt, row.klass), step=-1, kind="ack")]
    rows += pager_event_rows(before, "acknowledge", notice)  # what it paged on PagerDuty is acknowledged there
    detail = f"acknowledged by {by} via {via}"
    done = store.record_event(incident_id, key, "acknowledged", now, detail, by=by,
                              deliveries=rows, status=IncidentStatus.ACKNOWLEDGED, cancel=queued,
                              cancel_reason=f"not sent: {detail}")
    after = store.deliveries(incident_id)
    cancelled = [d for d in after if d.id in set(queued) and d.status == DeliveryState.SKIPPED] if done else []
    notices = [d for d in after if d.kind == "ack"] if done else []  # the channel's, and PagerDuty's events
    return Acknowledged(done, load(store, incident_id), cancelled, notices)


def _class_destination(rt: Runtime, klass_name: str) -> tuple[Entry, ...]:
    """The class's channel destination, such as its Slack channel (its first step's, else its update
    audience's), once, on the channel owning it; none without one."""
    klass = rt.policy.classes.get(klass_name)
    if klass is None:
        return ()
    owners = rt.directory.table_owners()
    audiences = [e.to for e in klass.steps[0].notify] + klass.updates_to()
    found = next((a for a in audiences if a.partition(":")[0] in owners), None)
    return (Entry(to=found, channel=owners[found.partition(":")[0]]),) if found else ()


@dataclass(frozen=True)
class Escalated:
    """Escalate-now's outcome: the stage fired (its number and audience) and the pages it planned."""

    incident_id: str
    stage: int
    audience: str
    rows: list[DeliveryRow]


def escalate_now(rt: Runtime, store: Store, incident_id: str, by: str, now: datetime, *,
                 via: str = "cli") -> Escalated:
    """Fire the next escalation stage at once; the stages after it count from now (see domain.timers).

    Refused (IncidentError) when the incident is not open, or every stage has fired. An incident a silence or
    window holds back is released first (its step 0 is paged, then the stage). A worker firing the
    same stage at the same moment records it once: then the stage after it is fired, if there is one.
    """
    via = _checked_via(via)
    held = load(store, incident_id)
    if held.meta.get("hold") and held.status == IncidentStatus.OPEN:
        # A person asking to page ends the hold, as reclassifying does: step 0 first, the stage at once after it.
        release(rt, store, held, now)
    for _ in range(2):
        row = load(store, incident_id)
        if row.status != IncidentStatus.OPEN:
            raise IncidentError(incident_id, f"it is {row.status}: escalation has stopped"
                                             + (f" (acknowledged by {row.acked_by})" if row.acked_by else ""))
        klass = rt.klass(row.klass)
        action = next_stage(klass, state_of(row), {e.key for e in store.events(incident_id)}, now)
        if action is None:
            raise IncidentError(incident_id, f"every escalation stage of class {row.klass} has fired already")
        page, stage, audience = escalation_position(klass, action.key)
        rows = plan_entries(rt, incident_from_row(row), action.entries, step=action.step, kind="escalation",
                            label=action.key, notice=action.notice)
        rows += [outbox_row(p, label=action.key) for p in webhook_planned(rt, action.step)]
        meta = {**row.meta, "escalated": {"stage": page, "at": now.isoformat()}}  # the page number across passes
        if store.record_event(incident_id, action.key, "escalated", now,
                              f"escalated at once to {audience} by {by} via {via}", by=by, deliveries=rows,
                              meta=meta):
            label = action.key
            return Escalated(incident_id, stage, audience,
                             [d for d in store.deliveries(incident_id) if d.delivery_key.label == label])
    raise IncidentError(incident_id, "the escalation stages are being fired by another process; try again")
