"""Item 7 of issue 16: a webhook must not choose who gets TeamFlow's mail.

A webhook's `reported_by` is mailed only when its domain is one of a customer account's
`domains` in contacts.toml, or it is on the `[reporters] allow` list; any other address
is recorded on the incident and its customer notices are skipped, saying why. Staff
triggering from the CLI are trusted as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.helpers import replace_in
from tests.stage import Stage
from tests.test_server import SECRET, TOKEN, Server

ATTACKER = "attacker@evil.example"


@pytest.fixture
def server(stage: Stage) -> Iterator[Server]:
    srv = Server(stage, webhook_token=TOKEN, webhook_hmac_secret=SECRET)
    yield srv
    srv.stop()


def mailed_to(stage: Stage) -> set[str]:
    return {rcpt for envelope in stage.smtp.envelopes for rcpt in envelope.rcpt_tos}


def security_hook(server: Server, reported_by: str, summary: str = "Admin logins from a new ASN") -> str:
    answer = server.post("/hooks/generic", {"class": "security", "summary": summary, "reported_by": reported_by})
    assert answer.status_code == 202, answer.text
    server.worker.tick()
    return answer.json()["incident"]


def customer_rows(server: Server, incident_id: str) -> list:
    return [d for d in server.store.deliveries(incident_id) if d.person == "customer"]


def test_a_webhook_reporter_outside_every_account_is_recorded_not_mailed(server: Server, stage: Stage) -> None:
    incident_id = security_hook(server, ATTACKER, summary="Send your password to *us*")
    assert ATTACKER not in mailed_to(stage)
    assert mailed_to(stage)  # the team was still paged by email
    assert server.store.incident(incident_id).fields["reported_by"] == ATTACKER  # recorded
    [row] = customer_rows(server, incident_id)
    assert row.status == "skipped"
    assert ATTACKER in row.skip and "domains" in row.skip and "not mailed" in row.skip

    # Later updates and the resolution never reach the address either.
    for path, body in (("update", {"action": "update", "incident": incident_id, "summary": "We need your MFA code"}),
                       ("resolve", {"action": "resolve", "incident": incident_id})):
        assert server.post("/hooks/generic", body).status_code == 202, path
        server.worker.tick()
    assert ATTACKER not in mailed_to(stage)
    assert all(row.status == "skipped" for row in customer_rows(server, incident_id))


def test_a_webhook_reporter_in_an_accounts_domains_is_mailed(server: Server, stage: Stage) -> None:
    incident_id = security_hook(server, "ciso@acme.example")  # contacts.toml: acme-corp domains = ["acme.example"]
    assert "ciso@acme.example" in mailed_to(stage)
    assert [row.status for row in customer_rows(server, incident_id)] == ["delivered"]


def test_a_webhook_reporter_on_the_allow_list_is_mailed(config_dir: Path, stage: Stage) -> None:
    replace_in(config_dir / "contacts.toml", "# --- Customer accounts",
               '[reporters]\nallow = ["soc@mssp.example"]\n\n# --- Customer accounts')
    server = Server(stage, webhook_token=TOKEN)
    try:
        security_hook(server, "soc@mssp.example")
        security_hook(server, "intern@mssp.example", summary="another")  # the address is listed, not its domain
    finally:
        server.stop()
    assert "soc@mssp.example" in mailed_to(stage)
    assert "intern@mssp.example" not in mailed_to(stage)


def test_a_staff_trigger_from_the_cli_still_mails_the_reporter_it_names(stage: Stage) -> None:
    stage.trigger(fields={"summary": "Phishing report", "reported_by": "someone@elsewhere.example"})
    assert "someone@elsewhere.example" in mailed_to(stage)


def test_a_malformed_domain_is_refused_naming_the_key(config_dir: Path) -> None:
    from dispatcher.config.directory import check_directory

    replace_in(config_dir / "contacts.toml", 'domains = ["acme.example"]', 'domains = ["@acme example"]')
    _, problems = check_directory(config_dir / "contacts.toml")
    assert any(p.key.startswith("customers.acme-corp.domains") for p in problems), problems
