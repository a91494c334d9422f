"""Issue 19, item 2: a security report about an Enterprise customer stays security, and its notices name the
account's facts (plan, contract value, success manager) without paging the enterprise audience."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from dispatcher.domain.account import checked_acv, checked_plan, stated_plan
from dispatcher.errors import InputError
from dispatcher.render.samples import sparse_context
from dispatcher.render.templates import Renderer, sample_context, shipped_template_dir

from .helpers import run

RUSSIA = ("Customer says someone logged into their admin account from Russia and exported all user data. "
          "They are on the enterprise plan.")
# contacts.toml: Acme Corp is an Enterprise account at $120,000 a year, its success manager csm-a.
ACME_LINE = ("Account: Acme Corp, Enterprise plan, contract value $120,000/yr; "
             "success manager: Success Manager A (csm-a@teamflow.example)")
CSM = "csm-a@teamflow.example"
PAYLOADS = Path(__file__).parent / "payloads"
CLASSES = ["security", "outage", "legal", "enterprise", "financial", "high-value", "technical", "satisfaction"]


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",))
    return text, html.get_content() if html is not None else ""


def _team_emails(smtp) -> list[EmailMessage]:
    return [m for m in smtp.messages if "@teamflow." in m["To"]]  # the lists are @teamflow.com, people .example


def test_the_russia_report_is_paged_as_security_and_its_notices_name_the_account(providers) -> None:
    smtp, proxy, _ = providers
    result = run("triage", "--text", RUSSIA, "--customer", "Acme Corp", "--send", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["incident"]["class"], doc["triage"]["class"]) == ("security", "security")
    team = _team_emails(smtp)
    assert team, "the security list got no email"
    for message in team:
        text, html = _parts(message)
        assert ACME_LINE in text
        assert "Enterprise plan, contract value $120,000/yr" in html and "Success Manager A" in html
    [slack] = proxy["hooks.slack.com"].requests
    assert ACME_LINE in slack.json["text"]
    assert {"type": "plain_text", "text": ACME_LINE, "emoji": False} in [b.get("text") for b in slack.json["blocks"]]
    # Named, not paged: no delivery to the success manager, nor to the enterprise class's audiences.
    assert CSM not in {m["To"] for m in smtp.messages}
    roles = {d["role"] for d in doc["deliveries"]}
    assert not {"success-manager", "role:vp-customer-success", "slack:customer-success"} & roles
    # The customer's acknowledgement never shows the contract value nor who manages the account.
    [to_customer] = [m for m in smtp.messages if m["To"] == "jane@acme.example"]
    for part in _parts(to_customer):
        assert "$120,000" not in part and "Success Manager" not in part and "Enterprise plan" not in part


def test_the_stored_incident_keeps_the_facts_for_later_notices(providers) -> None:
    result = run("triage", "--text", RUSSIA, "--customer", "Umbrella Ltd", "--plan", "enterprise", "--acv", "$75,000",
                 "--send", "--json")
    assert result.exit_code == 0, result.output
    incident_id = json.loads(result.stdout)["incident"]["id"]
    fields = json.loads(run("status", incident_id, "--json").stdout)["incident"]["fields"]
    assert (fields["plan"], fields["acv"]) == ("enterprise", 75000)
    smtp, _, _ = providers
    text, _ = _parts(_team_emails(smtp)[0])
    # A free-text customer has no success manager: the line says what is known, nothing more.
    assert "Account: Umbrella Ltd, Enterprise plan, contract value $75,000/yr\n" in text


def test_no_account_facts_no_account_line(providers) -> None:
    smtp, _, _ = providers
    result = run("security", "--summary", "Unusual admin logins from a new ASN", "--customer", "someone we do not know")
    assert result.exit_code == 0, result.output
    for message in _team_emails(smtp):
        text, html = _parts(message)
        assert "Account:" not in text and "Account:" not in html


def test_the_generic_hook_carries_the_account_into_the_security_notices(providers) -> None:
    smtp, _, _ = providers
    body = {"summary": RUSSIA, "customer": "Globex Corporation"}
    result = run("ingest", "--format", "generic", "-", "--json", input=json.dumps(body).encode())
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ingest"]["class"] == "security"
    for message in _team_emails(smtp):
        text, _ = _parts(message)
        assert ("Account: Globex Corporation, Enterprise plan, contract value $480,000/yr; "
                "success manager: Success Manager B (csm-b@teamflow.example)") in text
    assert "csm-b@teamflow.example" not in {m["To"] for m in smtp.messages}


def test_a_generic_body_gives_plan_and_contract_value_of_an_unknown_customer(providers) -> None:
    smtp, _, _ = providers
    body = {"summary": RUSSIA, "customer": "Umbrella Ltd", "plan": "Pro", "acv": 18000}
    result = run("ingest", "--format", "generic", "-", "--json", input=json.dumps(body).encode())
    assert result.exit_code == 0, result.output
    texts = [_parts(m)[0] for m in _team_emails(smtp)]
    assert texts and all("Account: Umbrella Ltd, Pro plan, contract value $18,000/yr\n" in t for t in texts)


@pytest.mark.parametrize(("args", "error"), [
    (("--plan", "platinum"), "--plan: 'platinum' is not a plan: use basic, pro, enterprise"),
    (("--acv", "lots"), "--acv: 'lots' is not a number of dollars"),
    (("--acv", "-5"), "--acv: '-5' is not a contract value"),
])
@pytest.mark.parametrize("command", [("triage", "--text", RUSSIA, "--send"), ("security",)])
def test_a_wrong_plan_or_contract_value_is_refused_naming_the_option(providers, command, args, error) -> None:
    smtp, _, _ = providers
    result = run(*command, "--summary", "x", *args)
    assert result.exit_code != 0 and error in result.stderr and "nothing was sent" in result.stderr
    assert smtp.messages == []


@pytest.mark.parametrize(("value", "expected"), [
    ("Enterprise", "enterprise"), (" pro ", "pro"), (None, None), ("", None)])
def test_plans_are_read_in_any_case(value, expected) -> None:
    assert checked_plan(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (120000, 120000), ("120000", 120000), ("$120,000", 120000), (1234.5, 1234.5), (0, 0), (None, None)])
def test_contract_values_are_read_as_people_write_them(value, expected) -> None:
    assert checked_acv(value) == expected


@pytest.mark.parametrize("value", [True, "1e400", "nan", "-1", "ten"])
def test_a_contract_value_that_is_not_dollars_is_refused(value) -> None:
    with pytest.raises(InputError) as caught:
        checked_acv(value)
    assert caught.value.field == "acv"


# --- the templates -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer([shipped_template_dir()])


def _with_account(incident_class: str, **facts) -> dict:
    context = sample_context(incident_class)
    context["incident"]["account"] = {"name": None, "plan": None, "contract_value": None, "success_manager": None,
                                      "success_manager_contact": None} | facts
    return context


@pytest.mark.parametrize("incident_class", CLASSES)
@pytest.mark.parametrize("template", ["email", "slack"])
def test_every_internal_notice_shows_the_account_line(renderer, incident_class, template) -> None:
    out = renderer.render(incident_class, template, sample_context(incident_class), family=template, drill=False)
    customer = sample_context(incident_class)["incident"]["customer"]  # the outage sample names none
    line = (f"Account: {customer + ', ' if customer else ''}Enterprise plan, contract value $120,000/yr; "
            "success manager: Success Manager A (csm-a@teamflow.example)")
    assert line in out.text
    if out.html is not None:
        assert "contract value $120,000/yr; success manager: Success Manager A (csm-a@teamflow.example)" in out.html


@pytest.mark.parametrize("incident_class", CLASSES)
@pytest.mark.parametrize("template", ["email", "slack"])
def test_without_account_facts_there_is_no_account_line_nor_an_empty_one(renderer, incident_class,
                                                                          template) -> None:
    context = sample_context(incident_class)
    with_line = renderer.render(incident_class, template, context, family=template, drill=False).text
    context["incident"]["account"] = None
    without = renderer.render(incident_class, template, context, family=template, drill=False).text
    assert "Account:" not in without
    # The only difference is the account line itself: no blank line is left where it was.
    assert [line for line in with_line.split("\n") if not line.startswith("Account:")] == without.split("\n")
    assert "Account:" not in renderer.render(incident_class, template, sparse_context(context), family=template,
                                             drill=True).text


@pytest.mark.parametrize(("facts", "line"), [
    ({"plan": "pro"}, "Account: Pro plan\n"),
    ({"name": "Initech", "contract_value": "$18,000"}, "Account: Initech, contract value $18,000/yr\n"),
    ({"name": "Initech", "success_manager": "Success Manager B"}, "Account: Initech; success manager: Success Manager B\n"),
    ({"success_manager": "Success Manager B", "success_manager_contact": "csm-b@teamflow.example"},
     "Account: not named; success manager: Success Manager B (csm-b@teamflow.example)\n"),
])
def test_the_account_line_says_only_what_is_known(renderer, facts, line) -> None:
    out = renderer.render("security", "email", _with_account("security", **facts), family="email", drill=False)
    assert line in out.text


@pytest.mark.parametrize(("acv", "problem"), [([120000], "expected a number of dollars, got an array"),
                                              (True, "expected a number of dollars, got a boolean")])
def test_a_generic_body_with_a_contract_value_that_is_no_number_is_refused(acv, problem) -> None:
    from dispatcher.hooks.generic import parse_generic
    from dispatcher.hooks.model import PayloadError

    with pytest.raises(PayloadError) as caught:
        parse_generic(json.dumps({"summary": "x", "acv": acv}).encode())
    assert (caught.value.field, caught.value.problem) == ("acv", problem)


def test_notify_check_refuses_a_customer_template_that_shows_the_contract_value(tmp_path) -> None:
    shipped = shipped_template_dir()
    (tmp_path / "security").mkdir()
    leaky = ((shipped / "security" / "customer.text.j2").read_text()
             + "\nYour contract: {{ incident.account.contract_value if incident.account }}\n")
    (tmp_path / "security" / "customer.text.j2").write_text(leaky)
    problems = Renderer([tmp_path, shipped]).check(["security"])
    assert [p.message for p in problems] == [
        "shows the account's contract value to the customer; incident.account is for the team's notices only"]


def _alertmanager_with(**labels: str) -> bytes:
    payload = json.loads((PAYLOADS / "alertmanager-0.25-webhook-v4.json").read_bytes())
    payload["commonLabels"].update(labels)
    for alert in payload["alerts"]:
        alert["labels"].update(labels)
    return json.dumps(payload).encode()


def test_alertmanager_labels_give_the_plan_and_contract_value_named_in_the_notices(providers) -> None:
    smtp, _, _ = providers
    result = run("ingest", "--format", "alertmanager", "-", "--json",
                 input=_alertmanager_with(plan="enterprise", acv="250000"))
    assert result.exit_code == 0, result.output
    texts = [_parts(m)[0] for m in _team_emails(smtp)]
    assert texts and all("Account: Enterprise plan, contract value $250,000/yr\n" in t for t in texts)


def test_an_alertmanager_label_that_is_no_plan_is_logged_and_the_page_still_goes_out(
        providers, caplog: pytest.LogCaptureFixture) -> None:
    smtp, _, _ = providers
    result = run("ingest", "--format", "alertmanager", "-", "--json", input=_alertmanager_with(plan="gold", acv="1000"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ingest"]["outcome"] == "opened"
    texts = [_parts(m)[0] for m in _team_emails(smtp)]
    assert texts and all("Account: contract value $1,000/yr\n" in t for t in texts)  # the valid label is kept
    assert "hook.label-ignored" in caplog.text and "label=plan" in caplog.text and "'gold' is not a plan" in caplog.text


@pytest.mark.parametrize(("text", "plan"), [
    ("They are on the enterprise plan.", "enterprise"),
    ("a Pro customer says exports fail", "pro"),
    ("our basic-tier account cannot log in", "basic"),
    ("enterprise-grade SSO is down", None),  # not a plan
    ("moving from the basic plan to the pro plan", None),  # two plans: not for us to pick
    ("", None),
])
def test_the_plan_a_report_states(text: str, plan: str | None) -> None:
    assert stated_plan(text) == plan


def test_the_russia_report_alone_notes_the_plan_it_states(providers) -> None:
    """The issue's report as written, with no --customer or --plan: its own words name the plan."""
    result = run("triage", "--text", RUSSIA, "--send", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["incident"]["class"], doc["triage"]["inputs"]["plan"]) == ("security", "enterprise")
    smtp, _, _ = providers
    text, _ = _parts(_team_emails(smtp)[0])
    assert "Enterprise plan" in text
    assert not {"success-manager", "role:vp-customer-success"} & {d["role"] for d in doc["deliveries"]}
