"""What the web view's pages show, read from the store: the incident list, one incident, who is on call, and
what keeps notify quiet or watches the watchers (silences, maintenance windows, heartbeats).

Each function returns plain data for a template (server/ui_templates/) and writes
nothing; the server renders it. The incident page reads the same status document
as `notify status`, with the delivery log's attempts and the notes merged into one
timeline, newest last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..domain.durations import format_duration
from ..domain.states import DeliveryState
from ..store import Store
from .engine import Runtime
from .heartbeats import heartbeat_states
from .incidents import status_document
from .oncall import on_call_slots
from .silences import list_silences, silence_json

__all__ = ["PERIODS", "Filters", "incident_list", "incident_page", "on_call_page", "quiet_page"]

PERIODS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30), "all": None}
STATUS_ORDER = {"open": 0, "acknowledged": 1, "resolved": 2}


@dataclass(frozen=True)
class Filters:
    """The incident list's filters, from the query string; empty means any."""

    klass: str = ""
    tier: str = ""
    status: str = ""
    period: str = "7d"

    @classmethod
    def read(cls, query: dict[str, str]) -> Filters:
        period = query.get("period", "7d")
        return cls(query.get("class", "")[:64], query.get("tier", "")[:64], query.get("status", "")[:16],
                   period if period in PERIODS else "7d")


def incident_list(rt: Runtime, store: Store, now: datetime, filters: Filters) -> dict[str, Any]:
    """Open incidents first (newest first within a status), each with its age against its response SLA."""
    since = PERIODS[filters.period]
    items = []
    for row in store.incidents(open_only=False):
        klass = rt.policy.classes.get(row.klass)
        tier = klass.tier if klass else ""
        if (filters.klass and row.klass != filters.klass) or (filters.tier and tier != filters.tier) or \
                (filters.status and row.status != filters.status):
            continue
        if since is not None and row.status != "open" and row.started < now - since:
            continue  # an open incident is shown however old: it is still someone's to handle
        age = now - row.started
        sla = klass.response_sla if klass else None
        answered = row.acked_at or row.resolved_at
        items.append({"id": row.id, "class": row.klass, "title": klass.title if klass else row.klass, "tier": tier,
                      "status": str(row.status), "drill": row.drill, "summary": row.fields.get("summary", ""),
                      "needs_review": bool(row.meta.get("needs_review")), "started": row.started,
                      "age": format_duration(max(age, timedelta(0))), "sla": format_duration(sla) if sla else "",
                      "over_sla": bool(sla and row.status == "open" and age > sla),
                      "answered_in": format_duration(answered - row.started) if answered else None})
    items.sort(key=lambda i: (STATUS_ORDER.get(i["status"], 3), not i["needs_review"], -i["started"].timestamp()))
    return {"incidents": items, "filters": filters, "periods": list(PERIODS),
            "classes": [(name, c.title) for name, c in rt.policy.classes.items()],
            "tiers": sorted({c.tier for c in rt.policy.classes.values()}),
            "statuses": list(STATUS_ORDER)}


def incident_page(rt: Runtime, store: Store, incident_id: str, now: datetime) -> dict[str, Any]:
    """The incident: its fields, one timeline (events, attempts, notes), its deliveries, and what is due next."""
    doc = status_document(rt, store, incident_id, now)
    entries = [{"at": datetime.fromisoformat(e["at"]), "kind": e["kind"], "by": e["by"], "detail": e["detail"]}
               for e in doc["timeline"]]
    shown = {d["recipient"]: d["display"] for d in doc["deliveries"]}  # a name or a list's title, as the notices show
    for a in store.attempts(incident_id=doc["incident"]["id"]):
        reason = f" ({a.reason})" if a.reason and a.reason != "ok" else ""
        who = shown.get(a.person) or a.person
        entries.append({"at": a.at, "kind": "attempt", "by": None,
                        "detail": f"{a.kind} to {who} by {a.channel} ({a.masked_target}), attempt {a.attempt}: "
                                  f"{a.outcome}{reason}" + (f": {a.detail}" if a.detail else "")})
    for n in store.notes(doc["incident"]["id"]):
        entries.append({"at": n.at, "kind": "note", "by": n.by, "detail": n.text})
    entries.sort(key=lambda e: e["at"])
    status = doc["incident"]["status"]
    return {"doc": doc, "incident": doc["incident"], "timeline": entries, "deliveries": doc["deliveries"],
            "unreached": unreached(doc["deliveries"]) if status == "open" else None,
            "next_due": [_with_who(rt, {**n, "at": datetime.fromisoformat(n["at"])}) for n in doc["next_due"]],
            "classes": [(name, c.title) for name, c in rt.policy.classes.items()],
            "can_ack": status == "open", "can_escalate": status == "open", "open": status != "resolved",
            "version": _version(doc, len(entries))}


def _with_who(rt: Runtime, due: dict[str, Any]) -> dict[str, Any]:
    """A due action that pages a rotation slot names who will be on duty then: "rotation:secondary (Engineering
    Manager B)". The reader at 3 a.m. wants the person, not the slot."""
    rotation = rt.directory.rotation
    if rotation is None:
        return due

    def named(match: re.Match) -> str:
        slot = match.group(1)
        if slot not in rotation.slots:
            return match.group(0)
        person = rt.directory.people.get(rt.directory.on_duty(slot, due["at"]))
        return f"{match.group(0)} ({person.name})" if person else match.group(0)

    return {**due, "what": re.sub(r"rotation:([a-z0-9_-]+)", named, due["what"])}


def unreached(deliveries: list[dict[str, Any]]) -> str | None:
    """What the top of an open incident's page says when no provider has taken any delivery (nor may have, nor
    posted one to a channel) and some failed: a person paged at 3 a.m. must not read "open" and think somebody
    else has it."""
    states = [DeliveryState(d["outcome"]) for d in deliveries]
    if any(s.is_accepted or s in (DeliveryState.POSTED, DeliveryState.POSSIBLY_DELIVERED) for s in states):
        return None
    failed = sum(s.is_failure for s in states)
    if not failed:
        return None
    trying = sum(s.is_waiting or s is DeliveryState.HELD for s in states)
    return (f"Nobody has been reached: {failed} of {len(deliveries)} deliveries failed"
            + (f", {trying} still being tried." if trying else ", and none is being tried again."))


def _version(doc: dict[str, Any], entries: int) -> str:
    """What changes when anything on the page changes: the live update reloads the timeline only then."""
    states = ",".join(f"{d['outcome']}{d['attempts']}" for d in doc["deliveries"])
    return f"{doc['incident']['status']}|{entries}|{len(doc['deliveries'])}|{states}|{len(doc['next_due'])}"


def on_call_page(rt: Runtime, now: datetime) -> dict[str, Any]:
    rotation = rt.directory.rotation
    return {"slots": on_call_slots(rt.directory, now), "rotation_zone": rotation.timezone if rotation else "UTC",
            "people": sorted((pid, p.name) for pid, p in rt.directory.people.items())}


def quiet_page(rt: Runtime, store: Store, now: datetime) -> dict[str, Any]:
    """The silences and maintenance windows in effect or ahead, and every heartbeat's state, as the CLI lists them."""
    held = [silence_json(s, now) for s in list_silences(store, now)]
    return {"silences": [s for s in held if s["kind"] == "silence"],
            "windows": [s for s in held if s["kind"] != "silence"],
            "heartbeats": heartbeat_states(rt, store, now)}
