"""Where a silence's hold meets the other clocks and records: targets, the monthly report, escalate-now, complex.

Every clock of an incident counts from when paging began (holds.paging_began): its opening, or the release of
what a silence held back. These tests hold an outage (4 h resolution target, 15 min response SLA) behind a
silence and check each consumer of that rule on a fake clock.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Iterator

import pytest

from dispatcher.app.actions import escalate_now
from dispatcher.app.incidents import resolve, status_document
from dispatcher.app.monthly import build_report
from dispatcher.app.silences import expire
from dispatcher.app.targets import mark_complex
from dispatcher.errors import IncidentClosed

from .test_silences import World, stage  # noqa: F401  (the stage fixture World needs)

HOUR = timedelta(hours=1)


@pytest.fixture
def world(stage) -> Iterator[World]:  # noqa: F811
    w = World(stage)
    yield w
    w.close()


def kinds(world: World, incident_id: str) -> list[str]:
    return [e.kind for e in world.store.events(incident_id)]


def test_a_released_incidents_resolution_target_counts_from_the_release(world: World) -> None:
    silence, _ = world.silence('alertname="DiskFull"', duration="6h")
    held = world.alert()
    world.clock.advance(6 * HOUR)
    expire(world.rt, world.store, silence.id, world.clock.now())
    released = world.clock.now()
    world.tick(5)
    assert "resolution-breach" not in kinds(world, held.incident_id)  # 6 h after the alert, 5 min after paging
    assert "resolution-reminder" not in kinds(world, held.incident_id)
    target = status_document(world.rt, world.store, held.incident_id, world.clock.now())["resolution_target"]
    assert target["deadline"] == (released + 4 * HOUR).isoformat()
    world.clock.advance(3 * HOUR - 6 * timedelta(minutes=1))
    world.tick(1)  # 75 % of 4 h after the release
    assert "resolution-reminder" in kinds(world, held.incident_id)


def test_an_incident_held_until_it_resolved_is_not_measured_in_the_month(world: World) -> None:
    world.silence('alertname="DiskFull"')
    held = world.alert()
    world.clock.advance(2 * HOUR)
    world.alert(action="resolve")
    assert world.store.incident(held.incident_id).status == "resolved"
    report = build_report(world.rt, world.store, world.clock.now().strftime("%Y-%m"), None, world.clock.now())
    assert report["total"]["incidents"] == 0 and report["total"]["response_sla"]["counted"] == 0


def test_escalate_now_on_a_held_incident_pages_step_0_then_the_stage_and_ends_the_hold(world: World) -> None:
    world.silence('alertname="DiskFull"')
    held = world.alert()
    escalated = escalate_now(world.rt, world.store, held.incident_id, "Support Manager A", world.clock.now())
    assert escalated.stage == 1 and escalated.rows
    row = world.store.incident(held.incident_id)
    assert not row.meta.get("hold") and kinds(world, held.incident_id)[-2:] == ["released", "escalated"]
    assert {d.kind for d in world.store.deliveries(held.incident_id)} == {"step", "escalation"}
    assert status_document(world.rt, world.store, held.incident_id, world.clock.now())["next_due"]  # clocks run


def test_a_resolved_incident_cannot_be_marked_complex_after_the_fact(world: World) -> None:
    opened = world.alert()
    world.clock.advance(5 * HOUR)
    resolve(world.rt, world.store, opened.incident_id, "disk replaced", "Support Manager A", world.clock.now())
    with pytest.raises(IncidentClosed, match="can no longer be marked complex"):
        mark_complex(world.store, opened.incident_id, "Support Manager A", world.clock.now())
    assert not world.store.incident(opened.incident_id).meta.get("complex")
