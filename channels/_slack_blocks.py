"""A notice as Slack Block Kit blocks: the template's own lines as mrkdwn, field values as plain_text.

mrkdwn has no escape for ``*``, ``_``, ``~`` or a code fence, so a value a reporter or a
webhook wrote is never put into mrkdwn: it goes into a ``plain_text`` text object, which
Slack shows as typed. Per line of the notice (``Notice.lines``):

- only the template's text: a ``section`` with a ``mrkdwn`` text (consecutive lines joined);
- only one value: a ``section`` with a ``plain_text`` text;
- both: a ``context`` block whose elements (``mrkdwn`` and ``plain_text`` text objects,
  at most 10 a block) keep the line's reading order.

Limits (Block Kit reference): a section's text at most 3,000 characters, a message at most
50 blocks; text objects must not be empty.
"""

from __future__ import annotations

from typing import Any, Sequence

from dispatcher.api import Span

__all__ = ["ACTION_PREFIX", "action_buttons", "blocks"]

_TEXT_MAX = 3000
_BLOCKS_MAX = 50
_ELEMENTS_MAX = 10
_WRAPPERS = "*_~`"
ACTION_PREFIX = "notify."  # a button's action_id: notify.ack, notify.escalate, notify.resolve
_BUTTONS = {"ack": ("Acknowledge", "primary"), "escalate": ("Escalate", None), "resolve": ("Resolve", None)}


def blocks(lines: Sequence[Sequence[Span]], mention: str | None = None) -> list[dict[str, Any]]:
    """The blocks of one message; ``mention`` (a member id) opens it when a webhook stands in for a DM."""
    out: list[dict[str, Any]] = [_mrkdwn_section(f"<@{mention}>")] if mention else []
    pending: list[str] = []  # template-only lines, joined into one section
    for line in lines:
        spans = _unwrapped(list(line))
        if not any(span.literal for span in spans):
            pending.append("".join(span.text for span in spans))
            continue
        if pending:
            out.append(_mrkdwn_section("\n".join(pending)))
            pending = []
        out += _value_line(spans)
    if pending:
        out.append(_mrkdwn_section("\n".join(pending)))
    return out[:_BLOCKS_MAX]


def _value_line(spans: list[Span]) -> list[dict[str, Any]]:
    if len(spans) == 1:
        return [{"type": "section", "text": _plain(spans[0].text)}]
    elements = [_plain(span.text) if span.literal else {"type": "mrkdwn", "text": span.text.strip()[:_TEXT_MAX]}
                for span in spans]
    return [{"type": "context", "elements": elements[i:i + _ELEMENTS_MAX]}
            for i in range(0, len(elements), _ELEMENTS_MAX)]


def _unwrapped(spans: list[Span]) -> list[Span]:
    """Spans without the markup that wrapped a value (`*{{ x }}*`, a backtick pair): it cannot apply to
    plain_text, and left alone it would show as stray characters. Blank spans are dropped."""
    for i, span in enumerate(spans):
        if not span.literal or i == 0 or i == len(spans) - 1:
            continue
        before, after = spans[i - 1], spans[i + 1]
        if before.literal or after.literal:
            continue
        left, right = before.text.rstrip(), after.text.lstrip()
        if left and right and left[-1] == right[0] and left[-1] in _WRAPPERS:
            spans[i - 1], spans[i + 1] = Span(left[:-1]), Span(right[1:])
    return [span for span in spans if span.text.strip()]


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:_TEXT_MAX], "emoji": False}


def _mrkdwn_section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:_TEXT_MAX]}}


def action_buttons(incident_id: str, actions: Sequence[str]) -> dict[str, Any]:
    """An ``actions`` block with one button per action; Slack posts the press (``block_actions``) to the app's
    interactivity Request URL, with the presser's user id, the button's ``action_id`` and ``value``."""
    elements = []
    for action in actions:
        label, style = _BUTTONS[action]
        button: dict[str, Any] = {"type": "button", "action_id": ACTION_PREFIX + action,
                                  "text": {"type": "plain_text", "text": label, "emoji": False}, "value": incident_id}
        if style:
            button["style"] = style
        elements.append(button)
    return {"type": "actions", "block_id": f"{ACTION_PREFIX}actions", "elements": elements}
