"""What an SMS reply or a call's keypress does: act for the person the page it answers was sent to.

A reply comes from a phone number, not a person: the person is whoever the latest
page to that number was for (for a rotation's shared number, whoever was on duty
when it was paged: the page's own row says so). "1" or "ACK" acknowledges the most
recent open incident paged to the number, "ACK SEC-2026-014" names one (it must have
been paged to that number), "9" or "ESC" escalates it now. The answer says what
happened, or why nothing did: an unknown number, a closed incident, an unknown word.
A STOP (Twilio's opt-out keywords) changes nothing here and is recorded on the
number's latest incident, so the timeline shows why later SMS pages fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from ..domain.states import IncidentStatus
from ..errors import IncidentError
from ..store import DeliveryRow, Store
from .actions import acknowledge, escalate_now
from .engine import Runtime
from .incidents import load, resolve

BUTTON_ACTIONS = ("ack", "escalate", "resolve")

__all__ = ["BUTTON_ACTIONS", "Command", "Reply", "answer_button", "answer_keypress", "answer_sms", "command_of"]

ACK_WORDS = frozenset({"1", "ACK", "ACKNOWLEDGE"})
ESCALATE_WORDS = frozenset({"9", "ESC", "ESCALATE"})
# Twilio's default opt-out keywords: Twilio stops SMS to the number itself (error 21610 on a later send).
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
INCIDENT_ID = re.compile(r"^[A-Z][A-Z0-9]*-\d{4}-\d+$")


@dataclass(frozen=True)
class Command:
    """A reply read: ack, escalate, stop or unknown; the incident it names, if any."""

    action: str
    incident_id: str | None = None


@dataclass(frozen=True)
class Reply:
    """What a reply did: the answer to send back, whether anything changed, and for whom."""

    message: str
    done: bool = False
    incident_id: str | None = None
    action: str = ""
    by: str | None = None
    deliveries: int = 0  # notices the action planned, for the worker to send


def command_of(text: str) -> Command:
    """The command in a reply's text: its first word, and an incident id after it."""
    words = text.strip().upper().replace(",", " ").split()
    if not words:
        return Command("unknown")
    first = words[0].rstrip(".!")
    named = next((w for w in words[1:] if INCIDENT_ID.match(w)), None)
    if first in ACK_WORDS:
        return Command("ack", named)
    if first in ESCALATE_WORDS:
        return Command("escalate", named)
    if first in STOP_WORDS or " ".join(words) == "STOP ALL":
        return Command("stop")
    return Command("unknown")


SMS_HELP = "reply 1 (or ACK) to acknowledge, 9 to escalate, ACK <incident id> for another incident"
VOICE_CHANNELS = ("voice", "phone")  # a call: the voice channel, or the deprecated phone alias


def answer_sms(rt: Runtime, store: Store, number: str, text: str, now: datetime) -> Reply:
    """Act on an SMS reply from `number` (E.164, as Twilio's From); the Reply says what to text back."""
    return _answer(rt, store, number, command_of(text), now, channels=("sms",), via="sms", hint=SMS_HELP)


def answer_keypress(rt: Runtime, store: Store, number: str, digits: str, incident_id: str | None,
                    now: datetime) -> Reply:
    """Act on a keypress in a call to `number` (Twilio's To) about `incident_id` (the call's own, from the
    Gather action URL Twilio signed): 1 acknowledges, 9 escalates; the Reply says what to say back."""
    command = Command({"1": "ack", "9": "escalate"}.get(digits.strip(), "unknown"), incident_id or None)
    return _answer(rt, store, number, command, now, channels=VOICE_CHANNELS, via="voice",
                   hint="press 1 to acknowledge, 9 to escalate")


