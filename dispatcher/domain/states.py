"""The states a delivery and an incident go through, as enums instead of free strings.

Both are :class:`~enum.StrEnum`: a member *is* its value, so what the store
holds, what the JSON document carries and what a comparison with a plain
string sees stay byte-identical to the strings used before.

A delivery's life::

    pending -> in-flight -> delivered (accepted by the provider) [-> confirmed]
                         -> posted | possibly-delivered | failed-permanent
                         -> failed-transient (final when the retries run out; else pending again)
    skipped (never sent: no address, a drill, the incident resolved first)

"delivered" means the provider *accepted* the message (its API answered with
success), not that a person has it: SMS and calls can still fail after that.
A provider's own report (Twilio's status callback, say) is what turns an
accepted delivery into a confirmed one; until something records that, no
delivery is confirmed. The stored value stays "delivered", the JSON document's
schema-1 outcome, so the member is named for what it means: ``ACCEPTED``.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["DeliveryState", "IncidentStatus"]


class DeliveryState(StrEnum):
    """Where one planned delivery stands (the outbox's ``status``, a report line's ``outcome``)."""

    PENDING = "pending"  # in the outbox, due now or at its next try
    IN_FLIGHT = "in-flight"  # leased by a sender that is sending it
    ACCEPTED = "delivered"  # the provider accepted it (schema 1's "delivered"): not yet confirmed
    CONFIRMED = "confirmed"  # the provider reported it delivered (see DeliveryState.reported)
    # Seen in a channel (a Slack webhook post mentioning the person), not sent to them.
    POSTED = "posted"
    # Sent, but the send deadline passed before the provider answered: it may have arrived. Never
    # retried (that could page twice), and not counted as accepted, so the fallback runs.
    POSSIBLY_DELIVERED = "possibly-delivered"
    FAILED_TRANSIENT = "failed-transient"  # retried until the retry policy gives up
    FAILED_PERMANENT = "failed-permanent"  # retrying cannot help
    SKIPPED = "skipped"  # never sent: no address, a drill, or moot once the incident resolved
    HELD = "held"  # stored, not sent yet: a needs-review outside notice (until confirmed), a quiet-hours call or text
    DRY_RUN = "dry-run"  # a dry run's line: planned, never stored or sent

    @property
    def is_failure(self) -> bool:
        """Failed for now or for good (`notify retry` sends these again)."""
        return self in (DeliveryState.FAILED_TRANSIENT, DeliveryState.FAILED_PERMANENT)

    @property
    def is_waiting(self) -> bool:
        """Still in the outbox: a sender will try it (again)."""
        return self in (DeliveryState.PENDING, DeliveryState.IN_FLIGHT)

    @property
    def is_final(self) -> bool:
        """Out of the outbox: nothing will send it again unless someone requeues it."""
        return not self.is_waiting and self not in (DeliveryState.DRY_RUN, DeliveryState.HELD)

    @property
    def is_accepted(self) -> bool:
        """A provider took it for the person: accepted, and perhaps confirmed since."""
        return self in (DeliveryState.ACCEPTED, DeliveryState.CONFIRMED)

    @property
    def is_confirmed(self) -> bool:
        return self is DeliveryState.CONFIRMED

    @property
    def reported(self) -> DeliveryState:
        """The outcome a report shows (schema 1 has no "confirmed" or "in-flight" outcome).

        A confirmed delivery reports "delivered" with ``"confirmed": true`` beside it; an
        in-flight one reports "pending", as a sender is still on it.
        """
        if self is DeliveryState.CONFIRMED:
            return DeliveryState.ACCEPTED
        return DeliveryState.PENDING if self is DeliveryState.IN_FLIGHT else self

    @property
    def label(self) -> str:
        """The word text output uses: "accepted" for schema 1's "delivered", never "reached"."""
        return "accepted" if self is DeliveryState.ACCEPTED else self.value


class IncidentStatus(StrEnum):
    """Where an incident stands: open until acknowledged, and either until resolved."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"

    @property
    def is_closed(self) -> bool:
        """Resolved: no timer fires, no notice but the resolution goes out."""
        return self is IncidentStatus.RESOLVED
