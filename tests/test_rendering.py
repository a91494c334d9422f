"""The renderer: search-path fallback, strict errors, escaping per family, budgets, fallback notice."""

from pathlib import Path

import pytest

from dispatcher.render import gsm7
from dispatcher.render.notice import FAMILIES, Rendered, fallback_notice
from dispatcher.render.templates import (
    LIFECYCLE_KINDS,
    LIFECYCLE_TEMPLATES,
    REQUIRED_PARTS,
    Renderer,
    TemplateError,
    family_of,
    sample_context,
    shipped_template_dir,
)
from dispatcher.render.samples import NOTICE_KINDS, sparse_context

SHIPPED = shipped_template_dir()
WJ = "\u2060"


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def user_dir(tmp_path):
    return tmp_path / "user-templates"


@pytest.fixture
def renderer(user_dir):
    user_dir.mkdir()
    return Renderer([user_dir, SHIPPED])


def security(**incident):
    context = sample_context("security")
    context["incident"].update(incident)
    return context


# --- search path ---


def test_user_file_overrides_only_that_file(renderer, user_dir):
    write(user_dir, "security/email.subject.j2", "Custom {{ incident.id }}")
    out = renderer.render("security", "email", security(), family="email", drill=False)
    assert out.subject == "Custom SEC-2026-001"
    assert out.text.startswith("Priority: Critical")  # text still from the shipped dir
    assert out.html and "<table" in out.html


def test_user_template_can_import_shipped_macros(renderer, user_dir):
    write(user_dir, "security/sms.text.j2", '{% import "_macros/text.j2" as m %}{{ incident.id }} {{ m.services(incident.affected_services) }}')
    out = renderer.render("security", "sms", security(), family="sms", drill=False)
    assert out.text == "SEC-2026-001 Public API, Project export"


def test_templates_lists_pairs_across_the_search_path(renderer, user_dir):
    write(user_dir, "custom/email.text.j2", "x")
    write(user_dir, "_macros/extra.j2", "")
    pairs = renderer.templates()
    assert ("custom", "email") in pairs
    assert ("security", "voice") in pairs
    assert all(not cls.startswith("_") for cls, _ in pairs)


NOTICE_KEYS = {"kind", "message", "by", "number", "due", "stage", "at", "duration", "via", "previous", "link"}


def test_sample_context_has_every_documented_key():
    context = sample_context("custom")  # a class added later still gets a sample
    assert set(context) == {"incident", "step", "recipient", "notice"}
    assert set(context["incident"]) == {
        "id", "class", "title", "priority", "tier", "response_sla", "update_every", "started",
        "customer", "reported_by", "summary", "commander", "commander_contact", "affected_services",
        "impact_scope", "symptoms", "eta", "next_update", "drill", "account", "status_page", "recorded",
    }
    assert set(context["incident"]["recorded"]) == {"customer_acknowledged", "customers_notified", "environment_secured"}
    assert set(context["step"]) == {"index", "name"}
    assert set(context["recipient"]) == {"display", "role"}
    assert context["notice"] == dict.fromkeys(NOTICE_KEYS) | {"kind": "initial"}


@pytest.mark.parametrize("kind", NOTICE_KINDS)
def test_sample_context_of_each_kind_has_every_notice_key(kind):
    context = sample_context("security", kind=kind)
    assert set(context["notice"]) == NOTICE_KEYS
    assert context["notice"]["kind"] == kind
    assert context["incident"] == sample_context("security")["incident"]
    assert not any(sparse_context(context)["notice"][k] for k in NOTICE_KEYS - {"kind"})
    assert sparse_context(context)["notice"]["kind"] == kind


