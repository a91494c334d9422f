"""`notify drill`: the shipped scenarios pass in the sandbox, failures and bad files are reported clearly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .helpers import run

DRILLS = Path(__file__).resolve().parent.parent / "drills"


@pytest.mark.slow
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


@pytest.mark.slow
def test_the_seed_drill_reports_who_when_and_the_sla(tmp_path: Path) -> None:
    doc = json.loads(run("drill", str(DRILLS / "security-breach.toml"), "--sandbox", "--json").stdout)
    assert doc["response"] == {"deadline": "15m00s", "acknowledged": "22m00s", "met": False, "by": "7m00s",
                               "expected": "missed"}
    sms = next(d for d in doc["deliveries"] if d["kind"] == "step" and d["channel"] == "sms")
    assert (sms["outcome"], sms["attempts"]) == ("delivered", 3)  # the injected 503s were retried
    escalation = [d for d in doc["deliveries"] if d["kind"] == "escalation"]
    assert {d["role"] for d in escalation} == {"rotation:secondary"} and all(d["due"] == "15m00s" for d in escalation)
    customer = [d for d in doc["deliveries"] if d["recipient"] == "customer"]
    assert customer and all(d["outcome"] == "skipped" for d in customer)


@pytest.mark.slow
def test_a_drill_uses_its_own_state(clean_env: Path) -> None:
    run("drill", str(DRILLS / "nobody-acks.toml"), "--sandbox")
    assert run("incidents").stdout.strip() == "no incidents"


@pytest.mark.slow
def test_a_failed_expectation_exits_1_and_is_named(tmp_path: Path) -> None:
    scenario = (DRILLS / "nobody-acks.toml").read_text().replace('within = "31m"', 'within = "20m"')
    path = tmp_path / "strict.toml"
    path.write_text(scenario)
    result = run("drill", str(path), "--sandbox")
    assert result.exit_code == 1
    assert re.search(r"FAIL +rotation:escalation \(escalation\) notified within 20m", result.stdout)
    assert "missed by 10m00s" in result.stdout


@pytest.mark.parametrize(("edit", "expected"), [
    (('action = "ack"', 'action = "acknowledge"'), "events[1].action: 'acknowledge': input should be 'trigger'"),
    (('summary = "Admin API keys used from an unknown country"', 'summary = ""'), "fields.summary is required"),
    (('within = "46m"', 'within = "soon"'), "expect[3].within"),
    (('[fields]', '[fields'), "not valid TOML"),
    (('duration = "55m"', 'duration = "1m"'), "comes after duration 1m: it would never happen"),
    (('who = "role:cto"', 'who = "cto-typo"'), "no person 'cto-typo' in contacts.toml"),  # would hold by chance
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


@pytest.mark.parametrize(("allow", "message"), [
    ("ctoo", "--allow: 'ctoo': no person 'ctoo' in contacts.toml"),
    ("bogus:xx", "'bogus' is no kind of audience"),
    ("role:ctoo", "unknown role 'ctoo'"),
])
def test_a_live_drill_refuses_an_allow_that_names_nobody(allow: str, message: str) -> None:
    """A typo would leave that person out of a live drill while its report read as if they had been in it."""
    result = run("drill", str(DRILLS / "legal-request.toml"), "--allow", allow)
    assert result.exit_code == 2 and message in result.stderr and "[+  0m00s] trigger" not in result.stderr


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


class _BusyRealTime:
    """A real time source in which every reading comes 0.2 s after the last: work takes real time.

    Sleeping advances it too, so nothing here waits for real.
    """

    def __init__(self) -> None:
        self.elapsed = 0.0
        self.slept = 0.0

    def monotonic(self) -> float:
        self.elapsed += 0.2
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.elapsed += seconds


@pytest.mark.slow
def test_at_speed_600_the_time_spent_sending_is_not_counted_as_lag(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from dispatcher.app import engine
    from dispatcher.app.drill import ScaledClock, play
    from dispatcher.app.drill_report import build_document
    from dispatcher.clock import FakeClock
    from dispatcher.config.settings import load_settings
    from dispatcher.drill.sandbox import Sandbox
    from dispatcher.drill.scenario import load_scenario

    scenario = load_scenario(DRILLS / "platform-outage.toml")
    start = datetime(2026, 12, 7, 17, 1, tzinfo=timezone.utc)
    real = _BusyRealTime()
    docs = []
    for clock in (ScaledClock(600, start, real=real), FakeClock(start)):
        with Sandbox() as stand_ins:
            rt = engine.load_runtime(DRILLS.parent, load_settings(**stand_ins.settings))
            outcome = play(rt, scenario, clock=clock, state_dir=tmp_path / type(clock).__name__, sandbox=stand_ins)
        docs.append(build_document(rt, scenario, outcome, True, start))
    at_600, instant = docs
    lags = [(d["recipient"], d["channel"], d["kind"], d["delivered"], d["lag"]) for d in at_600["deliveries"]]
    assert lags == [(d["recipient"], d["channel"], d["kind"], d["delivered"], d["lag"]) for d in instant["deliveries"]]
    assert {d["lag"] for d in at_600["deliveries"] if d["due"] == "0m00s" and d["delivered"]} == {"0m00s"}
    assert all(e["held"] for e in at_600["expectations"]), at_600["expectations"]


def test_a_scaled_clock_paces_its_waits_and_reads_only_simulated_time() -> None:
    from datetime import datetime, timedelta, timezone

    from dispatcher.app.drill import ScaledClock
    from dispatcher.clock import FakeClock

    start = datetime(2026, 12, 7, 17, 1, tzinfo=timezone.utc)
    real = FakeClock()
    clock = ScaledClock(60, start, real=real)
    real.sleep(0.4)  # work takes real time ...
    assert clock.now() == start  # ... and no simulated time
    clock.wait_until(start + timedelta(minutes=1))
    assert clock.now() == start + timedelta(minutes=1) and real.sleeps[-1] == pytest.approx(0.6)  # 1 s a minute
    real.sleep(3)  # the work ran late: the next tick comes at once, on time in simulated time
    clock.wait_until(start + timedelta(minutes=2))
    assert clock.now() == start + timedelta(minutes=2) and real.sleeps == [0.4, pytest.approx(0.6), 3]
    clock.sleep(120)  # a retry's wait: simulated seconds, paced too (due at 4 s real; 4 s have passed)
    clock.sleep(60)
    assert clock.now() == start + timedelta(minutes=5) and real.sleeps[3:] == [pytest.approx(1.0)]


def test_the_speed_is_bounded_to_600() -> None:
    result = run("drill", str(DRILLS / "nobody-acks.toml"), "--sandbox", "--speed", "601")
    assert result.exit_code == 2 and "--speed" in result.stderr and "600" in result.stderr


@pytest.mark.slow
def test_a_drill_removes_its_temporary_state_unless_kept(tmp_path: Path, monkeypatch) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where mkdtemp puts the drill's directory
    drill_file = str(DRILLS / "nobody-acks.toml")
    assert run("drill", drill_file, "--sandbox").exit_code == 0
    assert list(tmp_path.glob("notify-drill-*")) == []

    kept = run("drill", drill_file, "--sandbox", "--keep", "--json")
    assert kept.exit_code == 0
    [directory] = tmp_path.glob("notify-drill-*")
    assert (directory / "drill.db").is_file()
    assert f"store kept in {directory}" in kept.stderr
    assert json.loads(kept.stdout)["store"] == str(directory / "drill.db")


def test_allow_person_id_and_person_prefix_mean_the_same_person() -> None:
    """docs/drills.md's `--allow person:cto` once matched nobody: planning compares person ids and audiences."""
    from dispatcher.app.drill import allowed_recipients
    from dispatcher.app.engine import load_runtime

    directory = load_runtime(DRILLS.parent).directory
    assert allowed_recipients(directory, ("person:cto", "cto", "role:ceo", "list:legal-emergency")) == (
        "cto", "cto", "role:ceo", "list:legal-emergency")
