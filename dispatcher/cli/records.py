"""CLI commands that list what is recorded and installed: `notify log` and `notify channels`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from .common import (
    _emit,
    _emit_json,
    _fail,
    _local_store,
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
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV for a spreadsheet: masked as the table is, and no "
                                                    "cell can run as a formula.")
@handles_errors
def log(incident_id: str | None, since: str | None, limit: int | None, as_json: bool, as_csv: bool) -> None:
    """The delivery log: one row per attempt, oldest first, targets masked; then the pages held back (a silence,
    a maintenance window, quiet hours) and what ended each hold."""
    if as_json and as_csv:
        raise click.UsageError("--json and --csv: choose one")

    settings = _settings()
    with _local_store(settings) as store:
        wanted = incident_id.strip().upper() if incident_id else None
        rows = store.attempts(incident_id=wanted, since=_since(since), limit=limit)
        stands_in = _fallback_names(store, rows)
        held = store.held(incident_id=wanted, since=_since(since))  # pages a rule held back: no attempt made
    if as_json:
        attempts = [{**r.as_json(), "fallback_of": stands_in.get(r.fallback_of)} for r in rows]
        _emit_json({"schema": 1, "command": "log", "attempts": attempts,
                    "held": [{"incident": i, **e.as_json()} for i, e in held]}, settings)
        return
    if as_csv:  # the attempts, for an auditor's spreadsheet
        from ..app.exports import log_csv

        _emit(log_csv(rows, stands_in, settings.secrets()), settings)
        return
    from ..app.tables import held_table, log_table

    parts = [log_table(rows, stands_in, _table_output(settings)) if rows else "no attempts recorded"]
    if held:
        parts.append("held back (no attempt made yet):\n" + held_table(held, _table_output(settings)))
    _emit("\n".join(parts), settings)


def _fallback_names(store: Any, rows: list[Any]) -> dict[int, str]:
    """Delivery id -> "recipient/channel", for the deliveries the logged fallbacks stand in for."""
    names: dict[int, str] = {}
    for incident_id in {r.incident_id for r in rows if r.fallback_of is not None}:
        names.update({d.id: f"{d.person}/{d.channel}" for d in store.deliveries(incident_id)})
    return names


def _since(value: str | None) -> datetime | None:
    """--since as an aware time."""
    if not value:
        return None
    from ..app.inputs import since

    try:
        return since(value, _now())
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
    from ..app.tables import channels_table

    _emit(channels_table(rows, _table_output(settings)), settings)