def test_sample_notice_values():
    update = sample_context("outage", kind="update")["notice"]
    assert update == {"kind": "update", "message": "Root cause identified; fix deploying", "by": "Support Manager A",
                      "number": 2, "due": "2026-11-26 03:30 UTC", "stage": None, "at": None, "duration": None,
                      "via": None, "previous": None, "link": None}
    assert sample_context("outage", kind="reminder")["notice"]["due"] == "2026-11-26 03:30 UTC"
    assert sample_context("outage", kind="escalation")["notice"]["stage"] == "Escalation 1: on-call secondary"
    resolved = sample_context("outage", kind="resolved")["notice"]
    assert resolved["at"] and resolved["duration"] and resolved["message"]
    ack = sample_context("outage", kind="ack")["notice"]
    assert (ack["by"], ack["via"], ack["at"]) == ("Support Manager A", "SMS", "2026-11-26 19:27 UTC")
    reclassified = sample_context("security", kind="reclassify")["notice"]
    assert reclassified["previous"] == "Technical Issue" and reclassified["by"] and reclassified["at"]


def test_sample_context_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="unknown notice kind"):
        sample_context("security", kind="paged")


@pytest.mark.parametrize(
    ("template", "family"),
    [
        ("email", "email"), ("customer", "email"), ("slack", "slack"), ("sms", "sms"), ("voice", "voice"),
        ("update-email", "email"), ("reminder-slack", "slack"), ("overdue-sms", "sms"),
        ("escalation-voice", "voice"), ("resolved-email", "email"), ("a-b-sms", "sms"),
    ],
)
def test_family_of(template, family):
    assert family_of(template) == family


def test_lifecycle_names_cover_every_kind_and_family():
    assert LIFECYCLE_KINDS == ("update", "reminder", "overdue", "resolved", "escalation", "ack", "reclassify",
                               "target", "breach", "review", "follow-up")
    assert set(LIFECYCLE_TEMPLATES) == {f"{k}-{f}" for k in LIFECYCLE_KINDS for f in FAMILIES}
    assert all(parts == REQUIRED_PARTS[family_of(name)] for name, parts in LIFECYCLE_TEMPLATES.items())


def test_render_completes_a_partial_notice(renderer, user_dir):
    write(user_dir, "security/sms.text.j2", "{{ incident.id }} {{ notice.kind }} {{ notice.duration or '-' }}")
    context = sample_context("security")
    del context["notice"]  # a context built before notices existed is an initial page
    assert renderer.render("security", "sms", context, family="sms", drill=False).text == "SEC-2026-001 initial -"
    context = sample_context("outage", kind="resolved")
    context["notice"] = {"kind": "resolved", "message": "Fixed"}  # a core that sets only some facts
    out = renderer.render("outage", "resolved-email", context, family="email", drill=False)
    assert "Fixed" in out.text and "Duration" not in out.text


def test_misspelt_notice_key_is_still_an_error(renderer, user_dir):
    write(user_dir, "security/sms.text.j2", "{{ incident.id }} {{ notice.messge }}")
    with pytest.raises(TemplateError) as info:
        renderer.render("security", "sms", security(), family="sms", drill=False)
    assert "notice.messge" in info.value.problem.message


# --- _common: the fallback for a class file found in no dir ---


def test_lifecycle_template_falls_back_to_common(renderer):
    for incident_class in ("security", "outage", "custom"):
        out = renderer.render(incident_class, "update-sms", sample_context(incident_class, kind="update"),
                              family="sms", drill=False)
        assert out.text.startswith(sample_context(incident_class)["incident"]["id"] + " update #2")


def test_class_dir_overrides_common_for_that_class_only(renderer, user_dir):
    write(user_dir, "security/update-sms.text.j2", "{{ incident.id }} security-only {{ notice.number }}")
    security = renderer.render("security", "update-sms", sample_context("security", kind="update"), family="sms", drill=False)
    outage = renderer.render("outage", "update-sms", sample_context("outage", kind="update"), family="sms", drill=False)
    assert security.text == "SEC-2026-001 security-only 2"
    assert "security-only" not in outage.text and outage.text.startswith("OUT-2026-001 update #2")


