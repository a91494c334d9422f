"""`notify note` and `notify login-link`: the CLI's side of the web view (parse, call app/web.py, print)."""

from __future__ import annotations

from pathlib import Path

import click

from .common import (
    _emit,
    _emit_json,
    _fail,
    _now,
    config_dir_option,
    handles_errors,
    json_option,
    main,
)
from .lifecycle import (
    BY_DEFAULT,
    _recorded_by,
    _runtime_and_store,
    incident_id_argument,
)


@main.command()
@incident_id_argument
@click.argument("text")
@click.option("--by", default=None, help=f"Who writes the note (a name or person id); {BY_DEFAULT}.")
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def note(ctx: click.Context, incident_id: str, text: str, by: str | None, as_json: bool,
         local_config_dir: Path | None) -> None:
    """Add a note to an incident's timeline (shown by the web view); nobody is notified."""
    from ..app.web import add_note

    settings, rt, store = _runtime_and_store(ctx, local_config_dir)
    with store:
        by, _ = _recorded_by("note", rt, settings, store, by)
        add_note(rt, store, incident_id, text, by, _now())
    if as_json:
        _emit_json({"schema": 1, "command": "note", "incident": incident_id, "by": by, "note": text.strip()},
                   settings)
        return
    _emit(f"{incident_id}: note added by {by}", settings)


@main.command("login-link")
@click.argument("person")
@click.option("--print", "show", is_flag=True,
              help="Print the link instead of sending it (to hand it over yourself); it signs in as PERSON.")
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def login_link(ctx: click.Context, person: str, show: bool, as_json: bool, local_config_dir: Path | None) -> None:
    """Send PERSON (id, login or email in contacts.toml) a one-time sign-in link to the web view, by email or
    Slack: it works once, for 15 minutes; at most 3 are made per person per 15 minutes."""
    from ..app.web import issue_login_link, login_path, send_login_link

    settings, rt, store = _runtime_and_store(ctx, local_config_dir)
    if not settings.public_url:
        store.close()
        _fail("login-link: NOTIFY_PUBLIC_URL is unset: a link must name where `notify serve` is reachable; "
              "nothing was made")
    base = settings.public_url.rstrip("/")
    with store:
        if show:
            pid, token = issue_login_link(rt, store, person, _now())
            doc = {"person": pid, "url": base + login_path(token), "sent": None}
        else:
            sent = send_login_link(rt, store, person, base, _now())
            doc = {"person": sent.person, "url": None, "sent": {"channel": sent.channel, "target": sent.target}}
    if as_json:
        _emit_json({"schema": 1, "command": "login-link", **doc}, settings)
    elif doc["url"]:
        _emit(f"sign-in link for {doc['person']} (works once, for 15 minutes):\n  {doc['url']}", settings)
    else:
        _emit(f"sign-in link sent to {doc['person']} by {doc['sent']['channel']} ({doc['sent']['target']})",
              settings)
