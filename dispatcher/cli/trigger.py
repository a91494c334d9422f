"""CLI commands that open an incident, one per incident class, and `notify check`.

Parse the options the field table defines, call the trigger use case, print
the report and exit with its status.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import click

from ..app.inputs import FIELDS
from .common import (
    EXIT_OK,
    _check_command,
    _clock,
    _config_dir,
    _emit,
    _emit_json,
    _fail,
    _local_store,
    _now,
    _settings,
    _settings_and_problems,
    _table_output,
    config_dir_option,
    handles_errors,
    json_option,
    main,
    wait_option,
)

# Incident classes with a CLI command; the policy file defines what each does.
CLASS_COMMANDS = {
    "security": "Security or data incident: suspected breach, vulnerability, malicious activity (15 min SLA).",
    "outage": "Service outage: platform or API down, critical infrastructure failure (15 min SLA).",
    "legal": "Legal or compliance issue: litigation, subpoena, GDPR erasure request (30 min SLA).",
    "enterprise": "Enterprise customer escalation: SLA violation, dedicated success manager request (1 h SLA).",
    "financial": "Financial impact: billing errors for many customers, payment processor failure, refund > $1,000 (1 h).",
    "high-value": "High-value account: > $50k contract value, Fortune 500, churn or competitive pressure (1 h SLA).",
    "technical": "Technical issue: unresolved after 24 h, failed fixes, core bug, partner API, slowness (4 h SLA).",
    "satisfaction": "Customer satisfaction: formal complaint, asks for management, social media mention (4 h SLA).",
}


def trigger_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options every trigger shares: id, dry run (and --show), drill, JSON, config dir and the incident fields."""
    for spec in reversed(FIELDS):  # decorators apply bottom-up: reversed keeps the table's order in --help
        func = click.option(spec.option, spec.name, default=None,
                            help=spec.help + (" (required)" if spec.required else ""))(func)
    func = config_dir_option(func)
    func = wait_option(func)
    func = json_option(func)
    func = click.option("--drill", is_flag=True, help="Mark every message [DRILL]; never contact customers or externals.")(func)
    func = click.option("--show", is_flag=True, help="With --dry-run: also print every rendered message as text.")(func)
    func = click.option("--dry-run", is_flag=True, help="Render and show who would get what; send and write nothing.")(func)
    return click.option("--incident", "incident_id", default="", help="Incident id (default: next PREFIX-YEAR-NNN).")(func)


def _add_class_command(name: str, help_text: str) -> None:
    @main.command(name, help=help_text)
    @trigger_options
    @click.pass_context
    @handles_errors
    def command(ctx: click.Context, incident_id: str, dry_run: bool, show: bool, drill: bool, as_json: bool,
                wait: float, local_config_dir: Path | None, **values: Any) -> None:
        _trigger(ctx, name, incident_id, dry_run, drill, as_json, wait, _config_dir(ctx, local_config_dir), values,
                 show=show)


for _name, _help in CLASS_COMMANDS.items():
    _add_class_command(_name, _help)


def _trigger(ctx: click.Context, klass: str, incident_id: str, dry_run: bool, drill: bool, as_json: bool,
             wait: float, config_dir: Path | None, values: dict[str, Any], *, show: bool = False) -> None:
    from ..app import engine

    settings = _settings()
    rt = engine.load_runtime(config_dir, settings, last_good=True, remember=not dry_run)
    run_trigger(rt, settings, klass, incident_id, values, dry_run=dry_run, drill=drill, as_json=as_json, wait=wait,
                show=show)


