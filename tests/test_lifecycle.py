"""The seed's whole procedure on an injected clock: timers, ack, updates, reminders, resolution, restarts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest

from dispatcher.app import engine
from dispatcher.app.actions import acknowledge
from dispatcher.app.incidents import post_update, resolve, status_document
from dispatcher.domain.timers import IncidentState, due_actions
from dispatcher.domain.states import IncidentStatus
from dispatcher.app.worker import Worker

from .stage import FIELDS, Stage, make_stage

MINUTE = timedelta(minutes=1)


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    yield from make_stage(config_dir, tmp_path, monkeypatch)


class Run:
    """Drives one incident minute by minute; can restart the worker and its store mid-way."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.t0 = stage.clock.now()
        self.rt = stage.runtime()
        self._open()

    def _open(self) -> None:
        self.store = self.stage.store()
        self.worker = Worker(self.rt, self.store, self.stage.clock)

    def restart(self) -> None:
        self.worker.close()
        self.store.close()
        self.rt = self.stage.runtime()  # a new process: everything reloaded
        self._open()

    def until(self, minutes: int, *, double_tick: bool = False) -> None:
        while self.stage.clock.now() < self.t0 + minutes * MINUTE:
            self.stage.clock.advance(MINUTE)
            self.worker.tick()
            if double_tick:
                self.worker.tick()

    def send(self, incident, rows) -> None:
        engine.send_pending(self.rt, self.store, self.stage.clock, incident, rows, wait=30)

    def notices(self) -> list[tuple[int, str, str, str]]:
        """(minute, kind, recipient, channel) of every delivered attempt, in order."""
        return sorted((int((a.at - self.t0) / MINUTE), a.kind, a.person, a.channel)
                      for a in self.store.attempts(incident_id="SEC-2024-001") if a.outcome == "delivered")


def play(stage: Stage, *, restart_at: int | None = None, double_tick: bool = False) -> Run:
    """Trigger, no ack for 40 min, updates at 50 and 78 min, a missed one at 108, resolve at 115."""
    stage.trigger()
    run = Run(stage)
    for minute, action in [(40, "ack"), (50, "update"), (78, "update"), (115, "resolve"), (120, None)]:
        if restart_at is not None and run.stage.clock.now() < run.t0 + restart_at * MINUTE <= run.t0 + minute * MINUTE:
            run.until(restart_at, double_tick=double_tick)
            run.restart()
        run.until(minute, double_tick=double_tick)
        now = stage.clock.now()
        if action == "ack":
            acked = acknowledge(run.rt, run.store, "SEC-2024-001", "Support Manager A", now)
            run.send(engine.incident_from_row(acked.row), acked.notices)
        elif action == "update":
            posted = post_update(run.rt, run.store, "SEC-2024-001", "Containment done; investigating", "sm-a", now)
            run.send(posted.incident, posted.rows)
        elif action == "resolve":
            incident, rows, _ = resolve(run.rt, run.store, "SEC-2024-001", "Credentials rotated", "sm-a", now)
            run.send(incident, rows)
    return run


