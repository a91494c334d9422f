"""Pages held back by quiet hours, shared by both stores (SQL written with %s): released or dropped once.

A standard-tier page to a person outside their working hours is stored held,
its reason starting with :data:`QUIET_HOURS` (app/quiet_hours.py). The worker
later releases it (working hours began, or the response SLA passed
unacknowledged) or drops it (acknowledged or resolved first): the timeline event
and the rows' change are one transaction, keyed like every timer, so two
workers never ring the phone twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..domain.quiet_hours import QUIET_HOURS
from ..domain.states import DeliveryState
from . import sql
from .keys import stored_key

__all__ = ["QUIET_HOURS", "HoldsSQL"]

_HELD, _PENDING, _SKIPPED = DeliveryState.HELD, DeliveryState.PENDING, DeliveryState.SKIPPED
RELEASE = (f"UPDATE deliveries SET status = '{_PENDING}', reason = NULL, next_attempt_at = NULL, updated = %s"
           f" WHERE incident_id = %s AND status = '{_HELD}' AND id IN ")
DROP = (f"UPDATE deliveries SET status = '{_SKIPPED}', skip = %s, reason = NULL, updated = %s"
        f" WHERE incident_id = %s AND status = '{_HELD}' AND id IN ")
# The index deliveries_due (status, next_attempt_at) finds the held rows without reading the others.
QUIET_HELD = f"SELECT DISTINCT incident_id FROM deliveries WHERE status = '{_HELD}' AND reason LIKE 'quiet hours%%'"


class HoldsSQL:
    """Release or drop held pages with their timeline event. A store provides `dialect`, `_read` and `_write`."""

    def settle_held(self, incident_id: str, ids: Iterable[int], key: str, kind: str, at: datetime, detail: str,
                    *, release: bool, skip: str = "") -> bool:
        """Record the event `key` once and, in the same transaction, make the held rows `ids` pending (release)
        or skipped with `skip`; False, changing nothing, when the event was recorded before."""
        d, key, chosen = self.dialect, stored_key(key), [int(i) for i in ids]  # type: ignore[attr-defined]
        when = d.t(at, "at")
        if self._read(d.q(sql.EVENT_SEEN), (incident_id, key)):  # type: ignore[attr-defined]
            return False

        def work(conn: Any) -> bool:
            if conn.execute(d.q(sql.INSERT_EVENT), (incident_id, key, kind, when, None, detail)).rowcount != 1:
                return False
            if chosen:
                in_ids, id_args = d.ids(chosen)
                args = (when, incident_id) if release else (skip, when, incident_id)
                conn.execute(d.q((RELEASE if release else DROP) + in_ids), (*args, *id_args))
            return True

        return self._write(work)  # type: ignore[attr-defined]

    def quiet_held_incidents(self) -> set[str]:
        """The incidents holding a page for quiet hours: the only ones the worker's tick need look at."""
        return {row[0] for row in self._read(self.dialect.q(QUIET_HELD))}  # type: ignore[attr-defined]

