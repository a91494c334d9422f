"""Post-incident reviews and drill runs, shared by both stores (SQL written with %s).

A review opens when an immediate- or priority-tier incident is resolved: its
root cause is due 48 hours later (`notify review ID --root-cause`), and the
customer's satisfaction answer (`--csat N`) is kept beside it. A drill run is
one summary row per `notify drill` in the main store, so the monthly report
counts drills without the drill's sandbox store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..clock import iso
from .times import loaded

__all__ = ["DrillRunRow", "ReviewRow", "ReviewsSQL"]

_REVIEW_COLUMNS = ("incident_id, resolved_at, root_cause_due, root_cause, root_cause_link, root_cause_at, "
                   "root_cause_by, csat, csat_at")
OPEN = ("INSERT INTO reviews (incident_id, resolved_at, root_cause_due) VALUES (%s, %s, %s) "
        "ON CONFLICT (incident_id) DO NOTHING")
ONE = f"SELECT {_REVIEW_COLUMNS} FROM reviews WHERE incident_id = %s"
RESOLVED_BETWEEN = (f"SELECT {_REVIEW_COLUMNS} FROM reviews WHERE resolved_at >= %s AND resolved_at < %s "
                    "ORDER BY resolved_at, incident_id")
# Open root causes whose reminders or breach may still fire: due after `since` (the worker's look-back)
PENDING = (f"SELECT {_REVIEW_COLUMNS} FROM reviews WHERE root_cause IS NULL AND root_cause_due >= %s "
           "ORDER BY root_cause_due, incident_id")
ALL_PENDING = (f"SELECT {_REVIEW_COLUMNS} FROM reviews WHERE root_cause IS NULL "
               "ORDER BY root_cause_due, incident_id")
ROOT_CAUSE = (f"UPDATE reviews SET root_cause = %s, root_cause_link = %s, root_cause_at = %s, root_cause_by = %s "
              f"WHERE incident_id = %s RETURNING {_REVIEW_COLUMNS}")
CSAT = f"UPDATE reviews SET csat = %s, csat_at = %s WHERE incident_id = %s RETURNING {_REVIEW_COLUMNS}"
ADD_DRILL = ("INSERT INTO drill_runs (scenario, klass, started, finished, passed, summary) "
             "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id")
DRILLS_BETWEEN = ("SELECT id, scenario, klass, started, finished, passed, summary FROM drill_runs "
                  "WHERE started >= %s AND started < %s ORDER BY started, id")


@dataclass(frozen=True)
class ReviewRow:
    """One resolved incident's review obligations and what was recorded against them."""

    incident_id: str
    resolved_at: datetime
    root_cause_due: datetime
    root_cause: str | None = None
    root_cause_link: str | None = None
    root_cause_at: datetime | None = None
    root_cause_by: str | None = None
    csat: int | None = None
    csat_at: datetime | None = None

    @classmethod
    def loaded(cls, row: tuple) -> ReviewRow:
        iid, resolved, due, cause, link, cause_at, by, csat, csat_at = row
        return cls(iid, loaded(resolved), loaded(due), cause, link, loaded(cause_at), by,
                   None if csat is None else int(csat), loaded(csat_at))

    @property
    def root_cause_on_time(self) -> bool | None:
        """True/False once recorded; None while still open."""
        return None if self.root_cause_at is None else self.root_cause_at <= self.root_cause_due

    def as_json(self) -> dict[str, Any]:
        return {"incident": self.incident_id, "resolved_at": self.resolved_at.isoformat(),
                "root_cause_due": self.root_cause_due.isoformat(), "root_cause": self.root_cause,
                "root_cause_link": self.root_cause_link, "root_cause_at": iso(self.root_cause_at),
                "root_cause_by": self.root_cause_by, "csat": self.csat, "csat_at": iso(self.csat_at)}


