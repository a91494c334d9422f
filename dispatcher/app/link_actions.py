"""What an action link does: show its incident (changing nothing), then act as its person when asked.

A GET of a link must change nothing (mail scanners and chat unfurlers fetch every
link they see), so :func:`open_link` only reads. :func:`act_by_link` is what the
confirmation page's form calls: it acknowledges, escalates or resolves the link's
incident, recorded as done by the person the link was sent to, via the channel it
was sent on. A link acts on its own incident only, whatever a request says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..errors import IncidentError, LinkExpired, LinkGone
from ..store import LinkRow, Store
from ..store.links_sql import link_digest
from .actions import acknowledge, escalate_now
from .engine import Runtime
from .incidents import load, resolve

__all__ = ["LINK_ACTIONS", "LinkOutcome", "LinkView", "act_by_link", "open_link", "via_of"]

LINK_ACTIONS = ("ack", "escalate", "resolve")


def via_of(channel: str) -> str:
    """What an action through a link is recorded as coming through: the SMS or Slack DM it was in, else `link`."""
    return channel if channel in ("sms", "slack") else "link"


@dataclass(frozen=True)
class LinkView:
    """What the confirmation page shows: the incident, whom the link acts as, and what it may still do."""

    incident_id: str
    title: str
    summary: str
    status: str
    drill: bool
    person: str  # the display name the action will be recorded under
    via: str
    expires: str
    acked_by: str | None
    actions: tuple[str, ...]  # of LINK_ACTIONS, those the incident can still take


@dataclass(frozen=True)
class LinkOutcome:
    incident_id: str
    action: str
    done: bool  # False: nothing changed (acknowledged already...); `message` says why
    message: str
    deliveries: int  # notices planned by the action, for the worker to send


def _valid(store: Store, token: str, now: datetime) -> LinkRow:
    link = store.link(link_digest(token)) if token else None
    if link is None:
        raise LinkGone("this link is not one notify sent, or it was forgotten long after it expired")
    if now >= link.expires:
        raise LinkExpired(f"this link for {link.incident_id} expired at {link.expires:%Y-%m-%d %H:%M} UTC; "
                          f"use `notify ack {link.incident_id}` or a newer page's link")
    return link


def open_link(rt: Runtime, store: Store, token: str, now: datetime) -> LinkView:
    """The page a link shows; reads only. LinkGone (404) or LinkExpired (410) when it acts on nothing."""
    link = _valid(store, token, now)
    row = load(store, link.incident_id)
    if row.status == "resolved":
        raise LinkExpired(f"{row.id} was resolved at {row.resolved_at:%Y-%m-%d %H:%M} UTC: there is "
                          "nothing left to do")
    klass = rt.policy.classes.get(row.klass)
    actions = ("ack", "escalate", "resolve") if row.status == "open" else ("resolve",)
    return LinkView(row.id, klass.title if klass else row.klass, str(row.fields.get("summary") or ""), row.status,
                    row.drill, link.display, via_of(link.channel), link.expires.isoformat(), row.acked_by,
                    actions)


def act_by_link(rt: Runtime, store: Store, token: str, action: str, now: datetime) -> LinkOutcome:
    """Do `action` on the link's incident as the link's person; the incident comes from the link alone."""
    if action not in LINK_ACTIONS:
        raise LinkGone(f"unknown action {action[:20]!r}; expected one of {', '.join(LINK_ACTIONS)}")
    view = open_link(rt, store, token, now)
    incident_id, by, via = view.incident_id, view.person, view.via
    if action == "ack":
        acked = acknowledge(rt, store, incident_id, by, now, via=via)
        message = (f"{incident_id} acknowledged by {by} via {via}: escalation stopped" if acked.done else
                   f"{incident_id} was acknowledged already (by {acked.row.acked_by}): nothing changed")
        return LinkOutcome(incident_id, action, acked.done, message, len(acked.notices))
    if action == "escalate":
        try:
            fired = escalate_now(rt, store, incident_id, by, now, via=via)
        except IncidentError as exc:
            return LinkOutcome(incident_id, action, False, f"{exc.problem}: nothing changed", 0)
        return LinkOutcome(incident_id, action, True,
                           f"{incident_id}: escalation stage {fired.stage} ({fired.audience}) paged now", len(fired.rows))
    _, rows, done = resolve(rt, store, incident_id, None, by, now)  # no message: customers may get the notice
    return LinkOutcome(incident_id, action, done, f"{incident_id} resolved by {by}" if done else
                       f"{incident_id} was resolved already: nothing changed", len(rows))