EXPECTED = [
    # step 0, sent by the trigger itself
    (0, "step", "customer", "email"), (0, "step", "list:security-incident", "email"),
    (0, "step", "slack:security-alerts", "slack"), (0, "step", "support-manager-a", "phone"),
    (0, "step", "support-manager-a", "sms"),
    # +15: follow-up step (CTO, CEO, legal review) and escalation 1 (no ack: the secondary)
    (15, "escalation", "engineering-manager-a", "phone"), (15, "escalation", "engineering-manager-a", "sms"),
    (15, "step", "ceo", "phone"), (15, "step", "cto", "phone"), (15, "step", "list:legal-emergency", "email"),
    # +25: the commander is reminded that the 30-minute customer update is due
    (25, "reminder", "support-manager-a", "phone"),
    # +30: escalation 2 (the escalation contact), and the missed update, escalated to the secondary
    (30, "escalation", "vp-customer-success", "phone"), (30, "escalation", "vp-customer-success", "sms"),
    (30, "overdue", "engineering-manager-a", "phone"), (30, "overdue", "engineering-manager-a", "sms"),
    (30, "overdue", "support-manager-a", "phone"),
    # +40 ack, told to the class's Slack channel: no escalation 3 at +45.
    (40, "ack", "slack:security-alerts", "slack"),
    # +50 and +78: customer updates, also to #security-alerts and the
    # commander (by email: nobody is phoned for an update); reminders 5 min before each due time
    (50, "update", "customer", "email"), (50, "update", "slack:security-alerts", "slack"),
    (50, "update", "support-manager-a", "email"),
    (75, "reminder", "support-manager-a", "phone"),
    (78, "update", "customer", "email"), (78, "update", "slack:security-alerts", "slack"),
    (78, "update", "support-manager-a", "email"),
    (103, "reminder", "support-manager-a", "phone"),
    (108, "overdue", "engineering-manager-a", "phone"), (108, "overdue", "engineering-manager-a", "sms"),
    (108, "overdue", "support-manager-a", "phone"),
    # +115 resolve: everyone reached so far, once, on the quietest channel that reached them
    (115, "resolved", "ceo", "email"), (115, "resolved", "customer", "email"), (115, "resolved", "cto", "email"),
    (115, "resolved", "engineering-manager-a", "email"), (115, "resolved", "list:legal-emergency", "email"),
    (115, "resolved", "list:security-incident", "email"), (115, "resolved", "slack:security-alerts", "slack"),
    (115, "resolved", "support-manager-a", "email"), (115, "resolved", "vp-customer-success", "email"),
    # +116, the worker's next tick: the post-incident review (an immediate-tier incident) opened at resolution:
    # the customer's follow-up with the survey, and the debrief invitation to each person paged, by email
    (116, "follow-up", "customer", "email"), (116, "review", "ceo", "email"), (116, "review", "cto", "email"),
    (116, "review", "engineering-manager-a", "email"), (116, "review", "support-manager-a", "email"),
    (116, "review", "vp-customer-success", "email"),
]


def in_week(notices: list[tuple], week) -> list[tuple]:
    """EXPECTED with week A's on-call pair replaced by the given week's."""
    on_call = {"support-manager-a": week.primary, "engineering-manager-a": week.secondary}
    return sorted((minute, kind, on_call.get(who, who), channel) for minute, kind, who, channel in notices)


@pytest.mark.slow
def test_a_security_incident_over_two_simulated_hours(stage: Stage, rotation_week) -> None:
    stage.start_in(rotation_week)
    run = play(stage)
    assert run.notices() == in_week(EXPECTED, rotation_week)
    kinds = [e.kind for e in run.store.events("SEC-2024-001")]
    assert kinds.count("escalation") == 2 and "acknowledged" in kinds and kinds[-2:] == ["resolved", "review-opened"]
    assert stage.clock.sleeps == []  # nothing waited for real or on the clock: every notice went at its tick


@pytest.mark.slow
def test_restarts_and_repeated_ticks_change_nothing(stage: Stage) -> None:
    run = play(stage, restart_at=33, double_tick=True)
    assert run.notices() == sorted(EXPECTED)


def test_status_shows_the_timeline_and_what_is_due_next(stage: Stage) -> None:
    stage.trigger()
    run = Run(stage)
    run.until(16)
    doc = status_document(run.rt, run.store, "SEC-2024-001", stage.clock.now())
    assert doc["schema"] == 1 and doc["incident"]["status"] == "open"
    assert [e["kind"] for e in doc["timeline"]] == ["triggered", "step", "escalation"]
    assert doc["next_due"][0]["kind"] == "reminder" and doc["next_due"][0]["at"] == (run.t0 + 25 * MINUTE).isoformat()
    assert {"escalation"} <= {n["kind"] for n in doc["next_due"]}


def test_ack_stops_escalation_but_not_follow_up_steps(stage: Stage) -> None:
    stage.trigger()
    run = Run(stage)
    acked = acknowledge(run.rt, run.store, "SEC-2024-001", "Support Manager A", stage.clock.now())
    assert acked.done and acked.row.acked_by == "Support Manager A"
    assert acknowledge(run.rt, run.store, "SEC-2024-001", "someone else", stage.clock.now()).done is False
    run.until(50)
    kinds = {n[1] for n in run.notices()}
    assert "escalation" not in kinds and "step" in kinds


