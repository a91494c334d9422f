"""The shipped templates: every class renders, and the seed's templates are followed field by field."""

import re
import tomllib

import pytest

from dispatcher.render import gsm7
from dispatcher.render.templates import (
    LIFECYCLE_KINDS,
    LIFECYCLE_TEMPLATES,
    REQUIRED_PARTS,
    TEMPLATE_FAMILY,
    Renderer,
    family_of,
    sample_context,
    shipped_template_dir,
)
from dispatcher.render.samples import sparse_context

CLASSES = [
    "security", "outage", "legal", "enterprise",  # immediate and the first priority class
    "financial", "high-value",  # priority, 1 hour
    "technical", "satisfaction",  # standard, 4 hours
]
INTERNAL = ["monitoring"]  # `internal = true`: tells no customer, so it has no customer template
PAIRS = [(c, t) for c in CLASSES for t in REQUIRED_PARTS] + \
    [(c, t) for c in INTERNAL for t in REQUIRED_PARTS if t != "customer"]
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
    assert renderer.check(CLASSES + INTERNAL, internal=INTERNAL) == []


def test_an_internal_class_without_a_customer_template_passes_only_as_internal(renderer):
    assert [p.file for p in renderer.check(INTERNAL)] == [f"monitoring/customer.{part}.j2"
                                                         for part in REQUIRED_PARTS["customer"]]


def test_every_class_of_the_shipped_policy_is_tested():
    policy = shipped_template_dir().parent / "policy.toml"
    with policy.open("rb") as f:
        assert sorted(tomllib.load(f)["classes"]) == sorted(CLASSES + INTERNAL)


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
    for action in ("Status page: update requested", "Engineering team engaged", "Root cause investigation started",
                   "Customer notifications sent"):
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
                   "Incident Commander", "Next Steps", "@teamflow.com", incident["summary"], f"[{TAG.get(incident_class, '')}]",
                   # the account line is the team's: the contract value and the success manager stay internal
                   incident["account"]["contract_value"], incident["account"]["success_manager"], "Account:"):
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


# --- lifecycle notices: update, reminder, overdue, resolved, escalation (templates/_common) ---

LIFECYCLE = [(c, t) for c in CLASSES + INTERNAL for t in LIFECYCLE_TEMPLATES]


def kind_of(template):
    return template.rpartition("-")[0]


def spoken(incident_id):
    prefix, year, number = incident_id.split("-")
    return f"{' '.join(prefix)} {year} {number}"


def test_common_holds_exactly_the_lifecycle_templates():
    common = shipped_template_dir() / "_common"
    files = {p.name for p in common.iterdir()}
    assert files == {f"{name}.{part}.j2" for name, parts in LIFECYCLE_TEMPLATES.items() for part in parts}
    # 11 kinds (update, reminder, overdue, resolved, escalation, ack, reclassify, target, breach, review,
    # follow-up): email subject/text/html, slack, sms, voice
    assert len(files) == 66


def test_no_class_overrides_a_lifecycle_template():
    for incident_class in CLASSES:
        assert not list((shipped_template_dir() / incident_class).glob("*-*.j2"))


@pytest.mark.parametrize(("incident_class", "template"), LIFECYCLE)
@pytest.mark.parametrize("drill", [False, True])
def test_lifecycle_renders_with_sample_context_of_its_kind(renderer, incident_class, template, drill):
    context = sample_context(incident_class, kind=kind_of(template))
    family = family_of(template)
    out = renderer.render(incident_class, template, context, family=family, drill=drill)
    incident_id = context["incident"]["id"]
    assert (spoken(incident_id) if family == "voice" else incident_id) in out.text
    assert out.html is None or incident_id in out.html
    assert (out.html is not None) == (family == "email")
    assert out.subject and "\n" not in out.subject
    if family == "email":
        assert incident_id in out.subject
    assert out.text.startswith("[DRILL] ") == drill
    assert out.subject.startswith("[DRILL] ") == drill
    for part in (out.subject, out.text, out.html or ""):
        assert not re.search(r"\bNone\b", part)


