"""The store: incidents, the outbox of planned deliveries, and the attempt log.

One store, selected by ``NOTIFY_STORE_URL``: ``sqlite:////absolute/path`` (the
default, no server needed) or ``postgresql://user@host/db`` (shared by several
`notify serve`/`notify worker` processes; needs the ``postgres`` extra). Rows
are written before anything is sent, so a crash never loses a planned page and
a retry never sends one twice.
"""

from __future__ import annotations

from .base import (DUE_NOW, AlreadyHandled, AttemptRow, DeliveryRow, EventRow, InboxRow, IncidentRow, LinkRow,
                   NewDelivery, Store, StoreBehind, StoreError, StoreRejected)
from .sqlite import SQLiteStore
from .urls import is_keyword_form, mask_store_url

__all__ = ["DUE_NOW", "AlreadyHandled", "AttemptRow", "DeliveryRow", "EventRow", "InboxRow", "IncidentRow", "LinkRow",
           "NewDelivery", "SQLiteStore", "Store",
           "StoreBehind", "StoreError", "StoreRejected", "open_store", "peek_store"]


def _sqlite_path(url: str) -> str:
    """The file of a sqlite URL; only absolute paths, so every process finds the same store."""
    if is_keyword_form(url):  # libpq's host=... password=... form: say how to write it, never echo the password
        raise StoreError(f"NOTIFY_STORE_URL: {mask_store_url(url)!r} is a key=value connection string; write it as "
                         "a URL: postgresql://USER:PASSWORD@HOST:PORT/DB (percent-encode special characters)")
    if not url.startswith("sqlite:///"):
        scheme = mask_store_url(url).split(":", 1)[0]
        raise StoreError(f"NOTIFY_STORE_URL: unsupported store {scheme!r} (use sqlite:////absolute/path/notify.db)")
    path = url.removeprefix("sqlite:///")
    if not path.startswith("/"):
        raise StoreError(f"NOTIFY_STORE_URL: {url!r} names a path relative to the current directory, so commands "
                         f"run elsewhere would use another store; use an absolute path: sqlite:////{path or 'path'}")
    return path


_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_store(url: str, *, upgrade: bool = False, timeout: float | None = None) -> Store:
    """Open the store named by a URL (created when new; refused when behind unless upgrading).

    `timeout`: seconds a PostgreSQL connection may take to open, and a caller may wait for a free
    one (`notify serve` passes NOTIFY_STORE_TIMEOUT); None keeps the driver's 10 s.
    """
    if url.startswith(_POSTGRES_SCHEMES):
        return _postgres().PostgresStore.open(url, upgrade=upgrade, timeout=timeout)
    return SQLiteStore.open(_sqlite_path(url), upgrade=upgrade)


def peek_store(url: str) -> Store | None:
    """Open an existing store read-only, or None when there is none yet (dry runs write nothing)."""
    if url.startswith(_POSTGRES_SCHEMES):
        return _postgres().PostgresStore.open_readonly(url)
    return SQLiteStore.open_readonly(_sqlite_path(url))


def _postgres():
    """The PostgreSQL store's module, imported only when asked for: psycopg is an optional dependency."""
    try:
        from . import postgres
    except ImportError as exc:
        raise StoreError(f"NOTIFY_STORE_URL: a PostgreSQL store needs psycopg ({exc}); install it with "
                         "pip install 'teamflow-notify[postgres]'") from None
    return postgres
