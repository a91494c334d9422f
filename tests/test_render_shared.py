"""One render for every recipient of the same content (render/personal.py), the footer still per recipient."""

import os
from datetime import timedelta
from pathlib import Path

import pytest

from dispatcher.app.facts import FactsMemo
from dispatcher.clock import FakeClock
from dispatcher.domain.states import DeliveryState
from dispatcher.render.templates import Renderer, sample_context, shipped_template_dir

SHIPPED = shipped_template_dir()


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def user_dir(tmp_path):
    path = tmp_path / "user-templates"
    path.mkdir()
    return path


@pytest.fixture
def counted(user_dir, monkeypatch):
    """A renderer, and how often it rendered a notice's template parts."""
    renderer = Renderer([user_dir, SHIPPED])
    calls = []
    real = renderer._render_parts
    monkeypatch.setattr(renderer, "_render_parts", lambda *a: calls.append(a[:2]) or real(*a))
    return renderer, calls


def for_recipient(display: str, klass: str = "outage") -> dict:
    context = sample_context(klass)
    context["recipient"] = {"display": display, "role": "person"}
    return context


def test_shipped_email_renders_once_for_all_recipients_each_with_its_own_footer(counted):
    renderer, calls = counted
    cache: dict = {}
    names = ["Ana <ops>", "Bo", "Cy"]
    shared = [renderer.render("outage", "email", for_recipient(n), family="email", drill=False, cache=cache)
              for n in names]
    alone = [renderer.render("outage", "email", for_recipient(n), family="email", drill=False) for n in names]
    assert len(calls) == 1 + len(names)  # one for the three shared, then one each without a cache
    assert shared == alone
    for name, notice in zip(names, shared):
        assert notice.text.endswith(f'--\nSent to {name} for escalation step "Immediate actions". '
                                    "Respond within 15 minutes.")
        assert f"Sent to {name.replace('<', '&lt;').replace('>', '&gt;')} for escalation step" in notice.html
        assert notice.html.index("Sent to") < notice.html.index("</body>")


def test_a_template_that_reads_the_recipient_is_rendered_for_each(counted, user_dir):
    renderer, calls = counted
    write(user_dir, "outage/email.text.j2", "Hello {{ recipient.display }}: {{ incident.id }}")
    cache: dict = {}
    texts = [renderer.render("outage", "email", for_recipient(n), family="email", drill=False, cache=cache).text
             for n in ("Ana", "Bo")]
    assert texts[0].startswith("Hello Ana: OUT-") and texts[1].startswith("Hello Bo: OUT-")
    assert len(calls) == 2


@pytest.mark.parametrize("family", ["email", "sms"])
def test_a_subject_that_reads_the_recipient_is_rendered_for_each(counted, user_dir, family):
    renderer, calls = counted
    write(user_dir, "outage/email.subject.j2", "For {{ recipient.display }}: {{ incident.id }}")
    write(user_dir, "outage/sms.subject.j2", "For {{ recipient.display }}: {{ incident.id }}")
    cache: dict = {}
    template = "email" if family == "email" else "sms"
    subjects = [renderer.render("outage", template, for_recipient(n), family=family, drill=False, cache=cache).subject
                for n in ("Ana", "Bo")]
    assert subjects[0].startswith("For Ana: OUT-") and subjects[1].startswith("For Bo: OUT-")
    assert len(calls) == 2


def test_an_included_file_that_reads_the_recipient_counts(counted, user_dir):
    renderer, calls = counted
    write(user_dir, "_parts/hello.j2", "Hello {{ recipient.display }}")
    write(user_dir, "outage/sms.text.j2", '{% include "_parts/hello.j2" %} {{ incident.id }}')
    cache: dict = {}
    texts = [renderer.render("outage", "sms", for_recipient(n), family="sms", drill=False, cache=cache).text
             for n in ("Ana", "Bo")]
    assert texts[0].startswith("Hello Ana")
    assert texts[1].startswith("Hello Bo") and len(calls) == 2


def test_an_included_file_edited_to_read_the_recipient_while_running_counts_from_then_on(counted, user_dir):
    renderer, calls = counted
    write(user_dir, "_parts/hello.j2", "Hello team")
    write(user_dir, "outage/sms.text.j2", '{% include "_parts/hello.j2" %} {{ incident.id }}')
    renderer.render("outage", "sms", for_recipient("Ana"), family="sms", drill=False, cache={})
    write(user_dir, "_parts/hello.j2", "Hello {{ recipient.display }}")
    later = (user_dir / "_parts/hello.j2").stat().st_mtime + 5
    os.utime(user_dir / "_parts/hello.j2", (later, later))  # as an edit a few seconds later: a new mtime
    cache: dict = {}  # the next window of the sender's memo
    texts = [renderer.render("outage", "sms", for_recipient(n), family="sms", drill=False, cache=cache).text
             for n in ("Ana", "Bo")]
    assert texts[0].startswith("Hello Ana") and texts[1].startswith("Hello Bo")


def test_the_personal_footer_is_the_teams_own_macro_when_it_has_one(counted, user_dir):
    renderer, _ = counted
    shipped = (SHIPPED / "_macros/text.j2").read_text(encoding="utf-8")
    at = shipped.index("{% macro footer(")
    write(user_dir, "_macros/text.j2", shipped[:at] + "{% macro footer(incident, step, recipient) -%}"
                                       "For {{ recipient.display }} ({{ step.name }}){%- endmacro %}")
    notice = renderer.render("outage", "email", for_recipient("Ana"), family="email", drill=False, cache={})
    assert notice.text.endswith("\n\nFor Ana (Immediate actions)")


def test_content_that_differs_is_rendered_again(counted):
    renderer, calls = counted
    cache: dict = {}
    first, second = for_recipient("Ana"), for_recipient("Ana")
    second["incident"]["symptoms"] = "Something else entirely"
    texts = [renderer.render("outage", "email", c, family="email", drill=False, cache=cache).text
             for c in (first, second)]
    assert len(calls) == 2 and "Something else entirely" in texts[1]


class _Store:
    def __init__(self):
        self.reads = 0

    def latest_on(self, incident_id, channels):
        self.reads += 1
        return DeliveryState.ACCEPTED, None, None

    def customer_reached(self, incident_id):
        return False


class _Incident:
    id = "OUT-2026-001"
    recorded = ()


def test_rows_of_an_incident_share_one_read_of_its_facts():
    store, memo = _Store(), FactsMemo(window=60)
    answers = [str(memo.facts(store, _Incident(), "email")[0]["status_page"]) for _ in range(5)]
    assert answers == ["update accepted"] * 5 and store.reads == 1
    assert memo.facts(store, _Incident(), "statuspage")[0]["status_page"] is None  # never about its own update


def test_facts_are_read_again_once_the_senders_clock_has_moved_past_the_window():
    clock = FakeClock()
    store, memo = _Store(), FactsMemo(window=1.0, monotonic=clock.monotonic)
    str(memo.facts(store, _Incident(), "email")[0]["status_page"])
    clock.advance(timedelta(minutes=15))  # a drill's next minute, within the same real second
    str(memo.facts(store, _Incident(), "email")[0]["status_page"])
    assert store.reads == 2
