"""A drill's ack `via` a channel answers the page that reached the person, through serve's own app, signed."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from .helpers import run

DRILLS = Path(__file__).resolve().parent.parent / "drills"
SMS_DRILL = DRILLS / "ack-by-sms.toml"


def _variant(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    text = SMS_DRILL.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "variant.toml"
    path.write_text(text)
    return path


@pytest.mark.slow
def test_an_sms_reply_at_4m_acknowledges_as_the_primary_and_nobody_is_escalated(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    result = run("drill", str(SMS_DRILL), "--sandbox", "--json", "--report", str(report))
    assert result.exit_code == 0, result.stdout
    doc = json.loads(result.stdout)
    assert doc["incident"]["acked_by"] == "Support Manager A" and doc["incident"]["acked_via"] == "SMS"
    assert doc["response"]["acknowledged"] == "4m00s" and doc["response"]["met"] is True
    assert [d for d in doc["deliveries"] if d["kind"] == "escalation"] == []
    acked = [e for e in doc["timeline"] if e["kind"] == "acknowledged"]
    assert [(e["at"], e["detail"]) for e in acked] == [("4m00s", "acknowledged by Support Manager A via sms")]
    page = report.read_text()
    assert "acknowledged by Support Manager A via SMS at +4m00s" in page
    terminal = run("drill", str(SMS_DRILL), "--sandbox")
    assert terminal.exit_code == 0, terminal.stdout
    assert "acknowledged by Support Manager A via SMS at +4m00s, met with 11m00s to spare" in terminal.stdout
    assert re.search(r"serve answered 200: SEC-\d{4}-\d+ acknowledged by Support Manager A", terminal.stderr)


@pytest.mark.slow
@pytest.mark.parametrize(("via", "label"), [("voice", "voice call"), ("slack", "Slack"), ("link", "SMS")])
def test_each_way_of_answering_acknowledges_as_the_person(tmp_path: Path, via: str, label: str) -> None:
    # a link acts "via" the channel that carried it: here the SMS page (the primary gets no email)
    path = _variant(tmp_path, ('via = "sms"', f'via = "{via}"'))
    result = run("drill", str(path), "--sandbox", "--json")
    assert result.exit_code == 0, result.stdout
    doc = json.loads(result.stdout)
    assert (doc["incident"]["acked_by"], doc["incident"]["acked_via"]) == ("Support Manager A", label)
    assert doc["response"]["acknowledged"] == "4m00s"


@pytest.mark.slow
def test_an_sms_reply_signed_with_another_token_is_refused_and_acknowledges_nothing(tmp_path: Path) -> None:
    """The drill's answer goes through serve's signature check: a wrong Auth Token gets 403 and no ack."""
    from dispatcher.app import engine
    from dispatcher.app.drill import play
    from dispatcher.app.drill_report import build_document
    from dispatcher.clock import FakeClock
    from dispatcher.config.settings import load_settings
    from dispatcher.drill.sandbox import Sandbox
    from dispatcher.drill.scenario import load_scenario
    from dispatcher.server.drill_callbacks import DrillCallbacks

    def forged(rt, store, clock) -> DrillCallbacks:
        callbacks = DrillCallbacks(rt, store, clock)
        callbacks.secrets["twilio-sms"] = "not-the-auth-token"
        return callbacks

    lines: list[str] = []
    scenario = load_scenario(SMS_DRILL)
    start = datetime(2026, 12, 7, 17, 1, tzinfo=timezone.utc)
    with Sandbox() as stand_ins:
        rt = engine.load_runtime(DRILLS.parent, load_settings(**stand_ins.settings))
        outcome = play(rt, scenario, clock=FakeClock(start), state_dir=tmp_path, sandbox=stand_ins,
                       callbacks=forged, progress=lines.append)
    doc = build_document(rt, scenario, outcome, True, start)
    assert any(line.strip().startswith("serve answered 403: ") and "X-Twilio-Signature" in line for line in lines)
    assert doc["incident"]["acked_by"] is None and doc["response"]["acknowledged"] is None
    assert {d["role"] for d in doc["deliveries"] if d["kind"] == "escalation"} == {"rotation:secondary"}


@pytest.mark.parametrize(("edits", "key", "message"), [
    ([('via = "sms"', 'via = "fax"')], "events[1].via", "'fax': input should be 'sms', 'voice', 'slack' or 'link'"),
    ([('by = "support-manager-a"', 'by = "Support Manager A"')], "events[1].by",
     "an ack via sms acts as a person of contacts.toml: 'Support Manager A' is none"),
    ([('by = "support-manager-a"', 'by = "ceo"'), ('via = "sms"', 'via = "slack"')], "events[1].via",
     "ceo has no Slack member id in contacts.toml"),
    ([('action = "ack"', 'action = "update"\nmessage = "looking"')], "events[1]",
     "'via' goes with action = \"ack\" only"),
])
def test_check_names_the_drill_file_and_event_of_a_bad_via(tmp_path: Path, edits: list, key: str,
                                                          message: str) -> None:
    path = _variant(tmp_path, *edits)
    result = run("check", str(path))
    assert result.exit_code == 2, result.stdout
    assert any(line.startswith(f"error: {path}: {key}") and message in line
               for line in result.stdout.splitlines()), result.stdout


@pytest.mark.slow
def test_an_ack_via_a_page_that_never_reached_the_person_is_rejected_naming_file_and_event(tmp_path: Path) -> None:
    path = _variant(tmp_path, ('by = "support-manager-a"', 'by = "ceo"'))  # the CEO is told at +15m, not +4m
    result = run("drill", str(path), "--sandbox")
    assert result.exit_code == 2
    assert f"error: {path}: events[1]: ack via sms by ceo: no SMS page had reached ceo by then" in result.stderr


def test_a_live_drill_refuses_acks_via_a_channel_before_reaching_anyone() -> None:
    result = run("drill", str(SMS_DRILL), "--allow", "person:ceo")
    assert result.exit_code == 2 and "needs --sandbox" in result.stderr
