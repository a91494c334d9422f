"""The order the outbox sends in: a delivery's priority, from its kind and step.

When more is due than a worker can send at once (a burst, a provider's rate
budget running short), pages go first: a page is someone being asked to act
now, a notice only tells. Four ranks, lowest first:

- LEAD (-1): the first delivery of a new incident's step 0 in the policy's
  order (:func:`lead_of`), and its fallbacks. Until one word of an incident is
  out nobody knows of it; the rest of its step 0 tells more people of what
  someone already knows. In a burst of new incidents every incident's first
  word goes before any incident's second (issue 21: a burst of 1,000 alerts
  sent incident after incident, its last incidents heard of nothing for many
  seconds).
- PAGE (0): step 0 and every escalation, repeat passes included. Step 0 is the
  incident's first word: until it is out nobody is working on it (its channel
  posts and customer notices ride with it: they are the announcement, not an
  update). An escalation exists because the response SLA was breached: it is
  already late, so it waits behind nothing.
- FOLLOW_UP (1): a later step. It widens the circle after the first responders
  were paged, on a schedule measured in minutes: a second's wait costs little,
  and step 0 of another incident, which nobody knows of yet, costs more.
- NOTICE (2): reminders and overdue notices (to the commander, about an update),
  status updates, acknowledgement and resolution notices (and PagerDuty's
  acknowledge and resolve events), reclassification notices, contact tests and maintenance
  announcements.
  They tell people what already happened; none asks anyone to start acting.

Within a rank the outbox sends the longest-waiting first (store/sql.py). A
fallback is planned with its original's kind and step, and a retry keeps its
row, so both keep their rank.

Order alone does not get a burst's leads out: the worker triages the stored
webhooks, and each lead exists only once its webhook is triaged. Whenever the
senders ran out of leads they sent the earlier incidents' other rows, and on a
busy machine every such send took CPU from the triage that makes the next
leads (issue 21: the last incident of 1,000 heard nothing for 10 s). So while
webhooks wait for their first try, the senders take only leads, for at most
LEADS_FIRST_FOR of a backlog (:func:`leads_only`): the rest of a burst's step
0 follows its leads, and a steady flood starves nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import IntEnum

__all__ = ["LEADS_FIRST_FOR", "Priority", "lead_of", "leads_only", "priority_of"]


class Priority(IntEnum):
    """A delivery's rank in the outbox: lower goes first (stored as the integer)."""

    LEAD = -1
    PAGE = 0
    FOLLOW_UP = 1
    NOTICE = 2


# Every kind of delivery the outbox holds (DeliveryRow.kind) but "step", whose rank depends on its step.
_BY_KIND = {
    "escalation": Priority.PAGE,
    "breach": Priority.PAGE,  # a resolution target breached pages the next escalation stage
    "reminder": Priority.NOTICE,
    "target": Priority.NOTICE,  # the commander's reminder before the resolution target
    "review": Priority.NOTICE,
    "follow-up": Priority.NOTICE,  # the customer's follow-up notice with the satisfaction survey  # post-incident review: root cause reminders, debrief, customer follow-up
    "overdue": Priority.NOTICE,
    "update": Priority.NOTICE,
    "ack": Priority.NOTICE,
    "resolved": Priority.NOTICE,
    "reclassify": Priority.NOTICE,
    "test": Priority.NOTICE,
    "announcement": Priority.NOTICE,  # a maintenance window's start or end, to the support channel (app/windows.py)
}

LEADS_FIRST_FOR = timedelta(seconds=5)  # the longest a backlog holds the outbox to leads


def leads_only(backlog_since: datetime | None, now: datetime) -> bool:
    """Whether the outbox sends only leads now: webhooks have waited to be triaged since `backlog_since`
    (None: none wait), for less than LEADS_FIRST_FOR."""
    return backlog_since is not None and now - backlog_since < LEADS_FIRST_FOR


def priority_of(kind: str, step: int) -> Priority:
    """The rank of a delivery of `kind` planned for step `step` (ValueError for a kind no table names)."""
    if kind == "step":
        return Priority.PAGE if step == 0 else Priority.FOLLOW_UP
    try:
        return _BY_KIND[kind]
    except KeyError:
        raise ValueError(f"delivery kind {kind!r} has no priority: name it in domain/priority.py") from None


def lead_of(rows: Sequence[tuple[str, int, bool]]) -> int | None:
    """Which of a new incident's planned deliveries, given as (kind, step, will be sent) in the policy's
    order, is its lead (ranked LEAD): the first step-0 delivery that will be sent (not skipped, not held).
    None when there is none."""
    return next((i for i, (kind, step, sent) in enumerate(rows) if kind == "step" and step == 0 and sent), None)
