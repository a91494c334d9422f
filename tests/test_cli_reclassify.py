"""`notify reclassify` and `notify incidents --needs-review` as a user runs them."""

from __future__ import annotations

import json

from .helpers import run

UNSURE = ("triage", "--text", "I saw something suspicious in our audit log", "--reported-by", "jane@acme.example",
          "--send", "--json")


def test_confirming_a_needs_review_incident_sends_its_held_customer_notice_once(providers) -> None:
    smtp, _, _ = providers
    incident_id = json.loads(run(*UNSURE).stdout)["incident"]["id"]
    waiting = run("incidents", "--needs-review")
    assert incident_id in waiting.stdout and "security (needs review)" in waiting.stdout
    assert "held until the class is confirmed" in run("status", incident_id).stdout
    assert "jane@acme.example" not in [m["To"] for m in smtp.messages]

    done = run("reclassify", incident_id.lower(), "security", "--by", "Dana Reyes", "--json")
    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)
    assert doc["reclassify"]["outcome"] == "confirmed" and doc["incident"]["needs_review"] is False
    assert [(d["recipient"], d["outcome"]) for d in doc["deliveries"]] == [("customer", "delivered")]
    assert doc["notes"] == ["class security confirmed by Dana Reyes: needs review cleared; 1 held notice released"]

    again = run("reclassify", incident_id, "security", "--by", "Dana Reyes")
    assert again.exit_code == 0 and again.stdout.strip() == f"{incident_id} is security already and needs no " \
                                                            "review: nothing changed"
    assert [m["To"] for m in smtp.messages].count("jane@acme.example") == 1
    assert run("incidents", "--needs-review").stdout.strip() == "no incident needs review"
    assert "class-confirmed" in run("status", incident_id).stdout


def test_changing_the_class_keeps_the_id_and_says_what_it_did(providers) -> None:
    incident_id = json.loads(run(*UNSURE).stdout)["incident"]["id"]
    done = run("reclassify", incident_id, "outage", "--by", "Dana Reyes")
    assert done.exit_code == 0, done.output
    assert (f"reclassified from security to outage by Dana Reyes: its steps, response SLA and escalation count "
            f"from now; the id stays {incident_id}") in done.stdout
    assert "cancelled jane@acme.example (email): reclassified from security to outage: replaced by the page of the new " \
           "class" in done.stdout
    listed = json.loads(run("incidents", "--json").stdout)["incidents"]
    assert [(i["id"], i["class"], i["needs_review"]) for i in listed] == [(incident_id, "outage", False)]


def test_an_unknown_class_or_a_resolved_incident_is_refused_with_exit_2(providers) -> None:
    incident_id = json.loads(run(*UNSURE).stdout)["incident"]["id"]
    unknown = run("reclassify", incident_id, "securty", "--by", "Dana Reyes")
    assert unknown.exit_code == 2
    assert "class: unknown class 'securty'; the known classes are security, outage, legal" in unknown.stderr
    assert run("resolve", incident_id, "--by", "Dana Reyes").exit_code == 0
    closed = run("reclassify", incident_id, "security", "--by", "Dana Reyes")
    assert closed.exit_code == 2 and "its class can no longer change" in closed.stderr
    assert run("reclassify", "SEC-1999-001", "security", "--by", "Dana Reyes").exit_code == 2