def _answer(rt: Runtime, store: Store, number: str, command: Command, now: datetime, *, channels: tuple[str, ...],
            via: str, hint: str) -> Reply:
    pages = sorted((p for channel in channels for p in store.pages_to(number, channel)), key=lambda p: -p.id)
    if not pages:
        return Reply(f"notify has paged no one at this number by {' or '.join(channels)}: nothing changed")
    if command.action == "stop":
        return _opted_out(store, number, pages[0], now)
    if command.action == "unknown":
        return Reply(f"Not understood: {hint}; nothing changed")
    page = _page_for(rt, store, pages, command.incident_id)
    if page is None:
        return Reply(f"{command.incident_id} was not paged to this number: nothing changed")
    if isinstance(page, str):
        return Reply(page)
    if command.action == "ack":
        acked = acknowledge(rt, store, page.incident_id, page.display, now, via=via)
        if not acked.done:
            return Reply(_closed(acked.row.id, acked.row.status, acked.row.acked_by), False, page.incident_id)
        return Reply(f"{page.incident_id} acknowledged by {page.display}: escalation stopped", True,
                     page.incident_id, "ack", page.display, len(acked.notices))
    try:
        fired = escalate_now(rt, store, page.incident_id, page.display, now, via=via)
    except IncidentError as exc:
        return Reply(f"{page.incident_id}: {exc.problem}; nothing changed", False, page.incident_id)
    return Reply(f"{page.incident_id} escalated by {page.display}: stage {fired.stage} ({fired.audience}) paged now",
                 True, page.incident_id, "escalate", page.display, len(fired.rows))


def _page_for(rt: Runtime, store: Store, pages: list[DeliveryRow], named: str | None) -> DeliveryRow | str | None:
    """The page a reply answers: the one for the named incident (None: not paged here), else the latest page
    of an open incident; a string says why there is none (every incident paged here is closed)."""
    if named is not None:
        return next((p for p in pages if p.incident_id == named), None)
    for page in pages:
        if load(store, page.incident_id).status == IncidentStatus.OPEN:
            return page
    latest = load(store, pages[0].incident_id)
    return _closed(latest.id, latest.status, latest.acked_by)


def _closed(incident_id: str, status: str, acked_by: str | None) -> str:
    by = f" by {acked_by}" if status == IncidentStatus.ACKNOWLEDGED and acked_by else ""
    return f"{incident_id} is {status}{by} already: nothing changed"


def _opted_out(store: Store, number: str, page: DeliveryRow, now: datetime) -> Reply:
    """Record a STOP on the number's latest incident: Twilio refuses SMS to it from now on (error 21610)."""
    detail = (f"{page.display} replied STOP to the SMS page on {page.masked_target}: Twilio sends no SMS to this "
              "number until they reply START; later SMS pages fail over to their fallbacks")
    store.record_event(page.incident_id, f"sms-opt-out:{page.id}:{now.isoformat()}", "opted-out", now,
                       detail, by=page.display)
    return Reply("", False, page.incident_id, "stop", page.display)


def answer_button(rt: Runtime, store: Store, slack_user: str, action: str, incident_id: str, now: datetime) -> Reply:
    """Act on a Slack button press as the person of contacts.toml with that Slack member id.

    Slack tells who pressed the button, so a button acts as its presser wherever the message was posted.
    An unknown member, or an unknown action, changes nothing (the Reply says why).
    """
    person = next((p for p in rt.directory.people.values() if slack_user and p.send_target("slack") == slack_user),
                  None)
    if person is None:
        return Reply(f"Your Slack account ({slack_user[:20]}) is not a person in notify's contacts.toml, so notify "
                     "cannot record who acted: nothing changed. Ask the on-call admin to add your Slack id.")
    if action not in BUTTON_ACTIONS:
        return Reply(f"Unknown action {action[:20]!r}: nothing changed")
    if store.incident(incident_id) is None:
        return Reply(f"There is no incident {incident_id[:40]!r} in notify: nothing changed")
    by = person.name
    if action == "ack":
        acked = acknowledge(rt, store, incident_id, by, now, via="slack")
        if not acked.done:
            return Reply(_closed(acked.row.id, acked.row.status, acked.row.acked_by), False, incident_id)
        return Reply(f"Acknowledged by {by} at {now:%H:%M} UTC", True, incident_id, "ack", by, len(acked.notices))
    if action == "escalate":
        try:
            fired = escalate_now(rt, store, incident_id, by, now, via="slack")
        except IncidentError as exc:
            return Reply(f"{incident_id}: {exc.problem}; nothing changed", False, incident_id)
        return Reply(f"Escalated by {by} at {now:%H:%M} UTC: stage {fired.stage} ({fired.audience}) paged now",
                     True, incident_id, "escalate", by, len(fired.rows))
    _, rows, done = resolve(rt, store, incident_id, None, by, now)
    if not done:
        return Reply(f"{incident_id} is resolved already: nothing changed", False, incident_id)
    return Reply(f"Resolved by {by} at {now:%H:%M} UTC", True, incident_id, "resolve", by, len(rows))
