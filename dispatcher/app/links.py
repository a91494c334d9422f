"""Action links: a page to a person carries a short link that lets them act on its incident from where it landed.

With ``NOTIFY_PUBLIC_URL`` set, each personal page (a step or escalation page to a
person of contacts.toml, by email, Slack DM or SMS) is sent with a link
``PUBLIC_URL/a/TOKEN``. The token is random (96 bits, :data:`TOKEN_BYTES`), opaque
and short, so an SMS keeps room for its message; the store keeps only its digest
with the incident, the person and channel it went to, and its expiry
(``NOTIFY_LINK_TTL``, at most 7 days; a resolved incident's links stop at once).
Opening the link shows a confirmation page and changes nothing; only that page's
form acts, as the link's person, "via" the channel it was sent on
(:mod:`.link_actions`).

Without a public URL, the same pages say how to acknowledge with the CLI instead.
Notices to lists, Slack channels, customers and outside contacts never carry a
personal link: whoever opened it would act as someone else.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Container
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from urllib.parse import urlsplit

from ..config.problems import Problem, error, note, warning
from ..config.settings import Settings
from ..render import gsm7
from ..store import DeliveryRow, LinkRow, Store
from ..store.links_sql import link_digest

__all__ = ["LINK_FAMILIES", "PAGE_KINDS", "TOKEN_BYTES", "ActionFooter", "check_links", "footer_for", "issue_link",
           "link_path"]

TOKEN_BYTES = 12  # 96 bits from secrets: unguessable, and 16 characters in a URL (an SMS has 160)
LINK_FAMILIES = ("email", "slack", "sms")  # voice calls take a keypress instead (issue 20, item 6)
PAGE_KINDS = ("step", "escalation")  # what pages someone: the deliveries that carry a link, and an ack cancels
SMS_ACTIONS = "Reply 1 to ack, 9 to escalate"
PREVIEW_TOKEN = "X" * 16  # a dry run shows a link as long as a real one, and issues none
SMS_TAIL_MAX = 100  # septets an SMS page's link and reply hint may take before `notify check` says the URL is long


@dataclass(frozen=True)
class ActionFooter:
    """What a personal page ends with: an action link, or how to acknowledge from the CLI."""

    incident_id: str
    url: str | None  # the action link; None: no NOTIFY_PUBLIC_URL

    def text(self, family: str) -> str:
        """The closing line(s) for a family's text (the SMS one fits its budget: see engine.compose_notice)."""
        if self.url is None:
            return f"Ack: notify ack {self.incident_id}" if family == "sms" else \
                f"To acknowledge: `notify ack {self.incident_id}`" if family == "slack" else \
                f"To acknowledge: notify ack {self.incident_id}"
        if family == "sms":
            return f"{self.url} {SMS_ACTIONS}"
        if family == "slack":
            return f"<{self.url}|Acknowledge, escalate or resolve {self.incident_id}>"
        return f"Acknowledge, escalate or resolve {self.incident_id}: {self.url}\n(This link acts as you, " \
               "for this incident only.)"

    def said_in(self, text: str) -> bool:
        """Whether `text` says it already: an escalation template tells how to ack with the CLI itself."""
        return self.url is None and f"notify ack {self.incident_id}" in text

    def html(self) -> str:
        """The closing paragraph of an HTML email."""
        if self.url is None:
            return (f'<p style="margin:16px 0 0">To acknowledge: <code>notify ack {escape(self.incident_id)}</code>'
                    "</p>")
        return (f'<p style="margin:16px 0 0"><a href="{escape(self.url)}" style="font-weight:bold">Acknowledge, '
                f"escalate or resolve {escape(self.incident_id)}</a> (this link acts as you, for this incident "
                "only)</p>")


def link_path(token: str) -> str:
    return f"/a/{token}"


def footer_for(public_url: str | None, people: Container[str], *, incident_id: str, person: str, kind: str,
               family: str, issue: Callable[[], str] | None) -> ActionFooter | None:
    """The footer a delivery's notice ends with; None when it is not a page to a person by email, Slack or SMS.

    `issue` makes the link's token (stored); None previews one without storing it (a dry run).
    """
    if kind not in PAGE_KINDS or family not in LINK_FAMILIES or person not in people:
        return None
    if not public_url:
        return ActionFooter(incident_id, None)
    token = issue() if issue is not None else PREVIEW_TOKEN
    return ActionFooter(incident_id, public_url + link_path(token))


def issue_link(store: Store, row: DeliveryRow, now: datetime, ttl_seconds: int) -> str:
    """A new link for this delivery's person and channel on its incident, stored by digest; its token."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    store.add_link(LinkRow(link_digest(token), row.incident_id, row.person, row.display, row.channel,
                           now, now + timedelta(seconds=ttl_seconds)))
    return token



def check_links(settings: Settings) -> list[Problem]:
    """What `notify check` says of action links: what NOTIFY_PUBLIC_URL would enable, or what is wrong with it."""
    if not settings.public_url:
        return [note("settings", "NOTIFY_PUBLIC_URL", "unset: pages say how to acknowledge with `notify ack ID` on "
                     "this host. Set it to where `notify serve` is reachable from phones to enable action links in "
                     "email, Slack DM and SMS pages (acknowledge, escalate now, resolve from the page), and the "
                     "provider callbacks that need it: Slack buttons, SMS replies, voice keypresses, PagerDuty "
                     "webhooks")]
    problems = []
    host = urlsplit(settings.public_url).hostname or ""
    if settings.public_url.startswith("http://") and host not in ("localhost", "127.0.0.1", "::1"):
        problems.append(warning("settings", "NOTIFY_PUBLIC_URL", "is http://: an action link is a credential, "
                                "and anyone on the path could read and use it; serve it over https"))
    tail = gsm7.septets(ActionFooter("", settings.public_url + link_path(PREVIEW_TOKEN)).text("sms")) + 1
    if tail > SMS_TAIL_MAX:
        problems.append(warning("settings", "NOTIFY_PUBLIC_URL", f"is long: an SMS page's link and reply hint take "
                                f"{tail} of its 160 characters, leaving {160 - tail} for the page itself; a "
                                "shorter URL keeps more of the message"))
    secret = settings.link_secret.get_secret_value().strip() if settings.link_secret else ""
    if not secret:
        problems.append(note("settings", "NOTIFY_LINK_SECRET", "unset: each `notify serve` process keys its link "
                             "pages' forms with a key of its own, so behind several servers (or across a restart) a "
                             "page must be opened again before its buttons work; set it, the same on every server"))
    elif len(secret) < 16:
        problems.append(error("settings", "NOTIFY_LINK_SECRET", f"is {len(secret)} characters; use at least 16 "
                              "(e.g. `openssl rand -hex 32`)"))
    return problems
