"""Pages held back by a silence or a maintenance window, and their release when it ends.

An alert that a silence or window holds back (domain.silences decides) is stored as an incident like
any other, with its alerts and a timeline event that names the rule ("held back by silence S-1a2b"),
but nothing is planned for it and its timers do not run: meta ``hold`` says so. When no rule holds
it any longer (the silence ran out, or someone expired it), :func:`release_due` plans its step 0 at
that moment and stamps meta ``paging_from``: the response SLA, the escalation ladder and the update
cadence all count from there (incidents.classified_at), so a page released after two hours of
silence starts its ladder then instead of firing every stage at once. A group that resolved while
held is closed already and pages nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from ..domain.silences import MAINTENANCE, AlertFacts, Silence, holding
from ..eventlog import emit
from ..store import IncidentRow, Store

Runtime = Any  # engine.Runtime, read by attribute only: engine builds on this module (trigger_hold)

__all__ = ["never_paged", "paging_began", "Hold", "TriggerHold", "event_facts", "held_event", "hold_meta", "hold_of", "row_facts", "trigger_hold"]

ALERTS_KEPT = 50  # the labels kept of a group's firing alerts: what a later silence check and `silence add` read


class Hold:
    """What holds a group back: the rules, and how the timeline and the log say so."""

    def __init__(self, rules: Sequence[Silence]) -> None:
        self.rules = tuple(rules)

    @property
    def kind(self) -> str:
        """The timeline event's kind: `maintenance` when a window holds it, else `silenced`."""
        return "maintenance" if all(r.kind == MAINTENANCE for r in self.rules) else "silenced"

    @property
    def detail(self) -> str:
        return "held back, nobody paged: " + "; ".join(f"{r.what} by {r.by}: {r.reason}" for r in self.rules)


def event_facts(rt: Runtime, event: Any, klass: str) -> list[AlertFacts]:
    """What silences read of a monitoring event's firing alerts (the event itself when it carries none: generic)."""
    tier = rt.klass(klass).tier
    services = tuple(str(s) for s in event.fields.get("affected_services") or ())
    firing = [a for a in event.alerts if a.status == "firing"]
    if not firing:
        return [AlertFacts(dict(event.labels), klass, tier, event.source, services)]
    return [AlertFacts(dict(a.labels), klass, tier, event.source,
                       (a.labels["service"],) if a.labels.get("service") else services) for a in firing]


def row_facts(rt: Runtime, row: IncidentRow) -> list[AlertFacts]:
    """The same facts of a stored incident: its kept alert labels, else none but its class, tier and source."""
    meta, klass = row.meta, row.klass
    tier = rt.policy.classes[klass].tier if klass in rt.policy.classes else ""
    source = str(meta.get("source") or "cli")
    services = tuple(str(s) for s in row.fields.get("affected_services") or ())
    alerts = meta.get("alerts") or [{}]
    return [AlertFacts(labels, klass, tier, source, (labels["service"],) if labels.get("service") else services)
            for labels in alerts]


def hold_of(store: Store, facts: Sequence[AlertFacts], now: datetime, arrived: datetime | None = None) -> Hold | None:
    """The hold on a group whose alerts are `facts`, or None when it pages."""
    rules = holding(store.silences(ending_after=now), facts, now, arrived)
    return Hold(rules) if rules else None


def hold_meta(facts: Sequence[AlertFacts], source: str, hold: Hold | None, now: datetime) -> dict[str, Any]:
    """What an incident's meta keeps for silences: its alerts' labels and source, and the hold, if any."""
    meta: dict[str, Any] = {"source": source, "alerts": [dict(f.labels) for f in facts][:ALERTS_KEPT]}
    if hold is not None:
        meta["hold"] = {"by": [r.id for r in hold.rules], "since": now.isoformat()}
    return meta


def held_event(hold: Hold) -> tuple[str, str, str]:
    """The timeline event (key, kind, detail) of a page held back when its incident opened."""
    emit("page.held", None, kind=hold.kind, rules=",".join(r.id for r in hold.rules))
    return "held-0", hold.kind, hold.detail


@dataclass(frozen=True)
class TriggerHold:
    meta: dict[str, Any]
    event: tuple[str, str, str]


def trigger_hold(rt: Runtime, store: Store, incident: Any, now: datetime) -> TriggerHold | None:
    """The hold on a CLI trigger: only a silence naming its class explicitly (domain.silences); never a drill."""
    if incident.drill:
        return None
    services = tuple(str(s) for s in incident.fields.get("affected_services") or ())
    facts = [AlertFacts({}, incident.klass, rt.klass(incident.klass).tier, "cli", services)]
    hold = hold_of(store, facts, now)
    return TriggerHold(hold_meta(facts, "cli", hold, now), held_event(hold)) if hold else None


def paging_began(row: IncidentRow) -> datetime:
    """When the incident's paging began: its opening, or the release of what a silence or window held back.

    Every clock of the incident (response SLA, ladder, cadence, resolution target) counts from it, and so do
    the monthly report's measures (release.py stamps ``paging_from``)."""
    released = row.meta.get("paging_from")
    return max(row.created, datetime.fromisoformat(released)) if released else row.created


def never_paged(row: IncidentRow) -> bool:
    """Held back still (or until it resolved): nobody was paged for it."""
    return bool(row.meta.get("hold"))
