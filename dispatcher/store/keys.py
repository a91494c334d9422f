"""Keys a store indexes, bounded: a long one is stored as a readable prefix and a hash of the whole.

An Alertmanager ``groupKey`` (and an alert's fingerprint) is as long as its
labels make it; PostgreSQL cannot index a value over ~2.7 KB, so a 6 KB key
failed every insert, and every retry. Stored by hash instead, equal keys still
match and different keys still differ, in both stores alike. Shared by both
stores, as is schema 5's data step that rewrites long keys stored before it.
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["MAX_KEY_BYTES", "hash_long_keys", "stored_key"]

MAX_KEY_BYTES = 1024  # well under PostgreSQL's btree limit, even in a two-column index; generic keys (256) fit
_PREFIX = 100  # characters kept as written, so an operator can still tell the group in `notify inbox`


def stored_key(key: str) -> str:
    """The key as stored and compared: itself when short, else its start and its SHA-256."""
    if len(key.encode("utf-8", "surrogatepass")) <= MAX_KEY_BYTES:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{key[:_PREFIX]}...sha256:{digest}"


# Schema 5, a data step: (table, key column) pairs whose long keys an earlier version stored as written.
_KEYED = (("incidents", "dedup_key"), ("inbox", "dedup_key"), ("events", "key"))


def hash_long_keys(conn: Any, param: str) -> None:
    """Rewrite every stored key over the limit as :func:`stored_key` gives it, so later events still match."""
    for table, column in _KEYED:
        # A key of more than MAX_KEY_BYTES bytes has more than MAX_KEY_BYTES / 4 characters (UTF-8: 4 bytes at most).
        rows = conn.execute(f"SELECT id, {column} FROM {table} WHERE length({column}) > {MAX_KEY_BYTES // 4}"
                            ).fetchall()
        for row_id, key in rows:
            if stored_key(key) != key:
                conn.execute(f"UPDATE {table} SET {column} = {param} WHERE id = {param}", (stored_key(key), row_id))
