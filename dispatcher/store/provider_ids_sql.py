"""What a notice may need to know of the incident's earlier deliveries, shared by both stores (SQL with %s).

An accepted attempt keeps the id its provider answered with (``deliveries.provider_id``: a
Statuspage incident id, a Slack message's ts, a Twilio sid). A channel that updates what it
created earlier for the same incident (``api.Capabilities.follows_up``: Statuspage PATCHes the
incident it POSTed) is handed the first such id of the incident on its channel and target.

Templates may also ask whether a notice to the customer was accepted, and what the latest status page delivery
did (app/facts.py): single-row reads, as they run once per notice that asks, and an incident may have
thousands of deliveries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..domain.states import DeliveryState

__all__ = ["EarlierDeliveries"]

# The first delivery (by id: the order they were planned) that a provider answered with an id.
EARLIER_PROVIDER_ID = ("SELECT provider_id FROM deliveries WHERE incident_id = %s AND channel = %s AND target = %s"
                       " AND provider_id IS NOT NULL ORDER BY id LIMIT 1")

_ACCEPTED = f"('{DeliveryState.ACCEPTED}', '{DeliveryState.CONFIRMED}')"
CUSTOMER_REACHED = (f"SELECT 1 FROM deliveries WHERE incident_id = %s AND person = 'customer' AND status IN {_ACCEPTED}"
                    " LIMIT 1")
LATEST_ON = ("SELECT status, skip, reason FROM deliveries WHERE incident_id = %s AND channel IN ({channels})"
             " ORDER BY id DESC LIMIT 1")


class EarlierDeliveries:
    """The look-up's method. A store provides `dialect` and `_read(query, args)`."""

    dialect: Any

    def _read(self, query: str, args: Iterable[Any] = ()) -> list[tuple]: raise NotImplementedError

    def earlier_provider_id(self, incident_id: str, channel: str, target: str) -> str | None:
        """The provider's id of the incident's first accepted delivery on `channel` to `target`; None if none."""
        rows = self._read(self.dialect.q(EARLIER_PROVIDER_ID), (incident_id, channel, target))
        return rows[0][0] if rows else None

    def customer_reached(self, incident_id: str) -> bool:
        """Whether a notice to the incident's customer was accepted by its provider."""
        return bool(self._read(self.dialect.q(CUSTOMER_REACHED), (incident_id,)))

    def latest_on(self, incident_id: str, channels: Sequence[str]) -> tuple[DeliveryState, str | None, str | None] | None:
        """(status, skip, reason) of the incident's latest delivery on any of `channels`; None when it has none."""
        if not channels:
            return None
        query = LATEST_ON.format(channels=", ".join(["%s"] * len(channels)))
        rows = self._read(self.dialect.q(query), (incident_id, *channels))
        return (DeliveryState(rows[0][0]), rows[0][1], rows[0][2]) if rows else None
