"""Reclassification on an injected clock: held customer notices, confirmation, a class change and its timers.

tests/test_reclassify_postgres.py runs these again on a PostgreSQL store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from dispatcher.app import engine
from dispatcher.app.actions import acknowledge, escalate_now
from dispatcher.app.incidents import (
    post_update,
    fire_timers,
    resolve,
    status_document,
    status_text,
)
from dispatcher.app.reclassify import reclassify
from dispatcher.app.worker import Worker
from dispatcher.domain.timers import IncidentState, due_actions
from dispatcher.errors import IncidentClosed, InputError

from .stage import FIELDS, Stage, make_stage

MINUTE = timedelta(minutes=1)
CUSTOMER = FIELDS["reported_by"]
TIMERS = ("step", "escalation", "reminder", "overdue")


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    yield from make_stage(config_dir, tmp_path, monkeypatch)


def opened(stage: Stage, klass: str, *, needs_review: bool = False, incident_id: str = "") -> str:
    """Trigger one incident as `notify triage --send` would (needs_review: triage was unsure of `klass`)."""
    rt = stage.runtime()
    incident = engine.new_incident(rt, klass, FIELDS, now=stage.clock.now(), drill=False,
                                   incident_id=incident_id)
    with stage.store() as store:
        report = engine.trigger(rt, klass, replace(incident, needs_review=needs_review), store=store,
                                clock=stage.clock)
    return report.incident["id"]


def change(stage: Stage, incident_id: str, klass: str, by: str = "Dana Reyes", *, send: bool = True):
    """Reclassify as the CLI does: the use case, then its deliveries sent at once."""
    rt = stage.runtime()
    with stage.store() as store:
        done = reclassify(rt, store, incident_id, klass, by, stage.clock.now())
        if send and done.rows:
            engine.send_pending(rt, store, stage.clock, done.incident, done.rows, wait=30)
    return done


def customer_mail(stage: Stage) -> list:
    return [m for m in stage.smtp.messages if m["To"] == CUSTOMER]


def statuses(stage: Stage, incident_id: str) -> dict[tuple[str, str, str], str]:
    """(label, recipient, channel) -> status of every delivery; the label names the step or notice."""
    with stage.store() as store:
        return {(d.key.split(":")[1], d.person, d.channel): d.status for d in store.deliveries(incident_id)}


# -- needs review: held, then released once ------------------------------------------------------------

def test_a_needs_review_incident_pages_the_team_and_holds_the_customer_notice_visibly(stage: Stage) -> None:
    incident_id = opened(stage, "security", needs_review=True)
    state = statuses(stage, incident_id)
    assert state[("0", "customer", "email")] == "held"
    assert {k for k, v in state.items() if v == "delivered"} == {
        ("0", "list:security-incident", "email"), ("0", "slack:security-alerts", "slack"),
        ("0", "support-manager-a", "phone"), ("0", "support-manager-a", "sms")}
    assert customer_mail(stage) == []
    with stage.store() as store:
        Worker(stage.runtime(), store, stage.clock).tick()  # no worker sends a held notice
        text = status_text(status_document(stage.runtime(), store, incident_id, stage.clock.now()))
    assert customer_mail(stage) == []
    assert "held until the class is confirmed" in text
    assert "notices to the customer and outside contacts are held" in text


def test_confirming_the_class_releases_the_held_notice_once(stage: Stage) -> None:
    incident_id = opened(stage, "security", needs_review=True)
    stage.clock.advance(10 * MINUTE)
    first = change(stage, incident_id, "security")
    assert first.outcome == "confirmed" and first.incident.needs_review is False
    assert [(d.person, d.kind) for d in first.rows] == [("customer", "step")]
    again = change(stage, incident_id, "security")
    assert again.outcome == "unchanged" and again.rows == [] and "nothing changed" in again.why_unchanged
    with stage.store() as store:
        Worker(stage.runtime(), store, stage.clock).tick()
        events = [(e.kind, e.by) for e in store.events(incident_id)]
    assert len(customer_mail(stage)) == 1
    assert events.count(("class-confirmed", "Dana Reyes")) == 1
    assert statuses(stage, incident_id)[("0", "customer", "email")] == "delivered"


def test_two_processes_confirming_at_once_release_the_notice_once(stage: Stage) -> None:
    incident_id = opened(stage, "security", needs_review=True)
    rt, barrier, outcomes = stage.runtime(), threading.Barrier(2), []

    def confirm(by: str) -> None:
        with stage.store() as store:  # a store of its own, as another process has
            barrier.wait()
            outcomes.append(reclassify(rt, store, incident_id, "security", by, stage.clock.now()).outcome)

    threads = [threading.Thread(target=confirm, args=(name,)) for name in ("Dana Reyes", "Sam Lee")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["confirmed", "unchanged"]
    with stage.store() as store:
        Worker(rt, store, stage.clock).tick()
        Worker(rt, store, stage.clock).tick()
        assert [e.kind for e in store.events(incident_id)].count("class-confirmed") == 1
    assert len(customer_mail(stage)) == 1


def test_resolving_an_unconfirmed_incident_never_sends_its_held_notice(stage: Stage) -> None:
    incident_id = opened(stage, "security", needs_review=True)
    with stage.store() as store:
        resolve(stage.runtime(), store, incident_id, "false alarm", "Dana Reyes", stage.clock.now())
        held = next(d for d in store.deliveries(incident_id) if d.person == "customer" and d.kind == "step")
    assert (held.status, held.skip) == ("skipped", "incident resolved before its class was confirmed")


# -- a class change ---------------------------------------------------------------------------------

def test_a_two_hour_old_incident_reclassified_starts_the_new_ladder_at_its_first_rung(stage: Stage) -> None:
    """Counted from the opening, security's whole ladder (15/30/45 min) and its missed updates would be due."""
    incident_id = opened(stage, "technical")
    rt = stage.runtime()
    with stage.store() as store:
        worker = Worker(rt, store, stage.clock)
        t0 = stage.clock.now()

        def fired_until(minute: int) -> list[str]:
            keys = []
            while stage.clock.now() < t0 + minute * MINUTE:
                stage.clock.advance(MINUTE)
                worker.tick()
                keys += [e.key for e in store.events(incident_id) if e.kind in TIMERS and e.key not in seen]
                seen.update(keys)
            return keys

        seen: set[str] = set()
        assert fired_until(120) == []  # technical: 4-hour response SLA
        assert change(stage, incident_id, "security").outcome == "changed"
        assert fired_until(134) == []
        assert sorted(fired_until(135)) == ["r1-escalation-1", "r1-step-1"]
        # the first update is due 30 minutes after the change (05:30), reminded 5 minutes ahead
        assert sorted(fired_until(150)) == ["r1-escalation-2", "r1-overdue-20261126T053000Z",
                                            "r1-reminder-20261126T053000Z"]
        row = store.incident(incident_id)
    assert row.klass == "security" and row.id == incident_id == "TEC-2026-001"  # the id stays


