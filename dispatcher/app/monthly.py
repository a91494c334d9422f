"""`notify report --month`: the seed's "Monthly Metrics Review" as one document, from the store's rows.

Per class and tier: incidents, time to acknowledge and to resolve (median, p90),
response-SLA compliance against the seed's 99 %, resolution-target compliance,
escalations per level, deliveries by channel and outcome, root causes on time and
customer satisfaction against the seed's 95 %; for the whole month: drills run
against the policy's monthly requirement, and the trend of the last six months.
First-call resolution and the escalation rate need a ticket system notify does
not have: the report says "not measured" rather than invent them.

Times count from when paging began (its opening, or a silence's release: ``holds.paging_began``), as every timer
does. An incident counts in the month it was opened; one still open when the
report is made counts against a target only once its time has run out. Drill
incidents (their own store) and contact tests are left out.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from ..domain.metrics import (
    RESPONSE_SLA_TARGET,
    SATISFACTION_TARGET,
    compliance,
    median,
    month_window,
    months_before,
    nearest_rank,
    time_zone,
)
from ..domain.resolution import target_of
from ..domain.timers import split_epoch
from ..store import IncidentRow, Store
from .contact_test import TEST_CLASS
from .engine import Runtime
from .holds import never_paged, paging_began

__all__ = ["NOT_MEASURED", "TREND_MONTHS", "build_report", "record_drill_run"]

NOT_MEASURED = "not measured (needs a ticket system)"
TREND_MONTHS = 6
SATISFIED = 4  # on the 1-5 scale of `notify review --csat`: 4 and 5 are satisfied answers
_STAGE = re.compile(r"^escalation-(\d+)")


def build_report(rt: Runtime, store: Store, month: str, tz: str | None, now: datetime) -> dict[str, Any]:
    """The month's report document (schema 1); ValueError naming --month or --tz when either is malformed."""
    zone = time_zone(tz)
    start, end = month_window(month, zone)
    rows = _opened(store, start, end)
    groups: dict[tuple[str, str], list[IncidentRow]] = {}
    for row in rows:
        groups.setdefault((row.klass, _tier(rt, row.klass)), []).append(row)
    drills = store.drill_runs(start, end)
    return {
        "schema": 1, "command": "report", "month": month, "tz": zone.key,
        "window": {"start": start.isoformat(), "end": end.isoformat()}, "made_at": now.isoformat(),
        "targets": {"response_sla": RESPONSE_SLA_TARGET, "satisfaction": SATISFACTION_TARGET,
                    "drills_per_month": rt.policy.drills.per_month},
        "groups": [{"class": k, "tier": t, **_figures(rt, store, members, now, detail=True)}
                   for (k, t), members in sorted(groups.items())],
        "total": _figures(rt, store, rows, now, detail=True),
        "drills": {"run": len(drills), "passed": sum(d.passed for d in drills),
                   "required": rt.policy.drills.per_month, "met": len(drills) >= rt.policy.drills.per_month,
                   "runs": [{"scenario": d.scenario, "class": d.klass, "started": d.started.isoformat(),
                             "passed": d.passed} for d in drills]},
        "first_call_resolution": NOT_MEASURED, "escalation_rate": NOT_MEASURED,
        "trend": [_trend(rt, store, m, zone, now) for m in months_before(month, TREND_MONTHS)],
    }


def _opened(store: Store, start: datetime, end: datetime) -> list[IncidentRow]:
    # An incident a silence or window held until it resolved paged nobody: nothing to measure (holds.never_paged).
    return [r for r in store.incidents() if start <= r.created < end and not r.drill and r.klass != TEST_CLASS
            and not never_paged(r)]


def _tier(rt: Runtime, klass: str) -> str:
    found = rt.policy.classes.get(klass)
    return found.tier if found else "unknown"


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _figures(rt: Runtime, store: Store, rows: list[IncidentRow], now: datetime, *, detail: bool) -> dict[str, Any]:
    """The numbers of a set of incidents; `detail` adds what needs their events and deliveries."""
    acks = [r.acked_at - paging_began(r) for r in rows if r.acked_at]
    resolves = [r.resolved_at - paging_began(r) for r in rows if r.resolved_at]
    response = [m for m in (_response_met(rt, r, now) for r in rows) if m is not None]
    resolution = [m for m in (_resolution_met(rt, r, now) for r in rows) if m is not None]
    reviews = [v for v in (store.review(r.id) for r in rows) if v is not None]
    answers = [v.csat for v in reviews if v.csat is not None]
    figures: dict[str, Any] = {
        "incidents": len(rows), "acknowledged": len(acks), "resolved": len(resolves),
        "ack_seconds": {"median": _seconds(median(acks)), "p90": _seconds(nearest_rank(acks, 90))},
        "resolve_seconds": {"median": _seconds(median(resolves)), "p90": _seconds(nearest_rank(resolves, 90))},
        "response_sla": _share(sum(response), len(response), RESPONSE_SLA_TARGET),
        "resolution_target": _share(sum(resolution), len(resolution), None),
        "satisfaction": {**_share(sum(a >= SATISFIED for a in answers), len(answers), SATISFACTION_TARGET),
                         "answers": len(answers)},
        "root_causes": _root_causes(reviews, now),
    }
    if detail:
        figures |= _activity(store, rows)
    return figures


