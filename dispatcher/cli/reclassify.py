"""`notify reclassify ID CLASS`: confirm or change an incident's class (app.reclassify), then send what it planned."""

from __future__ import annotations

from pathlib import Path

import click

from . import remote
from .common import (
    _emit,
    _emit_json,
    _now,
    config_dir_option,
    handles_errors,
    json_option,
    main,
    wait_option,
)
from .lifecycle import (
    BY_DEFAULT,
    _how,
    _recorded_by,
    _runtime_and_store,
    _send_and_report,
    incident_id_argument,
)


@main.command()
@incident_id_argument
@click.argument("klass", metavar="CLASS")
@click.option("--by", default=None, help=f"Who decides the class (a name or person id); {BY_DEFAULT}.")
@wait_option
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def reclassify(ctx: click.Context, incident_id: str, klass: str, by: str | None, wait: float, as_json: bool,
               local_config_dir: Path | None) -> None:
    """Confirm or change an incident's class; the id stays.

    Confirming the class triage was unsure of (needs review) sends the customer notice held for it.
    Changing it pages the new class's step 0 now, its timers count from now, the old class's pages
    still waiting are cancelled, and both classes' people are told.
    """
    from ..app.reclassify import reclassify as reclassify_incident

    if (server := remote.remote()) is not None:  # NOTIFY_SERVER_URL: through `notify serve`
        return remote.reclassify(server, incident_id, klass.strip().lower(), by, as_json)
    settings, rt, store = _runtime_and_store(ctx, local_config_dir)
    by, found = _recorded_by("reclassify", rt, settings, store, by)
    done = reclassify_incident(rt, store, incident_id, klass.strip().lower(), by, _now())
    if done.outcome == "unchanged":
        store.close()
        _emit_json(done.as_json(), settings) if as_json else _emit(done.why_unchanged or "nothing changed", settings)
        return
    _send_and_report(rt, settings, store, "reclassify", done.incident, done.rows, wait, as_json,
                     _notes(done, by + _how(found)), extra={"reclassify": done.as_json()})


def _notes(done, by: str) -> list[str]:
    """What the reclassification did, in the words of the timeline."""
    inc = done.incident
    if done.outcome == "confirmed":
        released = len(done.rows)
        return [f"class {inc.klass} confirmed by {by}: needs review cleared; "
                + (f"{released} held notice{'s' if released != 1 else ''} released" if released
                   else "no notice was held")]
    notes = [(f"reclassified from {done.previous} to {inc.klass} by {by}: its steps, response SLA and escalation "
              f"count from now; the id stays {inc.id}")]
    notes += [f"cancelled {d.display} ({d.channel}): {d.skip}" for d in done.cancelled]
    return notes
