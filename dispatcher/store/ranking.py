"""Schema 10: each delivery stored with its priority (domain/priority.py), the first key of the claim's order.

The rank is fixed when the row is planned, from its kind and step, so the claim
orders on a plain column and an index serves that order (see sql.CLAIM). Shared by
both stores: the column, the index and the backfill are written in the SQL they share.
"""

from __future__ import annotations

from typing import Any

from ..domain.priority import Priority, priority_of
from ..domain.states import DeliveryState

__all__ = ["CLAIM_ORDER", "add_priority"]

# The claim's order: priority, then the longest due (a fresh row since it was planned, a retry since its
# next try came), then id. The index below has these very keys, so a claim reads the due rows in order
# and stops at its limit instead of sorting every due row.
CLAIM_ORDER = "priority, COALESCE(next_attempt_at, created), id"
_CLAIMABLE = f"status IN ('{DeliveryState.PENDING}', '{DeliveryState.IN_FLIGHT}')"

# A row inserted without a rank (by a notify from before this schema, still running during the upgrade) is
# ranked a page: an update sent early costs less than a page held back.
_COLUMN = f"ALTER TABLE deliveries ADD COLUMN priority INTEGER NOT NULL DEFAULT {int(Priority.PAGE)}"
# Partial: only the rows a claim can pick (done rows are most of the table, and never claimed again
# unless `notify retry` makes them pending, which enters them here).
INDEX = f"CREATE INDEX deliveries_claim_order ON deliveries (priority, (COALESCE(next_attempt_at, created)), id)" \
        f" WHERE {_CLAIMABLE}"


def add_priority(conn: Any, param: str) -> None:
    """Add the column and its index, and rank every stored row (done ones too: `notify retry` may send them)."""
    conn.execute(_COLUMN)
    conn.execute(INDEX)
    pairs = conn.execute("SELECT DISTINCT kind, step FROM deliveries").fetchall()
    ranked = [(kind, step, int(priority_of(kind, step))) for kind, step in pairs]
    for kind, step, rank in ranked:
        if rank != Priority.PAGE:  # the column's default
            conn.execute(f"UPDATE deliveries SET priority = {param} WHERE kind = {param} AND step = {param}",
                         (rank, kind, step))
