"""Quiet hours end to end: a standard-tier alert emails the on-call primary at 03:00 and phones them at 10:00.

The shipped technical class tells the Senior Technical Specialist and the
support Slack channel; here, as in a setup where the on-call primary also hears
of every unmatched alert (the case the quiet-hours rule exists for), its step 0
adds `rotation:primary` on their preferred channel. Everything else is the
shipped configuration; the clock is fixed, the worker ticked by the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dispatcher.app.engine import new_incident
from dispatcher.clock import FakeClock
from dispatcher.config.directory import load_directory
from dispatcher.domain.states import DeliveryState

from .helpers import run
from .stage import Stage, make_stage
from .test_server import TOKEN, Server, alertmanager

NIGHT = datetime(2026, 12, 8, 11, 0, tzinfo=UTC)  # Tuesday 03:00 in Los Angeles (the rotation's zone)
DAY = datetime(2026, 12, 8, 18, 0, tzinfo=UTC)  # Tuesday 10:00 in Los Angeles
SLOT_PHONE = "+14155550199"  # the primary slot's shared number: it follows the person on duty


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    policy = config_dir / "policy.toml"
    text = policy.read_text()
    step = '  { to = "role:senior-technical-specialist" },\n'
    assert step in text
    policy.write_text(text.replace(step, step + '  { to = "rotation:primary" },\n', 1))
    yield from make_stage(config_dir, tmp_path, monkeypatch)


def serve_at(stage: Stage, at: datetime) -> Server:
    stage.clock = FakeClock(at)
    return Server(stage, webhook_token=TOKEN, api_token="operator-api-token-789")


def warning_alert() -> dict:
    """A severity=warning alert no routing rule matches: triage's default class, technical, for review."""
    payload = alertmanager()
    payload["alerts"] = [{**payload["alerts"][0], "labels": {"alertname": "QueueBacklog", "severity": "warning",
                                                            "service": "jobs"},
                          "annotations": {"summary": "Job queue backlog above 10k"}}]
    payload["commonLabels"] = payload["groupLabels"] = {"alertname": "QueueBacklog"}
    payload["groupKey"] = '{}:{alertname="QueueBacklog"}'
    return payload


def calls(stage: Stage) -> list:
    return stage.twilio("Calls")


def primary_at(stage: Stage, at: datetime) -> str:
    return load_directory(stage.config_dir / "contacts.toml").on_duty("primary", at)


def opened(server: Server):
    assert server.post("/hooks/alertmanager", warning_alert()).status_code == 202
    server.worker.tick()
    [incident] = server.store.incidents()
    assert incident.klass == "technical" and incident.meta["needs_review"] is True
    return incident, {(d.person, d.channel): d for d in server.store.deliveries(incident.id)}


def test_at_three_in_the_morning_the_primary_is_emailed_and_the_call_held(stage: Stage) -> None:
    server = serve_at(stage, NIGHT)
    try:
        primary = primary_at(stage, NIGHT)
        incident, rows = opened(server)
        assert rows[(primary, "phone")].status == DeliveryState.HELD
        assert rows[(primary, "phone")].reason.startswith("quiet hours: Tue 03:00 is outside")
        assert rows[(primary, "email")].status == DeliveryState.ACCEPTED
        assert any(primary in m["To"] for m in stage.smtp.messages)
        assert calls(stage) == [] and stage.twilio("Messages") == []
        status = server.get(f"/incidents/{incident.id}").json()
        held = [e for e in status["timeline"] if e["kind"] == "quiet-hours"]
        assert held and "working hours (mon-fri 09:00-18:00, America/Los_Angeles)" in held[0]["detail"]
        assert 'notify_pages_held_total{reason="quiet-hours"} 1.0' in server.get("/metrics").text
        log = run("log", "--incident", incident.id, env={"NOTIFY_STORE_URL": f"sqlite:///{stage.store_path}"})
        assert log.exit_code == 0, log.output
        held_part = log.stdout.split("held back (no attempt made yet):")[1]
        assert incident.id in held_part and "quiet-hours" in held_part and "outside" in held_part
    finally:
        server.stop()


