"""Heartbeats (dead man's switches), shared by both stores (SQL written with %s): one row per heartbeat name.

A monitor posts `/heartbeat/NAME` every interval; the worker's tick reads
:meth:`HeartbeatsSQL.heartbeat_rows` and opens a `monitoring` incident for one
late by its grace. A row knows its state (ok or late) and the incident its
silence opened, so a beat after the silence resolves exactly that incident,
once: the state changes in one conditional statement, which only one caller wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..clock import iso
from .times import loaded

__all__ = ["HeartbeatRow", "HeartbeatsSQL"]

COLUMNS = "name, interval_s, grace_s, first_beat, last_beat, beats, state, incident_id, late_since, source"
ROW = f"SELECT {COLUMNS} FROM heartbeats WHERE name = %s"
ROWS = f"SELECT {COLUMNS} FROM heartbeats ORDER BY name"
BEAT = ("INSERT INTO heartbeats (name, interval_s, grace_s, first_beat, last_beat, beats, state, source)"
        " VALUES (%s, %s, %s, %s, %s, 1, 'ok', %s) ON CONFLICT (name) DO UPDATE SET"
        " interval_s = EXCLUDED.interval_s, grace_s = EXCLUDED.grace_s, source = EXCLUDED.source,"
        " last_beat = CASE WHEN heartbeats.last_beat > EXCLUDED.last_beat THEN heartbeats.last_beat"
        " ELSE EXCLUDED.last_beat END, beats = heartbeats.beats + 1"
        f" RETURNING {COLUMNS}")
# Late only if no beat came since the tick read it (`last_beat` unchanged) and it is not late already.
LATE = ("UPDATE heartbeats SET state = 'late', incident_id = %s, late_since = %s"
        " WHERE name = %s AND state = 'ok' AND last_beat = %s")
# Back: the one caller that finds it late takes the incident to resolve.
RECOVERED = "UPDATE heartbeats SET state = 'ok', late_since = NULL WHERE name = %s AND state = 'late' RETURNING incident_id"
FORGET = "DELETE FROM heartbeats WHERE name = %s"


@dataclass(frozen=True)
class HeartbeatRow:
    """One heartbeat as the store keeps it: when it beat, how often it must, and whether it is late."""

    name: str
    interval: timedelta
    grace: timedelta
    first_beat: datetime
    last_beat: datetime
    beats: int
    state: str  # ok | late
    incident_id: str | None  # the monitoring incident its latest silence opened
    late_since: datetime | None
    source: str  # what beat last: "http" (POST /heartbeat/NAME) or "alertmanager" (its Watchdog alert)

    @classmethod
    def loaded(cls, row: tuple) -> HeartbeatRow:
        name, interval, grace, first, last, beats, state, incident_id, late_since, source = row
        return cls(name, timedelta(seconds=float(interval)), timedelta(seconds=float(grace)), loaded(first),
                   loaded(last), int(beats), state, incident_id, loaded(late_since), source)

    @property
    def deadline(self) -> datetime:
        """When it counts as late: the last beat, plus its interval, plus its grace."""
        return self.last_beat + self.interval + self.grace

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "interval_seconds": self.interval.total_seconds(),
                "grace_seconds": self.grace.total_seconds(), "first_beat": iso(self.first_beat),
                "last_beat": iso(self.last_beat), "beats": self.beats, "state": self.state,
                "late_after": iso(self.deadline), "incident": self.incident_id, "late_since": iso(self.late_since),
                "source": self.source}


class HeartbeatsSQL:
    """The heartbeats table's methods. A store provides `dialect`, `_read(query, args)` and `_statement(query, args)`."""

    def record_beat(self, name: str, at: datetime, interval: timedelta, grace: timedelta,
                    source: str = "http") -> HeartbeatRow:
        """Record a beat (the first creates the heartbeat); a beat older than the last one leaves it as it was."""
        at = self.dialect.t(at, "at")  # type: ignore[attr-defined]
        _, rows = self._statement(self.dialect.q(BEAT), (  # type: ignore[attr-defined]
            name, interval.total_seconds(), grace.total_seconds(), at, at, source))
        return HeartbeatRow.loaded(rows[0])

    def heartbeat_row(self, name: str) -> HeartbeatRow | None:
        rows = self._read(self.dialect.q(ROW), (name,))  # type: ignore[attr-defined]
        return HeartbeatRow.loaded(rows[0]) if rows else None

    def heartbeat_rows(self) -> list[HeartbeatRow]:
        return [HeartbeatRow.loaded(r) for r in self._read(self.dialect.q(ROWS))]  # type: ignore[attr-defined]

    def mark_heartbeat_late(self, row: HeartbeatRow, incident_id: str, at: datetime) -> bool:
        """Late, with the incident its silence opened; False when it beat (or was marked) since `row` was read."""
        d = self.dialect  # type: ignore[attr-defined]
        count, _ = self._statement(d.q(LATE), (incident_id, d.t(at, "at"), row.name,  # type: ignore[attr-defined]
                                               d.t(row.last_beat, "last_beat")))
        return count == 1

    def mark_heartbeat_back(self, name: str) -> str | None:
        """Back to ok; the incident its silence opened, to the one caller that found it late (else None)."""
        _, rows = self._statement(self.dialect.q(RECOVERED), (name,))  # type: ignore[attr-defined]
        return rows[0][0] if rows else None

    def forget_heartbeat(self, name: str) -> bool:
        count, _ = self._statement(self.dialect.q(FORGET), (name,))  # type: ignore[attr-defined]
        return count == 1
