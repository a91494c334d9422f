"""An SMS page with its action link and reply hint stays one GSM-7 segment, its id and drill mark whole,
for every shipped class, on its first page and its escalation page, with the longest fields and ids."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dispatcher.api import Address
from dispatcher.app import engine
from dispatcher.app.links import SMS_ACTIONS, footer_for
from dispatcher.config.settings import load_settings
from dispatcher.domain.plan import Planned
from dispatcher.render import gsm7

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
LONG = "Ünüsual admin logins — from 203.0.113.7 “overnight” … " * 8  # non-GSM characters, far over budget
FIELDS = {"customer": "Acme Corporation International Holdings", "reported_by": "jane.doe@acme.example",
          "summary": LONG}
PUBLIC_URLS = ("https://notify.teamflow.example", "https://incident-notifications.operations.teamflow.example")


@pytest.mark.parametrize("public_url", PUBLIC_URLS)
@pytest.mark.parametrize("template", ["sms", "escalation-sms"])
@pytest.mark.parametrize("drill", [True, False], ids=["drill", "live"])
def test_every_classes_sms_page_keeps_its_link_hint_id_and_drill_mark_in_160_septets(
        config_dir: Path, public_url: str, template: str, drill: bool) -> None:
    rt = engine.load_runtime(config_dir, load_settings(public_url=public_url))
    person = "support-manager-a"
    for name, klass in rt.policy.classes.items():
        incident_id = f"{klass.prefix}-2026-123456"  # more digits than a year of incidents will reach
        incident = engine.new_incident(rt, name, FIELDS, now=NOW, drill=drill, incident_id=incident_id)
        planned = Planned(len(klass.steps), Address(person, "Support Manager A", "rotation:primary", "sms",
                                                    "+14155550111"), template)
        notice, warning = engine.compose_notice(
            rt, incident, planned, notice={"kind": "escalation", "stage": "Escalation 1: rotation:secondary"},
            footer=lambda family, incident_id=incident_id: footer_for(
                public_url, rt.directory.people, incident_id=incident_id, person=person, kind="step", family=family,
                issue=lambda: "T" * 16))
        text = notice.text
        assert warning is None, (name, warning)
        assert gsm7.septets(text) <= 160, (name, gsm7.septets(text), text)
        assert text == gsm7.transliterate(text)  # nothing outside GSM-7: one 160-character segment, not 70
        assert text.endswith(f"{public_url}/a/{'T' * 16} {SMS_ACTIONS}"), (name, text)
        assert incident_id in text, (name, text)
        assert text.startswith("[DRILL] ") is drill, (name, text)


def test_a_list_member_or_a_channel_gets_no_footer_and_a_person_by_voice_none_yet(config_dir: Path) -> None:
    rt = engine.load_runtime(config_dir, load_settings(public_url=PUBLIC_URLS[0]))
    people = rt.directory.people

    def footer(person: str, family: str, kind: str = "step"):
        return footer_for(PUBLIC_URLS[0], people, incident_id="SEC-2026-001", person=person, kind=kind,
                          family=family, issue=lambda: "T" * 16)

    assert footer("support-manager-a", "sms") is not None and footer("support-manager-a", "email") is not None
    assert footer("list:security-incident", "email") is None and footer("slack:security-alerts", "slack") is None
    assert footer("customer", "email") is None and footer("support-manager-a", "voice") is None
    assert footer("support-manager-a", "email", kind="update") is None  # an update asks nothing of its reader


@pytest.mark.parametrize("channel, template", [("email", "email"), ("email", "escalation-email"),
                                               ("slack", "slack"), ("slack", "escalation-slack")])
def test_email_text_and_html_and_a_slack_dm_end_with_the_link(config_dir: Path, channel: str, template: str) -> None:
    url = PUBLIC_URLS[0]
    rt = engine.load_runtime(config_dir, load_settings(public_url=url))
    incident = engine.new_incident(rt, "security", FIELDS, now=NOW, drill=False, incident_id="SEC-2026-001")
    target = "cto@teamflow.example" if channel == "email" else "U0CTO0000"
    planned = Planned(1, Address("cto", "CTO", "role:cto", channel, target), template)
    notice, _ = engine.compose_notice(rt, incident, planned, footer=lambda family: footer_for(
        url, rt.directory.people, incident_id=incident.id, person="cto", kind="step", family=family,
        issue=lambda: "T" * 16))
    link = f"{url}/a/{'T' * 16}"
    if channel == "email":
        assert notice.text.endswith(f"Acknowledge, escalate or resolve SEC-2026-001: {link}\n"
                                    "(This link acts as you, for this incident only.)")
        assert notice.html.count(f'<a href="{link}"') == 1
        assert notice.html.index(link) < notice.html.lower().index("</body>")
    else:
        assert notice.text.endswith(f"<{link}|Acknowledge, escalate or resolve SEC-2026-001>")
        assert notice.lines[-1][0].text == f"<{link}|Acknowledge, escalate or resolve SEC-2026-001>"
        assert notice.lines[-1][0].literal is False  # our markup: Slack shows it as a link


def test_a_failing_template_s_plain_fallback_sms_keeps_the_link_within_160(config_dir: Path) -> None:
    (config_dir / "templates" / "security" / "sms.text.j2").write_text("{{ incident.no_such_field }}")
    url = PUBLIC_URLS[1]
    rt = engine.load_runtime(config_dir, load_settings(public_url=url))
    incident = engine.new_incident(rt, "security", FIELDS, now=NOW, drill=True, incident_id="SEC-2026-123456")
    planned = Planned(0, Address("support-manager-a", "Support Manager A", "rotation:primary", "sms", "+1415"), "sms")
    notice, warning = engine.compose_notice(rt, incident, planned, footer=lambda family: footer_for(
        url, rt.directory.people, incident_id=incident.id, person="support-manager-a", kind="step", family=family,
        issue=lambda: "T" * 16))
    assert warning and "template failed" in warning
    assert gsm7.septets(notice.text) <= 160 and notice.text.startswith("[DRILL] SEC-2026-123456")
    assert notice.text.endswith(f"{url}/a/{'T' * 16} {SMS_ACTIONS}")


def test_without_a_public_url_an_escalation_sms_says_how_to_ack_once(config_dir: Path) -> None:
    rt = engine.load_runtime(config_dir, load_settings())
    incident = engine.new_incident(rt, "security", FIELDS, now=NOW, drill=False, incident_id="SEC-2026-001")
    texts = {}
    for template in ("sms", "escalation-sms"):
        planned = Planned(3, Address("support-manager-a", "Support Manager A", "rotation:primary", "sms", "+1415"),
                          template)
        notice, _ = engine.compose_notice(rt, incident, planned, footer=lambda family: footer_for(
            None, rt.directory.people, incident_id=incident.id, person="support-manager-a", kind="escalation",
            family=family, issue=None))
        texts[template] = notice.text
        assert gsm7.septets(notice.text) <= 160
    assert texts["sms"].endswith(" Ack: notify ack SEC-2026-001")  # the first page's template says nothing of it
    assert texts["escalation-sms"].count("notify ack SEC-2026-001") == 1  # its template says it already
