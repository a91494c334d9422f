"""Rows and errors shared by every store implementation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["AttemptRow", "DeliveryRow", "IncidentRow", "StoreBehind", "StoreError"]


class StoreError(Exception):
    """The store cannot be opened or used; the message says which and why."""


class StoreBehind(StoreError):
    """The store's schema is older than this program: run `notify db upgrade`."""


@dataclass(frozen=True)
class IncidentRow:
    id: str
    klass: str
    status: str  # open|acknowledged|resolved
    drill: bool
    started: str
    created: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    key: str
    incident_id: str
    step: int
    person: str
    display: str
    role: str
    channel: str
    target: str
    masked_target: str
    template: str
    status: str  # pending|delivered|failed-transient|failed-permanent|skipped
    attempts: int
    reason: str | None
    detail: str | None
    fallback_of: int | None
    skip: str | None
    fallbacks: list[list[str]] = field(default_factory=list)  # [[channel, target], ...] still to try
    warning: str | None = None
    delivered_to: str | None = None


@dataclass(frozen=True)
class AttemptRow:
    at: str
    incident_id: str
    klass: str
    step: int
    person: str
    role: str
    channel: str
    masked_target: str
    attempt: int
    outcome: str
    reason: str
    detail: str
    latency_ms: float
    fallback_of: int | None
    delivered_to: str | None

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at, "incident": self.incident_id, "class": self.klass, "step": self.step,
                "recipient": self.person, "role": self.role, "channel": self.channel,
                "target": self.masked_target, "attempt": self.attempt, "outcome": self.outcome,
                "reason": self.reason, "detail": self.detail, "latency_ms": round(self.latency_ms, 1),
                "fallback_of": self.fallback_of, "delivered_to": self.delivered_to}
