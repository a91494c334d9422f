"""The shipped templates: every class renders, and the seed's templates are followed field by field."""

import re
import tomllib

import pytest

from dispatcher import gsm7
from dispatcher.rendering import (
    REQUIRED_PARTS,
    TEMPLATE_FAMILY,
    Renderer,
    sample_context,
    shipped_template_dir,
)

CLASSES = [
    "security", "outage", "legal", "enterprise",  # immediate and the first priority class
    "financial", "high-value",  # priority, 1 hour
    "technical", "satisfaction",  # standard, 4 hours
]
PAIRS = [(c, t) for c in CLASSES for t in REQUIRED_PARTS]
# Classes without a seed template: the concise shape of legal/enterprise, a tag in the subject.
CONCISE = ["legal", "enterprise", "financial", "high-value", "technical", "satisfaction"]
TAG = {
    "legal": "LEGAL", "enterprise": "ENTERPRISE", "financial": "FINANCIAL",
    "high-value": "HIGH-VALUE", "technical": "TECHNICAL", "satisfaction": "CSAT",
}


@pytest.fixture(scope="module")
def renderer():
    return Renderer([shipped_template_dir()])


def empty_context(incident_class):
    context = sample_context(incident_class)
    context["incident"].update(
        customer=None, reported_by=None, summary="", affected_services=[], impact_scope=None,
        symptoms=None, eta=None, next_update=None, update_every=None,
    )
    return context


def test_shipped_templates_pass_check(renderer):
    assert renderer.check(CLASSES) == []


def test_every_class_of_the_shipped_policy_is_tested():
    policy = shipped_template_dir().parent / "policy.toml"
    with policy.open("rb") as f:
        assert sorted(tomllib.load(f)["classes"]) == sorted(CLASSES)


def test_every_required_pair_is_listed(renderer):
    assert set(PAIRS) <= set(renderer.templates())


@pytest.mark.parametrize(("incident_class", "template"), PAIRS)
@pytest.mark.parametrize("drill", [False, True])
def test_renders_with_sample_context(renderer, incident_class, template, drill):
    context = sample_context(incident_class)
    family = TEMPLATE_FAMILY[template]
    out = renderer.render(incident_class, template, context, family=family, drill=drill)
    assert context["incident"]["id"] in out.text or family == "voice"
    assert out.html is None or context["incident"]["id"] in out.html
    assert out.subject and "\n" not in out.subject
    assert (out.html is not None) == (family == "email")
    assert out.text.startswith("[DRILL] ") == drill
    assert out.subject.startswith("[DRILL] ") == drill


@pytest.mark.parametrize(("incident_class", "template"), PAIRS)
def test_empty_optional_fields_never_render_none(renderer, incident_class, template):
    out = renderer.render(
        incident_class, template, empty_context(incident_class), family=TEMPLATE_FAMILY[template], drill=False
    )
    for part in (out.subject, out.text, out.html or ""):
        assert not re.search(r"\bNone\b", part)


@pytest.mark.parametrize(
    ("incident_class", "subject"),
    [
        ("security", "[URGENT] Security Incident - TeamFlow Customer Data"),
        ("outage", "[OUTAGE] TeamFlow Service Disruption"),
    ],
)
def test_seed_subjects_exactly(renderer, incident_class, subject):
    out = renderer.render(incident_class, "email", sample_context(incident_class), family="email", drill=False)
    assert out.subject == subject
    drill = renderer.render(incident_class, "email", sample_context(incident_class), family="email", drill=True)
    assert drill.subject == "[DRILL] " + subject


@pytest.mark.parametrize(
    ("incident_class", "subject"),
    [
        ("legal", "[LEGAL] Legal/Compliance Issue - TeamFlow"),
        ("enterprise", "[ENTERPRISE] Enterprise Customer Escalation - Initech Inc."),
        ("financial", "[FINANCIAL] Financial Impact - TeamFlow"),
        ("high-value", "[HIGH-VALUE] High-Value Account - Globex Corporation"),
        ("technical", "[TECHNICAL] Technical Escalation - TeamFlow"),
        ("satisfaction", "[CSAT] Customer Satisfaction Escalation - TeamFlow"),
    ],
)
def test_concise_subjects_exactly(renderer, incident_class, subject):
    out = renderer.render(incident_class, "email", sample_context(incident_class), family="email", drill=False)
    assert out.subject == subject
    empty = renderer.render(incident_class, "email", empty_context(incident_class), family="email", drill=False)
    assert empty.subject == subject.rsplit(" - ", 1)[0] + " - TeamFlow"


