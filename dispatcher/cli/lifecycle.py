"""CLI commands after the trigger: ack, escalate-now, update, resolve, status, incidents, worker, db upgrade.

Parse, call `incidents`/`worker`, print. `update` and `resolve` send their
notices at once like a trigger; what is still being retried after `--wait`
seconds is left to the worker, and the command exits 3.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from ..app.inputs import RECORDABLE
from . import remote
from .common import (
    _clock,
    _config_dir,
    _emit,
    _emit_json,
    _fail,
    _local_store,
    _now,
    _refuse_made_up_time,
    _settings,
    _table_output,
    config_dir_option,
    handles_errors,
    json_option,
    main,
    wait_option,
)


def _runtime_and_store(ctx: click.Context, local_config_dir: Path | None) -> tuple[Any, Any, Any]:
    from ..app import engine

    settings = _settings()
    rt = engine.load_runtime(_config_dir(ctx, local_config_dir), settings, remember=True)
    return settings, rt, _local_store(settings)


def _incident_id(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Ids are upper case (SEC-2026-001); `out-2026-001` typed in a hurry means the same incident."""
    return value.strip().upper()


incident_id_argument = click.argument("incident_id", callback=_incident_id)
BY_DEFAULT = "default: NOTIFY_USER, else your login name, matched to a person of contacts.toml (id, login or email)"


def _recorded_by(command: str, rt: Any, settings: Any, store: Any, by: str | None) -> tuple[str, str]:
    """Whom to record, and how it was found (to print): --by's person (by id, login or email) or --by as given,
    else the person NOTIFY_USER or the login name matches.

    Refuses (exit 2, nothing recorded) a name no person of contacts.toml has: an ack is recorded
    as someone's, never as a bare login name nobody on the team recognises.
    """
    if by is not None and by.strip():
        from ..app.tokens import recorded_as

        name, pid = recorded_as(rt.directory, by)  # as the web view and the API record it
        return name, (f"people.{pid}" if pid else "--by")
    acting = settings.acting_user()
    found = rt.directory.person_named(acting[0]) if acting else None
    if found is None:
        store.close()
        who = f'{acting[1]} "{acting[0]}" is nobody in {rt.paths.contacts}' if acting else "no login name"
        _fail(f"{command}: no --by, and {who}. Pass --by NAME, set NOTIFY_USER to your person id there, or add "
              f'login = "{acting[0] if acting else "NAME"}" to your [people.ID] entry; nothing was recorded')
    pid, person = found
    return person.name, f"people.{pid}, from {acting[1]}"


@main.command()
@incident_id_argument
@click.option("--by", default=None, help=f"Who acknowledges (a name or person id); {BY_DEFAULT}.")
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def ack(ctx: click.Context, incident_id: str, by: str | None, as_json: bool, local_config_dir: Path | None) -> None:
    """Acknowledge an incident: escalation stops, its queued pages to people are not sent, and its Slack channel
    is told; follow-up steps and update reminders go on."""
    from ..app.actions import acknowledge
    from ..app.engine import incident_from_row, send_pending
    from ..clock import iso

    if (server := remote.remote()) is not None:  # NOTIFY_SERVER_URL: through `notify serve`
        return remote.ack(server, incident_id, by, as_json)
    settings, rt, store = _runtime_and_store(ctx, local_config_dir)
    with store:  # closed however the ack ends (an unknown incident too)
        by, found = _recorded_by("ack", rt, settings, store, by)
        acked = acknowledge(rt, store, incident_id, by, _now(), via="cli")
        if acked.notices:  # the Slack channel's notice; what fails is the worker's to retry
            send_pending(rt, store, _clock(), incident_from_row(acked.row), acked.notices, wait=0)
    row = acked.row
    if as_json:
        _emit_json({"schema": 1, "command": "ack", "incident": incident_id, "acknowledged": acked.done,
                    "status": row.status, "acked_by": row.acked_by, "acked_at": iso(row.acked_at),
                    "by": {"name": by, "found": found}, "via": "cli",
                    "cancelled": [f"{d.person}/{d.channel}" for d in acked.cancelled]}, settings, indent=None)
    elif acked.done:
        cancelled = f"; {_count(len(acked.cancelled), 'queued page')} to people not sent" if acked.cancelled else ""
        _emit(f"{incident_id} acknowledged by {by}{_how(found)}: escalation stopped{cancelled}", settings)
    else:
        _emit(f"{incident_id} is {row.status}" + (f" (acknowledged by {row.acked_by} at {iso(row.acked_at)})"
                                                  if row.acked_by else "") + ": nothing changed", settings)


