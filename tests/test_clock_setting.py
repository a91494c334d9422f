"""NOTIFY_NOW: one way to set "now" for every command, said aloud, refused where real time matters."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dispatcher.clock import StartedClock, parse_instant

from .conftest import ROTATION_WEEKS, RotationWeek
from .helpers import run

TRIGGER = ["security", "--customer", "Acme Corp", "--summary", "Unusual admin logins", "--json"]


def test_each_rotation_week_names_its_own_primary(rotation_week: RotationWeek) -> None:
    result = run("who", "security", "--json")  # NOTIFY_NOW comes from the fixture's environment
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["on_call"]["primary"]["person"] == rotation_week.primary
    assert doc["on_call"]["secondary"]["person"] == rotation_week.secondary
    assert doc["clock"] == {"source": "NOTIFY_NOW", "start": parse_instant(rotation_week.now, "x").isoformat()}
    assert "NOTIFY_NOW" in result.stderr


def test_the_issues_two_mondays_name_two_different_primaries() -> None:
    texts = [run("who", "security", now=week.now).stdout for week in ROTATION_WEEKS]
    assert "primary: Support Manager A (support-manager-a)" in texts[0]
    assert "primary: Support Manager B (support-manager-b)" in texts[1]


@pytest.mark.parametrize(("value", "says"), [
    ("2026-12-07T17:01:00", "has no UTC offset"),
    ("next monday", "is not an ISO 8601 time"),
    ("2026-13-07T17:01:00Z", "is not an ISO 8601 time"),
])
def test_a_bad_notify_now_is_a_usage_error_naming_the_variable(value: str, says: str) -> None:
    for args in (["who", "security"], ["incidents", "--json"], ["log"]):
        result = run(*args, now=value)
        assert result.exit_code == 2
        assert f"NOTIFY_NOW: {value!r} {says}" in result.stderr


def test_an_explicit_at_wins_over_notify_now() -> None:
    week_a, week_b = ROTATION_WEEKS
    doc = json.loads(run("who", "security", "--at", week_b.now, "--json", now=week_a.now).stdout)
    assert doc["on_call"]["primary"]["person"] == week_b.primary
    assert "clock" not in doc  # --at is not a clock left on by accident


@pytest.mark.parametrize("args", [["serve", "--no-auth"], ["worker"], ["worker", "--interval", "1"],
                                  ["drill", "drills/legal-request.toml", "--allow", "person:cto"]])
def test_serve_a_looping_worker_and_a_live_drill_refuse_a_made_up_time(args: list[str]) -> None:
    args = [str(Path(__file__).parent.parent / a) if a.startswith("drills/") else a for a in args]
    result = run(*args, now=ROTATION_WEEKS[0].now)
    assert result.exit_code == 2
    assert "refuses to start while NOTIFY_NOW is set" in result.stderr


@pytest.mark.slow
def test_check_warns_while_it_is_set_and_errors_when_it_is_malformed() -> None:
    warned = json.loads(run("check", "--json", now=ROTATION_WEEKS[0].now).stdout)
    problem = next(p for p in warned["problems"] if p["key"] == "NOTIFY_NOW")
    assert problem["severity"] == "warning" and "not the real time" in problem["message"]
    broken = run("check", "--json", now="soon")
    assert broken.exit_code == 2
    assert next(p for p in json.loads(broken.stdout)["problems"] if p["key"] == "NOTIFY_NOW")["severity"] == "error"
    assert all(p["key"] != "NOTIFY_NOW" for p in json.loads(run("check", "--json").stdout)["problems"])


def test_the_clock_starts_there_and_runs_at_the_real_pace() -> None:
    ticks = iter([100.0, 100.0, 107.5])
    clock = StartedClock(datetime(2026, 12, 31, 23, 59, 55, tzinfo=timezone.utc), "NOTIFY_NOW", lambda: next(ticks))
    assert clock.now() == datetime(2026, 12, 31, 23, 59, 55, tzinfo=timezone.utc)
    assert clock.now() == datetime(2027, 1, 1, 0, 0, 2, 500000, tzinfo=timezone.utc)


def test_incident_ids_follow_the_utc_year_of_the_clock_and_keep_theirs_after_new_year(providers) -> None:
    before = json.loads(run(*TRIGGER, now="2026-12-31T23:59:50Z").stdout)
    after = json.loads(run(*TRIGGER, now="2027-01-01T00:00:10Z").stdout)
    assert before["incident"]["id"] == "SEC-2026-001" and after["incident"]["id"] == "SEC-2027-001"
    assert before["clock"]["start"] == "2026-12-31T23:59:50+00:00"
    assert before["incident"]["started"].startswith("2026-12-31T23:59:5")
    listed = json.loads(run("incidents", "--json", now="2027-01-01T00:01:00Z").stdout)["incidents"]
    assert [i["id"] for i in listed] == ["SEC-2026-001", "SEC-2027-001"]


def test_lifecycle_commands_and_the_log_use_the_clock(providers) -> None:
    opened = json.loads(run(*TRIGGER, now="2026-12-07T17:01:00Z").stdout)["incident"]["id"]
    ack = json.loads(run("ack", opened, "--by", "Support Manager A", "--json", now="2026-12-07T17:09:00Z").stdout)
    assert ack["acked_at"].startswith("2026-12-07T17:09:0") and ack["clock"]["source"] == "NOTIFY_NOW"
    status = json.loads(run("status", opened, "--json", now="2026-12-07T17:10:00Z").stdout)
    assert status["clock"]["start"] == "2026-12-07T17:10:00+00:00"
    recent = json.loads(run("log", "--since", "1h", "--json", now="2026-12-07T17:30:00Z").stdout)["attempts"]
    stale = json.loads(run("log", "--since", "1h", "--json", now="2026-12-07T19:30:00Z").stdout)["attempts"]
    pages = [a for a in recent if a["kind"] != "ack"]  # the ack's notice to the Slack channel went at 17:09
    assert pages and all(a["at"].startswith("2026-12-07T17:01") for a in pages) and stale == []
    assert [a["at"][:16] for a in recent if a["kind"] == "ack"] == ["2026-12-07T17:09"]


@pytest.mark.slow
def test_a_sandbox_drill_starts_at_notify_now_or_at_the_files_start(tmp_path: Path) -> None:
    scenario = Path(__file__).parent.parent / "drills" / "nobody-acks.toml"  # a drill that pins no start
    from_env = run("drill", str(scenario), "--sandbox", "--json", "--state-dir", str(tmp_path / "a"),
                   now="2026-12-14T17:01:00Z")
    assert from_env.exit_code == 0, from_env.stderr
    doc = json.loads(from_env.stdout)
    assert doc["clock"]["source"] == "NOTIFY_NOW" and doc["started"].startswith("2026-12-14T17:01")
    pinned = tmp_path / "pinned.toml"
    pinned.write_text("start = 2027-03-15T16:01:00Z\n" + scenario.read_text())
    from_file = json.loads(run("drill", str(pinned), "--sandbox", "--json", "--state-dir", str(tmp_path / "b"),
                               now="2026-12-14T17:01:00Z").stdout)
    assert from_file["started"].startswith("2027-03-15T16:01")
    live_file = tmp_path / "live.toml"
    live_file.write_text("start = 2027-03-15T16:01:00Z\n" + (scenario.parent / "legal-request.toml").read_text())
    live = run("drill", str(live_file), "--allow", "person:cto")
    assert live.exit_code == 2 and "'start' sets a simulated clock, so it needs --sandbox" in live.stderr
