"""A drill's person acknowledging as people do: by answering the page that reached them, through serve's app.

An ``ack`` event with ``via`` finds the page of that kind the sandbox's stand-in
took for that person (an SMS, a call's TwiML, an email or SMS carrying an action
link), and answers it the way the person would: an SMS reply "1" from the number
it went to, key 1 pressed in that call, the link's page opened and its form sent,
or a Slack button pressed as their Slack member id. The answer goes to serve's
own app (routing, signature checks and all) through a :class:`Callbacks` the
caller builds, since the app is of a layer above this one (server/ builds it;
``notify drill`` hands it in). Nothing here signs or parses a request.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, Protocol

from ..config.problems import ConfigError, error
from ..drill.scenario import Event
from ..store import DeliveryRow, Store
from .engine import Runtime

__all__ = ["Answered", "Callbacks", "answer_page"]

LINK = re.compile(r"https?://[^\s\"'<>]+/a/[A-Za-z0-9_-]{1,64}")
GATHER_ACTION = re.compile(r'<Gather\b[^>]*\baction="([^"]+)"')
_PAGE_CHANNELS = {"sms": ("sms",), "voice": ("phone",), "link": ("sms", "email"), "slack": ("slack",)}


@dataclass(frozen=True)
class Answered:
    """What serve's app answered a drill's callback: its HTTP status and what it said (TwiML, a page, JSON)."""

    status: int
    text: str


class Callbacks(Protocol):
    """Serve's app, reached as each provider (or a browser) reaches it; each call returns the app's answer."""

    def sms(self, number: str, text: str) -> Answered: ...
    def keypress(self, url: str, number: str, digits: str) -> Answered: ...
    def press(self, slack_user: str, action: str, incident_id: str) -> Answered: ...
    def link(self, url: str, action: str) -> Answered: ...


def answer_page(rt: Runtime, store: Store, sandbox: Any, callbacks: Callbacks, event: Event, where: tuple[str, str],
                incident_id: str) -> Answered:
    """Acknowledge as `event.by` via `event.via`, answering the page that reached them; ConfigError naming the
    drill file and event (`where`) when no such page did."""
    via, person = event.via or "", event.by or ""
    # Slack: the sandbox's stand-in takes incoming webhooks (channel posts), not DMs, so any Slack message of
    # the incident stands for the one whose button the person presses; Slack says who pressed it.
    pages = _pages(store, incident_id, None if via == "slack" else person, _PAGE_CHANNELS[via])
    if via == "slack" and pages:
        return callbacks.press(rt.directory.people[person].send_target("slack") or "", "ack", incident_id)
    for page in pages:
        for text in sandbox.texts_to(page.channel, page.target):
            if via == "sms":
                return callbacks.sms(page.target, "1")
            found = (GATHER_ACTION if via == "voice" else LINK).search(text)
            if found and via == "voice":
                return callbacks.keypress(html.unescape(found.group(1)), page.target, "1")
            if found:
                return callbacks.link(found.group(0), "ack")
    raise ConfigError([error(where[0], where[1], _none_reached(via, person, pages))])


def _pages(store: Store, incident_id: str, person: str | None, channels: tuple[str, ...]) -> list[DeliveryRow]:
    """The pages (steps, escalations) of the incident delivered to `person` (None: anyone) on `channels`,
    newest first."""
    rows = [d for d in store.deliveries(incident_id) if person in (None, d.person) and d.channel in channels
            and d.kind in ("step", "escalation") and d.status.is_accepted]
    return sorted(rows, key=lambda d: -d.id)


def _none_reached(via: str, person: str, pages: list[DeliveryRow]) -> str:
    what = {"sms": "SMS page", "voice": "call offering a keypress (press 1)", "slack": "Slack message of the incident",
            "link": "email or SMS page with an action link"}[via]
    seen = f" ({len(pages)} page(s) were, but none the stand-in took carried it)" if pages else ""
    whom = "Slack" if via == "slack" else person
    return (f"ack via {via} by {person}: no {what} had reached {whom} by then{seen}; "
            "ack later, or via a channel they were paged on")
