"""A planned delivery's identity: who gets which notice on which channel, once per incident.

The outbox refuses a second row with the same key, so a step planned twice, a
timer fired by two workers or a fallback planned again never pages anyone
twice. The key is stored as ``INCIDENT:LABEL:PERSON:CHANNEL``; the incident part
is known only once the store has allocated the id, so a delivery is planned
with its :class:`DeliveryKey` and the store writes :meth:`DeliveryKey.stored`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["DeliveryKey"]


@dataclass(frozen=True)
class DeliveryKey:
    """One notice for one recipient on one channel, within an incident."""

    # The step number ("0", "1"...), or the timer or event that planned the notice ("escalation-1",
    # "reminder-20261126T030000Z", "update-2", "resolved"): two notices of one kind never share a key.
    label: str
    person: str  # may hold ":" (slack:security-alerts); the incident id and the label never do
    channel: str

    def stored(self, incident_id: str) -> str:
        """The key as the outbox holds it for this incident."""
        return f"{incident_id}:{self.label}:{self.person}:{self.channel}"

    def on(self, channel: str) -> DeliveryKey:
        """The same notice for the same person on another channel: a fallback's key."""
        return replace(self, channel=channel)

    @classmethod
    def parse(cls, stored: str) -> tuple[str, DeliveryKey]:
        """(incident id, key) of a key as the outbox holds it."""
        incident_id, label, rest = stored.split(":", 2)
        person, channel = rest.rsplit(":", 1)
        return incident_id, cls(label, person, channel)