def test_at_ten_the_same_alert_phones_the_primary_on_the_shared_number(stage: Stage) -> None:
    server = serve_at(stage, DAY)
    try:
        primary = primary_at(stage, DAY)
        _, rows = opened(server)
        assert rows[(primary, "phone")].status == DeliveryState.ACCEPTED
        assert [c.form["To"] for c in calls(stage)] == [SLOT_PHONE]
        assert (primary, "email") not in rows  # nothing held: no quiet stand-in
    finally:
        server.stop()


def test_a_held_call_rings_when_the_response_sla_passes_unacknowledged_and_the_ladder_goes_on(stage: Stage) -> None:
    server = serve_at(stage, NIGHT)
    try:
        incident, _ = opened(server)
        stage.clock.advance(timedelta(hours=4) - timedelta(seconds=1))  # 06:59:59: the SLA (4 h) not reached
        server.worker.tick()
        assert calls(stage) == []
        stage.clock.advance(timedelta(seconds=1))  # 07:00, still before working hours: the SLA releases it
        server.worker.tick()
        assert [c.form["To"] for c in calls(stage)].count(SLOT_PHONE) == 1  # (the ladder's own calls aside)
        kinds = [e.kind for e in server.store.events(incident.id)]
        assert "quiet-hours-released" in kinds and "escalation" in kinds  # the ladder kept its own clock
        released = [e for e in server.store.events(incident.id) if e.kind == "quiet-hours-released"]
        assert "the response SLA (4 hours) passed unacknowledged" in released[0].detail
    finally:
        server.stop()


def test_an_acknowledged_incident_drops_its_held_call(stage: Stage) -> None:
    server = serve_at(stage, NIGHT)
    try:
        incident, _ = opened(server)
        answer = server.post(f"/incidents/{incident.id}/ack", {"by": "support-manager-a"})
        assert answer.status_code == 200, answer.text
        stage.clock.advance(timedelta(hours=5))
        server.worker.tick()
        assert calls(stage) == []
        [phone] = [d for d in server.store.deliveries(incident.id) if d.channel == "phone"]
        assert phone.status == DeliveryState.SKIPPED and "acknowledged" in phone.skip
    finally:
        server.stop()


def test_an_immediate_tier_incident_pages_at_three_in_the_morning(stage: Stage) -> None:
    server = serve_at(stage, NIGHT)
    try:
        body = {"class": "outage", "summary": "API down", "dedup_key": "api-down"}
        assert server.post("/hooks/generic", body).status_code == 202
        server.worker.tick()
        assert [c.form["To"] for c in calls(stage)] == [SLOT_PHONE]
    finally:
        server.stop()


def test_notify_who_at_says_what_quiet_hours_would_do(stage: Stage) -> None:
    env = {"NOTIFY_CONFIG_DIR": str(stage.config_dir)}
    night = run("who", "technical", "--at", NIGHT.isoformat(), env=env)
    assert night.exit_code == 0, night.output
    assert "held: quiet hours" in night.output and "email" in night.output
    day = run("who", "technical", "--at", DAY.isoformat(), env=env)
    assert "quiet hours" not in day.output


def test_confirming_the_class_releases_the_customer_notice_but_not_the_call_quiet_hours_hold(stage: Stage) -> None:
    server = serve_at(stage, NIGHT)
    try:
        incident, _ = opened(server)
        answer = server.post(f"/incidents/{incident.id}/reclassify", {"class": "technical", "by": "support-manager-a"})
        assert answer.status_code == 200, answer.text
        server.worker.tick()
        [phone] = [d for d in server.store.deliveries(incident.id) if d.channel == "phone"]
        assert phone.status == DeliveryState.HELD and phone.reason.startswith("quiet hours")
        assert calls(stage) == []
    finally:
        server.stop()