def assert_labels_in_order(text, labels):
    position = -1
    for label in labels:
        found = re.search(rf"^{re.escape(label)}:", text[position + 1 :], re.MULTILINE)
        assert found, f"label {label!r} missing or out of order"
        position += 1 + found.start()


SECURITY_LABELS = [
    "Priority", "Incident ID", "Reported", "Affected Customer", "Reported By", "Initial Report",
    "Immediate Actions Taken", "Next Steps", "Incident Commander", "Contact",
]
OUTAGE_LABELS = [
    "Priority", "Outage ID", "Started", "Affected Services", "Impact Scope", "Symptoms",
    "Actions Taken", "ETA for Resolution", "Next Update", "Incident Commander", "Contact",
]


def test_security_email_follows_seed_fields(renderer):
    context = sample_context("security")
    out = renderer.render("security", "email", context, family="email", drill=False)
    assert_labels_in_order(out.text, SECURITY_LABELS)
    incident = context["incident"]
    for value in (incident["id"], incident["started"], incident["customer"], incident["reported_by"],
                  incident["summary"], incident["commander"], incident["commander_contact"]):
        assert value in out.text
    for action in ("Security team notified", "Incident response activated", "Customer acknowledged", "Environment secured"):
        assert f"- {action}" in out.text
    assert "Customer updates every 30 minutes" in out.text


def test_outage_email_follows_seed_fields(renderer):
    context = sample_context("outage")
    out = renderer.render("outage", "email", context, family="email", drill=False)
    assert_labels_in_order(out.text, OUTAGE_LABELS)
    incident = context["incident"]
    assert "Affected Services: " + ", ".join(incident["affected_services"]) in out.text
    assert f"ETA for Resolution: {incident['eta']}" in out.text
    for action in ("Status page updated", "Engineering team engaged", "Root cause investigation started", "Customer notifications sent"):
        assert f"- {action}" in out.text


def test_label_order_check_detects_swaps():
    with pytest.raises(AssertionError):
        assert_labels_in_order("Incident ID: x\nPriority: y\n", ["Priority", "Incident ID"])


CONCISE_LABELS = [
    "Priority", "Incident ID", "Reported", "Affected Customer", "Reported By", "Issue Summary",
    "Immediate Actions Taken", "Next Steps", "Incident Commander", "Contact",
]


@pytest.mark.parametrize("incident_class", CONCISE)
def test_concise_classes_carry_the_common_fields(renderer, incident_class):
    context = sample_context(incident_class)
    out = renderer.render(incident_class, "email", context, family="email", drill=False)
    assert_labels_in_order(out.text, CONCISE_LABELS)
    assert out.subject.startswith(f"[{TAG[incident_class]}] ")
    incident = context["incident"]
    for value in (incident["id"], incident["priority"], incident["started"], incident["customer"],
                  incident["reported_by"], incident["summary"], incident["commander"], incident["commander_contact"]):
        assert value in out.text
    for label in CONCISE_LABELS:
        assert f">{label}:<" in out.html


# The seed's escalation path for each class, as it must appear in the internal email.
SEED_PATHS = {
    "financial": ["Billing Manager", "Finance Director", "refunds over $1,000", "revenue recognition", "contract"],
    "high-value": ["success manager", "VP of Customer Success", "CEO", "churn", "expansion"],
    "technical": ["Senior Technical Specialist", "Engineering Manager", "CTO", "failed resolution attempt", "partner API"],
    "satisfaction": ["Support Manager", "Product Manager", "speak with management", "Social media", "Pro customers"],
}


@pytest.mark.parametrize("incident_class", SEED_PATHS)
def test_new_class_emails_follow_the_seed_paths(renderer, incident_class):
    out = renderer.render(incident_class, "email", sample_context(incident_class), family="email", drill=False)
    actions = out.text.split("Immediate Actions Taken:")[1].split("Incident Commander:")[0]
    for phrase in SEED_PATHS[incident_class]:
        assert phrase in actions
        assert phrase.replace("'", "&#39;") in out.html


def test_technical_email_lists_affected_services_only_when_known(renderer):
    out = renderer.render("technical", "email", sample_context("technical"), family="email", drill=False)
    assert "Affected Services: Jira integration" in out.text
    empty = renderer.render("technical", "email", empty_context("technical"), family="email", drill=False)
    assert "Affected Services" not in empty.text and "Affected Services" not in empty.html


