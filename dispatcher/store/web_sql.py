"""The web view's records, shared by both stores (SQL written with %s): sessions, login links, notes, calendar feeds.

Every secret here (a session's cookie, a one-time login link, a calendar feed's URL)
is kept only as its SHA-256 digest, as personal tokens and action links are: a copy
of the store signs nobody in and opens no calendar. Notes are plain text a person
added to an incident's timeline (`notify note`, or the web view's form).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .times import loaded

__all__ = ["FeedRow", "NoteRow", "SessionRow", "WebSQL"]

ADD_SESSION = "INSERT INTO web_sessions (digest, person, created, expires) VALUES (%s, %s, %s, %s)"
SESSION = ("SELECT digest, person, created, expires, ended FROM web_sessions "
           "WHERE digest = %s AND ended IS NULL AND expires > %s")
END_SESSION = "UPDATE web_sessions SET ended = %s WHERE digest = %s AND ended IS NULL"
FORGET_SESSIONS = "DELETE FROM web_sessions WHERE expires < %s"
ADD_LOGIN = "INSERT INTO login_links (digest, person, created, expires) VALUES (%s, %s, %s, %s)"
# Taken in one statement: of two requests racing for one link, one gets the person, the other nothing.
USE_LOGIN = ("UPDATE login_links SET used = %s WHERE digest = %s AND used IS NULL AND expires > %s "
             "RETURNING person")
PEEK_LOGIN = "SELECT person FROM login_links WHERE digest = %s AND used IS NULL AND expires > %s"
FORGET_LOGINS = "DELETE FROM login_links WHERE expires < %s"
COUNT_LOGINS = "SELECT COUNT(*) FROM login_links WHERE person = %s AND created > %s"
ADD_NOTE = "INSERT INTO notes (incident_id, at, by, text) VALUES (%s, %s, %s, %s)"
NOTES = "SELECT at, by, text FROM notes WHERE incident_id = %s ORDER BY at, id"
ADD_FEED = "INSERT INTO ical_feeds (digest, kind, subject, person, created) VALUES (%s, %s, %s, %s, %s)"
FEED = "SELECT digest, kind, subject, person, created, revoked FROM ical_feeds WHERE digest = %s AND revoked IS NULL"
FEEDS = ("SELECT digest, kind, subject, person, created, revoked FROM ical_feeds WHERE person = %s AND revoked IS NULL "
         "ORDER BY created, digest")
REVOKE_FEED = "UPDATE ical_feeds SET revoked = %s WHERE digest = %s AND person = %s AND revoked IS NULL"


@dataclass(frozen=True)
class SessionRow:
    """A signed-in browser: whose, and until when (never its cookie, only the cookie's digest)."""

    digest: str
    person: str
    created: datetime
    expires: datetime


@dataclass(frozen=True)
class NoteRow:
    at: datetime
    by: str
    text: str


@dataclass(frozen=True)
class FeedRow:
    """A calendar feed's secret URL, by digest: a person's duty (`kind` person) or a rotation slot's (`slot`)."""

    digest: str
    kind: str
    subject: str  # the person id or the slot name the feed shows
    person: str  # who made it, and may revoke it
    created: datetime


class WebSQL:
    """The web view's methods. A store provides `dialect`, `_read(query, args)` and `_statement(query, args)`."""

    dialect: Any

    def _read(self, query: str, args: Iterable[Any] = ()) -> list[tuple]: raise NotImplementedError
    def _statement(self, query: str, args: Iterable[Any] = ()) -> tuple[int, list[tuple]]: raise NotImplementedError

    def _t(self, value: datetime, what: str) -> Any:
        return self.dialect.t(value, what)

    def add_session(self, digest: str, person: str, created: datetime, expires: datetime) -> None:
        self._statement(self.dialect.q(ADD_SESSION), (digest, person, self._t(created, "created"),
                                                      self._t(expires, "expires")))

    def session(self, digest: str, now: datetime) -> SessionRow | None:
        """The live session with this digest (not ended, not expired at `now`), or None."""
        rows = self._read(self.dialect.q(SESSION), (digest, self._t(now, "now")))
        if not rows:
            return None
        digest, person, created, expires, _ = rows[0]
        return SessionRow(digest, person, loaded(created), loaded(expires))  # type: ignore[arg-type]

    def end_session(self, digest: str, now: datetime) -> bool:
        """Sign a session out; False when it was not live."""
        return self._statement(self.dialect.q(END_SESSION), (self._t(now, "now"), digest))[0] > 0

    def forget_sessions(self, before: datetime) -> int:
        return self._statement(self.dialect.q(FORGET_SESSIONS), (self._t(before, "before"),))[0]

    def add_login_link(self, digest: str, person: str, created: datetime, expires: datetime) -> None:
        self._statement(self.dialect.q(ADD_LOGIN), (digest, person, self._t(created, "created"),
                                                    self._t(expires, "expires")))

    def login_link_person(self, digest: str, now: datetime) -> str | None:
        """Whom an unused, unexpired login link signs in, without using it (the page a GET shows)."""
        rows = self._read(self.dialect.q(PEEK_LOGIN), (digest, self._t(now, "now")))
        return rows[0][0] if rows else None

    def use_login_link(self, digest: str, now: datetime) -> str | None:
        """Use a login link once: its person, or None when it is unknown, used or expired."""
        _, rows = self._statement(self.dialect.q(USE_LOGIN), (self._t(now, "now"), digest, self._t(now, "now")))
        return rows[0][0] if rows else None

    def login_links_since(self, person: str, since: datetime) -> int:
        """How many login links were made for a person after `since` (the rate limit counts them)."""
        return int(self._read(self.dialect.q(COUNT_LOGINS), (person, self._t(since, "since")))[0][0])

    def forget_login_links(self, before: datetime) -> int:
        """Drop login links that expired before `before`; how many."""
        return self._statement(self.dialect.q(FORGET_LOGINS), (self._t(before, "before"),))[0]

    def add_note(self, incident_id: str, at: datetime, by: str, text: str) -> None:
        self._statement(self.dialect.q(ADD_NOTE), (incident_id, self._t(at, "at"), by, text))

    def notes(self, incident_id: str) -> list[NoteRow]:
        return [NoteRow(loaded(at), by, text)  # type: ignore[arg-type]
                for at, by, text in self._read(self.dialect.q(NOTES), (incident_id,))]

    def add_feed(self, row: FeedRow) -> None:
        self._statement(self.dialect.q(ADD_FEED), (row.digest, row.kind, row.subject, row.person,
                                                   self._t(row.created, "created")))

    def feed(self, digest: str) -> FeedRow | None:
        """The live (unrevoked) feed with this digest, or None."""
        rows = self._read(self.dialect.q(FEED), (digest,))
        return _feed(rows[0]) if rows else None

    def feeds(self, person: str) -> list[FeedRow]:
        """The live feeds a person made."""
        return [_feed(row) for row in self._read(self.dialect.q(FEEDS), (person,))]

    def revoke_feed(self, digest: str, person: str, now: datetime) -> bool:
        """Revoke one of a person's feeds; False when they have no live feed with this digest."""
        return self._statement(self.dialect.q(REVOKE_FEED), (self._t(now, "now"), digest, person))[0] > 0


def _feed(row: tuple) -> FeedRow:
    digest, kind, subject, person, created, _ = row
    return FeedRow(digest, kind, subject, person, loaded(created))  # type: ignore[arg-type]
