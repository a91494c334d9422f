"""Quiet hours in the worker's tick: release a held call or text, or drop it once someone acknowledged.

Planning holds the page (domain/quiet_hours.py); each tick looks at the open
standard-tier incidents that hold some. A held page is released when its
person's working hours begin or the response SLA passes unacknowledged (then
the phone rings, and the escalation ladder goes on by its own clock); an
acknowledgement drops what is still held. Each change is a timeline event
recorded once, with the rows, in one transaction (store.settle_held).
"""

from __future__ import annotations

from datetime import datetime

from ..domain.quiet_hours import QUIET_HOURS, release_reason
from ..domain.states import DeliveryState, IncidentStatus
from ..domain.working_hours import QUIET_TIERS
from ..eventlog import emit
from ..store import IncidentRow, Store
from .engine import Runtime
from .incidents import classified_at

__all__ = ["settle_quiet_holds"]


def settle_quiet_holds(rt: Runtime, store: Store, row: IncidentRow, now: datetime) -> int:
    """Release or drop this incident's pages held by quiet hours, as due at `now`; how many changed."""
    klass = rt.policy.classes.get(row.klass)
    if klass is None or klass.tier not in QUIET_TIERS or row.status == IncidentStatus.RESOLVED:
        return 0
    held = [d for d in store.deliveries(row.id)
            if d.status == DeliveryState.HELD and (d.reason or "").startswith(QUIET_HOURS)]
    if not held:
        return 0
    if row.status == IncidentStatus.ACKNOWLEDGED:
        detail = f"acknowledged by {row.acked_by or 'someone'}: {len(held)} call(s) or text(s) held by quiet hours dropped"
        changed = store.settle_held(row.id, [d.id for d in held], "quiet-hours-dropped", "quiet-hours-dropped", now,
                                    detail, release=False, skip="acknowledged before quiet hours ended")
        return len(held) if changed else 0
    sla_at = classified_at(row) + klass.response_sla
    released = 0
    for delivery in held:
        why = release_reason(rt.directory, delivery.person, now, sla_at, klass)
        if why is not None and store.settle_held(
                row.id, [delivery.id], f"quiet-hours-released-{delivery.id}", "quiet-hours-released", now,
                f"{delivery.channel} to {delivery.display} released: {why}", release=True):
            released += 1
            emit("page.released", row.id, channel=delivery.channel, person=delivery.person, why=why)
    return released
