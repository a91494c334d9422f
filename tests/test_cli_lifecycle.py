"""The lifecycle commands as an on-call engineer types them: worker, ack, update, resolve, status, db upgrade."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from dispatcher.store.schema import SCHEMA_VERSION, V1
from dispatcher.testing.providers import Reply

from . import pg
from .helpers import run

pg_url = pg.pg_url

TRIGGER = ["security", "--incident", "SEC-2024-001", "--customer", "Acme Corp", "--summary", "Unusual admin logins"]


def started_at() -> datetime:
    doc = json.loads(run("status", "SEC-2024-001", "--json").stdout)
    return datetime.fromisoformat(doc["incident"]["started"])


def test_worker_with_the_clock_moved_forward_fires_the_seed_follow_ups(providers) -> None:
    smtp, proxy, _ = providers
    first = run(*TRIGGER)
    assert first.exit_code == 0 and "need a running `notify worker` (none has run)" in first.stdout
    t0 = started_at()
    tick = run("worker", "--once", "--yes", "--at", (t0 + timedelta(minutes=16)).isoformat())
    assert "2 timer actions fired" in tick.stdout  # the +15 follow-up step and escalation 1
    calls = [r.form["To"] for r in proxy["api.twilio.com"].requests if r.path.endswith("/Calls.json")]
    assert "+14155550116" in calls and "+14155550117" in calls  # CTO and CEO informed (preferred: phone)
    assert "+14155550188" in calls  # the secondary, paged because nobody acknowledged in 15 min
    again = run("worker", "--once", "--yes", "--at", (t0 + timedelta(minutes=16)).isoformat())
    assert "0 timer actions fired, 0 delivery attempts" in again.stdout


def test_a_tick_ahead_of_the_real_clock_pages_nobody_without_yes(providers) -> None:
    """`--at` later than now on a live store would page people early: refused, nothing fired, unless --yes."""
    smtp, proxy, _ = providers
    real_now = datetime.now().astimezone()
    run(*TRIGGER, now=real_now.isoformat())  # a live incident, opened on the real clock
    calls = len(proxy["api.twilio.com"].requests)
    early = run("worker", "--once", "--at", (real_now + timedelta(hours=2)).isoformat())
    assert early.exit_code == 2 and "ahead of the real clock: every timer due by then would fire now" in early.stderr
    assert "or add --yes" in early.stderr and len(proxy["api.twilio.com"].requests) == calls
    assert "escalation" not in [e["kind"] for e in json.loads(run("status", "SEC-2024-001", "--json").stdout)["timeline"]]
    near = run("worker", "--once", "--at", (real_now - timedelta(minutes=5)).isoformat())  # not ahead: no question
    assert near.exit_code == 0, near.stderr
    later = (real_now + timedelta(hours=2)).isoformat()
    started = run("worker", "--once", now=later)  # NOTIFY_NOW's start is a made-up time too
    assert started.exit_code == 2 and "NOTIFY_NOW " in started.stderr and "ahead of the real clock" in started.stderr
    assert len(proxy["api.twilio.com"].requests) == calls
    meant = run("worker", "--once", "--yes", "--at", (real_now + timedelta(hours=2)).isoformat())
    assert meant.exit_code == 0 and "timer actions fired" in meant.stdout
    assert len(proxy["api.twilio.com"].requests) > calls  # the escalation's calls went out: asked for


def test_by_a_person_id_login_or_email_records_the_persons_name(providers) -> None:
    """One incident list, one spelling: `--by cto` is recorded as the web view and the API record that person."""
    run(*TRIGGER)
    acked = run("ack", "SEC-2024-001", "--by", "cto", "--json")
    doc = json.loads(acked.stdout)
    assert (doc["acked_by"], doc["by"]) == ("CTO", {"name": "CTO", "found": "people.cto"})
    noted = run("update", "SEC-2024-001", "--message", "Contained", "--by", "ceo@teamflow.example")
    assert noted.exit_code == 0 and "people.ceo" in noted.stdout
    timeline = json.loads(run("status", "SEC-2024-001", "--json").stdout)["timeline"]
    assert "acknowledged by CTO via cli" in [e["detail"] for e in timeline]
    free = run("resolve", "SEC-2024-001", "--by", "Dana from the vendor")  # nobody in contacts.toml: as typed
    assert "resolved by Dana from the vendor" in free.stdout


def test_ack_stops_escalation_and_resolve_tells_everyone(providers) -> None:
    smtp, proxy, _ = providers
    run(*TRIGGER)
    t0 = started_at()
    ack = run("ack", "SEC-2024-001", "--by", "Support Manager A")
    assert "acknowledged by Support Manager A: escalation stopped" in ack.stdout
    assert "nothing changed" in run("ack", "SEC-2024-001", "--by", "x").stdout
    run("worker", "--once", "--yes", "--at", (t0 + timedelta(minutes=50)).isoformat())
    doc = json.loads(run("status", "SEC-2024-001", "--json").stdout)
    kinds = [e["kind"] for e in doc["timeline"]]
    assert "escalation" not in kinds and "step" in kinds and "acknowledged" in kinds
    resolved = run("resolve", "SEC-2024-001", "--message", "Credentials rotated", "--by", "Support Manager A",
                   "--json")
    assert resolved.exit_code == 0, resolved.stdout
    notices = json.loads(resolved.stdout)["deliveries"]
    reached = {d["recipient"] for d in doc["deliveries"] if d["outcome"] == "delivered"}
    assert {d["recipient"] for d in notices} == reached and all(d["kind"] == "resolved" for d in notices)
    assert all(d["outcome"] == "delivered" for d in notices)
    assert "resolved already" in run("resolve", "SEC-2024-001", "--by", "Support Manager A").stdout
    assert json.loads(run("status", "SEC-2024-001", "--json").stdout)["next_due"] == []


def test_update_goes_to_the_update_audience_and_status_lists_it(providers, rotation_week) -> None:
    smtp, proxy, _ = providers
    run(*TRIGGER)
    result = run("update", "SEC-2024-001", "--message", "Containment done", "--by", "Support Manager A")
    assert result.exit_code == 0, result.stdout
    update_mail = [m for m in smtp.messages if "Containment done" in m.get_body(("plain",)).get_content()]
    commander = f"{rotation_week.primary}@teamflow.example"  # the on-call primary, by email: not phoned for it
    expected = ["jane@acme.example"] + ([commander] if rotation_week.primary != "support-manager-a" else [])
    assert sorted(m["To"] for m in update_mail) == expected  # the author is not told of their own update
    assert any(b"Containment done" in r.body for r in proxy["hooks.slack.com"].requests)  # #security-alerts
    doc = json.loads(run("status", "SEC-2024-001", "--json").stdout)
    assert doc["updates"] == 1 and any(e["kind"] == "update" for e in doc["timeline"])
    listed = json.loads(run("incidents", "--open", "--json").stdout)["incidents"]
    assert [i["id"] for i in listed] == ["SEC-2024-001"]
    [logged] = [line for line in run("log").stdout.splitlines() if "  update  " in line and "j***@" in line]
    assert "step -1" not in logged  # the notice kind, not an internal step


def test_a_security_update_without_a_customer_reaches_the_team_but_the_customer_update_stays_due(
        providers, rotation_week) -> None:
    smtp, proxy, _ = providers
    assert run("security", "--incident", "SEC-2024-001", "--summary", "Unusual admin logins").exit_code == 0
    t0 = started_at()
    result = run("update", "SEC-2024-001", "--message", "Containment done", "--by", "cto", "--json")
    assert result.exit_code == 0, result.stdout
    doc = json.loads(result.stdout)
    sent = {(d["recipient"], d["outcome"]) for d in doc["deliveries"]}
    assert sent == {("customer", "skipped"), ("slack:security-alerts", "delivered"),
                    (rotation_week.primary, "delivered")}
    assert any(b"Containment done" in r.body for r in proxy["hooks.slack.com"].requests)
    assert "not the customer update the cadence asks for" in doc["notes"][0]
    status = json.loads(run("status", "SEC-2024-001", "--json").stdout)
    assert [e["kind"] for e in status["timeline"] if "update" in e["kind"]] == ["uncounted-update"]
    # the 30-minute customer update is still owed: missed at +30 and escalated, as with no update at all
    run("worker", "--once", "--yes", "--at", (t0 + timedelta(minutes=31)).isoformat())
    kinds = [e["kind"] for e in json.loads(run("status", "SEC-2024-001", "--json").stdout)["timeline"]]
    assert "overdue" in kinds


def test_an_update_that_reaches_nobody_exits_1_and_says_why(config_dir: Path, providers, rotation_week) -> None:
    policy = config_dir / "policy.toml"
    policy.write_text(policy.read_text().replace(
        'update_audience = ["customer", "slack:security-alerts", "commander"]',
        'update_audience = ["customer", "commander"]'))
    where = ["--config-dir", str(config_dir)]
    assert run("security", "--incident", "SEC-2024-001", "--summary", "x", *where).exit_code == 0
    commander = rotation_week.primary
    result = run("update", "SEC-2024-001", "--message", "Containment done", "--by", commander, *where)
    assert result.exit_code == 1, result.stdout
    assert "but it was sent to nobody (customer: no customer email" in result.stderr
    assert "the author of this update" in result.stderr  # the commander, who wrote it
    assert "Containment done" not in "".join(m.get_body(("plain",)).get_content() for m in providers[0].messages)


def test_deliveries_still_retrying_after_wait_are_left_to_the_worker_exit_3(providers) -> None:
    smtp, proxy, _ = providers
    proxy["hooks.slack.com"].script(Reply(503, "busy"), Reply(200, "ok"))
    result = run(*TRIGGER, "--wait", "0")
    assert result.exit_code == 3, result.stdout
    assert "STILL RETRYING (left to `notify worker`): slack:security-alerts" in result.stdout
    t0 = started_at()
    run("worker", "--once", "--yes", "--at", (t0 + timedelta(minutes=1)).isoformat())
    slack = [d for d in json.loads(run("status", "SEC-2024-001", "--json").stdout)["deliveries"]
             if d["channel"] == "slack"]
    assert [(d["outcome"], d["attempts"]) for d in slack] == [("delivered", 2)]


def test_unknown_incident_is_a_clear_error() -> None:
    result = run("ack", "SEC-1999-001", "--by", "me")
    assert result.exit_code == 2 and "SEC-1999-001: no such incident" in result.stderr


# -- who acts, without --by ------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["support-manager-a", "Support-Manager-A", "support-manager-a@teamflow.example",
                                  "smgr"])
def test_ack_without_by_records_the_person_notify_user_names(providers, config_dir, monkeypatch, user) -> None:
    """By person id, email or the new `login` field, case-insensitively; the command says whom it recorded."""
    contacts = config_dir / "contacts.toml"
    contacts.write_text(contacts.read_text().replace('name = "Support Manager A"\n',
                                                     'name = "Support Manager A"\nlogin = "smgr"\n'))
    run(*TRIGGER, "--config-dir", str(config_dir))
    monkeypatch.setenv("NOTIFY_USER", user)
    acked = run("ack", "SEC-2024-001", "--config-dir", str(config_dir))
    assert acked.exit_code == 0, acked.stdout + acked.stderr
    assert acked.stdout.strip() == ("SEC-2024-001 acknowledged by Support Manager A "
                                    "(people.support-manager-a, from NOTIFY_USER): escalation stopped")
    doc = json.loads(run("status", "SEC-2024-001", "--json", "--config-dir", str(config_dir)).stdout)
    assert doc["acknowledged"]["by"] == "Support Manager A"


def test_without_notify_user_the_login_name_is_matched(providers, monkeypatch) -> None:
    run(*TRIGGER)
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):  # what getpass reads, in its order
        monkeypatch.setenv(name, "support-manager-a")
    acked = json.loads(run("ack", "SEC-2024-001", "--json").stdout)
    assert acked["acked_by"] == "Support Manager A"
    assert acked["by"] == {"name": "Support Manager A", "found": "people.support-manager-a, from your login name"}


@pytest.mark.parametrize("command", [["ack"], ["update", "--message", "Containment done"],
                                     ["resolve", "--message", "fixed"]])
def test_an_unmatched_name_is_refused_with_a_hint_and_nothing_is_recorded(providers, monkeypatch, command) -> None:
    run(*TRIGGER)
    sent = len(providers[0].messages) + len(providers[1].requests)
    monkeypatch.setenv("NOTIFY_USER", "jdoe")
    refused = run(command[0], "SEC-2024-001", *command[1:])
    assert refused.exit_code == 2
    assert f'notify: {command[0]}: no --by, and NOTIFY_USER "jdoe" is nobody in ' in refused.stderr
    assert 'add login = "jdoe" to your [people.ID] entry; nothing was recorded' in refused.stderr
    doc = json.loads(run("status", "SEC-2024-001", "--json").stdout)
    assert (doc["incident"]["status"], doc["updates"], doc["acknowledged"]) == ("open", 0, None)
    assert len(providers[0].messages) + len(providers[1].requests) == sent


def test_update_and_resolve_without_by_record_and_print_whom(providers, monkeypatch) -> None:
    run(*TRIGGER)
    monkeypatch.setenv("NOTIFY_USER", "support-manager-a@teamflow.example")
    updated = run("update", "SEC-2024-001", "--message", "Containment done")
    assert "update recorded by Support Manager A (people.support-manager-a, from NOTIFY_USER)" in updated.stdout
    resolved = run("resolve", "SEC-2024-001", "--message", "fixed")
    assert "incident resolved by Support Manager A (people.support-manager-a, from NOTIFY_USER)" in resolved.stdout
    timeline = json.loads(run("status", "SEC-2024-001", "--json").stdout)["timeline"]
    assert [e.get("by") for e in timeline if e["kind"] in ("update", "resolved")] == ["Support Manager A"] * 2


def test_a_login_shared_by_two_people_is_an_error_naming_both(config_dir) -> None:
    contacts = config_dir / "contacts.toml"
    text = contacts.read_text().replace('name = "Support Manager A"\n', 'name = "Support Manager A"\nlogin = "ops"\n')
    contacts.write_text(text.replace('name = "Billing Agent 1"\n', 'name = "Billing Agent 1"\nlogin = "OPS"\n'))
    checked = run("check", "--config-dir", str(config_dir))
    assert checked.exit_code != 0
    assert "people.support-manager-a.login" in checked.stdout
    assert "same login as people.billing-agent-1" in checked.stdout


def store_at_schema_1(state: Path) -> None:
    """The default store of `state`, as the first release of notify left it."""
    path = state / "notify" / "notify.db"
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.executescript(V1 + ";\nINSERT INTO meta VALUES ('schema_version', '1');")
    conn.close()


def test_a_store_behind_is_refused_until_db_upgrade(clean_env: Path) -> None:
    store_at_schema_1(clean_env / "state")
    refused = run("incidents")
    assert refused.exit_code == 2
    assert f"is at schema 1, this notify needs {SCHEMA_VERSION}: run `notify db upgrade`" in refused.stderr
    upgraded = run("db", "upgrade")
    assert f"upgraded from schema 1 to {SCHEMA_VERSION}" in upgraded.stdout
    assert run("incidents").stdout.strip() == "no incidents"
    assert f"already at schema {SCHEMA_VERSION}" in run("db", "upgrade").stdout


def test_an_id_typed_in_lower_case_names_the_same_incident(providers) -> None:
    run(*TRIGGER)
    acked = run("ack", "sec-2024-001", "--by", "Support Manager A")
    assert acked.exit_code == 0, acked.stdout + acked.stderr
    doc = json.loads(run("status", " sec-2024-001", "--json").stdout)
    assert doc["incident"]["id"] == "SEC-2024-001" and doc["acknowledged"]["by"] == "Support Manager A"


def test_an_update_after_resolve_is_refused_without_sending_anyone_to_notify_check(providers) -> None:
    run(*TRIGGER)
    run("resolve", "SEC-2024-001", "--message", "done", "--by", "Support Manager A")
    result = run("update", "SEC-2024-001", "--message", "late", "--by", "Support Manager A")
    assert result.exit_code == 2 and "no more updates" in result.stderr
    assert "notify check" not in result.stderr  # nothing is wrong with the configuration


def test_a_resolve_that_reaches_nobody_prints_no_empty_table() -> None:
    assert run(*TRIGGER, "--wait", "0").exit_code == 1  # no channel has settings: nobody was reached
    resolved = run("resolve", "SEC-2024-001", "--message", "false alarm", "--by", "Support Manager A")
    assert resolved.exit_code == 0 and "STEP" not in resolved.stdout
    assert "0 deliveries" in resolved.stdout


def test_retry_json_with_nothing_to_retry_is_still_a_document_and_log_takes_lower_case(providers) -> None:
    run(*TRIGGER)
    doc = json.loads(run("retry", "SEC-2024-001", "--json").stdout)
    assert doc["command"] == "retry" and doc["deliveries"] == [] and "no failed delivery" in doc["notes"][0]
    attempts = json.loads(run("log", "--incident", "sec-2024-001", "--json").stdout)["attempts"]
    assert attempts and {a["incident"] for a in attempts} == {"SEC-2024-001"}


def test_a_worker_ticking_at_a_made_up_time_leaves_stored_webhooks_to_the_real_clock(clean_env: Path) -> None:
    from dispatcher.store import open_store

    run("db", "upgrade")
    store = open_store(f"sqlite:///{clean_env / 'state' / 'notify' / 'notify.db'}")
    payload = (Path(__file__).parent / "payloads" / "alertmanager-0.25-webhook-v4.json").read_text()
    store.enqueue("alertmanager", "alertmanager:" + json.loads(payload)["groupKey"], payload, datetime.fromisoformat("2026-11-27T01:00:00Z"))
    result = run("worker", "--once", "--yes", "--at", "2030-01-01T00:00:00Z")
    assert result.exit_code == 0, result.stderr
    assert store.inbox_counts() == (1, 0, 0) and store.incidents() == []  # no OUT-2030-001 from a real alert
    assert run("worker", "--once").exit_code == 0
    assert store.inbox_counts() == (0, 0, 0) and [i.klass for i in store.incidents()] == ["outage"]
    store.close()


def test_notify_inbox_lists_retries_and_discards_stored_webhooks(clean_env: Path) -> None:
    from dispatcher.store import open_store
    from dispatcher.store.inbox_sql import GIVE_UP_AFTER

    run("db", "upgrade")
    store = open_store(f"sqlite:///{clean_env / 'state' / 'notify' / 'notify.db'}")
    broken = store.enqueue("alertmanager", "alertmanager:{}:{alertname=\"DiskFull\"}", '{"status": "firing"}',
                           datetime.fromisoformat("2026-11-27T01:00:00+00:00"))
    waiting = store.enqueue("grafana", "grafana:abc", "{}", datetime.fromisoformat("2026-11-27T01:00:01+00:00"))
    store.claim_inbox("w", datetime.fromisoformat("2026-11-27T01:00:02+00:00"),
                      datetime.fromisoformat("2026-11-27T01:01:00+00:00"), limit=1)
    store.inbox_failed(broken, "w", "PayloadError: version: missing", None)
    listed = run("inbox")
    assert listed.exit_code == 0
    header, *lines = listed.stdout.splitlines()
    assert header.split() == ["ID", "SOURCE", "STATE", "TRIES", "RECEIVED", "GROUP", "ERROR"]
    assert lines[0].startswith(f"{broken:>2}  alertmanager  given up  {GIVE_UP_AFTER:>5}  2026-11-27T01:00:00  ")
    assert lines[0].endswith("PayloadError: version: missing")
    assert lines[1].startswith(f"{waiting:>2}  grafana       waiting ")
    doc = json.loads(run("inbox", "--retry", str(broken), "--json").stdout)
    assert doc["retried"] == 1 and [(w["id"], w["state"], w["error"]) for w in doc["webhooks"]] == [
        (broken, "waiting", None), (waiting, "waiting", None)]
    gone = run("inbox", "--discard", str(broken), "--discard", "999")
    assert gone.exit_code == 2 and "1 discarded" in gone.stdout
    assert "1 of the ids given are not in the inbox" in gone.stderr
    assert store.inbox_counts() == (1, 0, 0)
    store.close()


def test_check_refuses_a_sqlite_store_on_an_older_schema_as_every_other_command_would(clean_env: Path) -> None:
    store_at_schema_1(clean_env / "state")
    checked = run("check")
    assert checked.exit_code == 2
    assert f"is at schema 1, this notify needs {SCHEMA_VERSION}: run `notify db upgrade`" in checked.stdout
    run("db", "upgrade")
    again = run("check").stdout  # still exit 2 here: no channel has settings in this test
    assert "notify db upgrade" not in again and f"notify.db (schema {SCHEMA_VERSION})" in again


def test_db_upgrade_names_the_store_without_its_password(pg_url: str) -> None:
    with_password = pg_url.replace("postgresql://postgres@", "postgresql://postgres:s3cret-pw@", 1)
    assert with_password != pg_url  # trust auth here: the password is not needed, only not to be printed
    upgraded = run("db", "upgrade", env={"NOTIFY_STORE_URL": with_password})
    assert upgraded.exit_code == 0, upgraded.output
    assert "s3cret-pw" not in upgraded.output and upgraded.stdout.startswith("store postgresql://")
    assert "***@127.0.0.1:5432/test" in upgraded.stdout
