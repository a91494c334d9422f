"""`notify silence ...`, `notify maintenance ...` and what `notify log` says of held pages, as a user runs them."""

from __future__ import annotations

import json

from .helpers import run

NOW = "2026-03-02T10:00:00Z"
LATER = "2026-03-02T10:01:00Z"  # each command's clock starts at NOTIFY_NOW: the alert comes a minute after the silence
ALERT = json.dumps({"class": "outage", "dedup_key": "disk-db-1", "summary": "Disk full on db-1",
                    "labels": {"alertname": "DiskFull", "instance": "db-1"}})


def test_a_silence_added_listed_holding_an_alert_and_expired_from_the_command_line(providers) -> None:
    added = run("silence", "add", "--match", 'alertname="DiskFull"', "--match", 'instance=~"db-.*"', "--for", "2h",
                "--by", "alice", "--reason", "disk swap", "--json", now=NOW)
    assert added.exit_code == 0, added.output
    silence = json.loads(added.stdout)["silence"]
    assert silence["state"] == "active" and silence["ends"].startswith("2026-03-02T12:00:00")  # NOTIFY_NOW runs on
    listed = json.loads(run("silence", "list", "--json", now=NOW).stdout)["silences"]
    assert [s["id"] for s in listed] == [silence["id"]]

    ingested = run("ingest", "--format", "generic", "--json", input=ALERT, now=LATER)
    doc = json.loads(ingested.stdout)
    assert doc["ingest"]["outcome"] == "silenced" and doc["deliveries"] == []
    incident = doc["incident"]["id"]
    log = run("log", now=LATER).stdout
    assert "no attempts recorded" in log and "held back (no attempt made yet)" in log and silence["id"] in log
    held = json.loads(run("log", "--json", now=NOW).stdout)["held"]
    assert [(h["incident"], h["kind"]) for h in held] == [(incident, "silenced")]

    expired = run("silence", "expire", silence["id"], "--json", now="2026-03-02T10:30:00Z")
    assert json.loads(expired.stdout)["released"] == [incident]
    attempts = json.loads(run("log", "--incident", incident, "--json", now=NOW).stdout)["attempts"]
    assert attempts and {a["outcome"] for a in attempts} == {"delivered"}
    assert run("silence", "list", "--json", now="2026-03-02T10:31:00Z").stdout.count('"id"') == 0


def test_a_silence_lists_the_open_incidents_it_matches_and_does_not_hold(providers) -> None:
    run("ingest", "--format", "generic", input=ALERT, now=NOW)
    added = run("silence", "add", "--match", 'alertname="DiskFull"', "--for", "1h", "--by", "alice",
                "--reason", "noise", now=NOW)
    assert "1 open incident(s) match it" in added.stdout and "OUT-2026-001" in added.stdout


def test_bad_silences_and_windows_are_refused_naming_the_option(providers) -> None:
    bad = run("silence", "add", "--match", 'alertname=~"("', "--for", "1h", "--by", "a", "--reason", "r")
    assert bad.exit_code == 2 and "notify: --match: " in bad.output and "bad regular expression" in bad.output
    assert bad.output.rstrip().endswith("; nothing was changed")  # a silence sends nothing
    long = run("silence", "add", "--match", 'alertname="DiskFull"', "--for", "2x", "--by", "a", "--reason", "r")
    assert "notify: --for: '2x' is not a duration like '15m', '1h' or '2h30m'; nothing was changed" in long.output
    unknown = run("silence", "expire", "S-000000")
    assert unknown.exit_code == 2 and "no silence or maintenance window 'S-000000'" in unknown.output
    backwards = run("maintenance", "add", "--service", "api", "--from", "2026-03-02T12:00Z",
                    "--to", "2026-03-02T11:00Z", "--by", "bob", "--reason", "upgrade", now=NOW)
    assert backwards.exit_code == 2 and "notify: --to: " in backwards.output and "not after --from" in backwards.output
    garbled = run("maintenance", "add", "--service", "api", "--from", "tomorrow", "--to", "2026-03-02T11:00Z",
                  "--by", "bob", "--reason", "upgrade", now=NOW)
    assert garbled.exit_code == 2 and "--from: 'tomorrow'" in garbled.output


def test_a_maintenance_window_is_scheduled_ahead_and_listed(providers) -> None:
    added = run("maintenance", "add", "--service", "api", "--service", "webhooks", "--from", "2026-03-02T22:00Z",
                "--to", "2026-03-02T23:30Z", "--by", "bob", "--reason", "database upgrade", "--json", now=NOW)
    window = json.loads(added.stdout)["window"]
    assert (window["state"], window["services"]) == ("pending", ["api", "webhooks"])
    table = run("maintenance", "list", now=NOW).stdout
    assert window["id"] in table and "maintenance: api, webhooks" in table
