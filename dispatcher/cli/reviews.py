"""`notify review` and `notify reviews`: the post-incident review's root cause and satisfaction answers, and what is due.

Parse, call app/reviews.py, print.
"""

from __future__ import annotations

from pathlib import Path

import click

from .common import (
    _emit,
    _emit_json,
    _local_store,
    _now,
    _settings,
    _table_output,
    config_dir_option,
    handles_errors,
    json_option,
    main,
)


def _url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.startswith(("https://", "http://")):
        raise click.BadParameter(f"{value!r} is not an http(s) URL (the root cause analysis document)")
    return value


@main.command()
@click.argument("incident_id", callback=lambda ctx, param, value: value.strip().upper())
@click.option("--root-cause", default=None, help="The root cause found (closes the 48-hour root cause analysis).")
@click.option("--link", default=None, callback=_url, help="Where the analysis is written up (http or https URL).")
@click.option("--csat", type=int, default=None,
              help="The customer's satisfaction answer, 1 (very dissatisfied) to 5 (very satisfied).")
@click.option("--by", default=None, help="Who records it.")
@json_option
@config_dir_option
@handles_errors
def review(incident_id: str, root_cause: str | None, link: str | None, csat: int | None, by: str | None,
           as_json: bool, local_config_dir: Path | None) -> None:
    """Record a resolved incident's root cause (and link) or the customer's satisfaction answer."""
    from ..app.reviews import record_csat, record_root_cause

    if root_cause is None and csat is None:
        raise click.UsageError("give --root-cause TEXT (with --link URL), --csat N, or both")
    if link is not None and root_cause is None:
        raise click.UsageError("--link goes with --root-cause")
    settings = _settings()
    notes = []
    with _local_store(settings) as store:
        row = None
        if root_cause is not None:
            row = record_root_cause(store, incident_id, root_cause, link, by, _now())
            notes.append(f"root cause recorded {'on time' if row.root_cause_on_time else 'late'} "
                         f"(due {row.root_cause_due.isoformat()[:16]})")
        if csat is not None:
            row = record_csat(store, incident_id, csat, _now())
            notes.append(f"satisfaction answer {csat} of 5 recorded")
    if as_json:
        _emit_json({"schema": 1, "command": "review", "review": row.as_json(), "notes": notes}, settings)
    else:
        _emit(f"{incident_id}: " + "; ".join(notes), settings)


@main.command()
@json_option
@handles_errors
def reviews(as_json: bool) -> None:
    """The post-incident reviews still owing their root cause, soonest due first."""
    from ..app.reviews import reviews_due, reviews_text

    settings = _settings()
    now = _now()
    with _local_store(settings) as store:
        rows = reviews_due(store, now)
    if as_json:
        _emit_json({"schema": 1, "command": "reviews", "reviews": rows}, settings)
    else:
        _emit(reviews_text(rows, now, _table_output(settings)), settings)
