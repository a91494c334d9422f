"""Silences and maintenance windows, shared by both stores (SQL written with %s), and the pages they held back.

A silence or window is one row of `silences` (kind silence|maintenance). Expiring one by hand moves its
end to that moment (never later) and stamps `expired`. A window's start and end are stamped once announced
(app/windows.py records each announcement once, by an id made of the window and the edge), so later ticks
find nothing left to announce without a write.
What they held back is read from the timeline: events of the kinds in :data:`HELD_KINDS`.
"""

from __future__ import annotations

import json
from datetime import datetime

from ..domain.silences import Silence
from .base import EventRow
from .times import loaded

__all__ = ["HELD_KINDS", "SilencesSQL"]

# Timeline events of a page held back: by a silence, a window, or quiet hours (and how a quiet hold ended).
HELD_KINDS = ("silenced", "maintenance", "quiet-hours")
_HELD_SHOWN = "'silenced', 'maintenance', 'quiet-hours', 'quiet-hours-released', 'quiet-hours-dropped'"

_COLUMNS = 'id, kind, matchers, services, starts, ends, created, "by", reason, expired'
INSERT = (f"INSERT INTO silences ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, NULL)")
ALL = f"SELECT {_COLUMNS} FROM silences ORDER BY starts, id"
ENDING_AFTER = f"SELECT {_COLUMNS} FROM silences WHERE ends > %s ORDER BY starts, id"
ONE = f"SELECT {_COLUMNS} FROM silences WHERE id = %s"
# Ended now, unless it had ended already; a second expiry keeps the first one's time.
EXPIRE = (f"UPDATE silences SET ends = CASE WHEN ends > %s THEN %s ELSE ends END, expired = COALESCE(expired, %s) "
          f"WHERE id = %s RETURNING {_COLUMNS}")
CLAIM = {"start": "UPDATE silences SET announced_start = %s WHERE id = %s AND announced_start IS NULL",
         "end": "UPDATE silences SET announced_end = %s WHERE id = %s AND announced_end IS NULL"}
# Windows with an edge come and not announced yet (a read: every tick asks, and most ticks find none).
UNANNOUNCED = (f"SELECT {_COLUMNS}, announced_start IS NULL AND starts <= %s, announced_end IS NULL AND ends <= %s "
               "FROM silences WHERE kind = 'maintenance' AND ends > starts AND ends > %s "
               "AND ((announced_start IS NULL AND starts <= %s) OR (announced_end IS NULL AND ends <= %s)) "
               "ORDER BY starts, id")
HELD = ('SELECT e.incident_id, e.at, e.kind, e.key, e."by", e.detail FROM events e '
        f"WHERE e.kind IN ({_HELD_SHOWN}){{where}} ORDER BY e.at, e.id")
HELD_COUNT = "SELECT kind, COUNT(*) FROM events WHERE kind IN ('silenced', 'maintenance', 'quiet-hours') GROUP BY kind"


class SilencesSQL:
    """The silences table's methods. A store provides `dialect`, `_read(query, args)` and `_statement(query, args)`."""

    def add_silence(self, silence: Silence) -> None:
        t = self.dialect.t  # type: ignore[attr-defined]
        self._statement(self.dialect.q(INSERT), (  # type: ignore[attr-defined]
            silence.id, silence.kind, json.dumps(list(silence.matchers)), json.dumps(list(silence.services)),
            t(silence.starts, "starts"), t(silence.ends, "ends"), t(silence.created, "created"), silence.by,
            silence.reason))

    def silences(self, *, ending_after: datetime | None = None) -> list[Silence]:
        """Every silence and window, earliest start first; with `ending_after`, only those not over by then."""
        if ending_after is None:
            rows = self._read(ALL)  # type: ignore[attr-defined]
        else:
            rows = self._read(self.dialect.q(ENDING_AFTER),  # type: ignore[attr-defined]
                              (self.dialect.t(ending_after, "ending_after"),))  # type: ignore[attr-defined]
        return [_silence(r) for r in rows]

    def silence(self, silence_id: str) -> Silence | None:
        rows = self._read(self.dialect.q(ONE), (silence_id,))  # type: ignore[attr-defined]
        return _silence(rows[0]) if rows else None

    def expire_silence(self, silence_id: str, now: datetime) -> Silence | None:
        """End a silence or window at `now` (one over already keeps its end); None when there is no such id."""
        at = self.dialect.t(now, "now")  # type: ignore[attr-defined]
        _, rows = self._statement(self.dialect.q(EXPIRE), (at, at, at, silence_id))  # type: ignore[attr-defined]
        return _silence(rows[0]) if rows else None

    def unannounced(self, now: datetime, since: datetime) -> list[tuple[Silence, str]]:
        """(window, edge) for each start or end come by `now` and not announced, of windows ending after `since`."""
        at, after = self.dialect.t(now, "now"), self.dialect.t(since, "since")  # type: ignore[attr-defined]
        rows = self._read(self.dialect.q(UNANNOUNCED), (at, at, after, at, at))  # type: ignore[attr-defined]
        return [(_silence(r[:10]), edge) for r in rows for edge, due in (("start", r[10]), ("end", r[11])) if due]

    def claim_announcement(self, silence_id: str, edge: str, now: datetime) -> bool:
        """True for the one caller that gets to announce a window's `edge` (start|end); False for every other."""
        at = self.dialect.t(now, "now")  # type: ignore[attr-defined]
        count, _ = self._statement(self.dialect.q(CLAIM[edge]), (at, silence_id))  # type: ignore[attr-defined]
        return count == 1

    def held(self, *, incident_id: str | None = None, since: datetime | None = None) -> list[tuple[str, EventRow]]:
        """The pages held back (a silence, a window, quiet hours) and quiet holds' ends, as (incident, event), oldest first."""
        where, args = "", []
        if incident_id is not None:
            where, args = where + " AND e.incident_id = %s", args + [incident_id]
        if since is not None:
            where, args = where + " AND e.at >= %s", args + [self.dialect.t(since, "since")]  # type: ignore[attr-defined]
        rows = self._read(self.dialect.q(HELD.format(where=where)), args)  # type: ignore[attr-defined]
        return [(r[0], EventRow(loaded(r[1]), *r[2:])) for r in rows]

    def held_counts(self) -> dict[str, int]:
        """How many pages each kind of rule held back, ever: {"silenced": n, "maintenance": m, "quiet-hours": q}."""
        counts = dict.fromkeys(HELD_KINDS, 0)
        counts.update({kind: int(n) for kind, n in self._read(HELD_COUNT)})  # type: ignore[attr-defined]
        return counts


def _silence(row: tuple) -> Silence:
    silence_id, kind, matchers, services, starts, ends, created, by, reason, expired = row
    return Silence(silence_id, kind, loaded(starts), loaded(ends), loaded(created), by, reason,
                   tuple(json.loads(matchers)), tuple(json.loads(services)), loaded(expired))
