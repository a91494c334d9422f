"""What the web view's buttons do: the same use cases as the CLI, the API and action links, as the signed-in person.

Each action is recorded under the person's name from contacts.toml, "via" the web
view, and logged as the CLI's and the API's actions are (dispatcher.eventlog).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..errors import IncidentError, InputError
from ..eventlog import emit
from ..store import Store
from .actions import acknowledge, escalate_now
from .engine import Runtime
from .incidents import post_update, resolve
from .reclassify import reclassify
from .web import add_note

__all__ = ["WEB_ACTIONS", "Done", "act"]

WEB_ACTIONS = ("ack", "escalate", "update", "reclassify", "resolve", "note")


@dataclass(frozen=True)
class Done:
    """What an action did, in a sentence for the page; `sent`: notices it planned (the worker is woken for them)."""

    message: str
    sent: int
    changed: bool = True


def act(rt: Runtime, store: Store, incident_id: str, action: str, by: str, form: dict[str, str],
        now: datetime) -> Done:
    """Do one of WEB_ACTIONS on an incident as `by`; `form` holds its fields (message, class, note)."""
    if action == "ack":
        acked = acknowledge(rt, store, incident_id, by, now, via="web")
        if not acked.done:
            return Done(f"{incident_id} is {acked.row.status} already (by {acked.row.acked_by}): nothing changed", 0,
                        False)
        emit("incident.acknowledged", incident_id, via="web", by=by, cancelled=len(acked.cancelled))
        return Done(f"Acknowledged by {by}: escalation stopped, {len(acked.cancelled)} queued page(s) cancelled",
                    len(acked.notices))
    if action == "escalate":
        try:
            fired = escalate_now(rt, store, incident_id, by, now, via="web")
        except IncidentError as exc:
            return Done(f"{exc.problem}: nothing changed", 0, False)
        emit("incident.escalated", incident_id, via="web", by=by, stage=fired.stage)
        return Done(f"Escalation stage {fired.stage} ({fired.audience}) paged now", len(fired.rows))
    if action == "update":
        message = _required(form, "message")
        posted = post_update(rt, store, incident_id, message, by, now)
        emit("incident.updated", incident_id, via="web", by=by, counted=posted.counted)
        said = "Update posted" + ("" if posted.counted else f" (not counted: {posted.why_not})")
        return Done(said, len(posted.rows))
    if action == "reclassify":
        done = reclassify(rt, store, incident_id, _required(form, "class"), by, now)
        if done.outcome != "unchanged":
            emit("incident.reclassified", incident_id, via="web", by=by, outcome=done.outcome,
                 previous=done.previous, klass=done.incident.klass, deliveries=len(done.rows))
        return Done(f"Class {done.outcome}: {done.previous} to {done.incident.klass}"
                    + (f" ({done.why_unchanged})" if done.why_unchanged else ""), len(done.rows))
    if action == "resolve":
        _, rows, resolved = resolve(rt, store, incident_id, form.get("message", "").strip() or None, by, now)
        if resolved:
            emit("incident.resolved", incident_id, via="web", by=by, deliveries=len(rows))
        return Done(f"Resolved by {by}" if resolved else "It was resolved already: nothing changed", len(rows),
                    resolved)
    if action == "note":
        add_note(rt, store, incident_id, form.get("note", ""), by, now)
        return Done("Note added", 0)
    raise InputError("action", f"unknown action {action[:20]!r}; expected one of {', '.join(WEB_ACTIONS)}")


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise InputError(name, "is empty")
    return value
