"""An incident after its trigger: timers fired, acknowledged, updated, resolved, and its timeline.

Every change is one store event with a unique key plus the notices it
causes, written in one transaction: an ack, an update or a timer is recorded
once however many processes try, and its notices are in the outbox before
anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from ..api import Address
from ..clock import iso
from ..config.directory import Directory
from ..config.policy import IncidentClass, Notify
from ..domain.durations import format_duration
from ..domain.incident import Incident, format_time
from ..domain.plan import Planned, template_for
from ..domain.quiet_hours import hold_quiet_pages
from ..domain.resolution import DAILY, daily_updates_from
from ..domain.states import IncidentStatus
from ..domain.timers import Action, IncidentState, due_actions, next_actions
from ..errors import IncidentClosed, IncidentNotFound  # noqa: F401  IncidentNotFound re-exported: its old home
from ..render.table import PLAIN, Column, Output, render
from ..store import DeliveryRow, IncidentRow, Store
from .engine import (
    Runtime,
    incident_from_row,
    incident_summary,
    lines_from_store,
    outbox_row,
    webhook_planned,
)
from .facts import status_page_state
from .holds import paging_began
from .pager_events import pager_event_rows, told_by_events
from .planning import load, planned_for, quietness, update_deliveries
from .queues import waiting
from .report import OUTCOME_COLOURS, Report, outcome_label
from .reviews import open_review
from .targets import fire_targets

__all__ = ["PostedUpdate", "fire_timers", "incident_items", "post_update", "resolve", "retry_failed",
           "state_of", "status_document", "status_text"]



def state_of(row: IncidentRow) -> IncidentState:
    """The timers' view of an incident; they count from when notify opened it, or last reclassified it."""
    last = row.last_update_at
    escalated = row.meta.get("escalated")  # a stage fired by hand (actions.escalate_now): later stages count from it
    base = (int(escalated["stage"]), datetime.fromisoformat(escalated["at"])) if escalated else None
    return IncidentState(classified_at(row), row.status, last, base, int(row.meta.get("reclassified", 0)),
                         complex=bool(row.meta.get("complex")), created=paging_began(row), updates=row.updates)


def classified_at(row: IncidentRow) -> datetime:
    """When the incident's clocks start: its opening, its last reclassification (app.reclassify), or the release of
    its held page, whichever is latest."""
    classified = row.meta.get("classified_at")  # in meta: JSON text
    began = paging_began(row)  # held back by a silence or window: its clocks start at the release
    return max(datetime.fromisoformat(classified), began) if classified else began


def fire_timers(rt: Runtime, store: Store, row: IncidentRow, now: datetime) -> list[Action]:
    """Record every due timer action of one incident once, with its notices; return those newly fired."""
    if row.meta.get("hold"):  # held back by a silence or window (holds.py): no clock runs until paging begins
        return []
    incident = incident_from_row(row)
    fired = []
    klass = rt.klass(row.klass)
    for action in due_actions(klass, state_of(row), now):
        planned, quiet = planned_for(rt, incident, action.entries, step=action.step, kind=action.kind), []
        if action.kind == "step":  # a follow-up step's calls and texts wait for quiet hours as step 0's do
            planned, quiet = hold_quiet_pages(planned, klass, rt.directory, now, opened=classified_at(row))
        rows = [outbox_row(p, kind=action.kind, label=action.key, notice=action.notice) for p in planned]
        if action.kind == "step":  # the outbound webhook receives every step, as it does step 0
            rows += [outbox_row(p, label=action.key) for p in webhook_planned(rt, action.step)]
        if store.record_event(row.id, action.key, action.event_kind, now, action.detail, deliveries=rows):
            fired.append(action)
            for key, kind, held in quiet:
                store.record_event(row.id, f"{action.key}-{key}", kind, now, held)
    return fired + fire_targets(rt, store, row, incident, now)


@dataclass(frozen=True)
class PostedUpdate:
    """A recorded status update: the notices to send, and whether it is the update the cadence asks for."""

    incident: Incident
    rows: list[DeliveryRow]
    counted: bool  # it restarts the update cadence
    why_not: str | None = None  # why it does not count
    still_due: str | None = None  # when it does not count: when the cadence's update is due
    reached_nobody: bool = False  # every recipient was skipped: nothing will be sent


