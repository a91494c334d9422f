"""A rendered notice, and what every notice gets whatever wrote it: drill marks, one-line subject, the family's budget.

Shared by the jinja2 templates (:mod:`.templates`) and by :func:`fallback_notice`,
the plain notice sent when a template fails at run time, so that a broken
template never drops a page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from ..api import Span
from . import escaping, gsm7, spans

__all__ = ["DRILL", "FAMILIES", "Rendered", "assemble", "fallback_notice", "footer_budget", "id_tokens", "with_footer"]

FAMILIES = ("email", "slack", "sms", "voice")
SMS_BUDGET = 160  # one GSM-7 segment: concatenated SMS are split and reordered by some carriers
VOICE_BUDGET = 400  # about 30 seconds of speech; a longer call gets hung up on
DRILL = "[DRILL] "
_DRILL_BANNER = (
    '<p style="background:#fff3cd;border:1px solid #e0b400;padding:8px;font-weight:bold">'
    "[DRILL] This notice is part of an incident response drill.</p>"
)
_BODY_TAG = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class Rendered:
    """A rendered notice: one-line subject, text for the channel's family, optional HTML."""

    subject: str
    text: str
    html: str | None
    lines: tuple[tuple[Span, ...], ...] = ()  # slack: the text as spans, field values literal


# --- drill marks and budgets, shared by templates and the fallback ---


def assemble(
    subject: str, text: str, html: str | None, *, incident_id: str, family: str, drill: bool, max_length: int | None
) -> Rendered:
    """Apply the one-line subject rule, drill marks and the family's budget; no bidi control or CR survives."""
    subject, text = escaping.header(escaping.neutral(subject)), escaping.neutral(text)
    html = escaping.neutral(html) if html is not None else None
    if drill:
        subject = _mark(subject)
        text = _mark(text)
        html = _mark_html(html) if html is not None else None
    if family == "voice":
        text = " ".join(text.split())  # speech has no layout
    text = _budget(text, incident_id, family, drill, max_length)
    if family == "slack":
        text, lines = spans.split(text)
        return Rendered(subject, text, html, lines)
    return Rendered(subject, text, html)



def footer_budget(family: str, footer: str, max_length: int | None) -> int | None:
    """The budget left to a notice's body once `footer` is added (:func:`with_footer`): an SMS keeps its one
    segment, its id and drill mark (the body is cut, never the footer)."""
    if family == "sms":
        return min(SMS_BUDGET, max_length or SMS_BUDGET) - gsm7.septets(footer) - 1
    return max_length - len(footer) - 2 if max_length else None


def with_footer(rendered: Rendered, family: str, footer: str, html_footer: str) -> Rendered:
    """`rendered` closing with `footer` (an action link or how to act), rendered within the budget
    :func:`footer_budget` left: after a space in an SMS, on a line of its own elsewhere."""
    if family == "sms":
        return Rendered(rendered.subject, f"{rendered.text} {gsm7.transliterate(footer)}", rendered.html)
    if family == "slack":
        lines = (*rendered.lines, (Span(footer),))
        return Rendered(rendered.subject, f"{rendered.text}\n{footer}", rendered.html, lines)
    html = rendered.html
    if html is not None:
        at = html.lower().rfind("</body>")
        html = html[:at] + html_footer + html[at:] if at >= 0 else html + html_footer
    return Rendered(rendered.subject, f"{rendered.text}\n\n{footer}", html, rendered.lines)


def _mark(text: str) -> str:
    """Prefix the drill mark once, even if a template already wrote it."""
    return text if text.startswith(DRILL) else DRILL + text


def _mark_html(html: str) -> str:
    """Put a visible drill banner first in the body."""
    match = _BODY_TAG.search(html)
    at = match.end() if match else 0
    return html[:at] + _DRILL_BANNER + html[at:]


def _budget(text: str, incident_id: str, family: str, drill: bool, max_length: int | None) -> str:
    """Cut ``text`` to the family's budget; the drill mark and the incident id always survive."""
    if family == "sms":
        limit = min(SMS_BUDGET, max_length or SMS_BUDGET)
        fit: Callable[[str, str], str] = lambda t, head: gsm7.fit(t, limit, protected_head=head)
        tokens = (gsm7.transliterate(incident_id),)
    else:
        limit = max_length or (VOICE_BUDGET if family == "voice" else 0)
        if not limit:
            return text
        fit = lambda t, head: gsm7.cut(t, limit, protected_head=head)
        tokens = id_tokens(incident_id, family)
    head = DRILL if drill else ""
    body = text[len(head):]
    out = fit(head + body, head)
    if incident_id and not any(token in out for token in tokens):
        # The template put the id late (or not at all): pin it to the front.
        id_head = f"{head}{tokens[0]} "
        out = fit(id_head + body, id_head)
    return out


def id_tokens(incident_id: str, family: str) -> tuple[str, ...]:
    """How the id appears in text of ``family``, preferred form first."""
    if family == "voice":
        return (escaping.spell_id(incident_id), incident_id)
    if family == "slack":
        return (escaping.slack(incident_id),)
    return (incident_id,)


def fallback_notice(
    *, incident_id: str, incident_class: str, summary: str | None, family: str, drill: bool,
    max_length: int | None = None,
) -> Rendered:
    """A plain notice, no templates involved, for when a template fails at run time."""
    ident = str(incident_id or "unknown incident")
    kind = str(incident_class or "unknown")
    about = " ".join(str(summary or "").split()) or "No summary given."
    if family == "voice":
        text = (
            f"Incident {escaping.spell_id(ident)}, a {escaping.speech(kind)} incident. "
            f"{escaping.speech(about)[:200]} Check your email or the incident log for details."
        )
    else:
        shown = (spans.mark(ident), spans.mark(kind), spans.mark(about)) if family == "slack" else (ident, kind, about)
        text = "{} ({} incident): {}\nPlain notice: the notification template failed; see the incident log.".format(
            *shown)
    subject = f"{ident}: {kind} incident (plain notice)"
    family = family if family in FAMILIES else "email"
    return assemble(subject, text, None, incident_id=ident, family=family, drill=drill, max_length=max_length)
