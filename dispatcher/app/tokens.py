"""Personal API tokens: created for a person of contacts.toml, shown once, kept only as a hash, revocable.

A personal token lets one person act on incidents through `notify serve` (from
a laptop, with NOTIFY_SERVER_URL): what they do is recorded as theirs, and
they cannot act as anyone else. The shared operator token (NOTIFY_API_TOKEN)
is unchanged beside it (see server/auth.py).

A token is ``notify_`` and 43 characters of ``secrets.token_urlsafe(32)``
(256 random bits); the prefix lets the server tell one from an operator token
without a store lookup, and lets secret scanners recognise a leaked one. The
store keeps its SHA-256: a copy of the store grants nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from ..config.directory import Directory
from ..errors import InputError, NotYours
from ..render.table import PLAIN, Column, Output, render
from ..store import Store
from ..store.tokens_sql import TokenRow

__all__ = ["PREFIX", "Caller", "NewToken", "acting_as", "caller_of", "create_token", "digest", "list_tokens",
           "looks_personal", "recorded_as", "revoke_token", "tokens_table"]

PREFIX = "notify_"
SECRET_BYTES = 32  # 256 bits: far past the 128 a guess must beat


@dataclass(frozen=True)
class NewToken:
    """A token just created: `token` is shown once and exists nowhere else."""

    id: str
    person: str
    name: str
    token: str


@dataclass(frozen=True)
class Caller:
    """Whom a request with a personal token acts for."""

    token_id: str
    person: str  # the person id in contacts.toml
    name: str  # what is recorded: the person's name, as the CLI records an ack

    def __str__(self) -> str:
        return f"{self.name} ({self.person})"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def looks_personal(token: str) -> bool:
    return token.startswith(PREFIX)


def create_token(store: Store, directory: Directory, person: str, now: datetime) -> NewToken:
    """A new token for a person (id, login or email of contacts.toml); only its hash is stored."""
    found = directory.person_named(person)
    if found is None:
        raise InputError("PERSON", f"{person!r} is nobody in contacts.toml (give a person id, login or email)")
    pid, entry = found
    token = PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    token_id = "tok_" + secrets.token_hex(6)
    store.add_token(token_id, pid, digest(token), now)
    return NewToken(token_id, pid, entry.name, token)


def list_tokens(store: Store) -> list[TokenRow]:
    return store.tokens()


def tokens_table(rows: list[TokenRow], out: Output = PLAIN) -> str:
    """`notify token list`: id, person and times; there is nothing secret to show."""
    return render(_COLUMNS, [(r.id, r.person, _second(r.created), _second(r.last_used) or "never",
                              _second(r.revoked) or "") for r in rows], out)


def _second(moment: datetime | None) -> str | None:
    """A time to the second, as the table shows it (2026-11-26T03:00:00)."""
    return moment.isoformat()[:19] if moment is not None else None


_COLUMNS = (Column("ID", fixed=True), Column("PERSON"), Column("CREATED", fixed=True), Column("LAST USED", fixed=True),
            Column("REVOKED", fixed=True))


def revoke_token(store: Store, token_id: str, now: datetime) -> TokenRow:
    row = store.revoke_token(token_id.strip(), now)
    if row is None:
        raise InputError("ID", f"no token has the id {token_id!r} (see `notify token list`)")
    return row


def caller_of(store: Store, directory: Directory, token_digest: str, now: datetime) -> Caller | None:
    """The person a live personal token (by its hash) acts for, its last use stamped; None when it is
    unknown, revoked, or its person has left contacts.toml."""
    row = store.use_token(token_digest, now)
    if row is None or row.person not in directory.people:
        return None
    return Caller(row.id, row.person, directory.people[row.person].name)


def recorded_as(directory: Directory, by: str) -> tuple[str, str | None]:
    """Whom a `by` records, and their person id: a person's id, login or email is recorded by their name (one
    spelling per person in every list); anything else as given, with no id."""
    named = directory.person_named(by) if by.strip() else None
    return (named[1].name, named[0]) if named else (by.strip(), None)


def acting_as(caller: Caller | None, by: str | None, directory: Directory) -> str | None:
    """Whom to record: the caller's name with a personal token (a `by` naming someone else is refused), else `by`:
    the person's name when it is a person's id, login or email (as the CLI records it), else as given."""
    if caller is None:
        return recorded_as(directory, by)[0] if by is not None and by.strip() else by
    if by is not None and by.strip():
        named = directory.person_named(by)
        same_name = by.strip().casefold() == caller.name.casefold()
        if not same_name and (named is None or named[0] != caller.person):
            raise NotYours(str(caller), by.strip())
    return caller.name