def post_update(rt: Runtime, store: Store, incident_id: str, message: str, by: str | None,
                now: datetime, *, record: tuple[str, ...] = ()) -> PostedUpdate:
    """Record update #n and plan its notice to the class's update audience (never to its author).

    `record`: actions done (of domain.incident.RECORDABLE, such as environment-secured), kept on the incident
    with the update, so later notices may say so (no template claims what nobody recorded).

    When the update audience names the customer, the cadence asks for customer updates:
    one that reaches only internal people (no customer email) is recorded as an
    uncounted-update, and the customer update stays due (a drill, which never contacts
    customers, counts as if it had).
    """
    row = load(store, incident_id)
    if row.status.is_closed:
        raise IncidentClosed(incident_id, f"resolved at {iso(row.resolved_at)}: no more updates")
    incident = incident_from_row(row)
    klass = rt.klass(row.klass)
    number = row.updates + 1
    audience = tuple(Notify(to=a) for a in klass.updates_to())
    planned = update_deliveries(planned_for(rt, incident, audience, step=-1, kind="update"), by, rt.directory)
    why_not = _why_not_counted(klass, incident, planned)
    due = _update_due(klass, row, now, counted=why_not is None)
    notice = {"kind": "update", "message": message, "by": by, "number": number,
              "due": format_time(due) if due else None}
    key = f"update-{number}"
    rows = [outbox_row(p, kind="update", label=key, notice=notice) for p in planned]
    kind, detail = ("update", message) if why_not is None else \
        ("uncounted-update", f"{message} (not counted: {why_not})")
    meta = None
    if record:  # recorded with the update, in its transaction; the incident then says so, before its notices render
        meta = {**row.meta, "recorded": sorted({*row.meta.get("recorded", ()), *record})}
        detail += f" (recorded: {', '.join(name.replace('-', ' ') for name in record)})"
        incident = replace(incident, recorded=tuple(meta["recorded"]))
    store.record_event(incident_id, key, kind, now, detail, by=by, deliveries=rows, meta=meta)
    return PostedUpdate(incident, [d for d in store.deliveries(incident_id) if d.delivery_key.label == key],
                        why_not is None, why_not, format_time(due) if due and why_not else None,
                        reached_nobody=all(p.skip for p in planned))


def _why_not_counted(klass: IncidentClass, incident: Incident, planned: list[Planned]) -> str | None:
    """None when this update is the one the cadence asks for; else why it is not."""
    if all(p.skip for p in planned):
        skipped = "; ".join(f"{p.address.display}: {p.skip}" for p in planned)
        return f"it was sent to nobody ({skipped or 'the update audience is empty'})"
    if "customer" not in klass.updates_to() or incident.drill:
        return None
    if any(p.address.person == "customer" and not p.skip for p in planned):
        return None
    why = next((p.skip for p in planned if p.address.person == "customer"), "not planned")
    return f"nothing was sent to the customer ({why}), so it is not the customer update the cadence asks for"


def _update_due(klass: IncidentClass, row: IncidentRow, now: datetime, *, counted: bool) -> datetime | None:
    """When the next update is due: a cadence after this one, or, when this one does not count, as it was.
    A complex incident past its class's resolution target owes one a day (domain/resolution.py)."""
    daily = daily_updates_from(klass, paging_began(row), bool(row.meta.get("complex")))
    every = DAILY if daily is not None and now >= daily else klass.update_every
    if every is None:
        return None
    if counted:
        return now + every
    state = state_of(row)
    return max(state.last_update_at or state.opened, state.opened) + every


def resolve(rt: Runtime, store: Store, incident_id: str, message: str | None, by: str | None,
            now: datetime) -> tuple[Incident, list[DeliveryRow], bool]:
    """Stop every timer and plan the resolution notice to everyone reached so far, once each."""
    row = load(store, incident_id)
    incident = incident_from_row(row)
    if row.status.is_closed:
        return incident, [], False
    duration = now - row.started
    notice = {"kind": "resolved", "message": message, "by": by, "at": format_time(now),
              "duration": format_duration(duration)}
    sent = store.deliveries(incident_id)
    told = told_by_events(sent)
    # PagerDuty is told by a resolve event for each page it took, not by a notice (which would trigger anew)
    rows = [outbox_row(p, kind="resolved", label="resolved", notice=notice)
            for p in reached_so_far(sent, rt.directory) if (p.address.person, p.address.channel) not in told]
    rows += pager_event_rows(sent, "resolve", notice)
    store.record_event(incident_id, "resolved", "resolved", now, message or "resolved", by=by,
                       deliveries=rows, status=IncidentStatus.RESOLVED)
    open_review(rt, store, row, now)  # the post-incident review: follow-up, debrief, root cause due in 48 h
    return incident, [d for d in store.deliveries(incident_id) if d.kind == "resolved"], True  # the review's: the worker


