"""Resolution targets on the worker's tick: reminder at 75 %, breach and page at 100 %, complex incidents, status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from dispatcher.app.actions import acknowledge
from dispatcher.app.targets import mark_complex
from dispatcher.app.worker import Worker

from .helpers import run
from .stage import Stage, make_stage

H = timedelta(hours=1)
TRIGGER = ["security", "--incident", "SEC-2024-001", "--customer", "Acme Corp", "--summary", "Unusual admin logins"]


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    yield from make_stage(config_dir, tmp_path, monkeypatch)


def acked_at_five_minutes(stage: Stage) -> tuple[Worker, Worker]:
    """A security incident acknowledged before any escalation; two workers, each with a store of its own."""
    stage.trigger()
    rt = stage.runtime()
    stage.clock.advance(timedelta(minutes=5))
    store = stage.store()
    acknowledge(rt, store, "SEC-2024-001", "Support Manager A", stage.clock.now())
    store.close()
    return Worker(rt, stage.store(), stage.clock), Worker(stage.runtime(), stage.store(), stage.clock)


def tick_both_until(stage: Stage, t0: datetime, until: timedelta, workers: tuple[Worker, Worker]) -> None:
    while stage.clock.now() < t0 + until:
        stage.clock.advance(timedelta(minutes=15))
        for worker in workers:
            worker.tick()


def test_the_commander_is_reminded_at_75_percent_and_the_breach_pages_the_next_stage_once(stage: Stage) -> None:
    t0 = stage.clock.now()
    workers = acked_at_five_minutes(stage)
    tick_both_until(stage, t0, 3 * H, workers)
    events = {e.key: e for e in workers[0].store.events("SEC-2024-001")}
    assert events["resolution-reminder-4h"].kind == "resolution-reminder"
    assert "resolution-breach-4h" not in events
    target = [d for d in workers[0].store.deliveries("SEC-2024-001") if d.kind == "target"]
    assert [(d.person, d.status) for d in target] == [("support-manager-a", "delivered")]  # the commander (primary)

    tick_both_until(stage, t0, 4 * H + 30 * timedelta(minutes=1), workers)
    events = [e for e in workers[0].store.events("SEC-2024-001") if e.kind == "resolution-breach"]
    assert [e.key for e in events] == ["resolution-breach-4h"]  # once, though two workers ticked
    assert "escalated to rotation:secondary" in events[0].detail
    breach = [d for d in workers[1].store.deliveries("SEC-2024-001") if d.kind == "breach"]
    assert breach and {d.step for d in breach} == {2}  # stage 1 (two steps before it): the secondary
    assert {d.channel for d in breach} == {"phone", "sms"}  # the class's escalation channels
    assert {(d.person, d.status) for d in breach} == {("engineering-manager-a", "delivered")}  # this week's secondary
    texts = [r.form.get("Body", "") for r in stage.twilio("Messages")]
    assert any("not resolved by its resolution target" in t for t in texts)
    for worker in workers:
        worker.close()
        worker.store.close()


def test_a_complex_incident_has_a_week_and_no_class_breach(stage: Stage) -> None:
    t0 = stage.clock.now()
    workers = acked_at_five_minutes(stage)
    assert mark_complex(workers[0].store, "SEC-2024-001", "Support Manager A", stage.clock.now())
    assert not mark_complex(workers[1].store, "SEC-2024-001", "Support Manager A", stage.clock.now())
    tick_both_until(stage, t0, 5 * H, workers)
    kinds = [e.kind for e in workers[0].store.events("SEC-2024-001")]
    assert "resolution-breach" not in kinds and "resolution-reminder" not in kinds
    assert kinds.count("complex") == 1
    for worker in workers:
        worker.close()
        worker.store.close()


def test_status_shows_time_to_the_target_and_update_marks_complex(providers) -> None:
    assert run(*TRIGGER).exit_code == 0
    started = datetime.fromisoformat(json.loads(run("status", "SEC-2024-001", "--json").stdout)["incident"]["started"])
    at = (started + H).isoformat()
    doc = json.loads(run("status", "SEC-2024-001", "--json", now=at).stdout)
    assert doc["resolution_target"]["target"] == "4 hours"
    assert doc["resolution_target"]["minutes_left"] == 3 * 60
    assert "resolution target: 4 hours: 3 hours left" in run("status", "SEC-2024-001", now=at).stdout
    marked = run("update", "SEC-2024-001", "--complex", "--by", "Support Manager A", now=at)
    assert marked.exit_code == 0 and "marked complex" in marked.stdout
    assert "already complex" in run("update", "SEC-2024-001", "--complex", "--by", "Support Manager A", now=at).stdout
    text = run("status", "SEC-2024-001", now=(started + 5 * H).isoformat()).stdout
    assert "resolution target: 168 hours (complex): 163 hours left" in text
    bad = run("update", "SEC-2024-001", "--by", "Support Manager A")
    assert bad.exit_code == 2 and "give --message" in bad.output


def test_an_update_to_a_complex_incident_past_its_class_target_says_the_next_is_due_in_a_day(stage: Stage) -> None:
    from dispatcher.app.incidents import post_update

    workers = acked_at_five_minutes(stage)
    store = workers[0].store
    mark_complex(store, "SEC-2024-001", "Support Manager A", stage.clock.now())
    rt = stage.runtime()
    early = post_update(rt, store, "SEC-2024-001", "Still investigating", "sm-a", stage.clock.now())
    assert early.rows[0].notice["due"] == "2026-11-26 03:35 UTC"  # the class's 30 minutes, before 4 hours
    stage.clock.advance(5 * H)
    late = post_update(rt, store, "SEC-2024-001", "Vendor fix expected tomorrow", "sm-a", stage.clock.now())
    assert late.rows[0].notice["due"] == "2026-11-27 08:05 UTC"  # a day later: the class's 4 hours have passed
    for worker in workers:
        worker.close()
        worker.store.close()