@main.command("escalate-now")
@incident_id_argument
@click.option("--by", default=None, help=f"Who escalates; {BY_DEFAULT}.")
@wait_option
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def escalate_now(ctx: click.Context, incident_id: str, by: str | None, wait: float, as_json: bool,
                 local_config_dir: Path | None) -> None:
    """Fire the next escalation stage now; the stages after it count from now."""
    from ..app.actions import escalate_now as escalate
    from ..app.engine import incident_from_row

    if (server := remote.remote()) is not None:  # NOTIFY_SERVER_URL: through `notify serve`
        return remote.escalate_now(server, incident_id, by, as_json)
    settings, rt, store = _runtime_and_store(ctx, local_config_dir)
    by, found = _recorded_by("escalate-now", rt, settings, store, by)
    try:
        fired = escalate(rt, store, incident_id, by, _now(), via="cli")
    except BaseException:
        store.close()
        raise
    note = (f"escalation stage {fired.stage} ({fired.audience}) fired by {by}{_how(found)}; "
            "later stages count from now")
    _send_and_report(rt, settings, store, "escalate-now", incident_from_row(store.incident(incident_id)),
                     fired.rows, wait, as_json, [note])


def _how(found: str) -> str:
    return "" if found == "--by" else f" ({found})"


def _send_and_report(rt: Any, settings: Any, store: Any, command: str, incident: Any, rows: list, wait: float,
                     as_json: bool, notes: list[str], reached_nobody: bool = False,
                     extra: dict[str, Any] | None = None) -> None:
    from ..app.engine import incident_summary, lines_from_store, send_pending
    from ..app.report import Report

    send_pending(rt, store, _clock(), incident, rows, wait=wait)
    ids = {r.id for r in rows}
    fresh = [r for r in store.deliveries(incident.id) if r.id in ids or r.fallback_of in ids]
    status = store.incident(incident.id).status
    store.close()
    report = Report(command, "send", incident_summary(rt, incident, status=status), lines_from_store(fresh), notes)
    if as_json:
        _emit_json({**report.as_json(), **(extra or {})}, settings)
    else:
        _emit(report.table(_table_output(settings)), settings)
    sys.exit(1 if reached_nobody else report.exit_status())  # every recipient skipped is nobody reached


@main.command()
@incident_id_argument
@click.option("--message", default=None, help="The status update (required unless --complex).")
@click.option("--complex", "complex_", is_flag=True,
              help="Mark it complex: resolution target 1 week from its opening, daily updates once its class's "
                   "target has passed.")
@click.option("--by", default=None, help=f"Who posts it; {BY_DEFAULT}.")
@click.option("--record", "record", multiple=True, type=click.Choice(RECORDABLE),
              help="An action done, so later notices say it (repeatable): customer-acknowledged, "
                   "customers-notified, environment-secured.")
@wait_option
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def update(ctx: click.Context, incident_id: str, message: str | None, complex_: bool, by: str | None,
           record: tuple[str, ...], wait: float,
           as_json: bool, local_config_dir: Path | None) -> None:
    """Post a status update to the class's update audience (its Slack channel and commander; security: the customer)."""
    from ..app.incidents import post_update

    if message is None and not complex_:
        raise click.UsageError("give --message (the update), --complex, or both")
    if message is None and record:
        raise click.UsageError("--record goes with --message: the update says what was done")
    if (server := remote.remote()) is not None:
        if complex_:
            _fail("update --complex: not available over NOTIFY_SERVER_URL yet; run it where the store is")
        if record:
            raise click.UsageError("--record is recorded in the local store only: unset NOTIFY_SERVER_URL, or run "
                                   "it where notify serve's store is")
        return remote.update(server, incident_id, message, by, as_json)
    settings, rt, store = _runtime_and_store(ctx, local_config_dir)
    by, found = _recorded_by("update", rt, settings, store, by)
    if complex_:
        _mark_complex(store, incident_id, by)
        if message is None:
            return store.close()
    posted = post_update(rt, store, incident_id, message, by, _now(), record=record)
    if posted.counted:
        note = f"update recorded by {by}{_how(found)}; reminders now count from this update"
    else:
        note = f"update recorded by {by}{_how(found)}, but {posted.why_not}"
        note += f"; the update due at {posted.still_due} is still owed" if posted.still_due else ""
    if posted.reached_nobody:
        click.echo(f"notify: {incident_id}: {note}", err=True)
    _send_and_report(rt, settings, store, "update", posted.incident, posted.rows, wait, as_json, [note],
                     reached_nobody=posted.reached_nobody)


