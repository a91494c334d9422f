"""`repeat = N`: the escalation ladder climbed N more times while nobody acknowledges, on an injected clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from dispatcher.app.actions import acknowledge
from dispatcher.app.incidents import fire_timers
from dispatcher.app.worker import Worker
from dispatcher.config.directory import load_directory
from dispatcher.config.policy import check_policy
from dispatcher.domain.timers import (
    REPEAT_KIND,
    IncidentState,
    due_actions,
    escalation_pass,
    next_actions,
)

from .helpers import replace_in, run
from .stage import Stage, make_stage

MINUTE = timedelta(minutes=1)
ID = "SEC-2024-001"


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    yield from make_stage(config_dir, tmp_path, monkeypatch)


def escalations(klass, t0, minutes: float, status: str = "open") -> list:
    return [a for a in due_actions(klass, IncidentState(t0, status), t0 + minutes * MINUTE) if a.kind == "escalation"]


def test_the_shipped_immediate_tier_repeats_twice_and_the_others_do_not(stage: Stage) -> None:
    policy = stage.runtime().policy
    assert {name: c.repeat for name, c in policy.classes.items() if c.repeat} == {
        "security": 2, "outage": 2, "legal": 2, "monitoring": 2}
    assert all(policy.classes[name].tier == "immediate" for name in ("security", "outage", "legal", "monitoring"))


def test_each_pass_starts_again_at_the_first_stage_one_response_sla_apart(stage: Stage) -> None:
    klass = stage.runtime().klass("security")  # 15m SLA, 3 stages, repeat 2: 9 pages, the last at 2h15m
    t0 = stage.clock.now()
    pages = escalations(klass, t0, 24 * 60)
    assert [(a.key, int((a.due - t0) / MINUTE)) for a in pages] == [
        ("escalation-1", 15), ("escalation-2", 30), ("escalation-3", 45),
        ("escalation-1-pass-2", 60), ("escalation-2-pass-2", 75), ("escalation-3-pass-2", 90),
        ("escalation-1-pass-3", 105), ("escalation-2-pass-3", 120), ("escalation-3-pass-3", 135)]
    assert [a.entries for a in pages[3:6]] == [a.entries for a in pages[:3]]  # the same ladder, from its first stage
    assert all(a.step == b.step for a, b in zip(pages[:3], pages[3:6]))  # same stage, same templates
    assert len({a.key for a in pages}) == 9


def test_stage_boundaries_are_exact(stage: Stage) -> None:
    klass = stage.runtime().klass("security")
    t0 = stage.clock.now()
    before = escalations(klass, t0, 60 - 1 / 60)
    at = escalations(klass, t0, 60)
    assert [a.key for a in at] == [a.key for a in before] + ["escalation-1-pass-2"]
    assert len(escalations(klass, t0, 135)) == 9 and len(escalations(klass, t0, 135 - 1 / 60)) == 8


def test_only_the_first_pass_is_a_breach(stage: Stage) -> None:
    klass = stage.runtime().klass("security")
    t0 = stage.clock.now()
    pages = escalations(klass, t0, 24 * 60)
    assert [a.event_kind for a in pages] == ["escalation"] * 3 + [REPEAT_KIND] * 6
    assert "breached" in pages[0].detail and "breached" not in pages[3].detail
    assert "pass 2 of 3" in pages[3].detail and "(pass 2 of 3)" in pages[3].notice["stage"]


def test_acknowledged_stops_every_pass(stage: Stage) -> None:
    klass = stage.runtime().klass("security")
    assert escalations(klass, stage.clock.now(), 24 * 60, status="acknowledged") == []


def test_a_late_tick_pages_each_stage_once_in_its_latest_pass(stage: Stage) -> None:
    """A worker down from +10m to +70m: stage 1 is due in pass 1 and pass 2; only pass 2 pages.
    Nothing of a pass not yet due fires."""
    klass = stage.runtime().klass("security")
    t0 = stage.clock.now()
    pages = {a.key: a for a in escalations(klass, t0, 70)}
    assert list(pages) == ["escalation-1", "escalation-2", "escalation-3", "escalation-1-pass-2"]
    assert pages["escalation-1"].entries == () and "recorded late" in pages["escalation-1"].detail
    assert pages["escalation-1-pass-2"].entries and pages["escalation-2"].entries and pages["escalation-3"].entries


def test_status_shows_the_repeated_passes_to_come(stage: Stage) -> None:
    klass = stage.runtime().klass("security")
    t0 = stage.clock.now()
    upcoming = [a.key for a in next_actions(klass, IncidentState(t0, "open"), t0 + 50 * MINUTE, limit=20)
                if a.kind == "escalation"]
    assert upcoming[:2] == ["escalation-1-pass-2", "escalation-2-pass-2"]


def test_the_pass_is_read_back_from_a_key() -> None:
    assert [escalation_pass(k) for k in ("escalation-2", "escalation-2-pass-3", "step-1", "update-1")] == [1, 3, 0, 0]


def test_the_worker_pages_every_pass_once_and_records_one_breach_per_stage(stage: Stage) -> None:
    stage.trigger()
    rt, store = stage.runtime(), stage.store()
    worker = Worker(rt, store, stage.clock)
    t0 = stage.clock.now()
    try:
        while stage.clock.now() < t0 + 150 * MINUTE:
            stage.clock.advance(MINUTE)
            worker.tick()
            worker.tick()  # ticking twice does nothing twice
        events = [e.kind for e in store.events(ID)]
        assert events.count("escalation") == 3 and events.count(REPEAT_KIND) == 6
        assert store.stats(stage.clock.now())["sla_breaches"] == 3
        pages = [d for d in store.deliveries(ID) if d.kind == "escalation"]
        keys = [d.key for d in pages]
        assert len(keys) == len(set(keys))
        first_stage_phone = sorted(d.key.split(":")[1] for d in pages if d.step == 2 and d.channel == "phone")
        assert first_stage_phone == ["escalation-1", "escalation-1-pass-2", "escalation-1-pass-3"]
        delivered = [a for a in store.attempts(incident_id=ID) if a.kind == "escalation" and a.outcome == "delivered"]
        assert len([a for a in delivered if a.step == 2 and a.channel == "phone"]) == 3
    finally:
        worker.close()
        store.close()


def test_an_ack_between_passes_stops_the_rest(stage: Stage) -> None:
    stage.trigger()
    rt, store = stage.runtime(), stage.store()
    t0 = stage.clock.now()
    try:
        row = store.incident(ID)
        assert [a.key for a in fire_timers(rt, store, row, t0 + 61 * MINUTE) if a.kind == "escalation"] == [
            "escalation-1", "escalation-2", "escalation-3", "escalation-1-pass-2"]
        acknowledge(rt, store, ID, "Support Manager A", t0 + 62 * MINUTE)
        later = fire_timers(rt, store, store.incident(ID), t0 + 200 * MINUTE)
        assert [a for a in later if a.kind == "escalation"] == []
    finally:
        store.close()


def test_who_says_the_ladder_repeats() -> None:
    doc = json.loads(run("who", "security", "--at", "2026-01-13T12:00:00Z", "--json").stdout)
    assert doc["repeat"] == {"times": 2, "passes": 3, "every": "15 minutes", "last_page_after": "2 hours 15 minutes"}
    text = run("who", "security", "--at", "2026-01-13T12:00:00Z").stdout
    assert ("then the escalation ladder again from escalation 1, 2 more times (3 passes in all, one stage per 15 minutes) "
            "while unacknowledged: last page at +2 hours 15 minutes") in text
    assert json.loads(run("who", "technical", "--at", "2026-01-13T12:00:00Z", "--json").stdout)["repeat"] is None


@pytest.mark.parametrize(("value", "expected"), [
    ("-1", "classes.technical.repeat: Input should be greater than or equal to 0"),
    ("10", "classes.technical.repeat: Input should be less than or equal to 9"),
    ('"2"', "classes.technical.repeat: Input should be a valid integer"),
    ("true", "classes.technical.repeat: Input should be a valid integer"),
])
def test_a_bad_repeat_is_named_by_file_and_field(config_dir: Path, value: str, expected: str) -> None:
    path = config_dir / "policy.toml"
    replace_in(path, 'escalation = ["role:engineering-manager", "role:cto"]',
               f'escalation = ["role:engineering-manager", "role:cto"]\nrepeat = {value}')
    _, problems = check_policy(path, load_directory(config_dir / "contacts.toml"))
    assert any(str(path) in str(p) and expected in str(p) for p in problems), [str(p) for p in problems]


def test_repeat_without_a_ladder_is_refused(config_dir: Path) -> None:
    path = config_dir / "policy.toml"
    replace_in(path, 'escalation = ["role:engineering-manager", "role:cto"]', "escalation = []\nrepeat = 1")
    _, problems = check_policy(path, load_directory(config_dir / "contacts.toml"))
    assert [p.key for p in problems] == ["classes.technical.repeat"]
    assert "needs an escalation ladder" in problems[0].message
