"""Signing in to the web view (`/ui/`) without a password, and the notes people add to an incident.

Three ways in, each ending in a session: a personal token (`notify token create`)
typed into the sign-in form; a one-time login link (`notify login-link PERSON`, sent
to the person's email or Slack; it works once, for :data:`LOGIN_TTL`, and at most
:data:`LOGIN_LIMIT` are made per person per :data:`LOGIN_TTL`); or an action link a
page carried (it signs in the person it was sent to). A session is a random cookie
the store keeps by digest, for ``NOTIFY_SESSION_HOURS``. Whoever is signed in acts
as themselves: every action is recorded under their name, via ``web``.

The hook credential, the operator token and the metrics token open nothing here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..clock import Clock
from ..errors import InputError, LinkGone, NotifyError
from ..store import Store
from ..store.links_sql import link_digest
from .engine import Runtime
from .incidents import load
from .link_actions import _valid as valid_link
from .tokens import caller_of, digest, looks_personal

__all__ = ["LOGIN_LIMIT", "LOGIN_TTL", "NewSession", "TooManyLinks", "Viewer", "WebAccess", "add_note",
           "issue_login_link", "login_path", "send_login_link"]

LOGIN_TTL = timedelta(minutes=15)
LOGIN_LIMIT = 3  # login links a person may be sent per LOGIN_TTL: a flood of requests mails nobody a flood
SESSION_BYTES = LINK_BYTES = 32
NOTE_MAX = 4000  # characters of a note: a timeline entry, not a document


class TooManyLinks(NotifyError):
    """Login links were asked for a person too often: the limit, and when the next may be asked."""

    http_status = 429


@dataclass(frozen=True)
class Viewer:
    """Who a browser is signed in as: the person id, the name their actions are recorded under, the session."""

    person: str
    name: str
    session: str  # the session's digest: what the CSRF token is derived from, and what sign-out ends


@dataclass(frozen=True)
class NewSession:
    cookie: str  # the secret the browser keeps; the store has only its digest
    viewer: Viewer
    expires: datetime


def login_path(token: str) -> str:
    return f"/ui/login/{token}"


def issue_login_link(rt: Runtime, store: Store, person: str, now: datetime) -> tuple[str, str]:
    """A new one-time login link's token for a person (id, login or email), with their id; rate-limited."""
    found = rt.directory.person_named(person)
    if found is None:
        raise InputError("PERSON", f"{person!r} is nobody in contacts.toml (give a person id, login or email)")
    pid = found[0]
    if store.login_links_since(pid, now - LOGIN_TTL) >= LOGIN_LIMIT:
        raise TooManyLinks(f"{LOGIN_LIMIT} login links were made for {pid} in the last "
                           f"{int(LOGIN_TTL.total_seconds() // 60)} minutes; use one of them, or wait")
    token = secrets.token_urlsafe(LINK_BYTES)
    store.forget_login_links(now - timedelta(days=1))  # expired a day ago: nobody will present them
    store.add_login_link(link_digest(token), pid, now, now + LOGIN_TTL)
    return pid, token


@dataclass(frozen=True)
class SentLink:
    person: str
    channel: str
    target: str  # masked
    url: str


def send_login_link(rt: Runtime, store: Store, person: str, public_url: str, now: datetime) -> SentLink:
    """Make a login link and send it to the person's email, else their Slack; InputError when neither works."""
    from ..api import Address, Notice, Outcome
    from ..delivery.registry import Registry

    pid, token = issue_login_link(rt, store, person, now)
    entry = rt.directory.people[pid]
    url = public_url.rstrip("/") + login_path(token)
    text = (f"Your sign-in link to notify's web view: {url}\nIt works once, for 15 minutes. If you did not ask "
            "for it, ignore it.")
    notice = Notice("LOGIN", "login", 0, "notify: your sign-in link", text, severity="info")
    registry = Registry(rt.settings, rt.directory)
    try:
        for channel in ("email", "slack"):
            target = entry.send_target(channel)
            sender = registry.get(channel) if target else None
            if sender is None or target is None:
                continue
            result = sender.send(notice, Address(pid, entry.name, "login", channel, target))
            if result.outcome == Outcome.DELIVERED:
                return SentLink(pid, channel, Address(pid, entry.name, "login", channel, target).masked, url)
    finally:
        registry.close()
    raise InputError("PERSON", f"{pid} has no email or Slack address that took the link")


def add_note(rt: Runtime, store: Store, incident_id: str, text: str, by: str, now: datetime) -> None:
    """A note on the incident's timeline, by a person; any status (a resolved incident's review notes too)."""
    text = text.strip()
    if not text:
        raise InputError("note", "is empty: write what happened or what you found")
    if len(text) > NOTE_MAX:
        raise InputError("note", f"is {len(text)} characters; at most {NOTE_MAX}")
    if not by.strip():
        raise InputError("by", "is empty: say who writes the note (--by NAME)")
    load(store, incident_id)  # IncidentNotFound when there is none
    store.add_note(incident_id, now, by.strip(), text)


class WebAccess:
    """The sign-in use cases the server runs (each blocking: run them off the event loop)."""

    def __init__(self, rt: Runtime, store: Store, clock: Clock) -> None:
        self.rt, self.store, self.clock = rt, store, clock
        self.lifetime = timedelta(hours=rt.settings.session_hours)

    def viewer(self, cookie: str) -> Viewer | None:
        """Who the session cookie signs in, or None (unknown, expired, signed out, or the person has left)."""
        if not cookie:
            return None
        row = self.store.session(digest(cookie), self.clock.now())
        if row is None or row.person not in self.rt.directory.people:
            return None
        return Viewer(row.person, self.rt.directory.people[row.person].name, row.digest)

    def by_token(self, token: str) -> NewSession | None:
        """Sign in with a personal token; None when it is not a live one."""
        token = token.strip()
        if not looks_personal(token):
            return None
        caller = caller_of(self.store, self.rt.directory, digest(token), self.clock.now())
        return self._start(caller.person) if caller else None

    def login_link_person(self, token: str) -> str | None:
        """The name a login link would sign in (its page, on GET: it is not used)."""
        pid = self.store.login_link_person(link_digest(token), self.clock.now()) if token else None
        return self.rt.directory.people[pid].name if pid in self.rt.directory.people else None

    def by_login_link(self, token: str) -> NewSession | None:
        """Use a login link (once); None when it is unknown, used or expired."""
        pid = self.store.use_login_link(link_digest(token), self.clock.now()) if token else None
        return self._start(pid) if pid in self.rt.directory.people else None

    def by_action_link(self, token: str) -> tuple[NewSession, str]:
        """Sign in the person an action link was sent to; the session and the link's incident.

        LinkGone or LinkExpired as the link's own page says; a link to a list or outsider signs nobody in."""
        link = valid_link(self.store, token, self.clock.now())
        if link.person not in self.rt.directory.people:
            raise LinkGone("this link was not sent to a person of contacts.toml: it signs nobody in")
        return self._start(link.person), link.incident_id

    def sign_out(self, viewer: Viewer) -> None:
        self.store.end_session(viewer.session, self.clock.now())

    def _start(self, person: str) -> NewSession:
        now = self.clock.now()
        cookie = secrets.token_urlsafe(SESSION_BYTES)
        self.store.forget_sessions(now - timedelta(days=1))  # expired a day ago: nobody will present them
        self.store.add_session(digest(cookie), person, now, now + self.lifetime)
        viewer = Viewer(person, self.rt.directory.people[person].name, digest(cookie))
        return NewSession(cookie, viewer, now + self.lifetime)
