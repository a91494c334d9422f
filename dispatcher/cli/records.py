"""CLI commands that list what is recorded and installed: `notify log` and `notify channels`."""

from __future__ import annotations

from datetime import timezone
from pathlib import Path
from typing import Any

import click

from .common import (
    _emit,
    _emit_json,
    _fail,
    _now,
    _settings,
    _table_output,
    config_dir_option,
    handles_errors,
    json_option,
    main,
)


@main.command()
@click.option("--incident", "incident_id", default=None, help="Only this incident's attempts.")
@click.option("--since", default=None, help="Only attempts since an ISO 8601 time or a duration ago (e.g. 2h).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the last N attempts.")
@json_option
@handles_errors
def log(incident_id: str | None, since: str | None, limit: int | None, as_json: bool) -> None:
    """The delivery log: one row per attempt, oldest first, targets masked."""

    from ..store import open_store

    settings = _settings()
    with open_store(settings.resolved_store_url()) as store:
        rows = store.attempts(incident_id=incident_id.strip().upper() if incident_id else None, since=_since(since),
                              limit=limit)
        stands_in = _fallback_names(store, rows)
    if as_json:
        attempts = [{**r.as_json(), "fallback_of": stands_in.get(r.fallback_of)} for r in rows]
        _emit_json({"schema": 1, "command": "log", "attempts": attempts}, settings)
        return
    if not rows:
        _emit("no attempts recorded", settings)
        return
    from ..app.report import OUTCOME_COLOURS, outcome_label
    from ..render.table import Column, render

    columns = (Column("TIME", fixed=True), Column("INCIDENT", fixed=True), Column("STEP", fixed=True),
               Column("RECIPIENT"), Column("ROLE"), Column("CHANNEL", fixed=True), Column("TARGET"),
               Column("TRY", align="right", fixed=True), Column("OUTCOME", fixed=True, colours=OUTCOME_COLOURS),
               Column("REASON"), Column("LATENCY", align="right", fixed=True), Column("NOTE"))
    _emit(render(columns, [(r.at[:19], r.incident_id, _log_step(r), r.person, r.role, r.channel,
                            r.masked_target, f"#{r.attempt}", outcome_label(r.outcome), r.reason,
                            f"{r.latency_ms:.0f} ms",
                            _log_note(r, stands_in)) for r in rows], _table_output(settings)), settings)


def _log_note(row: Any, stands_in: dict[int, str]) -> str:
    """What else a reader of the log must know about one attempt: a possible repeat, a fallback, the detail."""
    notes = ["possibly duplicated"] if row.possible_duplicate else []  # its sender died mid-send
    if row.fallback_of in stands_in:
        notes.append(f"fallback for {stands_in[row.fallback_of]}")
    return "; ".join([*notes, row.detail] if row.detail else notes)


def _fallback_names(store: Any, rows: list[Any]) -> dict[int, str]:
    """Delivery id -> "recipient/channel", for the deliveries the logged fallbacks stand in for."""
    names: dict[int, str] = {}
    for incident_id in {r.incident_id for r in rows if r.fallback_of is not None}:
        names.update({d.id: f"{d.person}/{d.channel}" for d in store.deliveries(incident_id)})
    return names


def _log_step(row: Any) -> str:
    """'step 0' for the policy's steps; the kind for the rest (update, escalation, resolved...)."""
    return f"step {row.step}" if row.kind == "step" else row.kind


def _since(value: str | None) -> str | None:
    """--since as an ISO timestamp comparable with the log's."""
    if not value:
        return None
    from ..domain.durations import parse_duration
    from ..domain.incident import parse_started

    try:
        return (_now() - parse_duration(value)).isoformat()
    except ValueError:
        pass
    try:
        return parse_started(value, _now()).astimezone(timezone.utc).isoformat()
    except ValueError:
        _fail(f"--since: {value!r} is neither an ISO 8601 time nor a duration like 2h")


@main.command()
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def channels(ctx: click.Context, as_json: bool, local_config_dir: Path | None) -> None:
    """List installed channels, what they support and whether each is configured."""

    from ..app.views import installed_channels

    settings = _settings()
    rows = installed_channels(settings)
    if as_json:
        _emit_json({"schema": 1, "command": "channels", "channels": rows}, settings)
        return
    from ..config.settings import channel_variable
    from ..render.table import Column, render

    columns = (Column("CHANNEL"), Column("STATE", fixed=True, colours={"configured": "green", "not configured": "yellow"}),
               Column("SENDS TO"), Column("SETTING", fixed=True), Column("MODULE"))
    table = [(row["name"], "configured" if row["configured"] else "not configured", row["target"],
              channel_variable(row["name"]), row["module"])
             for row in sorted(rows, key=lambda r: r["name"])]
    missing = any(not row["configured"] for row in rows)
    hint = "\na channel not configured needs its SETTING set to a URL (docs/operations/channels.md)" if missing else ""
    _emit(render(columns, table, _table_output(settings)) + hint, settings)
