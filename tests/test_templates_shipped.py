"""The shipped templates: every class renders, and the seed's templates are followed field by field."""

import re

import pytest

from dispatcher import gsm7
from dispatcher.rendering import (
    REQUIRED_PARTS,
    TEMPLATE_FAMILY,
    Renderer,
    sample_context,
    shipped_template_dir,
)

CLASSES = ["security", "outage", "legal", "enterprise"]
PAIRS = [(c, t) for c in CLASSES for t in REQUIRED_PARTS]


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


def test_every_required_pair_is_listed(renderer):
    assert set(PAIRS) <= set(renderer.templates())


@pytest.mark.parametrize(("incident_class", "template"), PAIRS)
@pytest.mark.parametrize("drill", [False, True])
def test_renders_with_sample_context(renderer, incident_class, template, drill):
    context = sample_context(incident_class)
    family = TEMPLATE_FAMILY[template]
    out = renderer.render(incident_class, template, context, family=family, drill=drill)
    assert context["incident"]["id"] in out.text or family == "voice"
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


@pytest.mark.parametrize("incident_class", ["legal", "enterprise"])
def test_concise_classes_carry_the_common_fields(renderer, incident_class):
    out = renderer.render(incident_class, "email", sample_context(incident_class), family="email", drill=False)
    assert_labels_in_order(out.text, [
        "Priority", "Incident ID", "Reported", "Affected Customer", "Reported By", "Issue Summary",
        "Immediate Actions Taken", "Next Steps", "Incident Commander", "Contact",
    ])
    assert out.subject.startswith(f"[{incident_class.upper()}] ")


@pytest.mark.parametrize("incident_class", CLASSES)
def test_customer_notice_reveals_no_internal_details(renderer, incident_class):
    context = sample_context(incident_class)
    out = renderer.render(incident_class, "customer", context, family="email", drill=False)
    incident = context["incident"]
    for secret in (incident["commander"], incident["commander_contact"], "+1415", "Immediate Actions", "Incident Commander"):
        assert secret not in out.text and secret not in out.html and secret not in out.subject
    assert incident["id"] in out.text


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
