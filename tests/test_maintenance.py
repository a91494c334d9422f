"""Maintenance windows on an injected clock: scheduled ahead, holding alerts for their services while in effect,
announced to #support-escalation once at the start and once at the end, however many workers tick."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest

from dispatcher.app.silences import add_maintenance
from dispatcher.app.worker import Worker

from .stage import Stage, make_stage
from .test_silences import World

MINUTE = timedelta(minutes=1)
API = {"alertname": "ApiDown", "service": "api"}


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    yield from make_stage(config_dir, tmp_path, monkeypatch)


@pytest.fixture
def world(stage: Stage) -> Iterator[World]:
    w = World(stage)
    yield w
    w.close()


def announcements(stage: Stage) -> list[str]:
    texts = [r.json.get("text", "") for r in stage.proxy["hooks.slack.com"].requests]
    return [t for t in texts if "Maintenance" in t]


def test_a_window_holds_alerts_for_its_services_while_in_effect_and_is_announced_once_each_edge(world, stage):
    t0 = world.clock.now()
    window = add_maintenance(world.store, ["api"], starts=t0 + 10 * MINUTE, ends=t0 + 70 * MINUTE, by="bob",
                             reason="database upgrade", now=t0)
    before = world.alert(key="api-1", labels=API)
    assert before.outcome == "opened"  # scheduled ahead: not in effect yet

    second_store = stage.store()
    second = Worker(world.rt, second_store, world.clock)  # another worker process on the same store
    try:
        for _ in range(10):
            world.tick()
            second.tick()
        [started] = announcements(stage)
        assert f"Maintenance {window.id} has started" in started and "api" in started and "database upgrade" in started

        during = world.alert(key="api-2", labels=API)
        other = world.alert(key="billing-1", labels={"alertname": "BillingDown", "service": "billing"})
        assert (during.outcome, other.outcome) == ("silenced", "opened")
        [(kind, detail)] = [(k, d) for k, d in world.timeline(during.incident_id) if k == "maintenance"]
        assert f"maintenance window {window.id}" in detail and "bob: database upgrade" in detail

        for _ in range(59):
            world.tick()
            second.tick()
        assert world.store.deliveries(during.incident_id) == []
        world.tick()
        second.tick()  # 70 min: the window is over; the alert still open pages now
        assert [a for a in announcements(stage) if "has ended" in a] == [
            a for a in announcements(stage) if f"Maintenance {window.id} has ended" in a]
        assert len(announcements(stage)) == 2
        assert world.pages(during.incident_id)
        assert world.store.held_counts() == {"silenced": 0, "maintenance": 1, "quiet-hours": 0}
    finally:
        second.close()
        second_store.close()


def test_a_window_announcement_the_provider_fails_is_retried_and_logged_like_any_notice(world, stage):
    from dispatcher.testing.providers import Reply

    t0 = world.clock.now()
    window = add_maintenance(world.store, ["api"], starts=t0 + MINUTE, ends=t0 + 60 * MINUTE, by="bob",
                             reason="upgrade", now=t0)
    stage.proxy["hooks.slack.com"].script(Reply(503, "busy"), Reply(200, "ok"))
    for _ in range(5):
        world.tick()
    record = f"MNT-{window.id}-START".upper()
    outcomes = [a.outcome for a in world.store.attempts(incident_id=record)]
    assert outcomes[0].startswith("failed") and outcomes[-1] == "delivered" and outcomes.count("delivered") == 1
    assert len(announcements(stage)) == len(outcomes)  # every try reached the provider; none after it took it
    assert world.store.incident(record).status == "resolved"  # a record, never an open incident