@pytest.mark.parametrize("incident_class", CLASSES)
def test_customer_notice_reveals_no_internal_details(renderer, incident_class):
    context = sample_context(incident_class)
    out = renderer.render(incident_class, "customer", context, family="email", drill=False)
    incident = context["incident"]
    for secret in (incident["commander"], incident["commander_contact"], "+1415", "Immediate Actions",
                   "Incident Commander", "Next Steps", "@teamflow.com", incident["summary"], f"[{TAG.get(incident_class, '')}]"):
        assert secret not in out.text and secret not in out.html and secret not in out.subject
    for part in (out.subject, out.text, out.html):
        assert not re.search(r"#[a-z]", part), "an internal Slack channel is named"
    assert incident["id"] in out.text and incident["id"] in out.subject


# When the customer will hear back: the class's response SLA.
RESPONSE_SLA = {"enterprise": "1 hour", "financial": "1 hour", "high-value": "1 hour",
                "technical": "4 hours", "satisfaction": "4 hours"}


@pytest.mark.parametrize("incident_class", RESPONSE_SLA)
def test_customer_notice_says_when_they_hear_back(renderer, incident_class):
    context = sample_context(incident_class)
    assert context["incident"]["response_sla"] == RESPONSE_SLA[incident_class]
    out = renderer.render(incident_class, "customer", context, family="email", drill=False)
    promise = f"within {RESPONSE_SLA[incident_class]}"
    assert promise in out.text and promise in out.html


def test_high_value_customer_notice_keeps_the_classification_internal(renderer):
    out = renderer.render("high-value", "customer", sample_context("high-value"), family="email", drill=False)
    for word in ("high-value", "high value", "churn", "contract value", "fortune"):
        for part in (out.subject, out.text, out.html):
            assert word not in part.lower()


def test_financial_customer_notice_promises_no_refund(renderer):
    out = renderer.render("financial", "customer", sample_context("financial"), family="email", drill=False)
    assert "$" not in out.text and "$" not in out.html
    assert "will be refunded" not in out.text.lower()


def test_security_customer_notice_avoids_details(renderer):
    context = sample_context("security")
    out = renderer.render("security", "customer", context, family="email", drill=False)
    assert context["incident"]["summary"] not in out.text


@pytest.mark.parametrize("incident_class", CLASSES)
def test_voice_script_is_short_plain_and_spells_the_id(renderer, incident_class):
    context = sample_context(incident_class)
    context["incident"]["summary"] = "See https://example.com/dashboards " + "and more " * 60
    context["incident"]["symptoms"] = context["incident"]["summary"]
    out = renderer.render(incident_class, "voice", context, family="voice", drill=True)
    assert len(out.text) <= 400
    assert "http" not in out.text and "<" not in out.text and "*" not in out.text
    prefix, year, number = context["incident"]["id"].split("-")
    assert f"{' '.join(prefix)} {year} {number}" in out.text


@pytest.mark.parametrize("incident_class", CLASSES)
def test_sms_fits_one_segment_with_sample(renderer, incident_class):
    context = sample_context(incident_class)
    out = renderer.render(incident_class, "sms", context, family="sms", drill=True)
    assert gsm7.septets(out.text) <= 160
    assert out.text.startswith("[DRILL] " + context["incident"]["id"])


@pytest.mark.parametrize("incident_class", CLASSES)
@pytest.mark.parametrize("drill", [False, True])
def test_sms_keeps_the_commander_within_budget(renderer, incident_class, drill):
    context = sample_context(incident_class)
    context["incident"]["summary"] = "word " * 80
    out = renderer.render(incident_class, "sms", context, family="sms", drill=drill)
    assert gsm7.septets(out.text) <= 160
    assert context["incident"]["id"] in out.text
    assert "+14155550188" in out.text  # the on-call can call back even when the summary is cut


@pytest.mark.parametrize("incident_class", CLASSES)
def test_slack_notice_cannot_ping_or_link(renderer, incident_class):
    context = sample_context(incident_class)
    context["incident"].update(customer="<!channel> Corp", summary="<https://evil.example|click> @here now")
    out = renderer.render(incident_class, "slack", context, family="slack", drill=False)
    assert "<!channel>" not in out.text and "<https://evil" not in out.text and "@here" not in out.text
