"""What a personal page lets its recipient do from the message itself, where the provider can call back.

A Slack direct message carries buttons (Acknowledge, Escalate, Resolve), when Slack's
callback is on (a public URL and NOTIFY_SLACK_SIGNING_SECRET): Slack says who pressed
one, so it acts as them. A Twilio voice call asks for a keypress (1 to acknowledge, 9
to escalate), when the voice callback is on (a public URL and the Twilio Auth Token):
the keypress is posted to ``/providers/twilio/voice`` with the page's incident in the
URL, which Twilio signs, so a key pressed in one call acts on that call's incident.
Only pages (steps and escalations) to people of contacts.toml offer them.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from urllib.parse import quote

from ..config.callbacks import callbacks
from ..config.settings import Settings
from .links import PAGE_KINDS

__all__ = ["Offer", "offered"]


@dataclass(frozen=True)
class Offer:
    """The actions a message offers (of ack, escalate, resolve), and where a reply to it is posted."""

    actions: tuple[str, ...] = ()
    reply_url: str | None = None


def offered(settings: Settings, people: Container[str], *, family: str, kind: str, person: str,
            incident_id: str) -> Offer:
    """What a delivery's message offers: buttons on Slack, a keypress in a call; nothing elsewhere."""
    if kind not in PAGE_KINDS or person not in people or family not in ("slack", "voice"):
        return Offer()
    on = callbacks(settings)
    if family == "slack" and on["slack"].on:
        return Offer(("ack", "escalate", "resolve"))
    if family == "voice" and on["twilio-voice"].on:
        path = on["twilio-voice"].path
        return Offer(("ack", "escalate"), f"{settings.public_url}{path}?incident={quote(incident_id)}")
    return Offer()
