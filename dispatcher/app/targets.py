"""Resolution targets on the worker's tick: the commander's reminder at 75 %, the breach and its page at 100 %.

The due times are pure (:mod:`dispatcher.domain.resolution`); this module turns
them into store events with their notices, through the same idempotent
``record_event`` as every other timer: a key recorded once, whichever worker
ticks first, however often. The breach pages the first escalation stage not yet
paged, read from the incident's escalation deliveries (a breach page is one
too, so a second breach, the complex week's, pages the stage after it).
"""

from __future__ import annotations

from datetime import datetime

from ..clock import iso
from ..config.policy import IncidentClass
from ..domain.entries import Entry
from ..domain.incident import Incident, format_time
from ..domain.resolution import TargetAction, breach_stage, resolution_actions
from ..domain.states import IncidentStatus
from ..domain.timers import Action
from ..errors import IncidentClosed
from ..store import IncidentRow, Store
from .engine import Runtime
from .holds import paging_began
from .planning import load, plan_entries

__all__ = ["fire_targets", "mark_complex"]


def fire_targets(rt: Runtime, store: Store, row: IncidentRow, incident: Incident, now: datetime) -> list[Action]:
    """Record the incident's due resolution-target actions once each, with their notices; return those fired."""
    klass = rt.klass(row.klass)
    complex_, began = bool(row.meta.get("complex")), paging_began(row)  # a silence's hold: counted from its release
    fired = []
    for due in resolution_actions(klass, began, complex_, now):
        action = _breach(klass, store, row, due) if due.kind == "breach" else \
            Action(due.key, "target", due.due, due.detail, (Entry(to="commander"),),
                   notice={"kind": "target", "due": format_time(began + due.target)},
                   event="resolution-reminder")
        rows = plan_entries(rt, incident, action.entries, step=action.step, kind=action.kind, label=action.key,
                            notice=action.notice)
        if store.record_event(row.id, action.key, action.event_kind, now, action.detail, deliveries=rows):
            fired.append(action)
    return fired


def _breach(klass: IncidentClass, store: Store, row: IncidentRow, due: TargetAction) -> Action:
    """The breach: the first escalation stage not yet paged is paged; with none left, the commander hears."""
    deadline = format_time(due.due)
    paged = {d.step for d in store.deliveries(row.id) if d.kind in ("escalation", "breach")}
    stage = breach_stage(klass, paged)
    if stage is None:
        return Action(due.key, "breach", due.due, f"{due.detail}; every escalation stage was paged already",
                      (Entry(to="commander"),), notice={"kind": "breach", "due": deadline, "stage": None},
                      event="resolution-breach")
    k, audience, entries = stage
    text = f"Escalation {k}: {audience}, resolution target passed"
    return Action(due.key, "breach", due.due, f"{due.detail}; escalated to {audience}", entries,
                  len(klass.steps) + k - 1, {"kind": "breach", "due": deadline, "stage": text},
                  event="resolution-breach")


def mark_complex(store: Store, incident_id: str, by: str | None, now: datetime) -> bool:
    """Mark an incident complex (the seed's week with daily updates); False when it was already."""
    row = load(store, incident_id)
    if row.status == IncidentStatus.RESOLVED:  # its target was met or missed: marking it now would rewrite that
        raise IncidentClosed(incident_id, f"resolved at {iso(row.resolved_at)}: it can no longer be marked complex")
    if row.meta.get("complex"):
        return False
    return store.record_event(incident_id, "complex", "complex", now,
                              "marked complex: resolution target 1 week from its opening, daily updates once "
                              "its class's target has passed", by=by, meta={**row.meta, "complex": True})