def test_due_actions_is_pure_and_stops_at_resolution(stage: Stage) -> None:
    klass = stage.runtime().klass("security")
    t0 = stage.clock.now()
    open_state = IncidentState(t0, IncidentStatus.OPEN)
    due_at_30 = (t0 + 30 * MINUTE).strftime("%Y%m%dT%H%M%SZ")
    keys = [a.key for a in due_actions(klass, open_state, t0 + 31 * MINUTE)]
    assert keys == ["step-1", "escalation-1", f"reminder-{due_at_30}", "escalation-2", f"overdue-{due_at_30}"]
    assert due_actions(klass, open_state, t0 + 31 * MINUTE) == due_actions(klass, open_state, t0 + 31 * MINUTE)
    assert due_actions(klass, IncidentState(t0, IncidentStatus.RESOLVED), t0 + 31 * MINUTE) == []
    acked = [a.kind for a in due_actions(klass, IncidentState(t0, IncidentStatus.ACKNOWLEDGED), t0 + 31 * MINUTE)]
    assert "escalation" not in acked and "overdue" in acked


def test_a_reminder_numbers_the_update_it_asks_for_after_those_posted(stage: Stage) -> None:
    """Two updates posted: the reminder asks for number 3, as `notify update` will number it (it said 1 again)."""
    klass = stage.runtime().klass("security")
    t0 = stage.clock.now()
    after_two = IncidentState(t0, IncidentStatus.OPEN, last_update_at=t0 + 60 * MINUTE, updates=2)
    reminders = [a for a in due_actions(klass, after_two, t0 + 91 * MINUTE) if a.kind == "reminder"]
    assert reminders and {a.notice["number"] for a in reminders} == {3}
    fresh = [a for a in due_actions(klass, IncidentState(t0, IncidentStatus.OPEN), t0 + 31 * MINUTE)
             if a.kind == "reminder"]
    assert [a.notice["number"] for a in fresh] == [1]


def test_an_incident_that_started_long_ago_climbs_the_ladder_from_now(stage: Stage) -> None:
    """An alert whose startsAt (or a --started) is days old: the on-call of now is paged, and the
    response SLA counts from now; counting from the start would page the CTO first."""
    now = stage.clock.now()
    started = now - timedelta(days=7, hours=19)
    stage.trigger(fields={**FIELDS, "started": started.isoformat()})
    run = Run(stage)
    directory = run.rt.directory
    assert directory.on_duty("primary", started) != directory.on_duty("primary", now)  # another week's turn
    [phone] = [d for d in run.store.deliveries("SEC-2024-001", 0) if d.channel == "phone"]
    assert phone.person == directory.on_duty("primary", now)

    run.until(14)
    assert [e.kind for e in run.store.events("SEC-2024-001")].count("escalation") == 0
    run.until(16)
    assert [e.kind for e in run.store.events("SEC-2024-001")].count("escalation") == 1
    assert run.store.incident("SEC-2024-001").started == started  # the start is kept as reported


def test_an_incident_whose_class_left_the_policy_is_reported_once_not_every_tick(stage: Stage, caplog) -> None:
    stage.trigger()
    run = Run(stage)
    policy = run.rt.policy
    run.rt.policy = policy.model_copy(update={"classes": {k: v for k, v in policy.classes.items() if k != "security"}})
    run.worker = Worker(run.rt, run.store, stage.clock)
    with caplog.at_level("WARNING", logger="notify"):
        run.until(3)
    warned = [r.getMessage() for r in caplog.records if "is not in the policy" in r.getMessage()]
    assert warned == ["SEC-2024-001: class 'security' is not in the policy; its timers are skipped"]


def test_the_worker_is_quiet_about_contact_test_incidents(stage: Stage, caplog) -> None:
    """`notify test` records an incident of its own class, which has no timers: nothing to warn about."""
    from dispatcher.app.contact_test import TEST_CLASS, TEST_PREFIX
    from dispatcher.domain.incident import Incident

    run = Run(stage)
    probe = Incident("", TEST_CLASS, stage.clock.now(), {"summary": "contact test"})
    run.store.open_incident(engine.incident_record(probe), [], prefix=TEST_PREFIX, year=stage.clock.now().year,
                            now=stage.clock.now())
    assert [i.klass for i in run.store.incidents(open_only=True)] == [TEST_CLASS]
    with caplog.at_level("WARNING", logger="notify"):
        run.until(3)
    assert not [r for r in caplog.records if "is not in the policy" in r.getMessage()]