def test_class_override_is_per_part(renderer, user_dir):
    write(user_dir, "outage/update-email.text.j2", "{{ incident.id }}: {{ notice.message }} (see #outage-response)")
    out = renderer.render("outage", "update-email", sample_context("outage", kind="update"), family="email", drill=False)
    assert out.text == "OUT-2026-001: Root cause identified; fix deploying (see #outage-response)"
    assert out.subject == "Update #2 on OUT-2026-001: Root cause identified; fix deploying"  # shipped _common
    assert out.html and "OUT-2026-001" in out.html


def test_user_common_overrides_shipped_common_for_every_class(renderer, user_dir):
    write(user_dir, "_common/resolved-email.subject.j2", "All clear: {{ incident.id }}")
    for incident_class in ("security", "technical"):
        context = sample_context(incident_class, kind="resolved")
        out = renderer.render(incident_class, "resolved-email", context, family="email", drill=False)
        assert out.subject == f"All clear: {context['incident']['id']}"
        assert out.text.startswith(f"{context['incident']['id']} has been resolved.")  # text still shipped


def test_class_file_beats_user_common(renderer, user_dir):
    write(user_dir, "_common/reminder-slack.text.j2", "common {{ incident.id }}")
    write(user_dir, "security/reminder-slack.text.j2", "class {{ incident.id }}")
    render = lambda c: renderer.render(c, "reminder-slack", sample_context(c, kind="reminder"), family="slack", drill=False)
    assert render("security").text == "class SEC-2026-001"
    assert render("outage").text == "common OUT-2026-001"


def test_common_serves_class_templates_too(renderer, user_dir):
    write(user_dir, "custom/email.text.j2", "{{ incident.id }}")
    write(user_dir, "_common/sms.text.j2", "{{ incident.id }} shared sms")
    out = renderer.render("custom", "sms", sample_context("custom"), family="sms", drill=False)
    assert out.text == "CUS-2026-001 shared sms"
    problems = renderer.check(["custom"])
    assert not [p for p in problems if p.file == "custom/sms.text.j2"]
    assert [p for p in problems if p.file == "custom/voice.text.j2"]


def test_missing_lifecycle_template_names_class_and_common(tmp_path):
    r = Renderer([tmp_path])
    with pytest.raises(TemplateError) as info:
        r.render("security", "update-sms", sample_context("security", kind="update"), family="sms", drill=False)
    assert info.value.problem.file == "security/update-sms.text.j2"
    assert "_common/update-sms.text.j2" in info.value.problem.message


@pytest.mark.parametrize("drill", [False, True])
def test_lifecycle_email_gets_drill_marks(renderer, drill):
    out = renderer.render("outage", "escalation-email", sample_context("outage", kind="escalation"), family="email", drill=drill)
    assert out.subject.startswith("[DRILL] ") == drill
    assert out.text.startswith("[DRILL] ") == drill
    assert ("[DRILL] This notice" in out.html) == drill


def test_lifecycle_sms_budget_and_channel_limit(renderer):
    context = sample_context("security", kind="update")
    context["notice"]["message"] = "very long update " * 40
    out = renderer.render("security", "update-sms", context, family="sms", drill=True)
    assert gsm7.septets(out.text) <= 160 and out.text.startswith("[DRILL] SEC-2026-001 ")
    short = renderer.render("security", "escalation-sms", sample_context("security", kind="escalation"),
                            family="sms", drill=False, max_length=70)
    assert gsm7.septets(short.text) <= 70 and "SEC-2026-001" in short.text


def test_lifecycle_slack_escapes_notice_values(renderer):
    context = sample_context("outage", kind="update")
    context["notice"].update(message="fixed <!channel> @here", by="<https://evil.example|me>")
    out = renderer.render("outage", "update-slack", context, family="slack", drill=False)
    assert "<!channel>" not in out.text and "<https://evil" not in out.text and "@here" not in out.text


