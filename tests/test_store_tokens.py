"""Personal API tokens in the store, on SQLite and on PostgreSQL: hashes only, last use, revocation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dispatcher.app.tokens import (
    acting_as,
    caller_of,
    create_token,
    digest,
    revoke_token,
)
from dispatcher.config.directory import load_directory
from dispatcher.errors import InputError, NotYours

from . import pg

url, store = pg.url, pg.store  # each test runs on SQLite and on PostgreSQL

T0 = datetime.fromisoformat("2026-11-26T03:00:00+00:00")
T1 = datetime.fromisoformat("2026-11-26T03:01:00+00:00")
T2 = datetime.fromisoformat("2026-11-26T03:02:00+00:00")
NOW = datetime(2026, 11, 26, 3, 5, tzinfo=UTC)


def test_a_token_is_found_by_its_hash_and_its_use_stamped(store: Any) -> None:
    store.add_token("tok_a", "cto", digest("notify_secret-a"), T0)
    [row] = store.tokens()
    assert (row.id, row.person, row.created, row.last_used, row.revoked) == ("tok_a", "cto", T0, None, None)
    used = store.use_token(digest("notify_secret-a"), T1)
    assert (used.id, used.person, used.last_used) == ("tok_a", "cto", T1)
    assert store.tokens()[0].last_used == T1
    assert store.use_token(digest("notify_secret-b"), T1) is None


def test_a_revoked_token_matches_nothing_and_keeps_its_first_revocation(store: Any) -> None:
    store.add_token("tok_a", "cto", digest("notify_secret-a"), T0)
    assert store.revoke_token("tok_a", T1).revoked == T1
    assert store.revoke_token("tok_a", T2).revoked == T1
    assert store.use_token(digest("notify_secret-a"), T2) is None
    assert store.revoke_token("tok_missing", T2) is None


def test_two_tokens_never_share_a_hash(store: Any) -> None:
    """256 random bits never collide; if they did, the second token must not silently act as the first's person."""
    store.add_token("tok_a", "cto", digest("notify_same"), T0)
    with pytest.raises(Exception, match=r"UNIQUE constraint failed: api_tokens.hash|api_tokens_hash_key"):
        store.add_token("tok_b", "ceo", digest("notify_same"), T0)
    assert [(r.id, r.person) for r in store.tokens()] == [("tok_a", "cto")]


def test_create_shows_the_token_once_and_stores_its_hash(store: Any, config_dir: Path) -> None:
    directory = load_directory(config_dir / "contacts.toml")
    new = create_token(store, directory, "CTO", NOW)  # a person id, matched in any case
    assert (new.person, new.name) == ("cto", "CTO") and new.token.startswith("notify_")
    assert caller_of(store, directory, digest(new.token), NOW).person == "cto"
    assert caller_of(store, directory, digest(new.token + "x"), NOW) is None
    revoke_token(store, new.id, NOW)
    assert caller_of(store, directory, digest(new.token), NOW) is None
    with pytest.raises(InputError, match="'nobody' is nobody in contacts.toml"):
        create_token(store, directory, "nobody", NOW)
    with pytest.raises(InputError, match="no token has the id 'tok_x'"):
        revoke_token(store, "tok_x", NOW)


def test_a_token_acts_only_as_its_person(store: Any, config_dir: Path) -> None:
    directory = load_directory(config_dir / "contacts.toml")
    caller = caller_of(store, directory, digest(create_token(store, directory, "cto", NOW).token), NOW)
    assert acting_as(caller, None, directory) == "CTO"
    assert acting_as(caller, "cto", directory) == acting_as(caller, " CTO ", directory) == "CTO"
    with pytest.raises(NotYours) as refused:
        acting_as(caller, "ceo", directory)
    assert str(refused.value).startswith("this token acts for CTO (cto); it cannot act as 'ceo'")
    assert acting_as(None, "Night Operator", directory) == "Night Operator"  # the operator token: as given