def _mark_complex(store: Any, incident_id: str, by: str) -> None:
    from ..app.targets import mark_complex

    marked = mark_complex(store, incident_id, by, _now())
    click.echo(f"{incident_id}: " + ("marked complex: resolution target 1 week from its opening; daily updates "
                                     "once its class's target has passed" if marked else "already complex"))


@main.command()
@incident_id_argument
@click.option("--message", default=None, help="What resolved it.")
@click.option("--by", default=None, help=f"Who resolves it; {BY_DEFAULT}.")
@wait_option
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def resolve(ctx: click.Context, incident_id: str, message: str | None, by: str | None, wait: float, as_json: bool,
            local_config_dir: Path | None) -> None:
    """Resolve an incident: every timer stops and everyone notified so far gets the resolution notice."""
    from ..app.incidents import resolve as resolve_incident

    if (server := remote.remote()) is not None:
        return remote.resolve(server, incident_id, message, by, wait, as_json)
    settings, rt, store = _runtime_and_store(ctx, local_config_dir)
    by, found = _recorded_by("resolve", rt, settings, store, by)
    incident, rows, done = resolve_incident(rt, store, incident_id, message, by, _now())
    if not done:
        store.close()
        _emit(f"{incident_id} was resolved already: nobody was notified again", settings)
        return
    _send_and_report(rt, settings, store, "resolve", incident, rows, wait, as_json,
                     [f"incident resolved by {by}{_how(found)}: escalation, follow-up steps and reminders stopped"])


@main.command()
@incident_id_argument
@wait_option
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def retry(ctx: click.Context, incident_id: str, wait: float, as_json: bool, local_config_dir: Path | None) -> None:
    """Send again every delivery of an incident that finally failed and reached nobody (after fixing settings)."""
    from ..app.incidents import retry_failed

    settings, rt, store = _runtime_and_store(ctx, local_config_dir)
    incident, rows, moot = retry_failed(store, incident_id, _now())
    left = [f"{_count(moot, 'failed page')} not sent again: the incident is resolved (only its resolution "
            "notices are retried)"] if moot else []
    if not rows:
        store.close()
        message = f"{incident_id}: no failed delivery left to retry" + (f"; {left[0]}" if left else "")
        if as_json:
            _emit_json({"schema": 1, "command": "retry", "incident": incident_id, "deliveries": [],
                        "notes": [message]}, settings)
        else:
            _emit(message, settings)
        return
    _send_and_report(rt, settings, store, "retry", incident, rows, wait, as_json,
                     [f"{_count(len(rows), 'failed delivery', 'failed deliveries')} sent again", *left])


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


@main.command()
@incident_id_argument
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def status(ctx: click.Context, incident_id: str, as_json: bool, local_config_dir: Path | None) -> None:
    """An incident's timeline: deliveries, acks, updates, breaches, and what is due next."""
    from ..app.incidents import status_document, status_text

    if (server := remote.remote()) is not None:
        return remote.status(server, incident_id, as_json)
    settings, rt, store = _runtime_and_store(ctx, local_config_dir)
    with store:
        doc = status_document(rt, store, incident_id, _now())
    if as_json:
        _emit_json(doc, settings)
    else:
        _emit(status_text(doc, _table_output(settings)), settings)


