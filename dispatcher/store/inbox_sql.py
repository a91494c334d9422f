"""The inbox's SQL, shared by both stores (written with %s; SQLite's copy swaps in ?)."""

from __future__ import annotations

__all__ = ["INBOX_BUSY", "INBOX_COLUMNS", "INBOX_COUNTS", "INBOX_FAILED", "INBOX_NEXT"]

INBOX_COLUMNS = "id, source, body, received, attempts"

# Is another owner handling the inbox? (owner, now)
INBOX_BUSY = "SELECT 1 FROM inbox WHERE lease_owner IS NOT NULL AND lease_owner <> %s AND lease_until > %s LIMIT 1"

# The oldest rows free to take: never leased, lease expired, failed and due again, or already ours.
# (now, owner, limit)
INBOX_NEXT = ("SELECT id FROM inbox WHERE lease_until IS NULL OR lease_until <= %s OR lease_owner = %s "
              "ORDER BY id LIMIT %s")

# A failed row: counted, its error kept, free again at retry_at. (error, retry_at, id)
INBOX_FAILED = ("UPDATE inbox SET attempts = attempts + 1, error = %s, lease_owner = NULL, lease_until = %s "
                "WHERE id = %s")

INBOX_COUNTS = "SELECT COUNT(*), SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END) FROM inbox"
