"""Silences end to end on an injected clock: held alerts page nobody, are shown as held, and page when released.

A real SQLite store, the shipped policy, providers behind local stand-ins (tests/stage.py), and the
worker ticked by hand: no test waits for a silence to run out on the wall clock.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest

from dispatcher.app.engine import new_incident, trigger
from dispatcher.app.incidents import status_document, status_text
from dispatcher.app.ingest import ingest
from dispatcher.app.silences import add_silence, expire
from dispatcher.app.webhooks import parse
from dispatcher.app.worker import Worker
from dispatcher.errors import InputError, SilenceNotFound

from .stage import Stage, make_stage

MINUTE = timedelta(minutes=1)
DISK = {"alertname": "DiskFull", "instance": "db-1", "severity": "critical"}


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    yield from make_stage(config_dir, tmp_path, monkeypatch)


class World:
    def __init__(self, stage: Stage) -> None:
        self.stage, self.clock = stage, stage.clock
        self.rt = stage.runtime()
        self.store = stage.store()
        self.worker = Worker(self.rt, self.store, self.clock)

    def alert(self, action: str = "trigger", labels: dict | None = None, key: str = "disk-db-1",
              services: str | None = None) -> Any:
        body = {"action": action, "class": "outage", "dedup_key": key, "summary": "Disk full on db-1",
                "labels": labels or DISK}
        if services:
            body["affected_services"] = services
        return ingest(self.rt, self.store, parse("generic", json.dumps(body).encode()), self.clock.now())

    def silence(self, *matchers: str, duration: str = "2h") -> Any:
        return add_silence(self.rt, self.store, matchers, duration=duration, by="alice", reason="disk swap",
                           now=self.clock.now())

    def tick(self, minutes: int = 1) -> None:
        for _ in range(minutes):
            self.clock.advance(MINUTE)
            self.worker.tick()

    def pages(self, incident_id: str) -> list[tuple[str, str]]:
        return sorted({(a.kind, a.person) for a in self.store.attempts(incident_id=incident_id)
                       if a.outcome == "delivered"})

    def timeline(self, incident_id: str) -> list[tuple[str, str]]:
        return [(e.kind, e.detail) for e in self.store.events(incident_id)]

    def close(self) -> None:
        self.worker.close()
        self.store.close()


@pytest.fixture
def world(stage: Stage) -> Iterator[World]:
    w = World(stage)
    yield w
    w.close()


def test_a_silenced_alert_is_stored_and_shown_held_and_pages_nobody_until_the_silence_runs_out(world: World):
    silence, matching = world.silence('alertname="DiskFull"', 'instance=~"db-.*"')
    assert matching == []
    result = world.alert()
    assert (result.outcome, result.delivery_ids) == ("silenced", ())
    held = [d for k, d in world.timeline(result.incident_id) if k == "silenced"]
    assert held and silence.id in held[0] and "alice: disk swap" in held[0]
    world.tick(119)  # the outage class would have climbed its whole ladder by now
    assert world.pages(result.incident_id) == []
    assert world.store.deliveries(result.incident_id) == []
    doc = status_document(world.rt, world.store, result.incident_id, world.clock.now())
    assert doc["held"] is True and doc["next_due"] == []
    assert "held back: a silence or maintenance window" in status_text(doc)

    world.tick(1)  # 2 h: the silence is over; the worker's tick notices and pages at once
    released = world.clock.now()
    kinds = [k for k, _ in world.timeline(result.incident_id)]
    assert "released" in kinds and "escalation" not in kinds and "sla-breach" not in kinds
    assert {kind for kind, _ in world.pages(result.incident_id)} == {"step"}  # step 0, not the whole ladder
    upcoming = status_document(world.rt, world.store, result.incident_id, released)["next_due"]
    first = {n["kind"]: n["at"] for n in reversed(upcoming)}  # the soonest of each kind
    assert first["escalation"] == (released + 15 * MINUTE).isoformat()  # the SLA counts from the release
    assert first["step"] == (released + 15 * MINUTE).isoformat()  # the follow-up step at +15 min
    assert first["reminder"] == (released + 10 * MINUTE).isoformat()  # the 15-min update cadence, 5 min lead
    assert all(n["at"] > released.isoformat() for n in upcoming)  # nothing of the ladder is overdue at once

    world.tick(14)  # the response SLA (15 min) counts from the release, not from when the alert came
    assert "escalation" not in [k for k, _ in world.timeline(result.incident_id)]
    world.tick(1)
    escalations = [e for e in world.store.events(result.incident_id) if e.kind == "escalation"]
    assert [e.at for e in escalations] == [released + 15 * MINUTE]


def test_expiring_a_silence_by_hand_pages_at_once_a_group_still_firing(world: World):
    silence, _ = world.silence('alertname="DiskFull"')
    opened = world.alert()
    world.tick(30)
    world.alert()  # Alertmanager's repeat while silenced: still nobody
    assert world.store.deliveries(opened.incident_id) == []
    ended = expire(world.rt, world.store, silence.id, world.clock.now())
    assert ended.released == [opened.incident_id] and ended.silence.expired == world.clock.now()
    assert {d.kind for d in world.store.deliveries(opened.incident_id)} == {"step"}
    world.worker.tick()  # the outbox is sent by the next tick (or at once by `notify silence expire`)
    assert world.pages(opened.incident_id)
    with pytest.raises(SilenceNotFound):
        expire(world.rt, world.store, "S-nope", world.clock.now())


def test_a_group_resolved_while_silenced_pages_nobody_when_the_silence_ends(world: World):
    silence, _ = world.silence('alertname="DiskFull"')
    opened = world.alert()
    world.alert(action="resolve")
    expire(world.rt, world.store, silence.id, world.clock.now())
    world.tick(30)
    assert world.store.deliveries(opened.incident_id) == []
    assert world.store.incident(opened.incident_id).status == "resolved"


def test_a_new_silence_affects_future_alerts_only_and_lists_the_open_incidents_it_matches(world: World):
    paging = world.alert()
    assert paging.outcome == "opened"
    _, matching = world.silence('alertname="DiskFull"')
    assert [m["id"] for m in matching] == [paging.incident_id]
    world.tick(16)  # the open incident keeps its ladder
    assert "escalation" in [k for k, _ in world.timeline(paging.incident_id)]
    other = world.alert(key="disk-db-2", labels={**DISK, "instance": "db-2"})
    assert other.outcome == "silenced"


def test_an_alert_in_a_held_group_that_no_silence_covers_pages_now(world: World):
    world.silence('alertname="DiskFull"')
    held = world.alert()
    grown = world.alert(labels={"alertname": "CpuHot"})  # the same group, now an alert nobody silenced
    assert grown.outcome == "updated" and grown.incident_id == held.incident_id
    assert world.store.deliveries(held.incident_id)


def test_cli_triggers_are_held_only_by_a_silence_naming_their_class(world: World, stage: Stage):
    world.silence('severity="critical"')  # matches every CLI trigger's labels (none): not explicit, so no hold
    report = stage.trigger("SEC-2024-001")
    assert report.deliveries and not any("held back" in n for n in report.notes)
    world.silence('class="security"')
    incident = new_incident(world.rt, "security", {"customer": "Acme", "summary": "Admin logins"},
                            now=world.clock.now(), drill=False, incident_id="SEC-2024-002")
    held = trigger(world.rt, "trigger", incident, store=world.store, clock=world.clock)
    assert held.deliveries == [] and any("held back" in n for n in held.notes)
    assert "silenced" in [k for k, _ in world.timeline("SEC-2024-002")]


@pytest.mark.parametrize("matchers, field", [
    ((), "match"),
    (('="DiskFull"',), "match"),
    (('alertname=~"("',), "match"),
    (('class="nope"',), "match"),
    (('alertname=~".*"',), "match"),
])
def test_a_bad_silence_is_refused_naming_the_option(world: World, matchers, field):
    with pytest.raises(InputError) as caught:
        world.silence(*matchers)
    assert caught.value.field == field
    assert world.store.silences() == []


def test_a_silence_needs_a_duration_an_author_and_a_reason(world: World):
    with pytest.raises(InputError, match="for:"):
        world.silence('alertname="X"', duration="forever")
    with pytest.raises(InputError, match="reason:"):
        add_silence(world.rt, world.store, ['alertname="X"'], duration="1h", by="alice", reason=" ",
                    now=world.clock.now())


def test_a_person_reclassifying_a_held_incident_pages_the_new_class_once_even_when_the_silence_ends(world: World):
    from dispatcher.app.reclassify import reclassify

    silence, _ = world.silence('alertname="DiskFull"')
    held = world.alert()
    world.tick(5)
    reclassify(world.rt, world.store, held.incident_id, "security", "Support Manager A", world.clock.now())
    world.worker.tick()
    paged = {(d.person, d.channel) for d in world.store.deliveries(held.incident_id) if d.kind == "step"}
    assert paged
    expire(world.rt, world.store, silence.id, world.clock.now())
    world.tick(1)
    again = [d for d in world.store.deliveries(held.incident_id) if d.kind == "step" and d.step == 0]
    assert len(again) == len({(d.person, d.channel) for d in again})  # nobody's step 0 planned twice
    assert "released" not in [k for k, _ in world.timeline(held.incident_id)]
