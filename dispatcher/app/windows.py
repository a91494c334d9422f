"""Maintenance windows announced to the support escalation channel when they start and when they end.

Each edge is claimed in the store by one conditional update (silences_sql.claim_announcement), so with
several workers ticking exactly one announces it. The announcement goes out like a contact test
(contact_test.py): a record of its own (``MNT-2026-001``, class ``maintenance``), closed at once, so its
attempt is in `notify log` like any page. One that cannot be sent in time is given back and tried on a
later tick.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from ..api import Notice
from ..clock import Clock
from ..config.problems import ConfigError
from ..delivery.registry import Registry
from ..domain.incident import format_time
from ..domain.silences import Silence
from ..domain.states import IncidentStatus
from ..store import Store
from .contact_test import resolve_test_target
from .engine import Runtime, outbox_row

__all__ = ["ANNOUNCE_TO", "announce_windows"]

log = logging.getLogger("notify.windows")

ANNOUNCE_TO = "#support-escalation"  # contacts.toml's [slack.support-escalation]
WINDOW_CLASS, WINDOW_PREFIX = "maintenance", "MNT"
LOOK_BACK = timedelta(days=1)  # an end missed by more than this (no worker ran for a day) is not announced late
SEND_WITHIN = 10.0  # seconds a tick spends on one announcement before giving it back


def announce_windows(rt: Runtime, store: Store, clock: Clock, registry: Registry) -> list[str]:
    """Announce each window edge that has come and was not announced yet; returns "M-1:start"-style names."""
    now = clock.now()
    due = store.unannounced(now, now - LOOK_BACK)  # a window expired before it began is never announced
    if not due:
        return []
    try:
        planned = resolve_test_target(rt, ANNOUNCE_TO, "slack", now)
    except ConfigError as exc:
        log.warning("maintenance windows are not announced: %s", exc)
        return []
    done = []
    for window, edge in due:
        if store.claim_announcement(window.id, edge, now):
            if _send(rt, store, clock, registry, planned, window, edge):
                done.append(f"{window.id}:{edge}")
            else:
                store.unclaim_announcement(window.id, edge)
    return done


def announcement(window: Silence, edge: str, incident_id: str) -> Notice:
    services = ", ".join(window.services)
    if edge == "start":
        text = (f"Maintenance {window.id} has started: alerts for {services} are held back (nobody is paged) "
                f"until {format_time(window.ends)}. {window.by}: {window.reason}")
    else:
        text = (f"Maintenance {window.id} has ended: alerts for {services} page again; any still firing page "
                f"now. {window.by}: {window.reason}")
    return Notice(incident_id, WINDOW_CLASS, 0, f"Maintenance {window.id} {edge}: {services}", text,
                  severity="info", dedup_key=f"{window.id}-{edge}")


def _send(rt: Runtime, store: Store, clock: Clock, registry: Registry, planned: list, window: Silence,
          edge: str) -> bool:
    """Record and send one announcement; True once the channel accepted it."""
    from ..delivery.sender import RetryPolicy, Sender

    now = clock.now()
    record = {"id": "", "class": WINDOW_CLASS, "drill": False, "dedup_key": "", "started": now,
              "fields": {"summary": f"maintenance {window.id} {edge}"}}
    incident_id, _ = store.open_incident(record, [outbox_row(p, kind="announcement") for p in planned],
                                         prefix=WINDOW_PREFIX, year=now.year, now=now)
    notice = announcement(window, edge, incident_id)
    sender = Sender(store, registry, clock, lambda row: (notice, None), owner=f"windows-{os.getpid()}",
                    retry=RetryPolicy(rt.settings.retry_attempts, max_wait=rt.settings.retry_max_wait),
                    secrets=rt.settings.secrets() + rt.directory.secrets(), klass_of=lambda _: WINDOW_CLASS)
    sender.send_now(store.deliveries(incident_id), deadline=now + timedelta(seconds=SEND_WITHIN))
    rows = store.deliveries(incident_id)
    sent = any(r.status.is_accepted for r in rows)
    store.record_event(incident_id, "resolved", "resolved", clock.now(),
                       "announced" if sent else "not sent in time: tried again on a later tick",
                       status=IncidentStatus.RESOLVED, cancel=[r.id for r in rows], cancel_reason="not sent in time")
    return sent
