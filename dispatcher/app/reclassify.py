"""Confirm or change an incident's class: `notify reclassify` and POST /incidents/{id}/reclassify.

The incident keeps its id (people already hold it). Confirming the class triage
was unsure of clears `needs_review` and releases the notices held for a person's
word (the customer's); held rows become pending once, in the transaction that
records the confirmation, so a second confirmation, from any process, releases
nothing and the notice is sent once.

Changing the class starts the new class afresh at the moment of the change: its
step 0 is planned now, its follow-up steps, response SLA and escalation count
from now (timers of the new epoch, domain.timers), and an acknowledgement of the
old class's pages no longer stops escalation (the new audience has not
acknowledged anything). Pages of the old class still waiting are cancelled, each
with why; the people of the old and the new class (never the customer or outside
contacts) are told "reclassified from X to Y by Z"; the timeline records it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ..clock import iso
from ..domain.incident import Incident, format_time
from ..domain.plan import Planned, plan_step, template_for
from ..domain.quiet_hours import hold_quiet_pages
from ..domain.states import DeliveryState, IncidentStatus
from ..domain.timers import epoch_prefix
from ..errors import IncidentClosed, IncidentError, InputError
from ..store import DeliveryRow, IncidentRow, Store
from .engine import Runtime, incident_from_row, outbox_row, webhook_planned
from .incidents import load, quietness, reached_so_far

__all__ = ["Reclassified", "reclassify"]

WAITING = (DeliveryState.PENDING, DeliveryState.HELD)  # not sent yet: a reclassification may still cancel them
PAGES = ("step", "escalation")  # what a class pages; lifecycle notices (updates, reminders) are left alone
_ATTEMPTS = 3  # another process reclassifying at the same moment: plan again from what it wrote


@dataclass(frozen=True)
class Reclassified:
    """What a reclassification did: `outcome` is changed, confirmed or unchanged (then `why_unchanged`)."""

    incident: Incident  # as it is now
    previous: str  # the class before
    outcome: str
    rows: list[DeliveryRow]  # to send now: released notices, the new class's pages, the reclassify notices
    cancelled: list[DeliveryRow]
    why_unchanged: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"schema": 1, "command": "reclassify", "incident": self.incident.id, "outcome": self.outcome,
                "from": self.previous, "to": self.incident.klass, "needs_review": self.incident.needs_review,
                "notices": len(self.rows), "cancelled": [{"recipient": d.person, "channel": d.channel,
                                                          "why": d.skip} for d in self.cancelled],
                "note": self.why_unchanged}


def reclassify(rt: Runtime, store: Store, incident_id: str, klass: str, by: str, now: datetime) -> Reclassified:
    """Confirm (`klass` is its class) or change an open incident's class, once however many callers try."""
    if klass not in rt.policy.classes:
        raise InputError("class", f"unknown class {klass!r}; the known classes are {', '.join(rt.policy.classes)}")
    for _ in range(_ATTEMPTS):
        row = load(store, incident_id)
        if row.status == IncidentStatus.RESOLVED:
            raise IncidentClosed(incident_id, f"resolved at {iso(row.resolved_at)}: its class can no longer change")
        done = _confirm(store, row, by, now) if klass == row.klass else _change(rt, store, row, klass, by, now)
        if done is not None:
            return done
    raise IncidentError(incident_id, "its class kept changing while this reclassification was planned; "
                                     "nothing was recorded: look at `notify status` and try again")


def _confirm(store: Store, row: IncidentRow, by: str, now: datetime) -> Reclassified | None:
    """Clear needs_review and release the held notices; None when another process changed the incident first."""
    incident = incident_from_row(row)
    if not incident.needs_review:
        return Reclassified(incident, row.klass, "unchanged", [], [],
                            f"{row.id} is {row.klass} already and needs no review: nothing changed")
    held = {d.id for d in store.deliveries(row.id) if d.status == DeliveryState.HELD}
    detail = f"class {row.klass} confirmed by {by}" + (f"; {_count(len(held), 'held notice')} released" if held
                                                        else "")
    if not store.record_reclassification(row.id, "class-confirmed", "class-confirmed", now, detail, by,
                                         was=row.klass, klass=row.klass, meta={**row.meta, "needs_review": False},
                                         release=True):
        return None  # confirmed (or changed) by someone else meanwhile: the next round says which
    rows = [d for d in store.deliveries(row.id) if d.id in held]
    return Reclassified(incident_from_row(load(store, row.id)), row.klass, "confirmed", rows, [])


