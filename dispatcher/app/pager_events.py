"""PagerDuty kept in step: an ack or a resolution in notify acknowledges or resolves what it paged there.

Each page sent to PagerDuty (on the `pagerduty` channel, or the deprecated `phone` alias
when its URL or a routing key sent it there) triggered a PagerDuty incident under its own
dedup key (``ID/step/person``, see api.target_dedup_key). When the notify incident is
acknowledged or resolved, each of those keys gets an Events API v2 ``acknowledge`` or
``resolve`` event, planned in the outbox like any notice: retried when PagerDuty
fails, and visible in `notify status`. The row keeps the page's person, audience and
target, so the channel sends it with the same routing key as the page.
"""

from __future__ import annotations

from typing import Any

from ..api import Address
from ..config.plugins import family
from ..domain.plan import Planned, template_for
from ..store import DeliveryRow, NewDelivery
from .engine import outbox_row, row_page_key
from .links import PAGE_KINDS

__all__ = ["PAGER_CHANNEL", "pager_event_rows", "sent_pages", "told_by_events"]

PAGER_CHANNEL = "pagerduty"
_SENT_THERE = "pagerduty"  # how the phone channel's delivered_to starts for a page PagerDuty took
_KIND = {"acknowledge": "ack", "resolve": "resolved"}  # the notice kind (and templates) each event is planned as


def sent_pages(rows: list[DeliveryRow]) -> list[DeliveryRow]:
    """The incident's pages PagerDuty took (a trigger under their dedup key)."""
    return [d for d in rows if d.kind in PAGE_KINDS and d.status.is_accepted and (
        d.channel == PAGER_CHANNEL or d.channel == "phone" and (d.delivered_to or "").startswith(_SENT_THERE))]


def told_by_events(rows: list[DeliveryRow]) -> set[tuple[str, str]]:
    """(person, channel) pairs PagerDuty hears of through events: a notice to them there would page anew."""
    return {(d.person, d.channel) for d in sent_pages(rows)}


def pager_event_rows(rows: list[DeliveryRow], event: str, notice: dict[str, Any]) -> list[NewDelivery]:
    """Outbox rows sending `event` (acknowledge or resolve) for every dedup key the incident's pages used."""
    planned, keys = [], set()
    for page in sent_pages(rows):
        if row_page_key(page) in keys:  # a page sent again (a fallback to the same key): one event
            continue
        keys.add(row_page_key(page))
        address = Address(page.person, page.display, page.role, page.channel, page.target)
        kind = _KIND[event]
        row = outbox_row(Planned(-1, address, template_for(family(page.channel), kind)), kind=kind,
                         label=f"pagerduty-{event}-{page.id}",
                         notice={**notice, "pager_event": event, "pager_key": row_page_key(page)})
        planned.append(row)
    return planned
