"""Heartbeats (dead man's switches): a monitor that stops reporting opens a `monitoring` incident.

A monitor beats with `POST /heartbeat/NAME` (server/heartbeats.py), or, for
Alertmanager, with its always-firing Watchdog alert posted to the ordinary hook
(:func:`is_watchdog`: never an incident of its own). Its interval is declared in
routing.toml (`[heartbeats.NAME]`) or given on its first call; the grace (how
late a beat may be) defaults to one interval. A heartbeat is watched from its
first beat on.

The worker's tick calls :func:`watch`: a heartbeat late by its grace opens a
`monitoring` incident ("monitoring has gone silent: NAME"), planned from the
policy's `monitoring` class like any other (it pages the on-call rotation and
#outage-response, and is internal: never a customer). The next beat resolves it.
Both changes are conditional writes in the store, so two workers, or a beat
racing a tick, change the state once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from ..config.routing import HEARTBEAT_NAME, MONITORING_CLASS
from ..domain.durations import format_duration, parse_duration
from ..domain.incident import format_time
from ..domain.plan import plan_step
from ..errors import ConfigError, InputError
from ..eventlog import emit
from ..store import Store
from .engine import Runtime, incident_record, new_incident, outbox_row, webhook_planned
from .incidents import resolve

__all__ = ["MONITORING", "WATCHDOG", "Beat", "beat", "heartbeat_states", "heartbeats_table", "is_watchdog", "watch", "watchdog_beat"]

MONITORING = MONITORING_CLASS  # the policy's internal class for a monitor gone silent
WATCHDOG = "alertmanager-watchdog"  # the heartbeat Alertmanager's Watchdog alert beats
WATCHDOG_DEFAULT = (timedelta(minutes=1), timedelta(minutes=4))  # when routing.toml does not declare it
MIN_INTERVAL, MAX_INTERVAL = timedelta(seconds=1), timedelta(days=31)
_NAME = re.compile(HEARTBEAT_NAME)
log = logging.getLogger("notify.heartbeats")


@dataclass(frozen=True)
class Beat:
    """What one beat did: the heartbeat as stored now, and the incident its return resolved (if it was late)."""

    row: Any  # store.heartbeats_sql.HeartbeatRow
    resolved: str | None = None
    delivery_ids: tuple[int, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"schema": 1, "outcome": "resolved" if self.resolved else "beat", "heartbeat": self.row.as_json(),
                "resolved": self.resolved, "deliveries": len(self.delivery_ids)}


def is_watchdog(event: Any) -> bool:
    """True for an Alertmanager notification about its Watchdog alert only (a group of nothing else)."""
    return event.source == "alertmanager" and bool(event.alerts) and \
        all(a.labels.get("alertname") == "Watchdog" for a in event.alerts)


def watchdog_beat(rt: Runtime, store: Store, event: Any, now: datetime) -> Beat | None:
    """A Watchdog notification as a beat; None for its resolved one (Prometheus stopped sending it: no beat)."""
    if not any(a.status == "firing" for a in event.alerts):
        emit("heartbeat.watchdog-resolved", None, level=logging.WARNING, heartbeat=WATCHDOG)
        return None
    return beat(rt, store, WATCHDOG, now, source="alertmanager")


def beat(rt: Runtime, store: Store, name: str, now: datetime, *, interval: str | None = None,
         grace: str | None = None, source: str = "http") -> Beat:
    """Record a beat of `name`; resolve the incident its silence opened, if it was late. InputError names a bad
    name, interval or grace, or an interval missing on the first call of a heartbeat routing.toml does not declare."""
    if not _NAME.fullmatch(name):
        raise InputError("name", f"heartbeat name {name[:70]!r}: use 1 to 64 lower-case letters, digits, '.', '_' "
                                 "and '-', starting with a letter or digit")
    every, late_after = _timing(rt, store, name, interval, grace)
    row = store.record_beat(name, now, every, late_after, source)
    if row.state != "late":
        return Beat(row)
    incident_id = store.mark_heartbeat_back(name)
    if incident_id is None:  # another beat got there first
        return Beat(store.heartbeat_row(name) or row)
    _, rows, _ = resolve(rt, store, incident_id, f"beats resumed: {name}", "heartbeat", now)
    emit("heartbeat.resumed", incident_id, heartbeat=name)
    return Beat(store.heartbeat_row(name) or row, incident_id, tuple(r.id for r in rows))


def forget(rt: Runtime, store: Store, name: str) -> str | None:
    """Stop watching a heartbeat a monitor started over HTTP (the monitor retired: else its silence pages on);
    returns the incident a silence of it opened, if any, which stays open for a person to resolve.

    InputError for one routing.toml declares (remove it there: forgotten, it would come back as never
    beaten) and for a name never stored."""
    if _declared(rt, name) is not None:
        raise InputError("name", f"heartbeat {name!r} is declared in routing.toml ([heartbeats.{name}]): "
                                 "remove it there, then forget it")
    row = store.heartbeat_row(name)
    if row is None or not store.forget_heartbeat(name):
        raise InputError("name", f"no heartbeat {name[:70]!r} is stored (`notify heartbeats` lists them)")
    open_incident = row.incident_id if row.state == "late" else None
    emit("heartbeat.forgotten", open_incident, heartbeat=name, last_beat=row.last_beat.isoformat())
    return open_incident


def _timing(rt: Runtime, store: Store, name: str, interval: str | None,
            grace: str | None) -> tuple[timedelta, timedelta]:
    """(interval, grace): routing.toml's declaration, else what this call gives, else what the first call gave."""
    declared = _declared(rt, name)
    if declared is not None:
        return declared.interval, declared.late_after
    stored = store.heartbeat_row(name)
    every = _duration("interval", interval) if interval else stored.interval if stored else \
        WATCHDOG_DEFAULT[0] if name == WATCHDOG else None
    if every is None:
        raise InputError("interval", f"heartbeat {name!r} is not declared in routing.toml ([heartbeats.{name}]): "
                                     "give its interval on its first call, e.g. ?interval=5m")
    late = _duration("grace", grace) if grace else stored.grace if stored and not interval else \
        WATCHDOG_DEFAULT[1] if name == WATCHDOG else every
    return every, late


