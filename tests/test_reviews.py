"""The post-incident review: opened at resolution, reminded and breached on the worker's tick, closed by `notify review`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from dispatcher.app.actions import acknowledge
from dispatcher.app.incidents import resolve
from dispatcher.app.worker import Worker
from dispatcher.domain.review import review_actions

from .helpers import run
from .stage import Stage, make_stage

H = timedelta(hours=1)
T0 = datetime.fromisoformat("2026-11-26T03:00:00+00:00")


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    yield from make_stage(config_dir, tmp_path, monkeypatch)


@pytest.mark.parametrize(("hours", "expected"), [
    (23.9, []),
    (24, ["rca-reminder-24h"]),
    (44, ["rca-reminder-24h", "rca-reminder-4h"]),
    (48, ["rca-reminder-24h", "rca-reminder-4h", "rca-breach"]),
])
def test_root_cause_reminders_a_day_and_four_hours_before_then_the_breach(hours, expected) -> None:
    assert [a.key for a in review_actions(T0 + 48 * H, T0 + hours * H)] == expected


def resolved_security_incident(stage: Stage, survey: str | None = "https://survey.example/csat?i={incident}"):
    stage.trigger()
    rt = stage.runtime(survey_url=survey)
    store = stage.store()
    stage.clock.advance(timedelta(minutes=20))  # escalation 1 paged the secondary
    worker = Worker(rt, store, stage.clock)
    worker.tick()
    acknowledge(rt, store, "SEC-2024-001", "Support Manager A", stage.clock.now())
    stage.clock.advance(H)
    resolve(rt, store, "SEC-2024-001", "Credentials rotated", "Support Manager A", stage.clock.now())
    return rt, store, worker


def test_resolving_opens_the_review_with_follow_up_and_debrief_to_the_people_paged(stage: Stage) -> None:
    _rt, store, worker = resolved_security_incident(stage)
    resolved_at = stage.clock.now()
    assert store.review("SEC-2024-001").root_cause_due == resolved_at + 48 * H
    worker.tick()
    rows = [d for d in store.deliveries("SEC-2024-001") if d.kind in ("follow-up", "review")]
    assert {(d.kind, d.person, d.channel, d.status) for d in rows} == {
        ("follow-up", "customer", "email", "delivered"),
        # the people paged (step 0's primary, escalation 1's secondary, +15's CEO and CTO), each by email
        ("review", "support-manager-a", "email", "delivered"), ("review", "engineering-manager-a", "email", "delivered"),
        ("review", "ceo", "email", "delivered"), ("review", "cto", "email", "delivered")}
    to_customer = next(m for m in stage.smtp.messages if "jane@acme.example" in m["To"] and "how did we do" in
                       m["Subject"])
    assert "https://survey.example/csat?i=SEC-2024-001" in to_customer.get_body(("plain",)).get_content()
    worker.close()
    store.close()


def test_the_commander_is_reminded_and_a_missed_root_cause_is_a_breach_once(stage: Stage) -> None:
    _rt, store, worker = resolved_security_incident(stage)
    other = Worker(stage.runtime(), stage.store(), stage.clock)
    for _ in range(50):
        stage.clock.advance(H)
        worker.tick()
        other.tick()
    events = [(e.key, e.kind) for e in store.events("SEC-2024-001") if e.kind.startswith("rca-")]
    assert events == [("rca-reminder-24h", "rca-reminder"), ("rca-reminder-4h", "rca-reminder"),
                      ("rca-breach", "rca-breach")]
    told = [d for d in store.deliveries("SEC-2024-001") if d.delivery_key.label.startswith("rca-")]
    assert {d.person for d in told} == {"support-manager-a"} and len(told) == 3  # the commander, once each
    for w in (worker, other):
        w.close()
        w.store.close()


def test_an_incident_of_the_standard_tier_has_no_review(stage: Stage) -> None:
    stage.trigger("TEC-2024-001", "technical")
    rt, store = stage.runtime(), stage.store()
    resolve(rt, store, "TEC-2024-001", "fixed", "Support Manager A", stage.clock.now())
    assert store.review("TEC-2024-001") is None
    store.close()


def test_review_and_reviews_on_the_command_line(providers) -> None:
    run("security", "--incident", "SEC-2024-001", "--customer", "Acme Corp", "--summary", "Unusual admin logins")
    assert run("review", "SEC-2024-001", "--csat", "5").exit_code == 2  # not resolved: no review yet
    run("resolve", "SEC-2024-001", "--by", "Support Manager A")
    resolved = json.loads(run("status", "SEC-2024-001", "--json").stdout)["resolved_at"]
    later = (datetime.fromisoformat(resolved) + 50 * H).isoformat()
    listing = run("reviews", now=later)
    assert "SEC-2024-001" in listing.stdout and "overdue by 2 hours" in listing.stdout
    doc = json.loads(run("reviews", "--json", now=later).stdout)
    assert [(r["incident"], r["overdue"]) for r in doc["reviews"]] == [("SEC-2024-001", True)]
    bad = run("review", "SEC-2024-001", "--csat", "9")
    assert bad.exit_code == 2 and "off the scale" in bad.output
    assert run("review", "SEC-2024-001", "--root-cause", "x", "--link", "wiki/pir").exit_code == 2
    done = run("review", "SEC-2024-001", "--root-cause", "Leaked admin token", "--link", "https://wiki.example/pir",
               "--csat", "4", now=later)
    assert done.exit_code == 0 and "root cause recorded late" in done.stdout and "4 of 5" in done.stdout
    assert "no review is waiting" in run("reviews", now=later).stdout
    timeline = json.loads(run("status", "SEC-2024-001", "--json", now=later).stdout)["timeline"]
    assert any(e["kind"] == "root-cause" and "Leaked admin token" in e["detail"] for e in timeline)