def test_check_reports_broken_common_template_once_with_file_and_variable(renderer, user_dir):
    write(user_dir, "_common/update-email.text.j2", "{{ incident.id }}\n{{ notice.nope }}\n")
    problems = renderer.check(["security", "outage", "legal"])
    broken = [p for p in problems if p.file.endswith("_common/update-email.text.j2")]
    assert len(broken) == 1  # one report, not one per class
    assert broken[0].line == 2 and "notice.nope" in broken[0].message
    assert "user-templates/" in broken[0].file  # the user's file, not the shipped one


def test_check_reports_a_missing_common_template(tmp_path):
    for template, parts in REQUIRED_PARTS.items():
        for part in parts:
            write(tmp_path, f"custom/{template}.{part}.j2", "{{ incident.id }}")
    problems = Renderer([tmp_path]).check(["custom"])
    missing = {p.file for p in problems if "missing required template file" in p.message}
    assert missing == {f"_common/{name}.{part}.j2" for name, parts in LIFECYCLE_TEMPLATES.items() for part in parts}


def test_check_flags_lifecycle_template_without_the_id(renderer, user_dir):
    write(user_dir, "_common/resolved-slack.text.j2", "All clear.")
    write(user_dir, "_common/resolved-email.html.j2", "<p>All clear.</p>")
    problems = renderer.check(["security"])
    files = {p.file for p in problems if "incident id" in p.message}
    assert files == {"_common/resolved-slack.text.j2", "_common/resolved-email.html.j2"}


def test_check_flags_none_from_a_common_template(renderer, user_dir):
    write(user_dir, "_common/overdue-sms.text.j2", "{{ incident.id }} due={{ notice.due|string }}")
    problems = renderer.check(["security"])
    assert any("None" in p.message and p.file == "_common/overdue-sms.text.j2" for p in problems)


def test_check_voice_url_in_common_template(renderer, user_dir):
    write(user_dir, "_common/resolved-voice.text.j2", "{{ incident.id|spell }} see https://status.teamflow.com")
    problems = renderer.check(["outage"])
    assert any("URL" in p.message and p.file == "_common/resolved-voice.text.j2" for p in problems)


# --- errors ---


def test_undefined_variable_names_file_line_and_variable(renderer, user_dir):
    write(user_dir, "security/email.text.j2", "line one\n{{ incident.id }}\n{{ incident.foo }}\n")
    with pytest.raises(TemplateError) as info:
        renderer.render("security", "email", security(), family="email", drill=False)
    problem = info.value.problem
    assert problem.file.endswith("security/email.text.j2")
    assert problem.line == 3
    assert "incident.foo" in problem.message


def test_undefined_top_level_variable(renderer, user_dir):
    write(user_dir, "security/slack.text.j2", "{{ nothing_here }}")
    with pytest.raises(TemplateError) as info:
        renderer.render("security", "slack", security(), family="slack", drill=False)
    assert info.value.problem.line == 1
    assert "nothing_here" in info.value.problem.message


def test_undefined_inside_macro_points_at_the_macro(renderer, user_dir):
    write(user_dir, "_macros/bad.j2", "{% macro oops(i) %}\n{{ i.missing }}\n{% endmacro %}")
    write(user_dir, "security/sms.text.j2", '{% import "_macros/bad.j2" as b %}{{ b.oops(incident) }}')
    with pytest.raises(TemplateError) as info:
        renderer.render("security", "sms", security(), family="sms", drill=False)
    assert info.value.problem.file.endswith("_macros/bad.j2")
    assert info.value.problem.line == 2
    assert "incident.missing" in info.value.problem.message


def test_syntax_error_names_file_and_line(renderer, user_dir):
    write(user_dir, "security/email.text.j2", "ok\nok\n{% if incident.id %}\nno endif\n")
    with pytest.raises(TemplateError) as info:
        renderer.render("security", "email", security(), family="email", drill=False)
    problem = info.value.problem
    assert problem.file.endswith("security/email.text.j2")
    assert problem.line is not None and problem.line >= 3
    assert "syntax error" in problem.message