def test_timers_of_a_new_epoch_have_their_own_keys_and_ignore_an_update_posted_before_it(stage: Stage) -> None:
    """Pure: the keys the old class fired cannot stop the new class's, and a cadence never starts before the change."""
    klass = stage.runtime().klass("security")
    opened_at = stage.clock.now()
    changed_at = opened_at + 120 * MINUTE
    state = IncidentState(changed_at, "open", last_update_at=opened_at + 10 * MINUTE, reclassified=1)
    assert due_actions(klass, state, changed_at + 14 * MINUTE) == []
    due = [(a.key, (a.due - changed_at) / MINUTE) for a in due_actions(klass, state, changed_at + 25 * MINUTE)]
    assert due == [("r1-step-1", 15), ("r1-escalation-1", 15), ("r1-reminder-20261126T053000Z", 25)]


def test_the_new_classs_ladder_counts_from_the_reclassification(stage: Stage) -> None:
    incident_id = opened(stage, "technical")
    stage.clock.advance(120 * MINUTE)
    change(stage, incident_id, "security")
    changed_at = stage.clock.now()
    with stage.store() as store:
        due = status_document(stage.runtime(), store, incident_id, changed_at)["next_due"]
    offsets = [(n["kind"], (_at(n["at"]) - changed_at) / MINUTE) for n in due]
    # security's +15 step and first escalation, the reminder 5 minutes before the first 30-minute update
    assert offsets == [("step", 15), ("escalation", 15), ("reminder", 25), ("escalation", 30), ("overdue", 30)]


def test_reclassifying_cancels_the_old_classs_waiting_pages_and_tells_both_audiences(stage: Stage) -> None:
    incident_id = opened(stage, "security")
    rt = stage.runtime()
    stage.clock.advance(15 * MINUTE)
    with stage.store() as store:  # security's +15 step and first escalation planned, not sent yet
        fired = fire_timers(rt, store, store.incident(incident_id), stage.clock.now())
    assert {a.key for a in fired} == {"step-1", "escalation-1"}
    done = change(stage, incident_id, "outage", by="Dana Reyes")
    assert done.outcome == "changed" and done.previous == "security" and done.incident.klass == "outage"
    assert {(d.person, d.channel) for d in done.cancelled} == {
        ("cto", "phone"), ("ceo", "phone"), ("list:legal-emergency", "email"),
        ("engineering-manager-a", "phone"), ("engineering-manager-a", "sms")}
    assert all(d.skip == "reclassified from security to outage: outage does not page this recipient"
               for d in done.cancelled)
    with stage.store() as store:
        Worker(rt, store, stage.clock).tick()
        attempted = {(a.kind, a.person) for a in store.attempts(incident_id=incident_id)}
        event = next(e for e in store.events(incident_id) if e.kind == "reclassified")
    assert not attempted & {("step", "cto"), ("step", "ceo"), ("escalation", "engineering-manager-a")}
    told = {person for kind, person in attempted if kind == "reclassify"}
    assert {"list:security-incident", "slack:security-alerts", "support-manager-a"} <= told  # the old audience
    assert {"list:outage-response", "slack:outage-response"} <= told  # the new one
    assert "customer" not in told  # our triage is not the customer's news
    assert ("step", "list:outage-response") in attempted  # outage's own step 0, paged now
    assert event.by == "Dana Reyes" and event.detail.startswith("reclassified from security to outage by Dana Reyes")
    mail = next(m for m in stage.smtp.messages if m["To"] == "security-incident@teamflow.com"
                and m["Subject"] == f"{incident_id} reclassified: Security Incident -> Service Outage")
    assert (f"{incident_id} was reclassified from Security Incident to Service Outage by Dana Reyes"
            in mail.get_body(("plain",)).get_content())


