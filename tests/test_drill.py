"""`notify drill`: the shipped scenarios pass in the sandbox, failures and bad files are reported clearly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from dispatcher.cli import main

DRILLS = Path(__file__).resolve().parent.parent / "drills"


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.mark.parametrize("scenario", sorted(p.name for p in DRILLS.glob("*.toml")))
def test_every_shipped_drill_holds_in_the_sandbox(scenario: str, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    result = run("drill", str(DRILLS / scenario), "--sandbox", "--instant", "--json", "--report", str(report))
    assert result.exit_code == 0, result.stdout
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["schema"] == 1 and doc["sandbox"] is True
    assert all(e["held"] for e in doc["expectations"])
    page = report.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "[DRILL]" in page
    assert doc["received"], "the stand-ins received the drill's messages over real sockets"
    for message in doc["received"]:
        assert "[DRILL]" in message["text"], message


def test_the_seed_drill_reports_who_when_and_the_sla(tmp_path: Path) -> None:
    doc = json.loads(run("drill", str(DRILLS / "security-breach.toml"), "--sandbox", "--json").stdout)
    assert doc["response"] == {"deadline": "15m00s", "acknowledged": "22m00s", "met": False, "by": "7m00s"}
    sms = next(d for d in doc["deliveries"] if d["kind"] == "step" and d["channel"] == "sms")
    assert (sms["outcome"], sms["attempts"]) == ("delivered", 3)  # the injected 503s were retried
    escalation = [d for d in doc["deliveries"] if d["kind"] == "escalation"]
    assert {d["role"] for d in escalation} == {"rotation:secondary"} and all(d["due"] == "15m00s" for d in escalation)
    customer = [d for d in doc["deliveries"] if d["recipient"] == "customer"]
    assert customer and all(d["outcome"] == "skipped" for d in customer)


def test_a_drill_uses_its_own_state(clean_env: Path) -> None:
    run("drill", str(DRILLS / "nobody-acks.toml"), "--sandbox")
    assert run("incidents").stdout.strip() == "no incidents"


def test_a_failed_expectation_exits_1_and_is_named(tmp_path: Path) -> None:
    scenario = (DRILLS / "nobody-acks.toml").read_text().replace('within = "31m"', 'within = "20m"')
    path = tmp_path / "strict.toml"
    path.write_text(scenario)
    result = run("drill", str(path), "--sandbox")
    assert result.exit_code == 1
    assert re.search(r"FAIL +rotation:escalation \(escalation\) notified within 20m", result.stdout)
    assert "missed by 10m00s" in result.stdout


@pytest.mark.parametrize(("edit", "expected"), [
    (('action = "ack"', 'action = "acknowledge"'), "events[1].action"),
    (('summary = "Admin API keys used from an unknown country"', 'summary = ""'), "fields.summary is required"),
    (('within = "46m"', 'within = "soon"'), "expect[3].within"),
    (('[fields]', '[fields'), "not valid TOML"),
])
def test_a_bad_scenario_exits_2_naming_file_and_key(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text((DRILLS / "nobody-acks.toml").read_text().replace(*edit))
    result = run("drill", str(path), "--sandbox")
    assert result.exit_code == 2 and str(path) in result.stderr and expected in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--instant"], "runs only at real speed"),
    ([], "--allow"),
])
def test_a_live_drill_is_guarded(args: list[str], message: str) -> None:
    result = run("drill", str(DRILLS / "nobody-acks.toml"), *args)
    assert result.exit_code == 2 and message in result.stderr


def test_a_live_drill_reaches_only_the_allowed_recipients(tmp_path: Path, monkeypatch) -> None:
    from dispatcher.testing.smtp import SmtpServer

    path = tmp_path / "live.toml"
    path.write_text('name = "live"\nclass = "security"\nduration = "1s"\n[fields]\nsummary = "live drill"\n'
                    '[[events]]\nat = "0m"\naction = "trigger"\n'
                    '[[expect]]\nwho = "list:security-incident"\nwithin = "1m"\n'
                    '[[expect]]\nwho = "rotation:primary"\nnever = true\n')
    with SmtpServer() as smtp:
        monkeypatch.setenv("NOTIFY_EMAIL_URL", smtp.url(**{"from": "drill@teamflow.example"}))
        result = run("drill", str(path), "--allow", "list:security-incident", "--json")
        assert result.exit_code == 0, result.stdout
        assert [m["To"] for m in smtp.messages] == ["security-incident@teamflow.com"]
        assert smtp.messages[0]["Subject"].startswith("[DRILL] ")
    doc = json.loads(result.stdout)
    primary = [d for d in doc["deliveries"] if d["role"] == "rotation:primary"]
    assert primary and all(d["reason"] == "not in the drill's --allow list" for d in primary)


def test_a_sandbox_failure_without_times_lasts_until_recover() -> None:
    from email.message import Message

    from dispatcher.drill.sandbox import Sandbox
    from dispatcher.testing.providers import Recorded

    sms = Recorded("POST", "/2010-04-01/Accounts/AC1/Messages.json", Message(), b"To=%2B1", "api.twilio.com")
    with Sandbox() as sandbox:
        twilio = sandbox.proxy["api.twilio.com"]
        sandbox.fail("sms", 503, None)
        assert [twilio.take(sms).status for _ in range(3)] == [503, 503, 503]
        sandbox.recover("sms")
        assert twilio.take(sms).status == 201
        sandbox.fail("sms", 500, 1)
        assert [twilio.take(sms).status for _ in range(2)] == [500, 201]