def test_missing_template_raises(renderer):
    with pytest.raises(TemplateError) as info:
        renderer.render("nosuchclass", "email", security(), family="email", drill=False)
    assert info.value.problem.file == "nosuchclass/email.text.j2"
    assert "not found" in info.value.problem.message


def test_runtime_error_in_template_becomes_template_error(renderer, user_dir):
    write(user_dir, "security/sms.text.j2", "{{ 1 / 0 }}")
    with pytest.raises(TemplateError) as info:
        renderer.render("security", "sms", security(), family="sms", drill=False)
    assert "ZeroDivisionError" in info.value.problem.message


def test_check_reports_undefined_syntax_and_missing(renderer, user_dir):
    write(user_dir, "security/email.text.j2", "{{ incident.nope }}\n")
    write(user_dir, "security/slack.text.j2", "{% for x in %}\n")
    write(user_dir, "custom/email.text.j2", "{{ incident.id }}\n")
    problems = renderer.check(["security", "custom"])
    by_file = {(p.file.split("templates/")[-1], p.line): p.message for p in problems}
    assert any("incident.nope" in m for (f, line), m in by_file.items() if f.endswith("security/email.text.j2") and line == 1)
    assert any("syntax error" in m for (f, _), m in by_file.items() if f.endswith("security/slack.text.j2"))
    assert ("custom/email.subject.j2", None) in by_file
    assert ("custom/sms.text.j2", None) in by_file
    assert ("security/sms.text.j2", None) not in by_file  # the shipped one fills in
    assert len(problems) == len(set(problems))


def test_check_finds_syntax_error_in_unused_macro_file(renderer, user_dir):
    write(user_dir, "_macros/broken.j2", "{% macro x() %}")
    problems = renderer.check(["security"])
    assert [p.file for p in problems if p.file.endswith("_macros/broken.j2")]


def test_check_flags_none_leaking_into_output(renderer, user_dir):
    write(user_dir, "security/email.text.j2", "{{ incident.id }} eta={{ incident.eta|string }}")
    problems = renderer.check(["security"])
    assert any("None" in p.message and p.file == "security/email.text.j2" for p in problems)


def test_check_flags_url_in_voice_script(renderer, user_dir):
    write(user_dir, "security/voice.text.j2", "{{ incident.id|spell }} see https://status.teamflow.com")
    problems = renderer.check(["security"])
    assert any("URL" in p.message for p in problems)


def test_none_value_renders_placeholder_not_none(renderer, user_dir):
    write(user_dir, "security/email.text.j2", "{{ incident.id }} ETA {{ incident.eta }}")
    out = renderer.render("security", "email", security(eta=None), family="email", drill=False)
    assert out.text == "SEC-2026-001 ETA Not yet known"


def test_unknown_family_is_a_programming_error(renderer):
    with pytest.raises(ValueError):
        renderer.render("security", "email", security(), family="fax", drill=False)


# --- text shape ---


def test_trailing_whitespace_and_blank_runs_are_stripped(renderer, user_dir):
    write(user_dir, "security/email.text.j2", "\n\nA   \n\n\n\nB\t\n\n")
    out = renderer.render("security", "email", security(), family="email", drill=False)
    assert out.text == "A\n\nB"


def test_drill_marks_subject_text_and_html(renderer):
    out = renderer.render("security", "email", security(), family="email", drill=True)
    assert out.subject.startswith("[DRILL] ")
    assert out.text.startswith("[DRILL] ")
    body = out.html.split("<body", 1)[1].split(">", 1)[1]
    assert body.startswith("<p") and "[DRILL]" in body[:200]


def test_drill_mark_is_not_doubled(renderer, user_dir):
    write(user_dir, "security/sms.text.j2", "[DRILL] {{ incident.id }}")
    out = renderer.render("security", "sms", security(), family="sms", drill=True)
    assert out.text == "[DRILL] SEC-2026-001"


# --- escaping ---

