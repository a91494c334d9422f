"""notify triage, escalate, who and test, as a support agent uses them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .helpers import run


def test_evidence_security_report_shows_rule_and_words() -> None:
    result = run("triage", "--text", "Customer says their data was exposed after an unauthorized login",
                 "--plan", "pro")
    assert result.exit_code == 0
    assert "category:  security" in result.stdout and "tier:      immediate" in result.stdout
    assert "respond within 15 minutes" in result.stdout
    assert 'security-breach -> security (immediate)' in result.stdout and '"unauthorized login"' in result.stdout


def test_evidence_large_refund_routes_to_finance_director() -> None:
    result = run("triage", "--text", "Please refund our annual plan, 4800 dollars", "--amount", "4800",
                 "--plan", "pro", "--json")
    doc = json.loads(result.stdout)
    assert (doc["class"], doc["tier"], doc["response_sla"]) == ("financial", "priority", "1 hour")
    assert "role:finance-director" in doc["audience"]
    assert doc["matches"][0]["rule"] == "financial-large-refund" and "amount > 1000" in doc["matches"][0]["conditions"]


def test_known_customer_fills_account_facts_and_options_override() -> None:
    doc = json.loads(run("triage", "--text", "the export is slow", "--customer", "Globex Corporation",
                         "--json").stdout)
    assert doc["inputs"]["plan"] == "enterprise" and doc["inputs"]["fortune500"] is True
    assert doc["class"] == "enterprise"  # Globex is on the Enterprise plan: priority beats standard
    doc = json.loads(run("triage", "--text", "the export is slow", "--customer", "Globex Corporation",
                         "--plan", "basic", "--acv", "100", "--not-fortune500", "--json").stdout)
    assert doc["class"] == "technical" and doc["inputs"]["plan"] == "basic"


def test_text_from_stdin_and_file(tmp_path: Path) -> None:
    assert json.loads(run("triage", "-", "--json", input="we received a subpoena today").stdout)["class"] == "legal"
    ticket = tmp_path / "ticket.txt"
    ticket.write_text("Our dashboard is down for everyone")
    assert json.loads(run("triage", "--file", str(ticket), "--json").stdout)["class"] == "outage"
    both = run("triage", "--text", "x", "-", input="y")
    assert both.exit_code == 2 and "give the report once" in both.stderr


def test_negation_is_shown_and_pages_nobody_on_it() -> None:
    doc = json.loads(run("triage", "--text", "this is not a breach, just a password reset question",
                         "--json").stdout)
    assert doc["class"] != "security"
    assert {"rule": "security-breach", "words": "breach", "cue": "not"} in doc["negated"]


def test_needs_review_send_pages_the_internal_team_and_holds_the_customer_notice(providers) -> None:
    smtp, proxy, _ = providers
    result = run("triage", "--text", "I saw something suspicious in our audit log", "--reported-by",
                 "jane@acme.example", "--send", "--json")
    doc = json.loads(result.stdout)
    assert doc["triage"]["needs_review"] is True and doc["incident"]["class"] == "security"
    outcomes = {(d["role"], d["channel"]): d["outcome"] for d in doc["deliveries"]}
    assert outcomes == {("list:security-incident", "email"): "delivered", ("slack:security-alerts", "slack"): "delivered",
                        ("rotation:primary", "phone"): "delivered", ("rotation:primary", "sms"): "delivered",
                        ("customer", "email"): "held"}
    held = next(d for d in doc["deliveries"] if d["outcome"] == "held")
    assert held["reason"].startswith("held until the class is confirmed")
    assert "jane@acme.example" not in {m["To"] for m in smtp.messages}  # the team's list got its email
    assert len(proxy["hooks.slack.com"].requests) == 1
    assert result.exit_code == 0  # held is not unreached: it waits for a person, as intended


def test_send_adds_the_rules_path_to_step_zero(providers) -> None:
    smtp, _, _ = providers
    result = run("triage", "--text", "Please refund our annual plan, 4800 dollars", "--amount", "4800",
                 "--plan", "pro", "--summary", "Refund request", "--send")
    assert result.exit_code == 0, result.stdout
    assert {m["To"] for m in smtp.messages} >= {"finance-director@teamflow.example", "billing-manager@teamflow.example"}


def test_escalate_triggers_any_category_and_rejects_unknown_ones() -> None:
    doc = json.loads(run("escalate", "high-value", "--summary", "Globex evaluating a competitor",
                         "--customer", "Globex Corporation", "--dry-run", "--json").stdout)
    assert doc["incident"]["id"].startswith("HVA-")
    assert any(d["recipient"] == "csm-b" for d in doc["deliveries"])  # Globex's success manager
    bad = run("escalate", "nonsense", "--summary", "x", "--dry-run")
    assert bad.exit_code == 2 and "unknown category 'nonsense'" in bad.stderr


def test_who_names_the_current_primary_and_how_they_are_reached() -> None:
    doc = json.loads(run("who", "security", "--at", "2026-01-13T12:00:00Z", "--json").stdout)
    assert doc["on_call"]["primary"] == {"person": "support-manager-b", "name": "Support Manager B"}
    step0 = doc["steps"][0]["recipients"]
    phone = next(r for r in step0 if r["channel"] == "phone")
    assert (phone["display"], phone["target"]) == ("Support Manager B", "+14******99")
    stages = doc["escalation_while_unacknowledged"]
    assert [s["audience"] for s in stages] == ["rotation:secondary", "rotation:escalation", "role:cto"]
    text = run("who", "security", "--at", "2026-01-13T12:00:00Z").stdout
    assert "on call primary: Support Manager B" in text


def test_who_honours_a_dated_override(config_dir: Path) -> None:
    with (config_dir / "contacts.toml").open("a") as f:
        f.write('\n[[rotation.overrides]]\nslot = "primary"\nperson = "support-manager-a"\n'
                'start = 2026-01-13T00:00:00\nend = 2026-01-14T00:00:00\n')
    doc = json.loads(run("who", "outage", "--at", "2026-01-13T12:00:00Z", "--json", "--config-dir",
                         str(config_dir)).stdout)
    assert doc["on_call"]["primary"]["person"] == "support-manager-a"


def test_contact_test_sends_one_marked_message_and_logs_it(providers) -> None:
    smtp, proxy, _ = providers
    result = run("test", "cto", "--channel", "sms")
    assert result.exit_code == 0, result.stdout
    (request,) = proxy["api.twilio.com"].requests
    assert request.form["To"] == "+14155550116" and request.form["Body"].startswith("[TEST] notify contact test")
    log = json.loads(run("log", "--json").stdout)["attempts"]
    assert [(a["recipient"], a["channel"], a["outcome"]) for a in log] == [("cto", "sms", "delivered")]
    assert re.fullmatch(r"TEST-\d{4}-001", log[0]["incident"])
    assert run("test", "#security-alerts").exit_code == 0
    assert proxy["hooks.slack.com"].requests[0].json["text"].startswith("[TEST]")


def test_contact_test_rejects_unknown_targets() -> None:
    result = run("test", "nobody-here")
    assert result.exit_code == 2 and "notify: TARGET: 'nobody-here' is no person, list or channel destination in " \
        in result.stderr
    assert "notify check" not in result.stderr  # a typo in the argument is not the configuration's fault
