"""`notify log --csv` and `notify incidents --csv`: the same records as the tables, for auditors' spreadsheets.

Each cell is masked as the text output is (targets masked in the store, every configured secret scrubbed, no
bidi control or carriage return), then neutralised against spreadsheet formula injection: a cell starting with
``=``, ``+``, ``-`` or ``@`` (after any leading blanks, or a tab or line break, which some spreadsheets skip
before one) gets a leading ``'``, so a spreadsheet shows it as text and never runs it (OWASP, "CSV Injection"). An incident title
such as ``=HYPERLINK("http://evil.example","click")`` reads back as that text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from .tables import _log_note, _log_step
from .terminal import printable

__all__ = ["FORMULA_STARTS", "incidents_csv", "log_csv", "safe_cell"]

FORMULA_STARTS = ("=", "+", "-", "@")

LOG_COLUMNS = ("time", "incident", "class", "step", "recipient", "role", "channel", "target", "attempt", "outcome",
               "reason", "latency_ms", "delivered_to", "provider_id", "note")
INCIDENT_COLUMNS = ("id", "class", "status", "drill", "started", "summary", "acked_by", "resolved_at", "needs_review")


def safe_cell(value: Any, secrets: tuple[str, ...] = ()) -> str:
    """One cell: masked as the text output is, and never a formula."""
    text = "" if value is None else printable(str(value), secrets)
    return "'" + text if text.lstrip().startswith(FORMULA_STARTS) or text[:1].isspace() else text


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]], secrets: tuple[str, ...]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")  # "\n": the output's last pass turns a CR into a newline anyway
    writer.writerow(header)
    writer.writerows([safe_cell(value, secrets) for value in row] for row in rows)
    return out.getvalue().rstrip("\n")


def log_csv(rows: list[Any], stands_in: dict[int, str], secrets: tuple[str, ...] = ()) -> str:
    """The delivery log, one row per attempt, oldest first, with the columns of LOG_COLUMNS."""
    return _csv(LOG_COLUMNS, ((r.at.isoformat(), r.incident_id, r.klass, _log_step(r), r.person, r.role, r.channel,
                               r.masked_target, r.attempt, r.outcome, r.reason, f"{r.latency_ms:.1f}",
                               r.delivered_to, r.provider_id, _log_note(r, stands_in)) for r in rows), secrets)


def incidents_csv(items: list[dict[str, Any]], secrets: tuple[str, ...] = ()) -> str:
    """Incidents as `notify incidents` lists them, with the columns of INCIDENT_COLUMNS."""
    return _csv(INCIDENT_COLUMNS, ([i.get(column) for column in INCIDENT_COLUMNS] for i in items), secrets)