def reached_so_far(rows: list[DeliveryRow], directory: Directory) -> list[Planned]:
    """One address per recipient who got any notice, on the quietest channel they can be reached on."""
    reached: dict[str, DeliveryRow] = {}
    for row in rows:
        if row.status.is_accepted and row.kind != "test":
            reached.setdefault(row.person, row)
    return [_quietest(row, directory) for row in reached.values()]


def _quietest(row: DeliveryRow, directory: Directory) -> Planned:
    """A person's quietest channel with an address (email before a phone call); others as reached."""
    options = [(row.channel, row.target)]
    person = directory.people.get(row.person)
    if person is not None:
        options += [(c, person.target(c)) for c in person.channels if person.target(c)]
    channel, target = min(options, key=lambda option: quietness(option[0]))
    return Planned(-1, Address(row.person, row.display, row.role, channel, target),
                   template_for(directory.family(channel), "resolved"))


def retry_failed(store: Store, incident_id: str, now: datetime) -> tuple[Incident, list[DeliveryRow], int]:
    """Requeue every failed delivery whose recipient nothing else reached for the same notice.

    Once the incident is resolved only its resolution notices are sent again: paging
    someone now about an incident that is over would wake them for nothing. Returns
    the incident, the requeued rows and how many failed pages were left for that reason.
    """
    row = load(store, incident_id)
    rows = store.deliveries(incident_id)
    accepted = {(_label(d), d.person) for d in rows if d.status.is_accepted}
    failed = [d for d in rows if d.status.is_failure and (_label(d), d.person) not in accepted]
    moot = [d for d in failed if row.status.is_closed and d.kind != "resolved"]
    failed = [d for d in failed if d not in moot]
    store.requeue([d.id for d in failed], now)
    ids = {d.id for d in failed}
    return incident_from_row(row), [d for d in store.deliveries(incident_id) if d.id in ids], len(moot)


def _label(row: DeliveryRow) -> str:
    """The step or timer a delivery belongs to, from its key (incident:label:person:channel)."""
    return row.delivery_key.label


def status_document(rt: Runtime, store: Store, incident_id: str, now: datetime) -> dict[str, Any]:
    """The incident's timeline: events, deliveries, and the timer actions still to come."""
    row = load(store, incident_id)
    incident = incident_from_row(row)
    klass = rt.policy.classes.get(row.klass)
    rows = store.deliveries(incident_id)
    report = Report("status", "status", incident_summary(rt, incident, status=row.status), lines_from_store(rows))
    upcoming = next_actions(klass, state_of(row), now) if klass and not row.meta.get("hold") else []
    doc = report.as_json()
    queued = {w.delivery_id: w for w in waiting(rt, store, now, incident_id)}
    for stored, line in zip(rows, doc["deliveries"]):  # why each queued one waits for its route, and if it is late
        line["queued"] = queued[stored.id].as_json() if stored.id in queued else None
    return {**doc, "command": "status", "status_page": status_page_state(store, incident_id, pointer=False),
            "acknowledged": {"at": iso(row.acked_at), "by": row.acked_by} if row.acked_at else None,
            "resolved_at": iso(row.resolved_at), "updates": row.updates,
            "held": bool(row.meta.get("hold")),  # a silence or window holds its pages back (holds.py)
            "timeline": [e.as_json() for e in store.events(incident_id)],
            "resolution_target": _target_json(klass, row, now),
            "next_due": [{"at": a.due.isoformat(), "kind": a.kind, "what": a.detail,
                          "audience": [e.to for e in a.entries]} for a in upcoming]}


