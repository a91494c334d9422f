"""The store: incidents, the outbox of planned deliveries, and the attempt log.

One store, selected by ``NOTIFY_STORE_URL``: ``sqlite:///path`` (the default,
no server needed). Rows are written before anything is sent, so a crash never
loses a planned page and a retry never sends one twice.
"""

from __future__ import annotations

from .base import AttemptRow, DeliveryRow, EventRow, IncidentRow, Store, StoreBehind, StoreError
from .sqlite import SQLiteStore

__all__ = ["AttemptRow", "DeliveryRow", "EventRow", "IncidentRow", "SQLiteStore", "Store", "StoreBehind",
           "StoreError", "open_store", "peek_store"]


def _sqlite_path(url: str) -> str:
    """The file of a sqlite URL; only absolute paths, so every process finds the same store."""
    if not url.startswith("sqlite:///"):
        scheme = url.split(":", 1)[0]
        raise StoreError(f"NOTIFY_STORE_URL: unsupported store {scheme!r} (use sqlite:////absolute/path/notify.db)")
    path = url.removeprefix("sqlite:///")
    if not path.startswith("/"):
        raise StoreError(f"NOTIFY_STORE_URL: {url!r} names a path relative to the current directory, so commands "
                         f"run elsewhere would use another store; use an absolute path: sqlite:////{path or 'path'}")
    return path


def open_store(url: str, *, upgrade: bool = False) -> SQLiteStore:
    """Open the store named by a URL (created when new; refused when behind unless upgrading)."""
    return SQLiteStore.open(_sqlite_path(url), upgrade=upgrade)


def peek_store(url: str) -> SQLiteStore | None:
    """Open an existing store read-only, or None when there is none yet (dry runs write nothing)."""
    return SQLiteStore.open_readonly(_sqlite_path(url))