def _share(met: int, counted: int, target: float | None) -> dict[str, Any]:
    share = compliance(met, counted)
    meets = None if share is None or target is None else share >= target
    return {"met": met, "counted": counted, "share": share, "target": target, "meets_target": meets}


def _response_met(rt: Runtime, row: IncidentRow, now: datetime) -> bool | None:
    """Acknowledged (or resolved) within the class's response SLA; None while it still may be."""
    klass = rt.policy.classes.get(row.klass)
    if klass is None:
        return None
    answered = row.acked_at or row.resolved_at
    if answered is not None:
        return answered - paging_began(row) <= klass.response_sla
    return False if now - paging_began(row) > klass.response_sla else None


def _resolution_met(rt: Runtime, row: IncidentRow, now: datetime) -> bool | None:
    """Resolved within its resolution target (a week when complex); None while it still may be, or without one."""
    klass = rt.policy.classes.get(row.klass)
    target = target_of(klass, bool(row.meta.get("complex"))) if klass else None
    if target is None:
        return None
    if row.resolved_at is not None:
        return row.resolved_at - paging_began(row) <= target
    return False if now - paging_began(row) > target else None


def _root_causes(reviews: list, now: datetime) -> dict[str, int]:
    on_time = sum(v.root_cause_on_time is True for v in reviews)
    late = sum(v.root_cause_on_time is False for v in reviews)
    overdue = sum(v.root_cause_at is None and now > v.root_cause_due for v in reviews)
    return {"reviews": len(reviews), "on_time": on_time, "late": late, "overdue": overdue,
            "pending": len(reviews) - on_time - late - overdue}


def _activity(store: Store, rows: list[IncidentRow]) -> dict[str, Any]:
    """Escalations per level (a repeated pass counts at its level) and deliveries by channel and outcome."""
    levels: Counter[str] = Counter()
    breaches = 0
    deliveries: Counter[tuple[str, str]] = Counter()
    for row in rows:
        for event in store.events(row.id):
            found = _STAGE.match(split_epoch(event.key)[1])
            if event.kind in ("escalation", "escalation-repeat") and found:
                levels[found[1]] += 1
            breaches += event.kind == "resolution-breach"
        for d in store.deliveries(row.id):
            deliveries[(d.channel, str(d.status))] += 1
    by_channel: dict[str, dict[str, int]] = {}
    for (channel, outcome), count in sorted(deliveries.items()):
        by_channel.setdefault(channel, {})[outcome] = count
    return {"escalations": dict(sorted(levels.items(), key=lambda kv: int(kv[0]))), "resolution_breaches": breaches,
            "deliveries": by_channel}


def _trend(rt: Runtime, store: Store, month: str, zone: Any, now: datetime) -> dict[str, Any]:
    start, end = month_window(month, zone)
    rows = _opened(store, start, end)
    figures = _figures(rt, store, rows, now, detail=False)
    return {"month": month, "incidents": figures["incidents"], "ack_median_seconds": figures["ack_seconds"]["median"],
            "response_sla": figures["response_sla"]["share"], "resolution_target": figures["resolution_target"]["share"],
            "satisfaction": figures["satisfaction"]["share"], "drills": len(store.drill_runs(start, end))}


def record_drill_run(store: Store, doc: dict[str, Any], ran_at: datetime, finished: datetime) -> int:
    """Leave a drill's summary (its document, `drill_report.build_document`) in the main store, for the monthly
    report's count of drills."""
    checks = doc["expectations"]
    summary = {"incident": doc["incident"]["id"], "expectations": len(checks),
               "failed": sum(not c["held"] for c in checks), "deliveries": len(doc["deliveries"]),
               "sandbox": bool(doc["sandbox"])}
    return store.add_drill_run(doc["scenario"], doc["incident"]["class"], ran_at, finished, bool(doc["ok"]), summary)