def run_trigger(rt: Any, settings: Any, klass: str, incident_id: str, values: dict[str, Any], *, dry_run: bool,
                drill: bool, as_json: bool, wait: float = 30.0, also: tuple[str, ...] = (),
                needs_review: bool = False, extra: dict[str, Any] | None = None, show: bool = False) -> None:
    """Validate the input, then preview or send step 0, print the report and exit with its status.

    With `show` (`--dry-run --show`) a dry run also prints every rendered message as text.
    """
    from dataclasses import replace

    from ..app import engine
    from ..app.preview import preview
    from ..errors import InputError

    prefix = rt.klass(klass).prefix
    values = {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}
    if show and not dry_run:
        _fail("--show needs --dry-run: it prints the messages a real send would deliver; nothing was sent")
    missing = [s.option for s in FIELDS if s.required and not values.get(s.name)]
    if missing:
        _fail(f"{klass}: missing required option(s): {', '.join(missing)}; nothing was sent")
    try:  # validated in domain/, as for `notify ingest` and the webhooks; said here in the option's name
        incident = engine.new_incident(rt, klass, values, now=_now(), drill=drill, incident_id=incident_id)
    except InputError as exc:
        option = next((spec.option for spec in FIELDS if spec.name == exc.field), f"--{exc.field}")
        _fail(f"{option}: {exc.problem}; nothing was sent")
    incident = replace(incident, also=also, needs_review=needs_review)
    degraded = _degraded_note(rt, dry_run=dry_run)
    if dry_run:
        report = preview(rt, klass, incident.with_id(incident_id or _peek_id(settings, prefix)))
        if not incident_id:
            report.notes.append("dry run: the id shown is the next one; nothing was allocated, stored or sent")
        report.notes += degraded
        _print_report(report, settings, as_json, extra)
        if show and not as_json:  # the document carries every message already
            _emit("\n" + report.messages_text(), settings)
        sys.exit(report.exit_status())  # as a real send would: 1 when someone would not be reached

    store = _local_store(settings)
    try:
        report = engine.trigger(rt, klass, incident, store=store, clock=_clock(), wait=wait)
    finally:
        store.close()
    report.notes += degraded
    _print_report(report, settings, as_json, extra)
    sys.exit(EXIT_OK if report.incident["existing"] else report.exit_status())


def _degraded_note(rt: Any, *, dry_run: bool = False) -> list[str]:
    """When the configuration was broken and its last valid copy is used: say so on stderr and in the report."""
    if rt.degraded is None:
        return []
    problems, saved = rt.degraded
    for problem in problems:
        click.echo(str(problem), err=True)
    errors = f"{len(problems)} error{'' if len(problems) == 1 else 's'}"
    note = (f"the configuration has {errors} (above; run `{_check_command()}`): "
            f"{'a real send would page' if dry_run else 'paging'} with the last copy that validated, "
            f"saved {saved.strftime('%Y-%m-%d %H:%M UTC')}")
    click.echo(f"notify: WARNING: {note}", err=True)
    return [note]


def _print_report(report: Any, settings: Any, as_json: bool, extra: dict[str, Any] | None) -> None:

    if as_json:
        _emit_json({**report.as_json(), **(extra or {})}, settings)
    else:
        _emit(report.table(_table_output(settings)), settings)


def _peek_id(settings: Any, prefix: str) -> str:
    """The next id, for show; a dry run never needs the store to be reachable."""
    from ..app.stores import peek_store
    from ..errors import StoreError

    year = _now().year
    first = f"{prefix}-{year}-001"
    try:
        store = peek_store(settings.resolved_store_url())
    except StoreError as exc:
        click.echo(f"notify: the store is unreachable, the id shown is a guess: {exc}", err=True)
        return first
    if store is None:
        return first
    with store:  # closed, so a PostgreSQL pool is not left open behind a dry run
        return store.peek_id(prefix, year)


@main.command()
@click.argument("drill_files", nargs=-1, metavar="[DRILL_FILE]...", type=click.Path(path_type=Path, dir_okay=False))
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def check(ctx: click.Context, drill_files: tuple[Path, ...], as_json: bool, local_config_dir: Path | None) -> None:
    """Validate directory, policy, templates and channel settings, and any drill files given; exit 2 on any error.

    \b
    notify check drills/*.toml   also checks each drill file against this configuration
    """

    from ..app.check import run_check

    settings, setting_problems = _settings_and_problems()
    result = run_check(_config_dir(ctx, local_config_dir), settings)
    if drill_files:
        from ..app.drill import (
            drill_file_problems,  # pydantic's models, only when drill files are given
        )

        result.problems += drill_file_problems(drill_files, result.policy, result.directory)
    result.problems[:0] = setting_problems  # a wrong setting must not hide the rest of the check
    if as_json:
        doc = {"schema": 1, "command": "check", "paths": dict(result.paths.describe()[:4]),
               "template_dirs": [str(d) for d in result.paths.template_dirs],
               "problems": [p.as_json() for p in result.problems], "ok": not result.errors}
        _emit_json(doc, settings)
    else:
        lines = [f"{name}: {value}" for name, value in result.paths.describe()]
        lines += [f"drill files: {len(drill_files)}"] if drill_files else []
        lines += [str(p) for p in result.problems]
        counts = {s: sum(p.severity.value == s for p in result.problems) for s in ("error", "warning", "note")}
        lines.append(", ".join(f"{n} {kind}{'' if n == 1 else 's'}" for kind, n in counts.items()))
        _emit("\n".join(lines), settings)
    sys.exit(result.exit_status())
