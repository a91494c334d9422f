"""Maintenance windows announced to the support escalation channel when they start and when they end.

An announcement is a record of its own, ``MNT-M-3F9A1C-START`` (class ``maintenance``, closed at once),
with one outbox row of kind ``announcement`` that carries its text: any worker's sender sends it,
retries it like any notice, and logs its attempts in `notify log`. Its id is made of the window and
the edge, so however many workers tick at once the store records it once; the window's stamp for
that edge (silences_sql.claim_announcement) then keeps later ticks from asking again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from ..config.problems import ConfigError
from ..domain.incident import format_time
from ..domain.silences import Silence
from ..domain.states import IncidentStatus
from ..store import Store
from .contact_test import resolve_test_target
from .engine import Runtime, outbox_row

__all__ = ["ANNOUNCE_TO", "WINDOW_CLASS", "announce_windows", "announcement_text"]

log = logging.getLogger("notify.windows")

ANNOUNCE_TO = "#support-escalation"  # contacts.toml's [slack.support-escalation]
WINDOW_CLASS = "maintenance"
LOOK_BACK = timedelta(days=1)  # an end missed by more than this (no worker ran for a day) is not announced late


def announce_windows(rt: Runtime, store: Store, now: datetime) -> list[str]:
    """Plan the announcement of each window edge come by `now` and not announced yet; the records made."""
    due = store.unannounced(now, now - LOOK_BACK)  # a window expired before it began is never announced
    if not due:
        return []
    try:
        planned = resolve_test_target(rt, ANNOUNCE_TO, "slack", now)
    except ConfigError as exc:
        log.warning("maintenance windows are not announced: %s", exc)
        return []
    made = []
    for window, edge in due:
        record_id = f"MNT-{window.id}-{edge}".upper()
        subject, text = announcement_text(window, edge)
        record = {"id": record_id, "class": WINDOW_CLASS, "drill": False, "dedup_key": "", "started": now,
                  "fields": {"summary": subject}}
        rows = [outbox_row(p, kind="announcement", notice={"subject": subject, "text": text}) for p in planned]
        _, created = store.open_incident(record, rows, prefix="MNT", year=now.year, now=now)
        if created:  # closed at once: nothing to acknowledge; its row is sent all the same
            store.record_event(record_id, "resolved", "resolved", now, "announced", status=IncidentStatus.RESOLVED)
            made.append(record_id)
        store.claim_announcement(window.id, edge, now)  # after the record: a crash in between announces once
    return made


def announcement_text(window: Silence, edge: str) -> tuple[str, str]:
    """(subject, text) of a window's start or end announcement."""
    services = ", ".join(window.services)
    if edge == "start":
        text = (f"Maintenance {window.id} has started: alerts for {services} are held back (nobody is paged) "
                f"until {format_time(window.ends)}. {window.by}: {window.reason}")
    else:
        text = (f"Maintenance {window.id} has ended: alerts for {services} page again; any still firing page "
                f"now. {window.by}: {window.reason}")
    return f"Maintenance {window.id} {edge}: {services}", text
