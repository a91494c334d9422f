"""What the delivery log says about an incident, for templates that ask: the status page's state, and whether the
customer was told.

Worked out lazily (domain.incident.Lazy): a template that never mentions them costs no look-up, and one
that does reads the incident's deliveries once per notice, as they stand when it is rendered.
"""

from __future__ import annotations

from typing import Any

from ..config.plugins import capabilities
from ..domain.incident import Incident, Lazy, recorded_facts
from ..domain.states import DeliveryState
from ..store import DeliveryRow, Store

__all__ = ["customer_reached", "delivery_facts", "status_page_state"]


def delivery_facts(store: Store, incident: Incident, channel: str) -> dict[str, Any]:
    """`status_page` and `recorded` for render_context, read from the store only when a template asks. A notice
    for the status page itself never reports on its own update."""
    rows = Lazy(lambda: store.deliveries(incident.id))
    own = is_status_page(channel)
    return {"status_page": None if own else Lazy(lambda: status_page_state(rows.value)),
            "recorded": recorded_facts(incident, lambda: customer_reached(rows.value))}


def is_status_page(channel: str) -> bool:
    """A channel that publishes to a status page (Capabilities.status_page)."""
    found = capabilities(channel)
    return bool(found and found.status_page)


def status_page_state(rows: list[DeliveryRow]) -> str | None:
    """The latest status page delivery as a notice says it; None when the incident has none."""
    latest = [r for r in rows if is_status_page(r.channel) and r.status is not DeliveryState.DRY_RUN][-1:]
    if not latest:
        return None
    row = latest[0]
    if row.status.is_accepted:
        return "update accepted"
    if row.status.is_waiting or row.status is DeliveryState.HELD:
        return "update requested"
    if row.status is DeliveryState.SKIPPED:
        return f"not updated ({row.skip})"
    return f"update not accepted ({row.reason or row.status}; see notify status {row.incident_id})"


def customer_reached(rows: list[DeliveryRow]) -> bool:
    """A notice to the customer was accepted by its provider (not that they read it)."""
    return any(r.person == "customer" and r.status.is_accepted for r in rows)
