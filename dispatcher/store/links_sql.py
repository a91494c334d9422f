"""Action links: the server-side half of a link in a personal page, shared by both stores (SQL written with %s).

A link's token is sent once, in the page, and never stored: the store keeps its
SHA-256 digest (:func:`link_digest`), with the incident, the person and channel
it was sent to, and when it stops working. A copy of the database therefore holds
no link anyone could use; the token itself is 96 random bits or more, so its plain
digest cannot be reversed. See :mod:`dispatcher.app.links`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from .base import LinkRow
from .times import loaded

__all__ = ["ActionLinks", "link_digest"]

INSERT_LINK = ("INSERT INTO links (digest, incident_id, person, display, channel, created, expires)"
               " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (digest) DO NOTHING")
LINK = "SELECT digest, incident_id, person, display, channel, created, expires FROM links WHERE digest = %s"
FORGET_LINKS = "DELETE FROM links WHERE expires < %s"


def link_digest(token: str) -> str:
    """What the store keys a link by: the hex SHA-256 of its token (any text: an unknown token just matches none)."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


class ActionLinks:
    """The links' methods. A store provides `dialect`, `_read(query, args)` and `_statement(query, args)`."""

    dialect: Any

    def _read(self, query: str, args: Iterable[Any] = ()) -> list[tuple]: raise NotImplementedError
    def _statement(self, query: str, args: Iterable[Any] = ()) -> tuple[int, list[tuple]]: raise NotImplementedError

    def add_link(self, row: LinkRow) -> None:
        """Keep a link issued for a delivery (its digest, never its token)."""
        self._statement(self.dialect.q(INSERT_LINK), (row.digest, row.incident_id, row.person, row.display,
                                                      row.channel, self.dialect.t(row.created, "created"),
                                                      self.dialect.t(row.expires, "expires")))

    def link(self, digest: str) -> LinkRow | None:
        """The link with this digest, expired or not (the caller says which), or None."""
        rows = self._read(self.dialect.q(LINK), (digest,))
        if not rows:
            return None
        *rest, created, expires = rows[0]
        return LinkRow(*rest, created=loaded(created), expires=loaded(expires))

    def forget_links(self, before: datetime) -> int:
        """Drop links that expired before `before`; how many."""
        return self._statement(self.dialect.q(FORGET_LINKS), (self.dialect.t(before, "before"),))[0]
