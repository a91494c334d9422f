"""Issue 19's evidence: the six reports a new user tried, and what `notify triage` says about the safety bias."""

from __future__ import annotations

import json

import pytest

from .helpers import run

ISSUE_REPORTS = [  # verbatim from the issue: each became `technical` before concepts
    "Unusual admin logins from a new ASN",
    "someone accessed our account without permission",
    "an unknown person logged into our admin account",
    "our API keys were leaked on GitHub",
    "Someone else can see our projects",
]
RUSSIA = ("Customer says someone logged into their admin account from Russia and exported all user data. "
          "They are on the enterprise plan.")


def triage_json(*args: str) -> dict:
    result = run("triage", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("text", ISSUE_REPORTS)
def test_the_issue_reports_are_security_on_a_confident_rule(text: str) -> None:
    doc = triage_json("--text", text)
    assert (doc["class"], doc["tier"], doc["needs_review"], doc["bias"]) == ("security", "immediate", False, None)
    assert doc["matches"][0]["class"] == "security" and doc["matches"][0]["words"]


def test_enterprise_customer_security_report_is_security_with_the_enterprise_facts_and_not_its_audience() -> None:
    doc = triage_json("--text", RUSSIA, "--customer", "Globex Corporation")
    assert (doc["class"], doc["needs_review"]) == ("security", False)
    # The enterprise facts stay with the report, and the enterprise rules are still listed...
    assert (doc["inputs"]["plan"], doc["inputs"]["acv"]) == ("enterprise", 480000.0)
    assert {"enterprise-any-issue", "enterprise-mentioned"} <= {m["rule"] for m in doc["matches"]}
    # ...but security won: its step 0, without the enterprise class's success manager and VP.
    assert "list:security-incident" in doc["audience"]
    assert not {"success-manager", "role:vp-customer-success", "slack:customer-success"} & set(doc["audience"])


def test_enterprise_rules_add_no_audience_to_a_security_win() -> None:
    from dispatcher.domain.triage import Report, triage

    from .test_triage_table import policy, rules

    result = triage(rules, policy, Report(text=RUSSIA, plan="enterprise", acv=480000))
    assert result.klass == "security" and result.also == ()
    assert any(m.klass == "enterprise" for m in result.matches)


def test_the_bias_is_said_in_text_and_json() -> None:
    text = "We think something leaked from our workspace, not sure what yet."
    doc = triage_json("--text", text)
    assert (doc["class"], doc["needs_review"]) == ("security", True)
    assert doc["bias"]["instead"] == "technical" and doc["bias"]["instead_default"] is True
    assert doc["bias"]["words"] == ["leaked"] and doc["bias"]["rules"] == ["security-possible"]
    shown = run("triage", "--text", text).stdout
    assert "bias:      the report mentions security ('leaked'), neither negated nor hypothetical" in shown
    assert "rather than technical (no rule matched: default)" in shown


def test_the_bias_names_the_confident_class_it_overrode() -> None:
    doc = triage_json("--text", "Reports are unreachable for us this morning.", "--plan", "enterprise")
    assert (doc["class"], doc["bias"]["instead"], doc["bias"]["instead_default"]) == ("outage", "enterprise", False)


def test_a_hypothetical_mention_is_shown_and_pages_nobody() -> None:
    doc = triage_json("--text", "what if our data leaked?")
    assert doc["class"] == "technical" and doc["bias"] is None
    assert {"rule": "security-breach", "words": "data leaked", "cue": "what if"} in doc["hypothetical"]
    assert 'hypothetical: security-breach: "data leaked" ("what if"), not counted' in \
        run("triage", "--text", "what if our data leaked?").stdout


def test_uncertainty_is_not_a_hypothetical() -> None:
    doc = triage_json("--text", "we don't know if data was exposed")
    assert (doc["class"], doc["negated"], doc["hypothetical"]) == ("security", [], [])


TRIAL_REPORTS = [  # a new-user trial's plain reports that fell to the default class (2026-12-06), and their class
    ("Login is broken for all customers since 10am", "outage", "outage-platform"),
    ("customers can't log in since 10am", "outage", "outage-platform"),
    ("Users cannot sign in at all since the update", "outage", "outage-platform"),
    ("The CFO says we were billed twice for November", "financial", "financial-billing-dispute"),
    ("Acme Corp, our largest customer, says they will cancel if this is not fixed", "high-value", "high-value-churn"),
    ("our biggest customer threatens to cancel", "high-value", "high-value-churn"),
    ("Our largest client says they are going to cancel unless this is fixed today", "high-value", "high-value-churn"),
]


@pytest.mark.parametrize("text, klass, rule", TRIAL_REPORTS)
def test_plain_reports_from_a_trial_reach_their_class(text: str, klass: str, rule: str) -> None:
    doc = triage_json("--text", text)
    assert (doc["class"], doc["needs_review"], doc["matches"][0]["rule"]) == (klass, False, rule)


@pytest.mark.parametrize("text, rule, finance_director", [
    ("Customer was double charged on their credit card", "financial-billing-dispute", False),
    ("A customer says their invoice is wrong", "financial-billing-dispute", False),
    ("customers were charged twice this month", "financial-billing-errors-multiple-text", True),
    ("our clients were billed twice", "financial-billing-errors-multiple-text", True),
])
def test_one_customers_bill_is_a_dispute_and_many_customers_bills_call_the_finance_director(
        text: str, rule: str, finance_director: bool) -> None:
    """'customer' and 'customers' share a stem: one customer's bill must not read as 'multiple customers'."""
    doc = triage_json("--text", text)
    assert (doc["class"], doc["matches"][0]["rule"]) == ("financial", rule)
    assert ("role:finance-director" in doc["audience"]) is finance_director


@pytest.mark.parametrize("text", [  # a review of the rules above: each of these was a confident misroute once
    "A customer can't log in", "one user can't log in since this morning",
    "Two users cannot log in after changing their password", "Our customers can't load the invoice PDF",
    "Users cannot access the admin settings page without the admin role",
    "Our customer says their users can't log in via SSO",
    "We are going to cancel the maintenance window tonight", "I'm about to cancel the deploy",
    "I threatened to switch to dark mode", "The payment page shows the wrong currency symbol",
    "Invoice email has the wrong logo", "Duplicate payment webhook events in the logs",
    "The tax report column is incorrect in the CSV export",
])
def test_ordinary_reports_near_the_new_wording_page_no_one_loudly(text: str) -> None:
    doc = triage_json("--text", text)
    assert doc["class"] not in ("outage", "high-value", "financial"), doc["matches"]
