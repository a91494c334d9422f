"""Monitoring events into incidents: one incident per alert group, never a second page for a repeat.

Shared by `notify serve` (webhooks) and `notify ingest` (command hooks). The
event is stored before anything is sent: the caller answers 2xx (or exits 0)
only after :func:`ingest` returned, and the sending happens afterwards from the
outbox. Semantics, by dedup key (Alertmanager's groupKey, Grafana's groupKey,
or the generic body's key):

- firing, no open incident for the key: open one, routed by the triage rules
  (labels and text), and plan its step 0;
- firing again: a repeat pages nobody; alerts new to the group (by
  fingerprint) post an update to the class's update audience;
- resolved: resolve the incident and plan the resolution notice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Iterable

from ..clock import Clock
from ..domain.account import checked_acv, checked_plan
from ..domain.plan import plan_step
from ..domain.quiet_hours import hold_quiet_pages
from ..domain.states import DeliveryState
from ..domain.triage import Report, triage
from ..errors import InputError
from ..eventlog import emit
from ..hooks.model import AlertEvent, PayloadError
from ..store import DeliveryRow, Store
from .engine import Runtime, incident_record, new_incident, outbox_row, webhook_planned
from .heartbeats import MONITORING, is_watchdog, watchdog_beat
from .holds import event_facts, held_event, hold_meta, hold_of
from .release import release
from .incidents import post_update, resolve
from .views import report_with_account

__all__ = ["IngestResult", "IngestSent", "delivery_counts", "ingest", "ingest_and_send", "log_ingested", "scoped_key"]

INCIDENT_FIELDS = ("customer", "plan", "acv", "reported_by", "summary", "commander", "started", "affected_services",
                   "impact_scope", "symptoms", "eta", "next_update", "description", "runbook")


@dataclass(frozen=True)
class IngestResult:
    outcome: str  # opened|silenced|updated|duplicate|resolved|not-open|heartbeat (Alertmanager's Watchdog)
    incident_id: str | None
    incident_class: str | None = None
    needs_review: bool = False
    delivery_ids: tuple[int, ...] = ()  # stored rows the caller (or the worker) sends now

    def as_json(self, deliveries: dict[str, int]) -> dict[str, Any]:
        """The answer to the event's sender; `deliveries` as :func:`delivery_counts` counts them."""
        return {"schema": 1, "outcome": self.outcome, "incident": self.incident_id, "class": self.incident_class,
                "needs_review": self.needs_review, "deliveries": deliveries}


def ingest(rt: Runtime, store: Store, event: AlertEvent, now: datetime) -> IngestResult:
    """Store what the event means (open, update, resolve, or nothing) and return what to send."""
    event = replace(event, dedup_key=scoped_key(event))
    if is_watchdog(event):  # Alertmanager's always-firing alert is its heartbeat, never an incident of its own
        beat = watchdog_beat(rt, store, event, now)
        resolved = beat.resolved if beat is not None else None
        return IngestResult("heartbeat", resolved, MONITORING if resolved else None,
                            delivery_ids=beat.delivery_ids if beat is not None else ())
    existing = _open_incident(store, event)
    if event.action == "update" and existing is None:
        return IngestResult("not-open", event.incident_id)  # an update names no open incident: open none
    if event.action == "resolve":
        if existing is None:
            return IngestResult("not-open", event.incident_id)
        _, rows, _ = resolve(rt, store, existing.id, f"{event.source}: {event.fields.get('summary', 'resolved')}",
                             event.source, now)
        return IngestResult("resolved", existing.id, existing.klass, delivery_ids=tuple(r.id for r in rows))
    if existing is not None:
        return _repeat(rt, store, existing, event, now)
    return _open(rt, store, event, now)


def log_ingested(source: str, result: IngestResult, inbox_event: int | None = None) -> None:
    """One line for what a webhook did: incident.opened/updated/resolved, or hook.ignored (a repeat, nothing open)."""
    changed = result.outcome in ("opened", "silenced", "updated", "resolved")
    emit(f"incident.{result.outcome}" if changed else "hook.ignored", result.incident_id, source=source,
         inbox_event=inbox_event, outcome=None if changed else result.outcome,
         **{"class": result.incident_class}, needs_review=result.needs_review or None,
         deliveries=len(result.delivery_ids))


def scoped_key(event: AlertEvent) -> str:
    """Monitoring group keys are scoped by source: two systems' '{}:{}' groups are different incidents."""
    return event.dedup_key if event.source == "generic" else f"{event.source}:{event.dedup_key}"


def _open_incident(store: Store, event: AlertEvent) -> Any:
    if event.incident_id:
        row = store.incident(event.incident_id)
        return row if row is not None and not row.status.is_closed else None
    return store.open_by_dedup_key(event.dedup_key)