def test_a_held_notice_the_new_class_also_sends_is_replaced_not_sent_twice(stage: Stage) -> None:
    incident_id = opened(stage, "security", needs_review=True)
    done = change(stage, incident_id, "outage")
    [old] = done.cancelled
    assert old.person == "customer"
    assert old.skip == "reclassified from security to outage: replaced by the page of the new class"
    assert statuses(stage, incident_id)[("r1-step-0", "customer", "email")] == "delivered"
    assert len(customer_mail(stage)) == 1 and done.incident.needs_review is False


def test_a_running_worker_renders_the_new_classs_pages_on_the_new_classs_templates(stage: Stage) -> None:
    """The worker keeps the incidents it sent for; one reclassified meanwhile (by the API) is read again."""
    incident_id = opened(stage, "security")
    rt = stage.runtime()
    with stage.store() as store:
        worker = Worker(rt, store, stage.clock)
        stage.clock.advance(15 * MINUTE)
        worker.tick()  # security's +15 step sent: the worker now holds the incident as a security incident
        change(stage, incident_id, "outage", send=False)  # another process: the worker sends what it planned
        worker.tick()
    subjects = {m["Subject"] for m in stage.smtp.messages if m["To"] == "outage-response@teamflow.com"}
    assert subjects == {"[OUTAGE] TeamFlow Service Disruption",
                        f"{incident_id} reclassified: Security Incident -> Service Outage"}


def test_a_reclassified_incident_needs_its_own_acknowledgement(stage: Stage) -> None:
    incident_id = opened(stage, "technical")
    with stage.store() as store:
        assert acknowledge(stage.runtime(), store, incident_id, "Senior Specialist", stage.clock.now()).done is True
    stage.clock.advance(5 * MINUTE)
    done = change(stage, incident_id, "security")
    with stage.store() as store:
        assert store.incident(incident_id).status == "open"  # security's escalation runs until acknowledged
        acked = acknowledge(stage.runtime(), store, incident_id, "Support Manager A", stage.clock.now())
        acked, row = acked.done, acked.row
    assert done.outcome == "changed" and acked is True and row.acked_by == "Support Manager A"


def test_a_resolved_incident_or_an_unknown_class_is_refused_and_nothing_changes(stage: Stage) -> None:
    incident_id = opened(stage, "technical")
    with pytest.raises(InputError) as unknown:
        change(stage, incident_id, "securty")
    assert unknown.value.field == "class" and "security, outage, legal" in str(unknown.value)
    with stage.store() as store:
        resolve(stage.runtime(), store, incident_id, None, "Dana Reyes", stage.clock.now())
    with pytest.raises(IncidentClosed, match="its class can no longer change"):
        change(stage, incident_id, "security")
    with stage.store() as store:
        assert store.incident(incident_id).klass == "technical"
        assert [e.kind for e in store.events(incident_id)] == ["triggered", "resolved"]


def _at(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)



def test_an_escalation_fired_by_hand_before_a_change_does_not_make_the_new_ladder_due_at_once(stage: Stage) -> None:
    """The old class's escalate-now is the old ladder's: kept, every page of the new one fell due in the past."""
    incident_id = opened(stage, "security")
    rt = stage.runtime()
    stage.clock.advance(2 * MINUTE)
    with stage.store() as store:
        escalate_now(rt, store, incident_id, "Dana Reyes", stage.clock.now())
    stage.clock.advance(60 * MINUTE)
    change(stage, incident_id, "outage", send=False)
    stage.clock.advance(MINUTE)
    with stage.store() as store:
        assert "escalated" not in store.incident(incident_id).meta
        fired = fire_timers(rt, store, store.incident(incident_id), stage.clock.now())
    assert not [a.key for a in fired if "escalation" in a.key]


def test_a_notice_held_for_the_old_class_is_cancelled_by_a_change_not_left_held(stage: Stage) -> None:
    incident_id = opened(stage, "security", needs_review=True)
    with stage.store() as store:
        post_update(stage.runtime(), store, incident_id, "we are investigating", "Dana Reyes", stage.clock.now())
    assert "held" in statuses(stage, incident_id).values()
    done = change(stage, incident_id, "outage")
    assert "held" not in statuses(stage, incident_id).values()  # nothing can confirm the old class any more
    assert any(d.skip and "held for the old class" in d.skip for d in done.cancelled)
