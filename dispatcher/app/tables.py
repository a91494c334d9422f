"""The tables of the listing commands: `notify log`, `notify incidents`, `notify inbox` and `notify channels`.

Each takes the rows its command read (the attempt log, incident items, stored
webhooks, installed channels) and the :class:`~dispatcher.render.table.Output`
the CLI found, and returns the text to print; the commands' JSON documents carry
the same rows. A report's, a status's and a drill's tables live with their use
cases (:mod:`.report`, :mod:`.incidents`, :mod:`.drill_report`).
"""

from __future__ import annotations

from typing import Any

from ..config.settings import channel_variable
from ..render.table import Column, Output, render
from .report import OUTCOME_COLOURS, outcome_label

__all__ = ["channels_table", "held_table", "inbox_table", "incidents_table", "log_table"]


def log_table(rows: list[Any], stands_in: dict[int, str], out: Output) -> str:
    """The delivery log: one row per attempt, with what a fallback stands in for."""
    columns = (Column("TIME", fixed=True), Column("INCIDENT", fixed=True), Column("STEP", fixed=True),
               Column("RECIPIENT"), Column("ROLE"), Column("CHANNEL", fixed=True), Column("TARGET"),
               Column("TRY", align="right", fixed=True), Column("OUTCOME", fixed=True, colours=OUTCOME_COLOURS),
               Column("REASON"), Column("LATENCY", align="right", fixed=True), Column("NOTE"))
    return render(columns, [(r.at.isoformat()[:19], r.incident_id, _log_step(r), r.person, r.role, r.channel,
                             r.masked_target, f"#{r.attempt}", outcome_label(r.outcome), r.reason, f"{r.latency_ms:.0f} ms",
                             _log_note(r, stands_in)) for r in rows], out)


def held_table(rows: list[tuple[str, Any]], out: Output) -> str:
    """The pages held back and what ended each hold: (incident, timeline event) pairs, naming the silence, window
    or quiet-hours rule; no attempt was made, so the attempt log has no row for them."""
    columns = (Column("TIME", fixed=True), Column("INCIDENT", fixed=True), Column("HELD BY", fixed=True),
               Column("DETAIL"))
    return render(columns, [(e.at.isoformat()[:19], incident_id, e.kind, e.detail) for incident_id, e in rows], out)


def _log_note(row: Any, stands_in: dict[int, str]) -> str:
    """What else a reader of the log must know about one attempt: a possible repeat, a fallback, the detail."""
    notes = ["possibly duplicated"] if row.possible_duplicate else []  # its sender died mid-send
    if row.fallback_of in stands_in:
        notes.append(f"fallback for {stands_in[row.fallback_of]}")
    return "; ".join([*notes, row.detail] if row.detail else notes)


def _log_step(row: Any) -> str:
    """'step 0' for the policy's steps; the kind for the rest (update, escalation, resolved...)."""
    return f"step {row.step}" if row.kind == "step" else row.kind


def incidents_table(items: list[dict[str, Any]], out: Output) -> str:
    """Incidents, newest last: id, class, status, start and summary ([DRILL] for a drill's)."""
    # Imported here: the other listings need not load the use cases behind it.
    from .incidents import STATUS_COLOURS

    columns = (Column("ID", fixed=True), Column("CLASS"), Column("STATUS", fixed=True, colours=STATUS_COLOURS),
               Column("STARTED", fixed=True), Column("SUMMARY"))
    rows = [(i["id"], i["class"] + (" (needs review)" if i.get("needs_review") else ""), i["status"], i["started"][:16],
             ("[DRILL] " if i["drill"] else "") + i["summary"]) for i in items]
    return render(columns, rows, out)


def inbox_table(rows: list[dict], out: Output) -> str:
    """The stored webhooks: waiting, failing or given up."""
    columns = (Column("ID", align="right", fixed=True), Column("SOURCE"),
               Column("STATE", fixed=True, colours={"given up": "red", "failing": "yellow"}),
               Column("TRIES", align="right", fixed=True), Column("RECEIVED", fixed=True), Column("GROUP"),
               Column("ERROR"))
    return render(columns, [(r["id"], r["source"], r["state"], r["attempts"], r["received"].isoformat()[:19],
                             r["dedup_key"], r["error"] or "") for r in rows], out)


def channels_table(rows: list[dict[str, Any]], out: Output) -> str:
    """The installed channels, and whether each is configured (with a hint when one is not)."""
    columns = (Column("CHANNEL"), Column("STATE", fixed=True, colours={"configured": "green", "not configured": "yellow"}),
               Column("SENDS TO"), Column("SETTING", fixed=True), Column("MODULE"))
    table = [(row["name"], "configured" if row["configured"] else "not configured", row["target"],
              channel_variable(row["name"]), row["module"])
             for row in sorted(rows, key=lambda r: r["name"])]
    missing = any(not row["configured"] for row in rows)
    hint = "\na channel not configured needs its SETTING set to a URL (docs/operations/channels.md)" if missing else ""
    return render(columns, table, out) + hint