def _open(rt: Runtime, store: Store, event: AlertEvent, now: datetime) -> IngestResult:
    report = _report(rt, event)
    klass, also, needs_review = _route(rt, event, report)
    values = {k: v for k, v in event.fields.items() if k in INCIDENT_FIELDS}
    values.update(plan=report.plan, acv=report.acv)  # the account's facts as triage read them, for the notices
    if not values.get("symptoms") and values.get("description"):
        values["symptoms"] = values["description"]
    if event.source != "generic" and values.get("started"):
        values["started"] = _no_later_than(values["started"], now)
    incident = new_incident(rt, klass, values, now=now, drill=False, incident_id=event.incident_id or "")
    incident = replace(incident, dedup_key=event.dedup_key, also=also, needs_review=needs_review,
                       reporter_unverified=_unverified_reporter(rt, values))
    facts = event_facts(rt, event, klass)
    hold = hold_of(store, facts, now)  # a silence or maintenance window: stored, shown, nobody paged (holds.py)
    planned = [] if hold else plan_step(incident, rt.klass(klass), 0, rt.directory) + webhook_planned(rt, 0)
    planned, quiet = hold_quiet_pages(planned, rt.klass(klass), rt.directory, now, opened=now)  # calls wait for hours
    rows = [outbox_row(p) for p in planned]
    record = {**incident_record(incident), "dedup_key": event.dedup_key, "dedup_open": True}
    record["meta"].update(hold_meta(facts, event.source, hold, now))
    alerts = [(f"alert-{a.fingerprint}", "alert", _alert_name(a)) for a in event.alerts if a.status == "firing"]
    alerts += [held_event(hold)] if hold else []
    # One transaction: the incident, its step-0 outbox rows and its alerts (as _remember_alerts records them).
    incident_id, created = store.open_incident(record, rows, prefix=rt.klass(klass).prefix, year=now.year,
                                               now=now, events=alerts + quiet)
    if not created:  # another request for the same group won the race: this one is a repeat
        return _repeat(rt, store, store.incident(incident_id), event, now)
    return IngestResult("silenced" if hold else "opened", incident_id, klass, needs_review,
                        tuple(store.pending_ids(incident_id, 0)))


def _no_later_than(started: str, now: datetime) -> str:
    """An Alertmanager or Grafana startsAt ahead of our clock is that host's clock, not a typo: paging must not
    wait for the clocks to agree, so it starts now. What a caller chose (the generic body) is validated as given."""
    return min(datetime.fromisoformat(started), now).isoformat()


def _unverified_reporter(rt: Runtime, values: dict[str, Any]) -> bool:
    """True when the event names a reporter that may not be mailed (see Directory.mailable_reporter)."""
    reporter = values.get("reported_by")
    return bool(reporter) and not rt.directory.mailable_reporter(str(reporter))


def _report(rt: Runtime, event: AlertEvent) -> Report:
    """What triage reads of an event: its text and labels, and the plan and contract value it gives (the generic
    body's keys, else the alert labels `plan` and `acv`), else those of the known account it names (as `notify
    triage --customer`); InputError names a plan or acv of a generic body that is wrong."""
    given = event.fields if event.source == "generic" else _label_facts(event)
    acv = checked_acv(given.get("acv"))
    report = Report(text=event.text, labels=event.labels, plan=checked_plan(given.get("plan")),
                    acv=float(acv) if acv is not None else None)
    return report_with_account(rt, report, str(event.fields.get("customer") or ""))[0]


def _label_facts(event: AlertEvent) -> dict[str, Any]:
    """The labels `plan` and `acv` that are valid. Alertmanager and Grafana were answered 202 when their event was
    stored: a label that is no plan is logged and left out, never a reason to lose the page."""
    facts: dict[str, Any] = {}
    for name, check in (("plan", checked_plan), ("acv", checked_acv)):
        try:
            facts[name] = check(event.labels.get(name))
        except InputError as exc:
            emit("hook.label-ignored", None, level=logging.WARNING, source=event.source, label=name,
                 problem=exc.problem)
    return facts


def _route(rt: Runtime, event: AlertEvent, report: Report) -> tuple[str, tuple[str, ...], bool]:
    """The class the event names, else what triage makes of its report (labels, text, account facts)."""
    if event.incident_class:
        if event.incident_class not in rt.policy.classes:
            raise PayloadError("class", f"unknown incident class {event.incident_class!r} "
                                        f"(the policy has {', '.join(rt.policy.classes)})")
        return event.incident_class, (), False
    result = triage(rt.routing, rt.policy, report)
    return result.klass, result.also, result.needs_review


def _remember_alerts(store: Store, incident_id: str, event: AlertEvent, now: datetime) -> list[str]:
    """Record each alert of the group once; return the names of those not seen before."""
    fresh = []
    for alert in event.alerts:
        if alert.status == "firing" and store.record_event(incident_id, f"alert-{alert.fingerprint}", "alert",
                                                           now, _alert_name(alert)):
            fresh.append(_alert_name(alert))
    return fresh


def _alert_name(alert: Any) -> str:
    labels = alert.labels
    # The affected service first, as for the incident's affected_services (service, else app, else job).
    where = labels.get("service") or labels.get("app") or labels.get("instance") or labels.get("job") or ""
    name = labels.get("alertname") or " ".join(alert.annotations.get("summary", "").split())[:80] or "alert"
    return f"{name}{f' ({where})' if where else ''}"


