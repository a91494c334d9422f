"""What PagerDuty tells notify: an incident acknowledged or resolved there is acknowledged or resolved here.

PagerDuty's v3 webhooks (``incident.acknowledged``, ``incident.resolved``) name the
PagerDuty incident's ``incident_key``: for an incident notify triggered, the dedup key
of the page (``ID/step/person``). That key must be one notify sent: the notify
incident is the page's, whatever the key's text says. Whoever acted in PagerDuty
(the event's ``agent``) is the person of contacts.toml with that
``pagerduty_user_id``, else recorded as "PagerDuty user P...". Any other event, or a
key notify never sent, changes nothing (the outcome says why).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..store import Store
from .actions import acknowledge
from .engine import Runtime, row_page_key
from .incidents import resolve
from .pager_events import sent_pages

__all__ = ["HANDLED", "PagerDutyOutcome", "pagerduty_event"]

HANDLED = ("incident.acknowledged", "incident.resolved")


@dataclass(frozen=True)
class PagerDutyOutcome:
    outcome: str  # acknowledged|resolved|unchanged|ignored|unknown-incident
    message: str
    incident_id: str | None = None
    by: str | None = None
    deliveries: int = 0
    done: bool = False
    action: str = ""


def who(rt: Runtime, agent_id: str | None) -> str:
    """The name an action in PagerDuty is recorded under: the person with that user id, else the id itself."""
    person = next((p for p in rt.directory.people.values() if agent_id and p.pagerduty_user_id == agent_id), None)
    if person is not None:
        return person.name
    return f"PagerDuty user {agent_id}" if agent_id else "PagerDuty"


def pagerduty_event(rt: Runtime, store: Store, event_type: str, incident_key: str, agent_id: str | None,
                    now: datetime) -> PagerDutyOutcome:
    """Acknowledge or resolve the notify incident whose page PagerDuty's incident is."""
    if event_type not in HANDLED:
        return PagerDutyOutcome("ignored", f"{event_type[:60]}: not an event notify acts on")
    incident_id = incident_key.partition("/")[0]
    row = store.incident(incident_id) if incident_id else None
    if row is None or incident_key not in {row_page_key(d) for d in sent_pages(store.deliveries(incident_id))}:
        return PagerDutyOutcome("unknown-incident", f"incident_key {incident_key[:80]!r} is no page notify sent: "
                                                    "nothing changed")
    by = who(rt, agent_id)
    if event_type == "incident.acknowledged":
        acked = acknowledge(rt, store, incident_id, by, now, via="pagerduty")
        if not acked.done:
            return PagerDutyOutcome("unchanged", f"{incident_id} is {acked.row.status} already", incident_id)
        return PagerDutyOutcome("acknowledged", f"{incident_id} acknowledged by {by} via pagerduty", incident_id, by,
                                len(acked.notices), True, "ack")
    _, rows, done = resolve(rt, store, incident_id, None, by, now)
    if not done:
        return PagerDutyOutcome("unchanged", f"{incident_id} is resolved already", incident_id)
    return PagerDutyOutcome("resolved", f"{incident_id} resolved by {by} in PagerDuty", incident_id, by, len(rows),
                            True, "resolve")