EVIL = ["<!channel>", "<!here>", "@here", "@channel", "@everyone", "<https://evil.example|click>"]


@pytest.mark.parametrize("evil", EVIL)
def test_slack_values_cannot_ping_or_link(renderer, evil):
    out = renderer.render("security", "slack", security(summary=f"x {evil} y"), family="slack", drill=False)
    assert evil not in out.text
    assert "<!" not in out.text and "<https://evil" not in out.text


def test_slack_escapes_ampersand_and_keeps_literal_markup(renderer, user_dir):
    write(user_dir, "security/slack.text.j2", "*{{ incident.title }}* <https://status.teamflow.com|status> {{ incident.summary }}")
    out = renderer.render("security", "slack", security(summary="AT&T <b> @here"), family="slack", drill=False)
    assert out.text == f"*Security Incident* <https://status.teamflow.com|status> AT&amp;T &lt;b&gt; @{WJ}here"


def test_slack_values_through_macros_are_escaped_once(renderer, user_dir):
    write(user_dir, "_macros/s.j2", "{% macro echo(v) %}[{{ v }}]{% endmacro %}")
    write(user_dir, "security/slack.text.j2", '{% import "_macros/s.j2" as s %}{{ s.echo(incident.summary) }}')
    out = renderer.render("security", "slack", security(summary="A&B <!here>"), family="slack", drill=False)
    assert out.text == "[A&amp;B &lt;!here&gt;]"


def test_html_autoescape_in_html_only(renderer):
    out = renderer.render("security", "email", security(summary="<script>alert(1)</script>"), family="email", drill=False)
    assert "<script>" not in out.html
    assert "&lt;script&gt;" in out.html
    assert "<script>alert(1)</script>" in out.text


def test_subject_never_carries_crlf(renderer, user_dir):
    write(user_dir, "security/email.subject.j2", "[X] {{ incident.customer }}\nsecond line")
    out = renderer.render("security", "email", security(customer="Acme\r\nBcc: x@y"), family="email", drill=False)
    assert "\r" not in out.subject and "\n" not in out.subject
    assert out.subject == "[X] Acme Bcc: x@y second line"


def test_shipped_enterprise_subject_with_crlf_customer(renderer):
    context = sample_context("enterprise")
    context["incident"]["customer"] = "Initech\r\nBcc: attacker@evil.example"
    out = renderer.render("enterprise", "email", context, family="email", drill=True)
    assert "\r" not in out.subject and "\n" not in out.subject
    assert out.subject.startswith("[DRILL] [ENTERPRISE] ")


def test_voice_values_lose_urls_and_markup(renderer):
    out = renderer.render("security", "voice", security(summary="Look at <https://evil.example> *now*"), family="voice", drill=False)
    assert "http" not in out.text and "*" not in out.text and "<" not in out.text
    assert "\n" not in out.text


# --- budgets ---


def sms_renderer(user_dir, template):
    write(user_dir, "security/sms.text.j2", template)
    return Renderer([user_dir, SHIPPED])


@pytest.mark.parametrize(
    ("summary", "expected_tail"),
    [
        ("plain ascii", "plain ascii"),
        ("Café “déjà vu” — naïve", "Cafe \"deja vu\" - naive"),
        ("server on 🔥 fire", "server on fire"),
        ("{json} [list]", "{json} [list]"),
    ],
)
def test_sms_transliterates(user_dir, summary, expected_tail):
    r = sms_renderer(user_dir, "{{ incident.id }} {{ incident.summary }}")
    out = r.render("security", "sms", security(summary=summary), family="sms", drill=False)
    assert out.text == f"SEC-2026-001 {expected_tail}"


def test_sms_extension_chars_count_double(user_dir):
    r = sms_renderer(user_dir, "{{ incident.id }} {{ incident.summary }}")
    out = r.render("security", "sms", security(summary="{" * 200), family="sms", drill=False)
    assert gsm7.septets(out.text) <= 160
    assert len(out.text) < 100  # about half the characters fit


