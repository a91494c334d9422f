"""`notify test`: one clearly marked message over one contact method, recorded in the log.

A new phone number or webhook is verified before it matters. The test is an
incident of its own (``TEST-2026-001``, class ``test``) so its attempt lands in
the delivery log like any page, but it never escalates and uses no template.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime, timedelta

from ..api import Notice
from ..clock import Clock
from ..config.policy import Notify
from ..delivery.registry import Registry
from ..domain.incident import Incident
from ..domain.plan import Planned, plan_audience
from ..domain.states import IncidentStatus
from ..errors import InputError
from ..store import Store
from .engine import Runtime, lines_from_store, outbox_row
from .report import Report

__all__ = ["resolve_test_target", "send_test"]

TEST_CLASS, TEST_PREFIX = "test", "TEST"


def resolve_test_target(rt: Runtime, target: str, channel: str | None, now: datetime) -> list[Planned]:
    """A person, list or channel destination (by id, `kind:id` or its target, such as a Slack `#name`) on one
    channel, no fallbacks; a rotation slot is whoever is on duty at ``now``."""
    audience = _audience(rt, target)
    kind = audience.partition(":")[0]
    if kind == "person" and channel is None:
        channel = rt.directory.people[audience.partition(":")[2]].channels[0]
    entry = Notify(to=audience, channel=channel if kind == "person" else None)
    probe = Incident("TEST", TEST_CLASS, now, {})
    any_class = next(iter(rt.policy.classes.values()))
    planned = [replace(p, fallbacks=()) for p in plan_audience(entry, probe, any_class, 0, rt.directory)]
    wrong = [p for p in planned if channel and p.address.channel != channel]
    if wrong or (channel and not planned):
        where = wrong[0].address.display if wrong else target
        raise InputError("TARGET", f"{where} cannot be reached on {channel}: no {channel} address in "
                                   f"{rt.paths.contacts} (a list takes email, {_owned()})")
    return planned


def _owned() -> str:
    """How each channel's destinations are reached: "a slack destination slack"."""
    from ..config.plugins import table_owners

    return ", ".join(f"a {table} destination {channel}" for table, channel in table_owners().items()) or "nothing else"


def _audience(rt: Runtime, target: str) -> str:
    d = rt.directory
    tables = {"person": d.people, "list": d.lists, **{name: d.table(name) for name in d.tables}}
    found = next((f"{name}:{ident}" for name in d.tables for ident, entry in d.table(name).items()
                  if entry.channel == target), None)  # a destination by its target: Slack's #name
    if found:
        return found
    kind, sep, ident = target.partition(":")
    if sep and ident in tables.get(kind, ()):
        return target
    for kind, table in tables.items():
        if target in table:
            return f"{kind}:{target}"
    kinds = "".join(f", {name}:ID" for name in d.tables)
    # The argument is what is wrong, not the configuration: an InputError naming it, not "run notify check".
    raise InputError("TARGET", f"{target!r} is no person, list or channel destination in {rt.paths.contacts} "
                               f"(use an id from it, list:ID{kinds} or a destination's target, as its table "
                               "writes it: #security-alerts)")


def test_notice(incident_id: str, planned: Planned, now: datetime) -> Notice:
    text = (f"[TEST] notify contact test {incident_id} for {planned.address.display} via "
            f"{planned.address.channel}, sent {now:%Y-%m-%d %H:%M %Z}. No action needed.")
    return Notice(incident_id, TEST_CLASS, 0, f"[TEST] notify contact test {incident_id}", text,
                  severity="info", dedup_key=incident_id)


def send_test(rt: Runtime, planned: list[Planned], *, store: Store, clock: Clock, wait: float = 30.0) -> Report:
    """Store a test incident with its one delivery, send it once, and report."""
    from ..delivery.sender import RetryPolicy, Sender

    now = clock.now()
    record = {"id": "", "class": TEST_CLASS, "drill": False, "dedup_key": "", "started": now,
              "fields": {"summary": "contact test"}}
    incident_id, _ = store.open_incident(record, [outbox_row(p, kind="test") for p in planned], prefix=TEST_PREFIX,
                                         year=now.year, now=now)
    registry = Registry(rt.settings, rt.directory)
    sender = Sender(store, registry, clock, lambda row: (test_notice(incident_id, planned[0], now), None),
                    owner=f"test-{os.getpid()}",
                    retry=RetryPolicy(rt.settings.retry_attempts, max_wait=rt.settings.retry_max_wait),
                    secrets=rt.settings.secrets() + rt.directory.secrets(), klass_of=lambda _: TEST_CLASS)
    try:
        sender.send_now(store.deliveries(incident_id), deadline=now + timedelta(seconds=wait))
    finally:
        registry.close()
    # A contact test is not an incident: it closes at once, so no timer or list ever waits on it.
    store.record_event(incident_id, "resolved", "resolved", clock.now(), "contact test done",
                       status=IncidentStatus.RESOLVED)
    summary = {"id": incident_id, "class": TEST_CLASS, "title": "Contact test", "priority": "Test", "status": "test",
               "drill": False, "started": now.isoformat(), "fields": record["fields"], "existing": False}
    return Report("test", "send", summary, lines_from_store(store.deliveries(incident_id)))
