"""What the delivery log says about an incident, for templates that ask: the status page's state, and whether the
customer was told.

Worked out lazily (domain.incident.Lazy): a template that never mentions them costs no look-up, and one
that does costs a one-row read (an incident may have thousands of deliveries). The sender shares them
between the rows of an incident it renders within a second (FactsMemo): measured in the 1,000-alert burst,
the read per row was 7% of the senders' CPU, for the same answer six times per incident.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from ..config.plugins import capabilities, discover
from ..domain.incident import Incident, Lazy, recorded_facts
from ..domain.states import DeliveryState
from ..store import Store

__all__ = ["FactsMemo", "delivery_facts", "status_page_state"]


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


def status_page_state(store: Store, incident_id: str, *, pointer: bool = True) -> str | None:
    """The latest status page delivery as a notice says it; None when the incident has none. `pointer`: a failure
    says where to look (`notify status ID`), which `notify status` itself, showing it, leaves out."""
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
    return f"update not accepted ({reason or status}" + (f"; see notify status {incident_id})" if pointer else ")")


class FactsMemo:
    """The facts of each incident and the notices rendered from them, kept for `window` seconds of the sender's
    clock (`monotonic`: a drill's clock moves minutes in a real second, and its notices must see each minute's facts).

    Within the window the rows of one incident share one set of facts (one read each, as they stood at the
    first row's render) and, through them, one render of the same content (render.personal.content_key
    keys a lazy fact by its identity, so a render is never reused past its facts).
    """

    def __init__(self, window: float = 1.0, limit: int = 1024, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.window, self.limit, self._monotonic = window, limit, monotonic
        self._lock = threading.Lock()
        self._since = monotonic()
        self._facts: dict[tuple[str, bool], dict[str, Any]] = {}
        self.renders: dict[Any, Any] = {}
        self._own: dict[str, bool] = {}

    def facts(self, store: Store, incident: Incident, channel: str) -> tuple[dict[str, Any], dict[Any, Any]]:
        """The incident's facts for a notice on `channel`, and the renders made from the facts of this window."""
        with self._lock:
            if self._monotonic() - self._since > self.window or len(self._facts) + len(self.renders) > self.limit:
                self._since, self._facts, self.renders, self._own = self._monotonic(), {}, {}, {}
            own = self._own.get(channel)
            if own is None:  # asked of the plugins once per channel and window: it was 3% of a row's CPU
                own = self._own[channel] = is_status_page(channel)
            key = (incident.id, own)
            if key not in self._facts:
                self._facts[key] = delivery_facts(store, incident, channel)
            return self._facts[key], self.renders