def test_sms_very_long_summary_keeps_drill_and_id(renderer):
    out = renderer.render("security", "sms", security(summary="é" + "very long " * 100), family="sms", drill=True)
    assert out.text.startswith("[DRILL] SEC-2026-001 ")
    assert out.text.endswith("...")
    assert gsm7.septets(out.text) <= 160


def test_sms_id_placed_late_is_pinned_to_the_front(user_dir):
    r = sms_renderer(user_dir, "{{ incident.summary }} -- ref {{ incident.id }}")
    out = r.render("security", "sms", security(summary="x " * 200), family="sms", drill=True)
    assert out.text.startswith("[DRILL] SEC-2026-001 ")
    assert gsm7.septets(out.text) <= 160


def test_sms_id_placed_late_but_fitting_is_left_alone(user_dir):
    r = sms_renderer(user_dir, "{{ incident.summary }} ref {{ incident.id }}")
    out = r.render("security", "sms", security(summary="short"), family="sms", drill=False)
    assert out.text == "short ref SEC-2026-001"


def test_sms_template_without_id_gets_one(user_dir):
    r = sms_renderer(user_dir, "page: {{ incident.summary }}")
    out = r.render("security", "sms", security(summary="db down"), family="sms", drill=False)
    assert out.text == "SEC-2026-001 page: db down"


def test_sms_channel_limit_below_one_segment(renderer):
    out = renderer.render("security", "sms", security(), family="sms", drill=False, max_length=70)
    assert gsm7.septets(out.text) <= 70
    assert "SEC-2026-001" in out.text


def test_max_length_truncates_other_families_keeping_id(user_dir):
    write(user_dir, "security/slack.text.j2", "{{ incident.summary }} {{ incident.id }}")
    r = Renderer([user_dir, SHIPPED])
    out = r.render("security", "slack", security(summary="y" * 500), family="slack", drill=True, max_length=100)
    assert len(out.text) <= 100
    assert out.text.startswith("[DRILL] SEC-2026-001 ")
    assert out.text.endswith("...")


def test_email_without_max_length_is_not_cut(renderer):
    out = renderer.render("security", "email", security(summary="z" * 5000), family="email", drill=False)
    assert "z" * 5000 in out.text


def test_voice_is_capped(user_dir):
    write(user_dir, "security/voice.text.j2", "Incident {{ incident.id|spell }}. {{ incident.summary }}")
    r = Renderer([user_dir, SHIPPED])
    out = r.render("security", "voice", security(summary="word " * 200), family="voice", drill=False)
    assert len(out.text) <= 400
    assert out.text.startswith("Incident S E C 2026 001.")


# --- fallback ---


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("drill", [False, True])
def test_fallback_notice_has_id_and_class(family, drill):
    out = fallback_notice(incident_id="SEC-2026-001", incident_class="security", summary="db <!channel> down", family=family, drill=drill)
    assert isinstance(out, Rendered)
    spoken = "S E C 2026 001" if family == "voice" else "SEC-2026-001"
    assert spoken in out.text
    assert "security" in out.text
    assert "SEC-2026-001" in out.subject and "\n" not in out.subject
    assert out.text.startswith("[DRILL] ") == drill
    assert out.html is None
    if family == "slack":
        assert "<!channel>" not in out.text


def test_fallback_sms_fits_budget_with_huge_summary():
    out = fallback_notice(incident_id="SEC-2026-001", incident_class="security", summary="€" * 1000, family="sms", drill=True)
    assert gsm7.septets(out.text) <= 160
    assert out.text.startswith("[DRILL] SEC-2026-001")


@pytest.mark.parametrize("summary", [None, "", "\r\n", "🔥" * 50])
def test_fallback_tolerates_odd_input(summary):
    out = fallback_notice(incident_id="OUT-1", incident_class="outage", summary=summary, family="sms", drill=False)
    assert "OUT-1" in out.text and "outage" in out.text
