"""Personal API tokens, shared by both stores (SQL written with %s): only each token's SHA-256 is kept.

`notify token create` shows a token once; the store keeps its hash, whom it
acts for, and when it was created, last used and revoked. `notify serve`
looks a bearer token up by its hash: the token itself is never written anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..clock import iso
from .times import loaded

__all__ = ["TokenRow", "TokensSQL"]

INSERT = "INSERT INTO api_tokens (id, person, hash, created) VALUES (%s, %s, %s, %s)"
LIST = "SELECT id, person, created, last_used, revoked FROM api_tokens ORDER BY created, id"
# Looked up and stamped in one statement: a revoked token matches nothing.
USE = ("UPDATE api_tokens SET last_used = %s WHERE hash = %s AND revoked IS NULL "
       "RETURNING id, person, created, last_used, revoked")
REVOKE = ("UPDATE api_tokens SET revoked = COALESCE(revoked, %s) WHERE id = %s "
          "RETURNING id, person, created, last_used, revoked")


@dataclass(frozen=True)
class TokenRow:
    """A personal token as `notify token list` shows it: never the token, nor its hash."""

    id: str
    person: str
    created: datetime
    last_used: datetime | None
    revoked: datetime | None

    @classmethod
    def loaded(cls, row: tuple) -> TokenRow:
        """A row of LIST, USE or REVOKE, its times as datetimes."""
        token_id, person, created, last_used, revoked = row
        return cls(token_id, person, loaded(created), loaded(last_used), loaded(revoked))

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "person": self.person, "created": self.created.isoformat(),
                "last_used": iso(self.last_used), "revoked": iso(self.revoked)}


class TokensSQL:
    """The token table's methods. A store provides `dialect`, `_read(query, args)` and `_statement(query, args)`."""

    def add_token(self, token_id: str, person: str, digest: str, created: datetime) -> None:
        created = self.dialect.t(created, "created")  # type: ignore[attr-defined]
        self._statement(self.dialect.q(INSERT), (token_id, person, digest, created))  # type: ignore[attr-defined]

    def tokens(self) -> list[TokenRow]:
        return [TokenRow.loaded(row) for row in self._read(self.dialect.q(LIST))]  # type: ignore[attr-defined]

    def use_token(self, digest: str, now: datetime) -> TokenRow | None:
        """The live token with this hash, its last use stamped `now`; None when none (or revoked)."""
        now = self.dialect.t(now, "now")  # type: ignore[attr-defined]
        _, rows = self._statement(self.dialect.q(USE), (now, digest))  # type: ignore[attr-defined]
        return TokenRow.loaded(rows[0]) if rows else None

    def revoke_token(self, token_id: str, now: datetime) -> TokenRow | None:
        """Revoke a token (a second revoke keeps the first time); None when no token has this id."""
        now = self.dialect.t(now, "now")  # type: ignore[attr-defined]
        _, rows = self._statement(self.dialect.q(REVOKE), (now, token_id))  # type: ignore[attr-defined]
        return TokenRow.loaded(rows[0]) if rows else None