@main.command()
@click.option("--open", "open_only", is_flag=True, help="Only incidents not resolved yet.")
@click.option("--needs-review", is_flag=True,
              help="Only open incidents whose class waits for a person to confirm it (notify reclassify).")
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV for a spreadsheet: no cell can run as a formula.")
@handles_errors
def incidents(open_only: bool, needs_review: bool, as_json: bool, as_csv: bool) -> None:
    """List incidents, newest last."""
    if as_json and as_csv:
        raise click.UsageError("--json and --csv: choose one")
    from ..app.incidents import incident_items

    settings = _settings()
    if (server := remote.remote()) is not None:
        items = remote.incidents(server, open_only)
        items = [i for i in items if i.get("needs_review")] if needs_review else items
    else:
        with _local_store(settings) as store:
            items = incident_items(store, open_only=open_only, needs_review=needs_review)
    if as_json:
        _emit_json({"schema": 1, "command": "incidents", "incidents": items}, settings)
        return
    if as_csv:  # a header even when there is nothing: a spreadsheet import still sees the columns
        from ..app.exports import incidents_csv

        _emit(incidents_csv(items, settings.secrets()), settings)
        return
    if not items:
        _emit("no incident needs review" if needs_review else "no incidents", settings)
        return
    from ..app.tables import incidents_table

    _emit(incidents_table(items, _table_output(settings)), settings)


@main.command()
@click.option("--once", is_flag=True, help="Run one tick and exit (cron, tests).")
@click.option("--at", "at_time", default=None,
              help="With --once: tick as if it were this ISO 8601 time (a test and drill hook: timers fire as due "
                   "then; retries are due then too). Webhooks stored by `notify serve` are left to a worker on the "
                   "real clock.")
@click.option("--yes", is_flag=True,
              help="With --at ahead of the real clock: yes, fire now, for real, the timers due by then.")
@click.option("--interval", type=click.FloatRange(min=0.05), default=5.0, show_default=True,
              help="Seconds between ticks at most; a retry due sooner wakes the worker sooner.")
@click.option("--report-fd", type=int, default=None, hidden=True)  # `notify serve`'s sender (cli_serve.serve_sender)
@click.option("--no-timers", is_flag=True, hidden=True)  # with --report-fd: serve's second sender (server/burst.py)
@config_dir_option
@click.pass_context
@handles_errors
def worker(ctx: click.Context, once: bool, at_time: str | None, yes: bool, interval: float, report_fd: int | None,
           no_timers: bool, local_config_dir: Path | None) -> None:
    """Fire due escalations, follow-up steps and reminders, and send due deliveries and retries."""
    from ..app.worker import Worker, pages_early, stop_on_signals

    if report_fd is not None:
        from .serve import serve_sender

        return serve_sender(ctx, local_config_dir, interval, report_fd, fires_timers=not no_timers)

    if at_time and not once:
        _fail("--at needs --once: a long-running worker follows the real clock")
    if not once:
        _refuse_made_up_time("worker (without --once)")
    clock = _clock(at_time)
    made_up = hasattr(clock, "describe") or at_time is not None  # --at, or NOTIFY_NOW's start
    if made_up and not yes and (early := pages_early(clock.now(), datetime.now(timezone.utc))):
        _fail(f"{'--at' if at_time else 'NOTIFY_NOW'} {early}. Run it against a copy of the store "
              "(NOTIFY_STORE_URL), or add --yes")
    settings, rt, store = _runtime_and_store(ctx, local_config_dir)
    runner = Worker(rt, store, clock, handles_inbox=not made_up)  # a made-up time must not open real incidents
    if once:
        result = runner.tick()
        runner.close()
        store.close()
        _emit(f"tick at {clock.now().isoformat()}: {result.fired} timer actions fired, "
              f"{result.attempted} delivery attempts"
              + ("; stored webhooks left to a worker on the real clock" if made_up else ""), settings)
        return
    from ..eventlog import configure

    configure(settings.log_format, settings.secrets())
    click.echo(f"notify worker {runner.id}: ticking every {interval:g}s at most; SIGTERM or Ctrl-C to stop", err=True)
    runner.run(stop_on_signals(), interval)
    store.close()
    click.echo(f"notify worker {runner.id}: stopped, leases released", err=True)

