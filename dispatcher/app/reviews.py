"""Post-incident reviews: opened at resolution, reminded and breached on the worker's tick, closed by the commander.

Resolving an immediate- or priority-tier incident (:func:`open_review`) records, in
one event, the customer's follow-up notice (with the satisfaction survey link of
``NOTIFY_SURVEY_URL``) and a debrief invitation to every person who was paged,
and opens the review row: its root cause is due 48 hours after the resolution.
The worker (:func:`fire_reviews`) reminds the commander and records a breach
through the same idempotent events as every timer. `notify review` records the
root cause and the customer's satisfaction answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..config.policy import Notify
from ..domain.entries import Entry
from ..domain.incident import format_time
from ..domain.review import REVIEWED_TIERS, review_actions, root_cause_due
from ..errors import IncidentError, IncidentNotFound, InputError
from ..store import IncidentRow, Store
from .engine import Runtime, incident_from_row, outbox_row
from .planning import plan_entries, planned_for, update_deliveries

__all__ = ["CSAT_SCALE", "fire_reviews", "open_review", "record_csat", "record_root_cause", "reviews_due"]

CSAT_SCALE = range(1, 6)  # 1 (very dissatisfied) to 5 (very satisfied); 4 and 5 count as satisfied
LOOK_BACK = timedelta(days=7)  # a worker down longer than this leaves an old breach unrecorded (the report counts it)
PAGE_KINDS = ("step", "escalation", "breach")


def open_review(rt: Runtime, store: Store, row: IncidentRow, now: datetime) -> bool:
    """Open the review of a resolved incident of a reviewed tier, with its follow-up and debrief notices, once."""
    klass = rt.policy.classes.get(row.klass)
    if klass is None or klass.tier not in REVIEWED_TIERS or klass.internal:  # internal: no customer to follow up
        return False
    if row.meta.get("hold"):  # held back by a silence or window until it resolved: nobody was paged, nothing to review
        return False
    incident = incident_from_row(row)
    due = root_cause_due(now)
    link = (rt.settings.survey_url or "").replace("{incident}", incident.id) or None
    rows = plan_entries(rt, incident, (Notify(to="customer", channel="email"),), step=-1, kind="follow-up",
                        label="review-opened", notice={"kind": "follow-up", "link": link})
    paged = sorted({d.person for d in store.deliveries(row.id)
                    if d.kind in PAGE_KINDS and d.status.is_accepted and d.person in rt.directory.people})
    debrief = {"kind": "review", "due": format_time(due),
               "message": "Team debrief: you were paged for it; discuss lessons learned and improvements"}
    invited = update_deliveries(planned_for(rt, incident, tuple(Notify(to=f"person:{p}") for p in paged), step=-1,
                                          kind="review"), None, rt.directory)  # each on their quietest channel
    rows += [outbox_row(p, kind="review", label="review-opened", notice=debrief) for p in invited]
    store.record_event(row.id, "review-opened", "review-opened", now,
                       f"post-incident review: root cause due {format_time(due)}; customer follow-up and debrief "
                       f"invitation to {len(paged)} paged", deliveries=rows)
    return store.open_review(row.id, now, due)


def fire_reviews(rt: Runtime, store: Store, now: datetime) -> int:
    """Record each open review's due reminders and breach once, with their notices; how many fired."""
    fired = 0
    for review in store.pending_reviews(now - LOOK_BACK):
        row = store.incident(review.incident_id)
        if row is None or row.klass not in rt.policy.classes:
            continue
        incident = incident_from_row(row)
        for action in review_actions(review.root_cause_due, now):
            notice = {"kind": "review", "due": format_time(review.root_cause_due),
                      "message": "Root cause analysis overdue" if action.kind == "rca-breach" else
                      "Root cause analysis due"}
            rows = plan_entries(rt, incident, (Entry(to="commander"),), step=-1, kind="review", label=action.key,
                                notice=notice)
            fired += store.record_event(row.id, action.key, action.kind, now, action.detail, deliveries=rows)
    return fired


def record_root_cause(store: Store, incident_id: str, text: str, link: str | None, by: str | None,
                      now: datetime) -> Any:
    if not text.strip():
        raise InputError("--root-cause", "give the root cause as text")
    row = store.record_root_cause(incident_id, text.strip(), link, by, now)
    if row is None:
        raise _no_review(store, incident_id)
    on_time = "on time" if row.root_cause_on_time else f"late (due {format_time(row.root_cause_due)})"
    store.record_event(incident_id, f"root-cause-{now.isoformat()}", "root-cause", now,
                       f"root cause recorded {on_time}: {text.strip()}" + (f" ({link})" if link else ""), by=by)
    return row


def record_csat(store: Store, incident_id: str, score: int, now: datetime) -> Any:
    if score not in CSAT_SCALE:
        raise InputError("--csat", f"{score} is off the scale; answer 1 (very dissatisfied) to 5 (very satisfied)")
    row = store.record_csat(incident_id, score, now)
    if row is None:
        raise _no_review(store, incident_id)
    return row


def _no_review(store: Store, incident_id: str) -> Exception:
    if store.incident(incident_id) is None:
        return IncidentNotFound(incident_id)
    return IncidentError(incident_id, "no review: only resolved immediate- and priority-tier incidents have one")


def reviews_due(store: Store, now: datetime) -> list[dict[str, Any]]:
    """Every review still owing its root cause, soonest due first, as JSON-able rows."""
    out = []
    for review in store.pending_reviews():
        row = store.incident(review.incident_id)
        left = review.root_cause_due - now
        out.append({"incident": review.incident_id, "class": row.klass if row else None,
                    "resolved_at": review.resolved_at.isoformat(), "root_cause_due": review.root_cause_due.isoformat(),
                    "overdue": left < timedelta(0), "csat": review.csat})
    return out


def reviews_text(rows: list[dict[str, Any]], now: datetime, out: Any = None) -> str:
    """What is due, as a table: each open review's root-cause due time and whether it is overdue."""
    from ..domain.durations import format_duration
    from ..render.table import PLAIN, Column, render

    if not rows:
        return "no review is waiting for a root cause"
    columns = (Column("INCIDENT", fixed=True), Column("CLASS", fixed=True), Column("RESOLVED", fixed=True),
               Column("ROOT CAUSE DUE", fixed=True), Column("STATE", colours={"overdue": "red"}), Column("CSAT"))

    def state(row: dict[str, Any]) -> str:
        left = datetime.fromisoformat(row["root_cause_due"]) - now
        return f"overdue by {format_duration(-left)}" if row["overdue"] else f"due in {format_duration(left)}"

    return render(columns, [(r["incident"], r["class"] or "?", r["resolved_at"][:16], r["root_cause_due"][:16],
                             state(r), "-" if r["csat"] is None else str(r["csat"])) for r in rows], out or PLAIN)
