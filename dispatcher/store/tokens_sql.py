"""Personal API tokens, shared by both stores (SQL written with %s): only each token's SHA-256 is kept.

`notify token create` shows a token once; the store keeps its hash, whom it
acts for, and when it was created, last used and revoked. `notify serve`
looks a bearer token up by its hash: the token itself is never written anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    created: str
    last_used: str | None
    revoked: str | None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "person": self.person, "created": self.created, "last_used": self.last_used,
                "revoked": self.revoked}


class TokensSQL:
    """The token table's methods. A store provides `dialect`, `_read(query, args)` and `_statement(query, args)`."""

    def add_token(self, token_id: str, person: str, digest: str, created: str) -> None:
        self._statement(self.dialect.q(INSERT), (token_id, person, digest, created))  # type: ignore[attr-defined]

    def tokens(self) -> list[TokenRow]:
        return [TokenRow(*row) for row in self._read(self.dialect.q(LIST))]  # type: ignore[attr-defined]

    def use_token(self, digest: str, now: str) -> TokenRow | None:
        """The live token with this hash, its last use stamped `now`; None when none (or revoked)."""
        _, rows = self._statement(self.dialect.q(USE), (now, digest))  # type: ignore[attr-defined]
        return TokenRow(*rows[0]) if rows else None

    def revoke_token(self, token_id: str, now: str) -> TokenRow | None:
        """Revoke a token (a second revoke keeps the first time); None when no token has this id."""
        _, rows = self._statement(self.dialect.q(REVOKE), (now, token_id))  # type: ignore[attr-defined]
        return TokenRow(*rows[0]) if rows else None