def _duration(field: str, text: str) -> timedelta:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise InputError(field, str(exc)) from None
    if not MIN_INTERVAL <= value <= MAX_INTERVAL:
        raise InputError(field, f"{text!r}: expected from 1s to 31d")
    return value


def watch(rt: Runtime, store: Store, now: datetime) -> list[str]:
    """Open a `monitoring` incident for each heartbeat late by its grace (once); the ids opened.

    A policy without the `monitoring` class (a policy.toml written before it) pages nobody for a silence: the
    worker says so in its log at every tick, and `notify check` before that, but it never stops for it.
    """
    opened = []
    late = [row for row in store.heartbeat_rows() if row.state == "ok" and now >= row.deadline]
    if late and MONITORING not in rt.policy.classes:
        log.error("heartbeats %s are late but policy.toml has no `monitoring` class: nobody is paged (add it, "
                  "see docs/operations/heartbeats.md)", ", ".join(r.name for r in late))
        return []
    for row in late:
        incident_id = _open_silence(rt, store, row, now)
        if store.mark_heartbeat_late(row, incident_id, now):
            opened.append(incident_id)
            emit("heartbeat.late", incident_id, level=logging.WARNING, heartbeat=row.name,
                 last_beat=row.last_beat.isoformat())
        elif (current := store.heartbeat_row(row.name)) is not None and current.state == "ok":
            # It beat while the incident was being opened: nobody need act on a silence that has ended.
            resolve(rt, store, incident_id, f"beats resumed: {row.name}", "heartbeat", now)
    return opened


def _open_silence(rt: Runtime, store: Store, row: Any, now: datetime) -> str:
    """The open incident of this heartbeat's silence: opened now with its step 0, or the one open already."""
    key = f"heartbeat:{row.name}"
    declared = _declared(rt, row.name)
    what = f" ({declared.description})" if declared is not None and declared.description else ""
    description = (f"No beat from {row.name}{what} since {format_time(row.last_beat)}: it beats every "
                   f"{format_duration(row.interval)} and is {format_duration(row.grace)} late.")
    values = {"summary": f"monitoring has gone silent: {row.name}", "description": description,
              "symptoms": description, "affected_services": [row.name], "started": row.deadline.isoformat()}
    klass = rt.klass(MONITORING)
    incident = replace(new_incident(rt, MONITORING, values, now=now, drill=False), dedup_key=key)
    planned = plan_step(incident, klass, 0, rt.directory) + webhook_planned(rt, 0)
    record = {**incident_record(incident), "dedup_key": key, "dedup_open": True}
    incident_id, _ = store.open_incident(record, [outbox_row(p) for p in planned], prefix=klass.prefix,
                                         year=now.year, now=now)
    return incident_id


def _declared(rt: Runtime, name: str) -> Any:
    """routing.toml's declaration of a heartbeat, or None; a broken routing.toml is logged, never a lost page
    (the stored interval still holds)."""
    try:
        return rt.routing.heartbeats.get(name)
    except ConfigError as exc:
        log.error("routing.toml cannot be read, heartbeat %s goes by its stored interval: %s", name, exc)
        return None


def heartbeat_states(rt: Runtime, store: Store, now: datetime) -> list[dict[str, Any]]:
    """Every heartbeat, stored or only declared: its timing, last beat, state (ok, late, never) and incident."""
    rows = {row.name: row for row in store.heartbeat_rows()}
    states = []
    for name in sorted(set(rows) | set(rt.routing.heartbeats)):
        row, declared = rows.get(name), rt.routing.heartbeats.get(name)
        if row is None:
            states.append({"name": name, "state": "never", "interval_seconds": declared.interval.total_seconds(),
                           "grace_seconds": declared.late_after.total_seconds(), "last_beat": None,
                           "late_after": None, "incident": None, "beats": 0, "declared": True})
            continue
        state = row.state if row.state == "late" or now < row.deadline else "overdue"  # overdue: the next tick pages
        states.append({**row.as_json(), "state": state, "declared": declared is not None})
    return states


def heartbeats_table(states: list[dict[str, Any]], out: Any = None) -> str:
    """`notify heartbeats`: name, state, timing, last beat, when it counts as late, and its incident."""
    from ..render.table import PLAIN, Column, render

    def seconds(value: float) -> str:
        return format_duration(timedelta(seconds=value)) if value >= 60 else f"{value:g} seconds"

    rows = [(s["name"], s["state"], seconds(s["interval_seconds"]), seconds(s["grace_seconds"]),
             (s["last_beat"] or "never")[:19], (s["late_after"] or "")[:19], s["incident"] or "") for s in states]
    columns = (Column("NAME"), Column("STATE", fixed=True), Column("EVERY", fixed=True), Column("GRACE", fixed=True),
               Column("LAST BEAT", fixed=True), Column("LATE AFTER", fixed=True), Column("INCIDENT", fixed=True))
    return render(columns, rows, out or PLAIN)
