"""`notify report --month YYYY-MM`: the monthly escalation metrics, as a table, JSON, CSV or one HTML file.

Parse, call app/monthly.py, print.
"""

from __future__ import annotations

from pathlib import Path

import click

from .common import (
    _config_dir,
    _emit,
    _emit_json,
    _fail,
    _local_store,
    _now,
    _settings,
    _table_output,
    config_dir_option,
    handles_errors,
    main,
)


@main.command()
@click.option("--month", default=None, metavar="YYYY-MM", help="The month to report (default: the last full month).")
@click.option("--tz", default=None, help="The time zone months are cut in (an IANA name; default UTC).")
@click.option("--json", "fmt", flag_value="json", help="Print the schema-1 JSON document.")
@click.option("--csv", "fmt", flag_value="csv", help="Print one CSV row per class and tier, and one for the month.")
@click.option("--html", "html_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also write the report as one self-contained HTML file (charts inline, prints well).")
@config_dir_option
@click.pass_context
@handles_errors
def report(ctx: click.Context, month: str | None, tz: str | None, fmt: str | None, html_path: Path | None,
           local_config_dir: Path | None) -> None:
    """The month's escalation metrics: per class and tier, against the policy's targets, with six months' trend."""
    from ..app import engine
    from ..app.monthly import build_report
    from ..app.monthly_render import render_csv, render_html, render_text

    settings = _settings()
    rt = engine.load_runtime(_config_dir(ctx, local_config_dir), settings)
    now = _now()
    month = month or _last_month(now)
    with _local_store(settings) as store:
        try:
            doc = build_report(rt, store, month, tz, now)
        except ValueError as exc:
            _fail(f"report: {exc}")
    if html_path is not None:
        html_path.write_text(render_html(doc), encoding="utf-8")
        click.echo(f"report: HTML written to {html_path}", err=True)
    if fmt == "json":
        _emit_json(doc, settings)
    elif fmt == "csv":
        click.echo(render_csv(doc), nl=False)
    else:
        _emit(render_text(doc, _table_output(settings)), settings)


def _last_month(now) -> str:
    year, number = now.year, now.month - 1
    return f"{year - 1}-12" if number == 0 else f"{year:04d}-{number:02d}"