def _change(rt: Runtime, store: Store, row: IncidentRow, klass: str, by: str, now: datetime) -> Reclassified | None:
    """Plan the new class from now, cancel the old class's waiting pages, tell both audiences."""
    epoch = int(row.meta.get("reclassified", 0)) + 1
    new = rt.klass(klass)
    incident = replace(incident_from_row(row), klass=klass, needs_review=False, opened=now)
    planned = plan_step(incident, new, 0, rt.directory) + webhook_planned(rt, 0)
    planned, quiet = hold_quiet_pages(planned, new, rt.directory, now, opened=now)  # its SLA counts from now too
    step_label, notice_label = f"{epoch_prefix(epoch)}step-0", f"reclassify-{epoch}"
    existing = store.deliveries(row.id)
    cancel = _cancellations(existing, planned, row.klass, klass)
    notice = {"kind": "reclassify", "previous": _title(rt, row.klass), "by": by, "at": format_time(now)}
    told = _told(rt, existing, planned, by)
    rows = [outbox_row(p, label=step_label) for p in planned] + \
           [outbox_row(p, kind="reclassify", label=notice_label, notice=notice) for p in told]
    # An escalation fired by hand belongs to the old class's ladder: kept, it would make the new ladder due at once.
    # A page held back by a silence (holds.py) is released by a person's reclassification: the new class pages now.
    kept = {key: value for key, value in row.meta.items() if key not in ("escalated", "hold")}
    meta = {**kept, "needs_review": False, "reclassified": epoch, "classified_at": now.isoformat()}
    detail = (f"reclassified from {row.klass} to {klass} by {by}; {_count(len(cancel), 'waiting page')} of "
              f"{row.klass} cancelled; the steps, response SLA and escalation of {klass} count from now")
    if not store.record_reclassification(row.id, notice_label, "reclassified", now, detail, by,
                                         was=row.klass, klass=klass, meta=meta, cancel=cancel, deliveries=rows,
                                         reopen=True):
        return None
    for key, kind, held in quiet:  # after the class change it belongs to, under this epoch's keys
        store.record_event(row.id, f"{epoch_prefix(epoch)}{key}", kind, now, held)
    cancelled_ids = {delivery_id for delivery_id, _ in cancel}
    after = store.deliveries(row.id)
    fresh = [d for d in after if d.delivery_key.label in (step_label, notice_label)]
    return Reclassified(incident_from_row(load(store, row.id)), row.klass, "changed", fresh,
                        [d for d in after if d.id in cancelled_ids and d.status == DeliveryState.SKIPPED])


def _cancellations(existing: list[DeliveryRow], planned: list[Planned], old: str,
                   new: str) -> list[tuple[int, str]]:
    """The old class's pages still waiting, each with why it is cancelled: the new class pages that recipient
    on that channel itself (from now, once), or it does not page them at all. Notices held for the old class's
    confirmation (a customer's update, say) go too: that confirmation can no longer come, and the new class
    speaks for itself."""
    paged = {(p.address.person, p.address.channel) for p in planned if not p.skip}
    return [(d.id, f"reclassified from {old} to {new}: " + _why_cancelled(d, paged, new))
            for d in existing if d.status in WAITING and (d.kind in PAGES or d.status == DeliveryState.HELD)]


def _why_cancelled(d: DeliveryRow, paged: set[tuple[str, str]], new: str) -> str:
    if d.kind not in PAGES:
        return "held for the old class, whose confirmation can no longer come"
    return ("replaced by the page of the new class" if (d.person, d.channel) in paged
            else f"{new} does not page this recipient")


def _told(rt: Runtime, existing: list[DeliveryRow], planned: list[Planned], by: str) -> list[Planned]:
    """Everyone inside the company reached for the old class, and everyone the new class pages now: once each,
    with the reclassify template. Outside people are not told of our triage."""
    options: dict[str, list[Planned]] = {}
    for item in reached_so_far(existing, rt.directory) + [p for p in planned if not p.skip]:
        if not _outside(item.address.person):
            options.setdefault(item.address.person, []).append(item)
    return [_notice(rt, items, by) for items in options.values()]


def _notice(rt: Runtime, items: list[Planned], by: str) -> Planned:
    """One person's notice on the quietest of all their addresses (paged by phone and mailed: told by email)."""
    addresses = {(a.channel, a.target): a for item in items for a in (item.address, *item.fallbacks)}
    first, *rest = sorted(addresses.values(), key=lambda a: quietness(a.channel))
    notice = Planned(-1, first, template_for(rt.directory.family(first.channel), "reclassify"), tuple(rest))
    if _is_author(rt, first.person, by):
        return replace(notice, skip="the author of this reclassification", fallbacks=())
    return notice


def _outside(person: str) -> bool:
    return person in ("customer", "webhook") or person.startswith("external:")


def _is_author(rt: Runtime, person: str, by: str) -> bool:
    known = rt.directory.people.get(person)
    names = {person.casefold()} | ({known.name.casefold()} if known else set())
    return by.strip().casefold() in names


def _title(rt: Runtime, klass: str) -> str:
    known = rt.policy.classes.get(klass)  # a class since removed from the policy keeps its name
    return known.title if known else klass


def _count(n: int, one: str) -> str:
    return f"{n} {one}{'' if n == 1 else 's'}"