@pytest.mark.parametrize(("incident_class", "template"), LIFECYCLE)
def test_lifecycle_sparse_context_never_renders_none(renderer, incident_class, template):
    context = sparse_context(sample_context(incident_class, kind=kind_of(template)))
    out = renderer.render(incident_class, template, context, family=family_of(template), drill=False)
    for part in (out.subject, out.text, out.html or ""):
        assert not re.search(r"\bNone\b", part)
        assert "Not yet known" not in part or "Affected Customer" in part  # no bare placeholder for a notice fact


@pytest.mark.parametrize("incident_class", CLASSES)
@pytest.mark.parametrize("template", ["update-email", "resolved-email"])
def test_update_and_resolution_emails_reveal_nothing_internal(renderer, incident_class, template):
    """The security update and resolution audience includes the customer: the message, nothing else."""
    context = sample_context(incident_class, kind=kind_of(template))
    out = renderer.render(incident_class, template, context, family="email", drill=False)
    incident, notice = context["incident"], context["notice"]
    for secret in (incident["commander"], incident["commander_contact"], "+1415", "@teamflow.com", incident["summary"],
                   incident["title"], incident["priority"], notice["by"], "Incident Commander", "notify "):
        for part in (out.subject, out.text, out.html):
            assert secret not in part
    for part in (out.subject, out.text, out.html):
        assert not re.search(r"#[a-z]", part), "an internal Slack channel is named"
        for word in ("high-value", "churn", "escalat"):
            assert word not in part.lower()
    assert notice["message"] in out.text and notice["message"] in out.html


def test_update_notices_say_number_message_sender_and_next_due(renderer):
    context = sample_context("security", kind="update")
    email = renderer.render("security", "update-email", context, family="email", drill=False)
    first = "Update #2 on SEC-2026-001: Root cause identified; fix deploying"
    assert email.subject == first and email.text.splitlines()[0] == first
    assert "Next update: by 2026-11-26 03:30 UTC" in email.text
    for family in ("slack", "sms", "voice"):
        out = renderer.render("security", f"update-{family}", context, family=family, drill=False)
        for fact in ("Root cause identified; fix deploying", "Support Manager A", "2026-11-26 03:30 UTC"):
            assert fact in out.text, (family, fact)


@pytest.mark.parametrize("family", ["email", "slack", "sms", "voice"])
def test_reminder_says_when_and_how(renderer, family):
    context = sample_context("security", kind="reminder")
    out = renderer.render("security", f"reminder-{family}", context, family=family, drill=False)
    assert "2026-11-26 03:30 UTC" in out.text
    assert "notify update" in out.text
    if family != "voice":
        assert "notify update SEC-2026-001 --message" in out.text
    if family in ("email", "slack"):
        assert "30 minutes" in out.text


@pytest.mark.parametrize("family", ["email", "slack", "sms", "voice"])
def test_overdue_says_which_update_was_missed(renderer, family):
    context = sample_context("outage", kind="overdue")
    out = renderer.render("outage", f"overdue-{family}", context, family=family, drill=False)
    assert "2026-11-26 03:30 UTC" in out.text and "not sent" in out.text and "escalated" in out.text.lower()
    assert "Dana Reyes" in out.text
    if family != "sms":
        assert "Escalation 1: on-call secondary" in out.text


@pytest.mark.parametrize("family", ["email", "slack", "sms", "voice"])
def test_escalation_pages_the_next_stage_with_what_they_need(renderer, family):
    context = sample_context("security", kind="escalation")
    out = renderer.render("security", f"escalation-{family}", context, family=family, drill=False)
    assert "15 minutes" in out.text and "Dana Reyes" in out.text
    assert "notify ack" in out.text
    if family != "voice":
        assert "notify ack SEC-2026-001 --by" in out.text
    if family != "sms":
        assert "Escalation 1: on-call secondary" in out.text
    if family in ("email", "slack"):
        assert context["incident"]["summary"] in out.text and "+14155550188" in out.text


