"""The release of held pages: when no silence or window holds an incident any longer, its paging begins now.

See holds.py: its step 0 is planned at that moment and meta ``paging_from`` stamped, so every clock
(response SLA, escalation ladder, update cadence) counts from the release. Called by the worker's
tick (a silence or window ran out), by `silence expire` (ended by hand), and by ingest (an alert
no rule holds joined a held group). Recorded once by key, so two workers release it once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from ..domain.plan import plan_step
from ..domain.quiet_hours import hold_quiet_pages
from ..eventlog import emit
from ..store import IncidentRow, Store
from .engine import Runtime, incident_from_row, outbox_row, webhook_planned
from .holds import hold_of, row_facts

__all__ = ["release", "release_due"]


def release_due(rt: Runtime, store: Store, now: datetime, rows: Iterable[IncidentRow] | None = None) -> list[str]:
    """Release every held incident no rule holds any longer at `now`; the ids released (a worker tick)."""
    held = [r for r in (rows if rows is not None else store.incidents(open_only=True)) if r.meta.get("hold")]
    if not held:
        return []
    released = []
    for row in held:
        if hold_of(store, row_facts(rt, row), now, arrived=row.created) is None and release(rt, store, row, now):
            released.append(row.id)
    return released


def release(rt: Runtime, store: Store, row: IncidentRow, now: datetime) -> bool:
    """Page a held incident now: its step 0, and every clock counting from now. False when released already."""
    if row.klass not in rt.policy.classes:
        return False
    incident = incident_from_row(row)
    klass = rt.klass(row.klass)
    planned = plan_step(incident, klass, 0, rt.directory) + webhook_planned(rt, 0)
    planned, quiet = hold_quiet_pages(planned, klass, rt.directory, now, opened=now)  # paging begins now
    meta = {k: v for k, v in row.meta.items() if k != "hold"}
    meta["paging_from"] = now.isoformat()
    rules = ", ".join(row.meta["hold"].get("by", ()))
    released = store.record_event(row.id, f"released-{row.meta['hold'].get('since', '')}", "released", now,
                                  f"paging begins: {rules} no longer holds it back; every clock counts from now",
                                  deliveries=[outbox_row(p) for p in planned], meta=meta)
    for key, kind, detail in quiet if released else ():  # a standard-tier call released at night waits still
        store.record_event(row.id, key, kind, now, detail)
    if released:
        emit("page.released", row.id, rules=rules, deliveries=len(planned))
    return released
