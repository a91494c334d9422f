"""What the delivery log says about an incident, for templates that ask: the status page's state, and whether the
customer was told.

Worked out lazily (domain.incident.Lazy): a template that never mentions them costs no look-up, and one
that does costs a one-row read per notice (an incident may have thousands of deliveries), as they stand
when it is rendered.
"""

from __future__ import annotations

from typing import Any

from ..config.plugins import capabilities, discover
from ..domain.incident import Incident, Lazy, recorded_facts
from ..domain.states import DeliveryState
from ..store import Store

__all__ = ["delivery_facts", "status_page_state"]


def delivery_facts(store: Store, incident: Incident, channel: str) -> dict[str, Any]:
    """`status_page` and `recorded` for render_context, read from the store only when a template asks. A notice
    for the status page itself never reports on its own update."""
    own = is_status_page(channel)
    return {"status_page": None if own else Lazy(lambda: status_page_state(store, incident.id)),
            "recorded": recorded_facts(incident, lambda: store.customer_reached(incident.id))}


def is_status_page(channel: str) -> bool:
    """A channel that publishes to a status page (Capabilities.status_page)."""
    found = capabilities(channel)
    return bool(found and found.status_page)


def status_page_state(store: Store, incident_id: str) -> str | None:
    """The latest status page delivery as a notice says it; None when the incident has none."""
    latest = store.latest_on(incident_id, sorted(name for name in discover() if is_status_page(name)))
    if latest is None:
        return None
    status, skip, reason = latest
    if status.is_accepted:
        return "update accepted"
    if status.is_waiting or status is DeliveryState.HELD:
        return "update requested"
    if status is DeliveryState.SKIPPED:
        return f"not updated ({skip})"
    return f"update not accepted ({reason or status}; see notify status {incident_id})"