@pytest.mark.parametrize("family", ["email", "slack", "sms", "voice"])
def test_resolution_says_when_how_long_and_how(renderer, family):
    context = sample_context("outage", kind="resolved")
    out = renderer.render("outage", f"resolved-{family}", context, family=family, drill=False)
    for fact in ("2026-11-26 21:05 UTC", "1 hour 45 minutes", "Fix deployed; error rates back to normal"):
        assert fact in out.text
    bare = sparse_context(context)
    plain = renderer.render("outage", f"resolved-{family}", bare, family=family, drill=False)
    assert "resolved" in plain.text.lower() and "Resolution" not in plain.text


@pytest.mark.parametrize("incident_class", CLASSES)
@pytest.mark.parametrize("kind", LIFECYCLE_KINDS)
@pytest.mark.parametrize("drill", [False, True])
def test_lifecycle_sms_fits_one_segment(renderer, incident_class, kind, drill):
    context = sample_context(incident_class, kind=kind)
    out = renderer.render(incident_class, f"{kind}-sms", context, family="sms", drill=drill)
    assert gsm7.septets(out.text) <= 160
    assert out.text.startswith(("[DRILL] " if drill else "") + context["incident"]["id"])
    if kind not in ("escalation", "breach"):  # a page keeps who to call; its summary is what is cut
        assert not out.text.endswith("..."), "the sample should fit without a cut"


@pytest.mark.parametrize("kind", ["escalation", "overdue"])
def test_lifecycle_sms_keeps_the_commander_when_cut(renderer, kind):
    context = sample_context("security", kind=kind)
    context["incident"]["summary"] = "word " * 80
    out = renderer.render("security", f"{kind}-sms", context, family="sms", drill=True)
    assert gsm7.septets(out.text) <= 160 and "SEC-2026-001" in out.text
    assert "+14155550188" in out.text


@pytest.mark.parametrize("incident_class", CLASSES)
@pytest.mark.parametrize("kind", LIFECYCLE_KINDS)
def test_lifecycle_voice_is_short_plain_and_spells_the_id(renderer, incident_class, kind):
    context = sample_context(incident_class, kind=kind)
    out = renderer.render(incident_class, f"{kind}-voice", context, family="voice", drill=True)
    assert len(out.text) <= 400
    assert "http" not in out.text and "<" not in out.text and "*" not in out.text and "`" not in out.text
    assert spoken(context["incident"]["id"]) in out.text
    if kind == "reminder":
        assert "notify update" in out.text
    if kind == "escalation":
        assert "To acknowledge, run notify ack" in out.text  # the summary goes last: it is what gets cut


@pytest.mark.parametrize("incident_class", ["security", "outage", "technical", "legal", "enterprise", "financial",
                                            "high-value", "satisfaction"])
def test_an_action_nobody_recorded_is_never_claimed(renderer, incident_class):
    """'Customer acknowledged', 'Customer notifications sent', 'Environment secured' and the status page line
    appear only when recorded (notify update --record, an accepted customer notice, the status page's delivery)."""
    context = sample_context(incident_class)
    nothing = {name: False for name in context["incident"]["recorded"]}
    context["incident"] = {**context["incident"], "recorded": nothing, "status_page": None}
    out = renderer.render(incident_class, "email", context, family="email", drill=False)
    for phrase in ("Customer acknowledged", "Customer notifications sent", "Environment secured", "Status page"):
        assert phrase not in out.text and phrase not in out.html
    assert "<li></li>" not in out.html


def test_the_outage_email_says_what_the_status_page_delivery_says(renderer):
    context = sample_context("outage")
    for state in ("update requested", "update accepted", "update not accepted (auth; see notify status OUT-2026-001)"):
        context["incident"] = {**context["incident"], "status_page": state}
        out = renderer.render("outage", "email", context, family="email", drill=False)
        assert f"- Status page: {state}" in out.text and f"Status page: {state}" in out.html
