"""The inbox's SQL, shared by both stores (written with %s; SQLite's copy swaps in ?)."""

from __future__ import annotations

__all__ = ["GIVE_UP_AFTER", "INBOX_BUSY", "INBOX_COLUMNS", "INBOX_COUNTS", "INBOX_DONE", "INBOX_FAILED",
           "INBOX_NEXT", "INBOX_RELEASE"]

GIVE_UP_AFTER = 10  # failed attempts after which a row is kept for inspection but no longer tried

INBOX_COLUMNS = "id, source, dedup_key, body, received, attempts"

# Is another owner handling the inbox? (owner, now)
INBOX_BUSY = "SELECT 1 FROM inbox WHERE lease_owner IS NOT NULL AND lease_owner <> %s AND lease_until > %s LIMIT 1"

# The oldest rows free to take (never leased, lease expired, failed and due again, or already ours),
# each the oldest of its group still to be handled: a group's rows go one at a time, in order,
# and a row that keeps failing holds up its own group only. (now, owner, limit)
INBOX_NEXT = (f"SELECT id FROM inbox AS i WHERE i.attempts < {GIVE_UP_AFTER}"
              " AND (i.lease_until IS NULL OR i.lease_until <= %s OR i.lease_owner = %s)"
              " AND NOT EXISTS (SELECT 1 FROM inbox AS o WHERE o.dedup_key = i.dedup_key AND o.id < i.id"
              f" AND o.attempts < {GIVE_UP_AFTER}) ORDER BY id LIMIT %s")

# A handled row, deleted only while its owner still holds it. (id, owner)
INBOX_DONE = "DELETE FROM inbox WHERE id = %s AND lease_owner = %s"

# A failed row: counted, its error kept, free again at retry_at. (error, retry_at, id)
INBOX_FAILED = ("UPDATE inbox SET attempts = attempts + 1, error = %s, lease_owner = NULL, lease_until = %s "
                "WHERE id = %s")

# Give back an owner's rows (a clean stop, or a dead sender child): their handling is safe to repeat. (owner)
INBOX_RELEASE = "UPDATE inbox SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = %s"

# (waiting, failing, given up)
INBOX_COUNTS = (f"SELECT COUNT(*), SUM(CASE WHEN attempts > 0 AND attempts < {GIVE_UP_AFTER} THEN 1 ELSE 0 END),"
                f" SUM(CASE WHEN attempts >= {GIVE_UP_AFTER} THEN 1 ELSE 0 END) FROM inbox")
