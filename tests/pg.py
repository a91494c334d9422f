"""PostgreSQL for tests: a private schema per test on the machine's server, dropped afterwards.

The server is 127.0.0.1:5432, database `test` (NOTIFY_TEST_POSTGRES_URL names
another). Each test gets a schema of its own, selected with the URL's
``options=-csearch_path=...``, so tests and concurrent runs never see each
other's rows. Without a reachable server the tests skip, saying why, unless
NOTIFY_REQUIRE_POSTGRES=1 (CI sets it): then they fail, so a CI run cannot
pass by skipping them.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import pytest

# Read at import: the autouse clean_env fixture removes every NOTIFY_* variable before each test.
BASE_URL = os.environ.get("NOTIFY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRED = os.environ.get("NOTIFY_REQUIRE_POSTGRES") == "1"


@lru_cache(maxsize=1)
def unavailable() -> str | None:
    """Why PostgreSQL cannot be used for tests, or None when it can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    try:
        with psycopg.connect(BASE_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL is not reachable at {BASE_URL}: {' '.join(str(exc).split())}"
    return None


def require() -> None:
    """Skip this test when PostgreSQL is missing; fail instead when NOTIFY_REQUIRE_POSTGRES=1."""
    reason = unavailable()
    if reason is None:
        return
    if REQUIRED:
        pytest.fail(f"NOTIFY_REQUIRE_POSTGRES=1 but {reason}", pytrace=False)
    pytest.skip(f"{reason} (start PostgreSQL, or set NOTIFY_TEST_POSTGRES_URL)")


def url_for(schema: str) -> str:
    """BASE_URL with its search_path set to one schema."""
    separator = "&" if "?" in BASE_URL else "?"
    return f"{BASE_URL}{separator}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def schema(label: str = "t") -> Iterator[str]:
    """A new empty schema for the duration of the block; yields a store URL that uses it."""
    require()
    import psycopg
    from psycopg import sql

    name = f"notify_test_{label}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(BASE_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield url_for(name)
    finally:
        with psycopg.connect(BASE_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


@contextmanager
def store_url(kind: str, sqlite_file: Path, label: str = "t") -> Iterator[str]:
    """A URL for a store that does not exist yet: a SQLite file, or an empty PostgreSQL schema."""
    if kind == "sqlite":
        yield f"sqlite:///{sqlite_file}"
    else:
        with schema(label) as url:
            yield url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A store URL on a private, empty PostgreSQL schema (import this fixture into a test module)."""
    with schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL naming a store that does not exist yet, once on SQLite and once on an empty PostgreSQL schema
    (import `url` and `store` into a test module to run each of its tests on both)."""
    with store_url(request.param, tmp_path / "notify.db", request.module.__name__.rpartition(".")[2]) as found:
        yield found


@pytest.fixture
def store(url: str) -> Iterator:
    """The store at `url`, opened, and closed after the test."""
    from dispatcher.store import open_store

    with open_store(url) as opened:
        yield opened