def _target_json(klass: IncidentClass | None, row: IncidentRow, now: datetime) -> dict[str, Any] | None:
    """The resolution target, its deadline and the time to it (negative: breached); None without one."""
    from ..domain.resolution import time_to_target

    found = time_to_target(klass, paging_began(row), bool(row.meta.get("complex")), now) if klass else None
    if found is None:
        return None
    # to the nearest minute: a status read a few seconds later (over `notify serve`) says the same
    left = timedelta(minutes=round((found["deadline"] - (row.resolved_at or now)).total_seconds() / 60))
    return {"target": found["target"], "deadline": found["deadline"].isoformat(), "complex": found["complex"],
            "minutes_left": int(left.total_seconds() // 60),
            "met": None if row.resolved_at is None else left >= timedelta(0),
            "text": _target_text(found["target"], left, row.resolved_at is not None, found["complex"])}


def _target_text(target: str, left: timedelta, resolved: bool, complex_: bool) -> str:
    what = f"{target}{' (complex)' if complex_ else ''}"
    span = format_duration(abs(left))
    if resolved:
        return f"{what}: met with {span} to spare" if left >= timedelta(0) else f"{what}: missed by {span}"
    return f"{what}: {span} left" if left >= timedelta(0) else f"{what}: breached {span} ago"


def incident_items(store: Store, *, open_only: bool, needs_review: bool = False) -> list[dict[str, Any]]:
    """Incidents as JSON-able summaries, oldest first; `needs_review`: only the open ones waiting for a person
    to confirm their class (`notify reclassify`)."""
    rows = store.incidents(open_only=open_only or needs_review)
    return [{"id": r.id, "class": r.klass, "status": r.status, "drill": r.drill, "started": r.started.isoformat(),
             "summary": r.fields.get("summary", ""), "acked_by": r.acked_by, "resolved_at": iso(r.resolved_at),
             "needs_review": bool(r.meta.get("needs_review", False))}
            for r in rows if not needs_review or r.meta.get("needs_review")]


STATUS_COLOURS = {IncidentStatus.OPEN: "red", IncidentStatus.ACKNOWLEDGED: "yellow", IncidentStatus.RESOLVED: "green"}
_TIMELINE = (Column("AT", fixed=True), Column("EVENT", fixed=True), Column("DETAIL"))
_DELIVERIES = (Column("KIND", fixed=True), Column("RECIPIENT"), Column("CHANNEL", fixed=True), Column("TARGET"),
               Column("OUTCOME", fixed=True, colours=OUTCOME_COLOURS), Column("NOTE"))
_NEXT_DUE = (Column("AT", fixed=True), Column("KIND", fixed=True), Column("WHAT"))


def status_text(doc: dict[str, Any], out: Output = PLAIN) -> str:
    """The timeline as tables: events, deliveries (a possible repeat said so), and what is due next."""
    inc = doc["incident"]
    lines = [f"{inc['id']}  {inc['title']}  status: {inc['status']}  started {inc['started']}"]
    if inc.get("needs_review"):
        lines.append(f"  needs review: triage was not sure of the class; the {inc['class']} team was paged, and "
                     "notices to the customer and outside contacts are held until the class is confirmed "
                     f"(notify reclassify {inc['id']} CLASS --by NAME)")
    if doc.get("held"):
        lines.append("  held back: a silence or maintenance window holds its pages (see the timeline); it pages "
                     "when that ends, its clocks counting from then")
    if doc.get("status_page"):  # whether the status page took the update, not only that it was asked to
        lines.append(f"  status page: {doc['status_page']}")
    lines += ["timeline:", render(_TIMELINE, [
        (e["at"][:19], e["kind"], (e["detail"] or "") + (f" (by {e['by']})" if e["by"] and e["by"] not in
                                                         (e["detail"] or "") else "")) for e in doc["timeline"]],
        out, indent="  ")]
    lines += ["deliveries:", render(_DELIVERIES, [
        (d["kind"], d["display"], d["channel"], d["target"], outcome_label(d["outcome"], d["confirmed"]),
         _delivery_note(d))
        for d in doc["deliveries"]], out, indent="  ")]
    if doc.get("resolution_target"):
        lines.append(f"resolution target: {doc['resolution_target']['text']}")
    if doc["next_due"]:
        lines += ["next due:", render(_NEXT_DUE, [(n["at"][:19], n["kind"], n["what"]) for n in doc["next_due"]],
                                      out, indent="  ")]
    return "\n".join(lines)


def _delivery_note(d: dict[str, Any]) -> str:
    notes = ["possibly duplicated"] if d["possible_duplicate"] else []  # re-sent after its sender died mid-send
    if (queued := d.get("queued")) and queued["late"]:
        notes.append(f"LATE: a page queued {queued['waited_seconds']:.0f} s, over a tenth of its "
                     f"{queued['response_sla_seconds'] / 60:g} min response SLA")
    if d["fallback_of"]:
        notes.append(f"fallback for {d['fallback_of']}")
    return "; ".join(notes + [n for n in (d["warning"] or d["detail"] or d["reason"],) if n])
