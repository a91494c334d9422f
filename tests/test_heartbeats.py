"""Heartbeats over real HTTP: `POST /heartbeat/NAME`, the worker's tick on a fake clock, Alertmanager's Watchdog.

A heartbeat late by its grace opens one `monitoring` incident that pages the
on-call rotation and #outage-response only; the next beat resolves it. No test
sleeps: the clock is moved by hand and the worker ticked by the test.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from dispatcher.app.heartbeats import WATCHDOG

from .helpers import run
from .stage import Stage, make_stage
from .test_server import TOKEN, Server, alertmanager

MINUTE = timedelta(minutes=1)


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    yield from make_stage(config_dir, tmp_path, monkeypatch)


@pytest.fixture
def server(stage: Stage) -> Iterator[Server]:
    srv = Server(stage, webhook_token=TOKEN, api_token="operator-api-token-789")
    yield srv
    srv.stop()


def beat(server: Server, name: str, query: str = "", token: str | None = TOKEN):
    return server.post(f"/heartbeat/{name}{query}", b"", token=token)


def watchdog(status: str = "firing") -> dict:
    payload = alertmanager()
    payload["groupKey"] = '{}/{alertname="Watchdog"}:{alertname="Watchdog"}'
    payload["status"] = status
    payload["alerts"] = [{**payload["alerts"][0], "status": status, "fingerprint": "0a1b2c3d4e5f6a7b",
                          "labels": {"alertname": "Watchdog", "severity": "none"},
                          "annotations": {"summary": "An alert that should always be firing"}}]
    payload["groupLabels"] = payload["commonLabels"] = {"alertname": "Watchdog"}
    return payload


def test_a_silent_heartbeat_opens_one_monitoring_incident_for_the_rotation_and_a_beat_resolves_it(
        server: Server, stage: Stage) -> None:
    first = beat(server, "nightly-backup", "?interval=10m&grace=5m")
    assert first.status_code == 200, first.text
    assert first.json()["heartbeat"]["late_after"] == (stage.clock.now() + 15 * MINUTE).isoformat()
    stage.clock.advance(14 * MINUTE)
    server.worker.tick()
    assert server.store.incidents() == []  # within interval + grace: nobody paged
    assert beat(server, "nightly-backup").status_code == 200  # later calls keep the first call's interval
    stage.clock.advance(15 * MINUTE)
    server.worker.tick()
    [incident] = server.store.incidents()
    assert incident.klass == "monitoring" and incident.fields["summary"] == "monitoring has gone silent: nightly-backup"
    audiences = {(d.role, d.channel) for d in server.store.deliveries(incident.id)}
    assert audiences == {("slack:outage-response", "slack"), ("rotation:primary", "phone"),
                         ("rotation:primary", "sms")}  # never a customer, success manager or status page
    server.worker.tick()
    assert len(server.store.incidents()) == 1  # still silent: the same incident, not a second one

    back = beat(server, "nightly-backup")
    assert back.json()["outcome"] == "resolved" and back.json()["resolved"] == incident.id
    assert server.store.incident(incident.id).status == "resolved"
    assert server.store.heartbeat_row("nightly-backup").state == "ok"


def test_an_undeclared_heartbeat_without_an_interval_or_with_a_bad_name_is_refused_and_nothing_stored(
        server: Server) -> None:
    missing = beat(server, "cron-job")
    assert missing.status_code == 422 and missing.json()["field"] == "interval"
    assert "routing.toml" in missing.json()["error"] and "?interval=" in missing.json()["error"]
    bad = beat(server, "cron-job", "?interval=soon")
    assert bad.status_code == 422 and "'soon' is not a duration" in bad.json()["error"]
    name = beat(server, "Cron%20Job", "?interval=5m")
    assert name.status_code == 422 and name.json()["field"] == "name"
    assert server.store.heartbeat_rows() == []


def test_a_heartbeat_takes_the_hook_credential_and_no_other(server: Server) -> None:
    assert beat(server, "cron-job", "?interval=5m", token=None).status_code == 401
    assert beat(server, "cron-job", "?interval=5m", token="operator-api-token-789").status_code == 401
    assert server.store.heartbeat_rows() == []


def test_alertmanagers_watchdog_is_its_heartbeat_and_never_an_incident(server: Server, stage: Stage) -> None:
    assert server.post("/hooks/alertmanager", watchdog()).status_code == 202
    server.worker.tick()
    assert server.store.incidents() == []
    row = server.store.heartbeat_row(WATCHDOG)
    assert (row.beats, row.source, row.interval, row.grace) == (1, "alertmanager", MINUTE, 4 * MINUTE)  # routing.toml
    server.post("/hooks/alertmanager", watchdog("resolved"))  # Prometheus stopped sending it: that is no beat
    stage.clock.advance(5 * MINUTE + timedelta(seconds=1))
    server.worker.tick()
    [incident] = server.store.incidents()
    assert incident.klass == "monitoring" and WATCHDOG in incident.fields["summary"]
    server.post("/hooks/alertmanager", watchdog())
    server.worker.tick()
    assert server.store.incident(incident.id).status == "resolved"


def test_notify_heartbeats_lists_declared_and_beating_heartbeats_with_their_state(
        server: Server, stage: Stage, config_dir: Path) -> None:
    beat(server, "nightly-backup", "?interval=10m")
    stage.clock.advance(21 * MINUTE)
    env = {"NOTIFY_STORE_URL": f"sqlite:///{stage.store_path}", "NOTIFY_NOW": stage.clock.now().isoformat(),
           "NOTIFY_CONFIG_DIR": str(config_dir)}
    listed = run("heartbeats", "--json", env=env)
    assert listed.exit_code == 0, listed.output
    states = {h["name"]: h["state"] for h in json.loads(listed.stdout)["heartbeats"]}
    assert states == {"nightly-backup": "overdue", WATCHDOG: "never"}
    server.worker.tick()
    table = run("heartbeats", env=env)
    assert "nightly-backup" in table.output and "late" in table.output and "MON-" in table.output


def test_a_retired_monitor_s_heartbeat_is_forgotten_and_pages_no_more_while_its_open_incident_stays(
        server: Server, stage: Stage, config_dir: Path) -> None:
    beat(server, "nightly-backup", "?interval=10m")
    stage.clock.advance(21 * MINUTE)
    server.worker.tick()
    [incident] = server.store.incidents()  # silent: its monitoring incident is open
    env = {"NOTIFY_STORE_URL": f"sqlite:///{stage.store_path}", "NOTIFY_NOW": stage.clock.now().isoformat(),
           "NOTIFY_CONFIG_DIR": str(config_dir)}
    forgotten = run("heartbeats", "--forget", "nightly-backup", env=env)
    assert forgotten.exit_code == 0, forgotten.output
    assert f"its incident {incident.id} stays open" in forgotten.output
    assert server.store.heartbeat_row("nightly-backup") is None
    assert server.store.incident(incident.id).status == "open"  # a person resolves it, saying why
    listed = json.loads(run("heartbeats", "--json", env=env).stdout)["heartbeats"]
    assert [h["name"] for h in listed] == [WATCHDOG]
    stage.clock.advance(60 * MINUTE)
    server.worker.tick()
    assert len(server.store.incidents()) == 1  # no second page for the silence of a retired monitor


def test_only_a_stored_undeclared_heartbeat_can_be_forgotten(server: Server, config_dir: Path, stage: Stage) -> None:
    env = {"NOTIFY_STORE_URL": f"sqlite:///{stage.store_path}", "NOTIFY_CONFIG_DIR": str(config_dir)}
    declared = run("heartbeats", "--forget", WATCHDOG, env=env)
    assert declared.exit_code != 0 and f"[heartbeats.{WATCHDOG}]" in declared.output  # routing.toml's to remove
    unknown = run("heartbeats", "--forget", "no-such-monitor", "--json", env=env)
    assert unknown.exit_code != 0 and "no heartbeat 'no-such-monitor' is stored" in unknown.output


def test_a_generic_hook_naming_the_monitoring_class_still_tells_no_customer(server: Server) -> None:
    body = {"action": "trigger", "dedup_key": "mon-1", "class": "monitoring", "summary": "probe silent",
            "reported_by": "jane@acme.example", "customer": "acme-corp"}
    assert server.post("/hooks/generic", copy.deepcopy(body)).status_code == 202
    [incident] = server.store.incidents()
    assert not [d for d in server.store.deliveries(incident.id) if d.role in ("customer", "success-manager")]


@pytest.mark.parametrize("told, named", [
    ('{ to = "customer", channel = "email", template = "customer" }', "names customer"),
    ('{ to = "statuspage:public", channel = "statuspage" }', "names statuspage:public"),  # a blind monitor, public
    ('{ to = "slack:outage-response", channel = "statushook" }', "slack:outage-response by statushook"),
])
def test_an_internal_class_that_tells_anyone_outside_the_team_is_refused_naming_the_file_and_class(
        config_dir: Path, told: str, named: str) -> None:
    from dispatcher.config.directory import load_directory
    from dispatcher.config.policy import load_policy
    from dispatcher.errors import ConfigError

    policy = config_dir / "policy.toml"
    text = policy.read_text()
    start = text.index("[[classes.monitoring.steps]]")  # its step 0, told a customer too
    step = '  { to = "rotation:primary", channel = "sms" },\n'
    policy.write_text(text[:start] + text[start:].replace(
        step, step + f"  {told},\n", 1))
    with pytest.raises(ConfigError) as refused:
        load_policy(policy, load_directory(config_dir / "contacts.toml"))
    [problem] = refused.value.problems
    assert problem.key == "classes.monitoring.internal" and named in problem.message


def test_notify_ingest_takes_a_watchdog_notification_as_a_beat(tmp_path: Path, config_dir: Path) -> None:
    payload = tmp_path / "watchdog.json"
    payload.write_text(json.dumps(watchdog()))
    env = {"NOTIFY_STORE_URL": f"sqlite:///{tmp_path / 'notify.db'}", "NOTIFY_CONFIG_DIR": str(config_dir)}
    done = run("ingest", "--format", "alertmanager", str(payload), env=env, now="2026-12-08T11:00:00Z")
    assert done.exit_code == 0 and "a beat of its heartbeat" in done.stdout, done.output
    listed = json.loads(run("heartbeats", "--json", env=env, now="2026-12-08T11:00:30Z").stdout)["heartbeats"]
    assert [(h["name"], h["state"], h["beats"]) for h in listed] == [(WATCHDOG, "ok", 1)]


def test_a_policy_without_the_monitoring_class_is_warned_by_check_and_never_stops_the_worker(
        stage: Stage, config_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    policy = config_dir / "policy.toml"
    text = policy.read_text()
    policy.write_text(text[:text.index("# --- 9. Monitoring gone silent")])  # a policy.toml from before the class
    checked = run("check", "--config-dir", str(config_dir))
    assert "heartbeats are declared but policy.toml has no `monitoring` class" in checked.output
    server = Server(stage, webhook_token=TOKEN, api_token="operator-api-token-789")
    try:
        assert beat(server, "nightly-backup", "?interval=1m").status_code == 200
        stage.clock.advance(3 * MINUTE)
        server.worker.tick()  # late, and nobody to page: said in the log, and the tick goes on
        assert server.store.incidents() == []
        assert "no `monitoring` class: nobody is paged" in caplog.text
    finally:
        server.stop()
