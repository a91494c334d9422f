"""Slack text with its field values kept apart: marked while a template renders, split into spans after.

mrkdwn has no escape for ``*``, ``_``, ``~`` or a code fence, so the only safe place for a
value a reporter or a webhook wrote is a Block Kit ``plain_text`` element. While a slack
template renders, every ``{{ value }}`` is wrapped in two private-use characters; once the
notice is assembled (drill mark, budget), :func:`split` returns the mrkdwn fallback text,
each value escaped as Slack documents, and the lines as :class:`~dispatcher.api.Span` runs.
"""

from __future__ import annotations

import re

from ..api import Span
from . import escaping

__all__ = ["mark", "split"]

_OPEN, _CLOSE = "\ue000", "\ue001"
_MARKS = re.compile("[\ue000\ue001]")
_LITERAL = re.compile("\ue000([^\ue000\ue001]*)(?:\ue001|$)")  # a budget may cut a value before its close


def mark(value: str) -> str:
    """A field value, one line and marked as literal (a macro's output is marked once, as a whole)."""
    return _OPEN + escaping.one_line_value(_MARKS.sub("", value)) + _CLOSE


def split(marked: str) -> tuple[str, tuple[tuple[Span, ...], ...]]:
    """The mrkdwn text with every value escaped (the notification fallback), and its lines as spans."""
    fallback = _MARKS.sub("", _LITERAL.sub(lambda m: escaping.slack(m.group(1)), marked))
    lines = tuple(spans for spans in map(_line_spans, marked.split("\n")) if spans)
    return fallback, lines


def _line_spans(line: str) -> tuple[Span, ...]:
    """One line as template spans and literal value spans (blank ones left out)."""
    spans, at = [], 0
    for match in _LITERAL.finditer(line):
        spans += [Span(_MARKS.sub("", line[at:match.start()])), Span(match.group(1), literal=True)]
        at = match.end()
    spans.append(Span(_MARKS.sub("", line[at:])))
    return tuple(span for span in spans if span.text.strip())