def test_a_notice_that_goes_at_night_never_falls_back_to_a_call(stage: Stage) -> None:
    """The shipped satisfaction class emails the Support Managers, who also have phones: at night a failed email
    must not ring them; by day it may."""
    from dispatcher.domain.plan import plan_step
    from dispatcher.domain.quiet_hours import hold_quiet_pages

    rt = stage.runtime()
    klass = rt.klass("satisfaction")
    incident = new_incident(
        rt, "satisfaction", {"summary": "Formal complaint"}, now=NIGHT, drill=False)
    planned = plan_step(incident, klass, 0, rt.directory)
    managers = [p for p in planned if p.address.person.startswith("support-manager")]
    assert managers and all({f.channel for f in p.fallbacks} & {"phone", "sms"} for p in managers)
    night, events = hold_quiet_pages(planned, klass, rt.directory, NIGHT, opened=NIGHT)
    assert events == []  # nothing held: the step emails them
    assert all(not {f.channel for f in p.fallbacks} & {"phone", "sms"} for p in night
               if p.address.person.startswith("support-manager"))
    day, _ = hold_quiet_pages(planned, klass, rt.directory, DAY, opened=DAY)
    assert day == planned


def test_reclassified_to_a_standard_class_at_night_its_call_waits_too(stage: Stage) -> None:
    server = serve_at(stage, NIGHT)
    try:
        body = {"class": "outage", "summary": "API slow for some", "dedup_key": "api-slow"}
        assert server.post("/hooks/generic", body).status_code == 202
        server.worker.tick()
        incident_id = server.store.incidents()[0].id
        before = len(calls(stage))  # the outage paged at once: the immediate tier is never held
        answer = server.post(f"/incidents/{incident_id}/reclassify", {"class": "technical", "by": "support-manager-a"})
        assert answer.status_code == 200, answer.text
        server.worker.tick()
        assert len(calls(stage)) == before
        held = [d for d in server.store.deliveries(incident_id) if d.status == DeliveryState.HELD]
        assert held and all(d.reason.startswith("quiet hours") for d in held)
        assert [e.key for e in server.store.events(incident_id) if e.kind == "quiet-hours"][0].startswith("r1-")
    finally:
        server.stop()


def test_a_follow_up_step_at_night_holds_its_calls_as_step_zero_does(stage: Stage) -> None:
    policy = stage.config_dir / "policy.toml"
    text = policy.read_text()
    anchor = "# --- 8. Customer satisfaction"
    policy.write_text(text.replace(anchor, '''[[classes.technical.steps]]
at = "1h"
name = "Engineering on call"
notify = [{ to = "rotation:secondary", channel = "phone" }]

''' + anchor, 1))
    server = serve_at(stage, NIGHT)
    try:
        incident, _ = opened(server)
        stage.clock.advance(timedelta(hours=1))
        server.worker.tick()
        [secondary] = [d for d in server.store.deliveries(incident.id) if d.role == "rotation:secondary"
                       and d.channel == "phone"]
        assert secondary.status == DeliveryState.HELD and secondary.reason.startswith("quiet hours: Tue 04:00")
        assert calls(stage) == []
        assert [e.key for e in server.store.events(incident.id) if e.kind == "quiet-hours"][-1].startswith("step-1-")
    finally:
        server.stop()


def test_a_held_call_of_an_incident_resolved_at_night_never_rings(stage: Stage) -> None:
    server = serve_at(stage, NIGHT)
    try:
        incident, _ = opened(server)
        assert server.post(f"/incidents/{incident.id}/resolve", {"by": "support-manager-a"}).status_code == 200
        stage.clock.advance(timedelta(hours=7))  # past the SLA and into working hours
        server.worker.tick()
        assert calls(stage) == []
        [phone] = [d for d in server.store.deliveries(incident.id) if d.channel == "phone"]
        assert (phone.status, phone.skip) == (DeliveryState.SKIPPED, "incident resolved before quiet hours ended")
    finally:
        server.stop()