@dataclass(frozen=True)
class DrillRunRow:
    """The summary a drill leaves in the main store."""

    id: int
    scenario: str
    klass: str
    started: datetime
    finished: datetime
    passed: bool
    summary: dict[str, Any]

    @classmethod
    def loaded(cls, row: tuple) -> DrillRunRow:
        rid, scenario, klass, started, finished, passed, summary = row
        return cls(int(rid), scenario, klass, loaded(started), loaded(finished), bool(passed), json.loads(summary))


class ReviewsSQL:
    """The reviews and drill_runs tables' methods. A store provides `dialect`, `_read` and `_statement`."""

    def open_review(self, incident_id: str, resolved_at: datetime, root_cause_due: datetime) -> bool:
        """Open an incident's review once; False when it was open already."""
        t = self.dialect.t  # type: ignore[attr-defined]
        count, _ = self._statement(self.dialect.q(OPEN),  # type: ignore[attr-defined]
                                   (incident_id, t(resolved_at, "resolved_at"), t(root_cause_due, "root_cause_due")))
        return count == 1

    def review(self, incident_id: str) -> ReviewRow | None:
        rows = self._read(self.dialect.q(ONE), (incident_id,))  # type: ignore[attr-defined]
        return ReviewRow.loaded(rows[0]) if rows else None

    def reviews(self, since: datetime, until: datetime) -> list[ReviewRow]:
        """Reviews of incidents resolved in [since, until)."""
        t = self.dialect.t  # type: ignore[attr-defined]
        rows = self._read(self.dialect.q(RESOLVED_BETWEEN), (t(since, "since"), t(until, "until")))  # type: ignore[attr-defined]
        return [ReviewRow.loaded(r) for r in rows]

    def pending_reviews(self, due_since: datetime | None = None) -> list[ReviewRow]:
        """Reviews without a root cause, soonest due first; with `due_since`, only those due from then on."""
        if due_since is None:
            rows = self._read(self.dialect.q(ALL_PENDING))  # type: ignore[attr-defined]
        else:
            rows = self._read(self.dialect.q(PENDING), (self.dialect.t(due_since, "due_since"),))  # type: ignore[attr-defined]
        return [ReviewRow.loaded(r) for r in rows]

    def record_root_cause(self, incident_id: str, root_cause: str, link: str | None, by: str | None,
                          at: datetime) -> ReviewRow | None:
        """Record (or correct) the root cause; None when the incident has no review."""
        args = (root_cause, link, self.dialect.t(at, "at"), by, incident_id)  # type: ignore[attr-defined]
        _, rows = self._statement(self.dialect.q(ROOT_CAUSE), args)  # type: ignore[attr-defined]
        return ReviewRow.loaded(rows[0]) if rows else None

    def record_csat(self, incident_id: str, score: int, at: datetime) -> ReviewRow | None:
        """Record the customer's satisfaction answer (a later one replaces it); None without a review."""
        args = (int(score), self.dialect.t(at, "at"), incident_id)  # type: ignore[attr-defined]
        _, rows = self._statement(self.dialect.q(CSAT), args)  # type: ignore[attr-defined]
        return ReviewRow.loaded(rows[0]) if rows else None

    def add_drill_run(self, scenario: str, klass: str, started: datetime, finished: datetime, passed: bool,
                      summary: dict[str, Any]) -> int:
        t = self.dialect.t  # type: ignore[attr-defined]
        args = (scenario, klass, t(started, "started"), t(finished, "finished"), int(passed),
                json.dumps(summary, sort_keys=True))
        _, rows = self._statement(self.dialect.q(ADD_DRILL), args)  # type: ignore[attr-defined]
        return int(rows[0][0])

    def drill_runs(self, since: datetime, until: datetime) -> list[DrillRunRow]:
        """Drills started in [since, until)."""
        t = self.dialect.t  # type: ignore[attr-defined]
        rows = self._read(self.dialect.q(DRILLS_BETWEEN), (t(since, "since"), t(until, "until")))  # type: ignore[attr-defined]
        return [DrillRunRow.loaded(r) for r in rows]
