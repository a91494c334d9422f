"""The provider's id of an earlier delivery, shared by both stores (SQL written with %s).

An accepted attempt keeps the id its provider answered with (``deliveries.provider_id``: a
Statuspage incident id, a Slack message's ts, a Twilio sid). A channel that updates what it
created earlier for the same incident (``api.Capabilities.follows_up``: Statuspage PATCHes the
incident it POSTed) is handed the first such id of the incident on its channel and target.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["EarlierDeliveries"]

# The first delivery (by id: the order they were planned) that a provider answered with an id.
EARLIER_PROVIDER_ID = ("SELECT provider_id FROM deliveries WHERE incident_id = %s AND channel = %s AND target = %s"
                       " AND provider_id IS NOT NULL ORDER BY id LIMIT 1")


class EarlierDeliveries:
    """The look-up's method. A store provides `dialect` and `_read(query, args)`."""

    dialect: Any

    def _read(self, query: str, args: Iterable[Any] = ()) -> list[tuple]: raise NotImplementedError

    def earlier_provider_id(self, incident_id: str, channel: str, target: str) -> str | None:
        """The provider's id of the incident's first accepted delivery on `channel` to `target`; None if none."""
        rows = self._read(self.dialect.q(EARLIER_PROVIDER_ID), (incident_id, channel, target))
        return rows[0][0] if rows else None
