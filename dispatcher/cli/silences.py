"""`notify silence add|list|expire` and `notify maintenance add|list`: parse, call app/silences.py, print."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .common import (
    _clock,
    _emit,
    _emit_json,
    _fail,
    _now,
    _table_output,
    config_dir_option,
    handles_errors,
    json_option,
    main,
)
from .lifecycle import _runtime_and_store


@main.group()
def silence() -> None:
    """Mute known noise: alerts matching a silence are stored and shown, and page nobody while it lasts."""


@silence.command(name="add")
@click.option("--match", "matchers", multiple=True, required=True, metavar="MATCHER",
              help='An Alertmanager matcher: name="v", name!="v", name=~"re", name!~"re" (repeat: all must match). '
                   "Besides the alert's labels: class, tier, source, service.")
@click.option("--for", "duration", required=True, help="How long it lasts: 30m, 2h, 1d.")
@click.option("--by", required=True, help="Who silences (shown in the timeline and `silence list`).")
@click.option("--reason", required=True, help="Why: the next on-call reads it.")
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def add(ctx: click.Context, matchers: tuple[str, ...], duration: str, by: str, reason: str, as_json: bool,
        local_config_dir: Path | None) -> None:
    """Silence alerts that arrive from now on; lists the open incidents it matches (they keep paging)."""
    from ..app.silences import add_silence, silence_json

    settings, rt, store = _runtime_and_store(ctx, local_config_dir)
    now = _now()
    with store:
        made, matching = add_silence(rt, store, matchers, duration=duration, by=by, reason=reason, now=now)
    if as_json:
        _emit_json({"schema": 1, "command": "silence add", "silence": silence_json(made, now),
                    "open_incidents_matched": matching}, settings)
        return
    lines = [f"silence {made.id} until {made.ends.isoformat()}: {', '.join(made.matchers)}",
             f"expire it early with `notify silence expire {made.id}`"]
    if matching:
        lines.append(f"{len(matching)} open incident(s) match it; a silence affects new alerts only, so these keep "
                     "paging (acknowledge or resolve them):")
        lines += [f"  {m['id']}  {m['class']}  {m['status']}  {m['summary']}" for m in matching]
    _emit("\n".join(lines), settings)


@silence.command(name="list")
@click.option("--all", "include_ended", is_flag=True, help="Also those that ended or were expired.")
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def list_(ctx: click.Context, include_ended: bool, as_json: bool, local_config_dir: Path | None) -> None:
    """Silences and maintenance windows in effect or to come."""
    _list(ctx, include_ended, as_json, local_config_dir, "silence list")


@silence.command(name="expire")
@click.argument("silence_id", metavar="ID")
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def expire_(ctx: click.Context, silence_id: str, as_json: bool, local_config_dir: Path | None) -> None:
    """End a silence (or maintenance window) now; a group it held that still fires pages at once."""
    from ..app.engine import incident_from_row, send_pending
    from ..app.silences import expire, silence_json

    settings, rt, store = _runtime_and_store(ctx, local_config_dir)
    clock = _clock()
    with store:
        ended = expire(rt, store, silence_id, clock.now())
        for incident_id in ended.released:  # one attempt now; retries are the worker's
            send_pending(rt, store, clock, incident_from_row(store.incident(incident_id)),
                         store.deliveries(incident_id, 0), wait=0)
    if as_json:
        _emit_json({"schema": 1, "command": "silence expire", "silence": silence_json(ended.silence, clock.now()),
                    "released": ended.released}, settings)
        return
    paged = f"; paging now: {', '.join(ended.released)}" if ended.released else "; it held back nothing still firing"
    _emit(f"{ended.silence.id} expired at {ended.silence.ends.isoformat()}{paged}", settings)


@main.group()
def maintenance() -> None:
    """Planned work: alerts for the named services page nobody during the window, announced to support."""


@maintenance.command(name="add")
@click.option("--service", "services", multiple=True, required=True,
              help="A service the work affects (as alerts name it: the service label, affected_services). Repeat.")
@click.option("--from", "starts", required=True, help="When it starts: ISO 8601 (UTC unless a zone is given).")
@click.option("--to", "ends", required=True, help="When it ends: ISO 8601.")
@click.option("--by", required=True, help="Who schedules it.")
@click.option("--reason", required=True, help="What the work is.")
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def maintenance_add(ctx: click.Context, services: tuple[str, ...], starts: str, ends: str, by: str, reason: str,
                    as_json: bool, local_config_dir: Path | None) -> None:
    """Schedule a maintenance window; its start and end are announced in #support-escalation."""
    from ..app.silences import add_maintenance, silence_json

    begin, end = _moment(starts, "--from"), _moment(ends, "--to")
    settings, _, store = _runtime_and_store(ctx, local_config_dir)
    now = _now()
    with store:
        window = add_maintenance(store, services, starts=begin, ends=end, by=by, reason=reason, now=now)
    if as_json:
        _emit_json({"schema": 1, "command": "maintenance add", "window": silence_json(window, now)}, settings)
        return
    _emit(f"maintenance window {window.id} for {', '.join(window.services)} from {window.starts.isoformat()} "
          f"to {window.ends.isoformat()}; cancel or end it with `notify silence expire {window.id}`", settings)


@maintenance.command(name="list")
@click.option("--all", "include_ended", is_flag=True, help="Also those that ended or were expired.")
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def maintenance_list(ctx: click.Context, include_ended: bool, as_json: bool, local_config_dir: Path | None) -> None:
    """Maintenance windows (and silences) in effect or to come."""
    _list(ctx, include_ended, as_json, local_config_dir, "maintenance list")


def _list(ctx: click.Context, include_ended: bool, as_json: bool, local_config_dir: Path | None,
          command: str) -> None:
    from ..app.silences import list_silences, silence_json, silences_table

    settings, _, store = _runtime_and_store(ctx, local_config_dir)
    now = _now()
    with store:
        rows = list_silences(store, now, include_ended=include_ended)
    if command == "maintenance list":
        rows = [r for r in rows if r.kind == "maintenance"]
    if as_json:
        _emit_json({"schema": 1, "command": command, "silences": [silence_json(r, now) for r in rows]}, settings)
        return
    _emit(silences_table(rows, now, _table_output(settings)) if rows else "none in effect or to come", settings)


def _moment(value: str, option: str) -> Any:
    from ..app.inputs import parse_moment

    try:
        return parse_moment(value)
    except ValueError:
        _fail(f"{option}: {value!r} is not an ISO 8601 time such as 2026-03-02T22:00:00Z")
