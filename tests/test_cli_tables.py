"""What the listing commands print, as users read it: aligned tables with headers, fitted to a terminal,
full width and plain into a pipe, colour only on a terminal and never under NO_COLOR."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from dispatcher.render.table import cell_width

from .helpers import run

_at = datetime.fromisoformat

SUMMARY = "API latency above ten seconds for every EU customer since the deploy of the new gateway at noon"
TRIGGER = ["technical", "--incident", "TEC-2026-001", "--summary", SUMMARY, "--affected-services", "API"]
DRILLS = Path(__file__).resolve().parent.parent / "drills"


def column_starts(line: str, headers: list[str]) -> list[int]:
    return [line.index(h) for h in headers]


def test_status_keeps_its_columns_aligned_with_a_long_name(providers) -> None:
    assert run(*TRIGGER).exit_code == 0
    text = run("status", "TEC-2026-001").stdout
    lines = text.splitlines()
    at = lines.index("deliveries:")
    header, rows = lines[at + 1], lines[at + 2:at + 4]
    assert header.split() == ["KIND", "RECIPIENT", "CHANNEL", "TARGET", "OUTCOME", "NOTE"]
    assert any("Senior Technical Specialist 1" in row for row in rows)
    outcome = header.index("OUTCOME")
    # the same column on every row (a Slack webhook only posts to the channel: see test_slack_people.py)
    assert all(row[outcome - 1] == " " and row[outcome:].split()[0] in ("accepted", "posted") for row in rows), text


# Each listing command after one real trigger, and a terminal width it must be cut to fit (the log has the most
# columns that are never cut: times, ids, outcomes).
# `channels` never cuts its SETTING column (the variable to set): NOTIFY_STATUSPAGE_URL, the longest, needs 61.
COMMANDS = [(["incidents"], 60), (["log"], 120), (["status", "TEC-2026-001"], 60), (["channels"], 61)]


@pytest.mark.parametrize("args, width", COMMANDS, ids=lambda a: str(a[0]) if isinstance(a, list) else str(a))
def test_on_a_terminal_a_table_fits_its_width_and_is_coloured(providers, args: list[str], width: int) -> None:
    run(*TRIGGER)
    out = run(*args, terminal=True, env={"COLUMNS": str(width), "NO_COLOR": None}).stdout
    table = [_plain(line) for line in out.splitlines() if "\x1b[1m" in line or line.startswith(" ")]
    assert "\x1b[1m" in out, "a bold header row"
    assert "\x1b[3" in out, "outcomes and states in colour"
    assert all(cell_width(line) <= width for line in table), out
    assert "…" in out, "a cell was cut to fit, and says so"


@pytest.mark.parametrize("args, width", COMMANDS, ids=lambda a: str(a[0]) if isinstance(a, list) else str(a))
def test_no_color_keeps_the_fitting_but_drops_the_colour(providers, args: list[str], width: int) -> None:
    run(*TRIGGER)
    out = run(*args, terminal=True, env={"COLUMNS": str(width), "NO_COLOR": "1"}).stdout
    assert "\x1b[" not in out and "…" in out


@pytest.mark.parametrize("args, width", COMMANDS, ids=lambda a: str(a[0]) if isinstance(a, list) else str(a))
def test_into_a_pipe_a_table_is_full_width_and_plain(providers, args: list[str], width: int) -> None:
    run(*TRIGGER)
    out = run(*args, env={"COLUMNS": str(width), "NO_COLOR": None}).stdout
    assert "\x1b[" not in out and "…" not in out
    assert max(cell_width(line) for line in out.splitlines()) > width, "nothing cut: every character for grep"


def test_incidents_has_a_header_and_the_whole_summary_in_a_pipe(providers) -> None:
    run(*TRIGGER)
    header, row = run("incidents").stdout.splitlines()
    assert header.split() == ["ID", "CLASS", "STATUS", "STARTED", "SUMMARY"]
    assert row.startswith("TEC-2026-001") and row.endswith(SUMMARY)


def test_the_log_says_possibly_duplicated_as_json_and_status_do(clean_env: Path) -> None:
    from dispatcher.store import AttemptRow, NewDelivery, open_store

    store = open_store(f"sqlite:///{clean_env / 'state' / 'notify' / 'notify.db'}")
    row = NewDelivery("0", 0, "ann", "Ann", "on-call", "webhook", "NOTIFY_WEBHOOK_URL", "webhook", "email")
    record = {"id": "TEC-2026-500", "class": "technical", "drill": False, "dedup_key": "",
              "started": _at("2026-11-26T03:00:00+00:00"), "fields": {"summary": "load"}}
    store.open_incident(record, [row], prefix="TEC", year=2026, now=_at("2026-11-26T03:00:00+00:00"))
    store.claim("dead", _at("2026-11-26T03:00:00+00:00"), _at("2026-11-26T03:01:00+00:00"))  # its sender dies mid-send
    [taken] = store.claim("alive", _at("2026-11-26T03:05:00+00:00"), _at("2026-11-26T03:06:00+00:00"))
    store.record_attempt(taken, AttemptRow(
        at=_at("2026-11-26T03:05:01+00:00"), incident_id="TEC-2026-500", klass="technical", step=0, person="ann",
        role="on-call", channel="webhook", masked_target="webhook", attempt=1, outcome="delivered", reason="ok",
        detail="HTTP 200", latency_ms=12.0, fallback_of=None, delivered_to=None,
        possible_duplicate=taken.possible_duplicate), final_status="delivered")
    store.close()
    [attempt] = json.loads(run("log", "--json").stdout)["attempts"]
    assert attempt["possible_duplicate"] is True
    text = run("log").stdout
    assert "possibly duplicated" in text, text
    header, line = text.splitlines()
    assert line.index("possibly duplicated") == header.index("NOTE")
    assert "possibly duplicated" in run("status", "TEC-2026-500").stdout


def test_channels_names_the_variable_each_channel_needs(clean_env: Path) -> None:
    header, *rows = run("channels").stdout.splitlines()
    assert header.split() == ["CHANNEL", "STATE", "SENDS", "TO", "SETTING", "MODULE"]
    email = next(row for row in rows if row.startswith("email "))
    assert "not configured" in email and "NOTIFY_EMAIL_URL" in email


def test_a_dry_run_names_the_variable_to_set(clean_env: Path) -> None:
    out = run(*TRIGGER, "--dry-run").stdout
    assert "channel 'slack' has no settings (set NOTIFY_SLACK_URL)" in out
    # email too: it is the person's fallback, and a dry run checks fallbacks as well
    assert "email, slack: no usable settings, a real send would not reach those recipients (set NOTIFY_EMAIL_URL " \
           "and NOTIFY_SLACK_URL; run `notify check`)" in out


def test_dry_run_show_prints_every_rendered_message(providers) -> None:
    shown = run(*TRIGGER, "--dry-run", "--show")
    plain = run(*TRIGGER, "--dry-run")
    assert shown.exit_code == 0 and shown.stdout.startswith(plain.stdout)
    messages = shown.stdout[len(plain.stdout):]
    assert "--- 1/2: Senior Technical Specialist 1 (role:senior-technical-specialist) by slack to U0STS00001 ---" \
        in messages and "--- 2/2: #support-escalation" in messages
    assert messages.count("Subject: TEC-2026-001") == 2 and messages.count(SUMMARY) == 2
    as_json = lambda *extra: json.loads(run(*TRIGGER, "--dry-run", "--json", "--started",  # noqa: E731
                                            "2026-12-07T17:00:00Z", *extra).stdout)
    assert as_json("--show") == as_json(), "--json is unchanged: it carries the messages already"


def test_show_without_dry_run_is_refused_and_sends_nothing(providers) -> None:
    smtp, proxy, _ = providers
    result = run(*TRIGGER, "--show")
    assert result.exit_code == 2 and "--show needs --dry-run" in result.stderr
    assert not proxy.requests and not smtp.messages


def test_drill_results_are_tables_fitted_to_the_terminal() -> None:
    out = run("drill", str(DRILLS / "legal-request.toml"), "--sandbox", terminal=True,
              env={"COLUMNS": "80", "NO_COLOR": None}).stdout
    lines = [_plain(line) for line in out.splitlines()]
    head = next(n for n, line in enumerate(lines) if line.split()[:7] == [
        "KIND", "WHO", "CHANNEL", "DUE", "SENT", "ACCEPTED", "OUTCOME"])  # accepted: by the provider
    expectations = next(n for n, line in enumerate(lines) if line.split()[:3] == ["RESULT", "EXPECTATION", "DETAIL"])
    table = lines[head:lines.index("", head)] + lines[expectations:lines.index("", expectations)]
    assert len(table) > 6 and all(cell_width(line) <= 80 for line in table), out
    assert "…" in out
    assert "\x1b[32mPASS\x1b[0m" in out


def _plain(line: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", line)
