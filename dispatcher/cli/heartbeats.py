"""`notify heartbeats`: every monitor's dead man's switch, its timing and whether it is late.

Parse, call app/heartbeats.py, print.
"""

from __future__ import annotations

from pathlib import Path

import click

from .common import (
    _emit,
    _emit_json,
    _now,
    _table_output,
    config_dir_option,
    handles_errors,
    json_option,
    main,
)
from .lifecycle import _runtime_and_store


@main.command()
@click.option("--forget", "forget_name", metavar="NAME", default=None,
              help="Stop watching heartbeat NAME, which a monitor started over HTTP and no longer sends (declared "
                   "ones are removed from routing.toml). An incident its silence opened stays open.")
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def heartbeats(ctx: click.Context, forget_name: str | None, as_json: bool, local_config_dir: Path | None) -> None:
    """Heartbeats (POST /heartbeat/NAME, Alertmanager's Watchdog): state ok, overdue (the worker's next tick
    pages), late (its monitoring incident is open) or never (declared in routing.toml, no beat yet)."""
    from ..app.heartbeats import forget, heartbeat_states, heartbeats_table

    settings, rt, store = _runtime_and_store(ctx, local_config_dir)
    with store:
        if forget_name is not None:
            still_open = forget(rt, store, forget_name)
            note = f"; its incident {still_open} stays open: `notify resolve {still_open}`" if still_open else ""
            if as_json:
                _emit_json({"schema": 1, "command": "heartbeats", "forgotten": forget_name,
                            "incident_open": still_open}, settings)
            else:
                _emit(f"heartbeat {forget_name} forgotten{note}", settings)
            return
        states = heartbeat_states(rt, store, _now())
    if as_json:
        _emit_json({"schema": 1, "command": "heartbeats", "heartbeats": states}, settings)
        return
    if not states:
        _emit("no heartbeats: declare one in routing.toml ([heartbeats.NAME]) or POST /heartbeat/NAME?interval=5m",
              settings)
        return
    _emit(heartbeats_table(states, _table_output(settings)), settings)