def _repeat(rt: Runtime, store: Store, existing: Any, event: AlertEvent, now: datetime) -> IngestResult:
    """A repeat of an open incident: new alerts (or a generic update) post an update; the rest is silent."""
    if existing.meta.get("hold"):
        return _held_repeat(rt, store, existing, event, now)
    if event.source == "generic" and event.action == "update":
        message = str(event.fields.get("summary") or event.text or "update")
    else:
        fresh = _remember_alerts(store, existing.id, event, now)
        if not fresh:
            return IngestResult("duplicate", existing.id, existing.klass)
        message = f"{len(fresh)} new alert{'s' * (len(fresh) > 1)} in this group: {', '.join(fresh)}"
    posted = post_update(rt, store, existing.id, message, event.source, now)
    return IngestResult("updated", existing.id, existing.klass, delivery_ids=tuple(r.id for r in posted.rows))


def _held_repeat(rt: Runtime, store: Store, existing: Any, event: AlertEvent, now: datetime) -> IngestResult:
    """A repeat of a held group: still held, it stays silent; an alert no rule holds (one new to the group) pages
    now, from this moment, as a released silence would."""
    _remember_alerts(store, existing.id, event, now)
    facts = event_facts(rt, event, existing.klass)
    if hold_of(store, facts, now, arrived=existing.created) or not release(rt, store, existing, now):
        return IngestResult("duplicate", existing.id, existing.klass)
    return IngestResult("updated", existing.id, existing.klass, delivery_ids=tuple(store.pending_ids(existing.id, 0)))


@dataclass(frozen=True)
class IngestSent:
    """`notify ingest`'s answer: what the event did, and how its deliveries stand after sending them."""

    result: IngestResult
    report: Any  # app.report.Report; None when the event had nothing open to act on
    counts: dict[str, int]


def ingest_and_send(rt: Runtime, store: Store, clock: Clock, event: AlertEvent, *, wait: float) -> IngestSent:
    """One event into incidents exactly as `notify serve` would, then its deliveries sent (retried up to `wait`)."""
    from .engine import (
        incident_from_row,
        incident_summary,
        lines_from_store,
        send_pending,
    )
    from .report import Report

    result = ingest(rt, store, event, clock.now())
    if result.incident_id is None or result.outcome == "not-open":
        return IngestSent(result, None, delivery_counts([], ()))
    incident = incident_from_row(store.incident(result.incident_id))
    planned = set(result.delivery_ids)
    send_pending(rt, store, clock, incident, [d for d in store.deliveries(incident.id) if d.id in planned], wait=wait)
    fresh = [d for d in store.deliveries(incident.id) if d.id in planned or d.fallback_of in planned]
    report = Report("ingest", "send", incident_summary(rt, incident, status=store.incident(incident.id).status),
                    lines_from_store(fresh), [f"{event.source}: {result.outcome} {result.incident_id}"])
    counts = delivery_counts(store.deliveries(incident.id), result.delivery_ids)
    if result.outcome == "duplicate":
        report.notes.append("a repeat of an open incident: nobody was paged again")
    if result.outcome == "silenced":  # which silence or window, as the timeline says
        report.notes += [e.detail for e in store.events(incident.id) if e.kind in ("silenced", "maintenance")]
    return IngestSent(result, report, counts)


def delivery_counts(rows: Iterable[DeliveryRow], planned_ids: Iterable[int]) -> dict[str, int]:
    """How the deliveries an event planned stand: planned, and of those delivered, failed or still pending.

    A delivery counts as delivered when it or a fallback standing in for it was; as failed
    only when it and every fallback failed for good; else as pending. So the three add up to
    `planned`, and "accepted for sending" is never counted as delivered. Skipped rows (no
    address, a drill) are not planned sends.
    """
    rows = list(rows)
    by_id = {r.id: r for r in rows}
    # Skipped rows were never to be sent; held ones wait for a person, not for a provider: neither is a failure.
    planned = [by_id[i] for i in planned_ids
               if i in by_id and by_id[i].status not in (DeliveryState.SKIPPED, DeliveryState.HELD)]
    counts = {"planned": len(planned), "delivered": 0, "failed": 0, "pending": 0}
    for row in planned:
        counts[_standing(row, rows)] += 1
    return counts


def _standing(row: DeliveryRow, rows: list[DeliveryRow]) -> str:
    """delivered|failed|pending for one planned delivery and the chain of fallbacks standing in for it."""
    chain, keys = [row], {r.delivery_key for r in rows}
    for link in chain:  # grows as it goes: fallbacks of fallbacks
        chain += [r for r in rows if r.fallback_of == link.id]
    if any(r.status.is_accepted for r in chain):
        return "delivered"
    if any(r.status.is_waiting for r in chain):
        return "pending"
    stood_in = {r.fallback_of for r in chain}
    # A failed row whose fallback the sender has not planned yet (it does so right after recording the failure).
    untried = [r for r in chain if r.id not in stood_in and
               any(r.delivery_key.on(channel) not in keys for channel, _ in r.fallbacks)]
    return "pending" if untried else "failed"
