"""The `notify` command line: parses options, calls the engine, prints the result.

Module-level imports are click and stdlib only, so `notify --help` starts
fast; each command imports what it needs (pydantic, jinja2, apprise) when run.
"""

from __future__ import annotations

import functools
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import click

from .domain.fields import FIELDS

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

EXIT_OK, EXIT_NOT_REACHED, EXIT_REJECTED = 0, 1, 2


def _now() -> datetime:
    return _clock().now()


def _clock(at_time: str | None = None) -> Any:
    """This command's clock: a stopped one at an explicit --at, else NOTIFY_NOW's start, else the system's.

    NOTIFY_NOW (read by :func:`_settings`) starts the clock at a chosen instant and lets
    it run at the real pace, so retries and --wait keep their real timing. A command on
    a made-up time says so on stderr, and its --json document carries the "clock".
    """
    meta = _meta()
    if at_time:
        from .clock import FakeClock
        from .domain.incident import parse_moment

        try:
            meta["notify.clock"] = FakeClock(parse_moment(at_time))  # --at wins over NOTIFY_NOW
        except ValueError:
            _fail(f"--at: {at_time!r} is not an ISO 8601 time")
    if "notify.clock" not in meta:
        _settings()  # it sets the clock, from NOTIFY_NOW or the system's
    return meta["notify.clock"]


def _meta() -> dict[str, Any]:
    """Per-invocation state (click's root context), so a test's CliRunner calls never share a clock."""
    ctx = click.get_current_context(silent=True)
    return ctx.find_root().meta if ctx is not None else {}


def _set_clock(settings: Any) -> None:
    """The clock NOTIFY_NOW asks for (announced once on stderr), or the system's; exit 2 on a bad value."""
    from .clock import StartedClock, SystemClock, parse_instant

    meta = _meta()
    if "notify.clock" in meta:
        return
    if not settings.now:
        meta["notify.clock"] = SystemClock()
        return
    try:
        clock = StartedClock(parse_instant(settings.now, "NOTIFY_NOW"), "NOTIFY_NOW")
    except ValueError as exc:
        _fail(f"{exc}; nothing was done")
    meta["notify.clock"] = clock
    click.echo(f"notify: clock started at {clock.start.isoformat()} by NOTIFY_NOW, not the real time "
               "(unset it for real use)", err=True)


def _refuse_made_up_time(command: str) -> None:
    """serve, a looping worker and a live drill act on real people in real time: never on NOTIFY_NOW."""
    clock = _clock()
    if getattr(clock, "source", None) == "NOTIFY_NOW":
        _fail(f"{command} follows the real clock and refuses to start while NOTIFY_NOW is set "
              f"({clock.start.isoformat()}); unset NOTIFY_NOW")


def _clock_json() -> dict[str, Any]:
    """The "clock" member of a --json document when the time was made up; empty on the real clock."""
    describe = getattr(_meta().get("notify.clock"), "describe", None)
    return {"clock": describe()} if describe else {}


def _fail(message: str, problems: tuple[Any, ...] | list[Any] = ()) -> None:
    """Say why nothing was done, and exit 2; with --json, also print a schema-1 document saying so.

    A script reading stdout must not be left with nothing to parse: the document
    carries the same message and problems as stderr (settings errors never show a secret's value).
    """
    click.echo(f"notify: {message}", err=True)
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.params.get("as_json"):
        _print_rejection(ctx.info_name, message, problems)
    sys.exit(EXIT_REJECTED)


def _print_rejection(command: str | None, message: str, problems: tuple[Any, ...] | list[Any] = ()) -> None:
    import json

    click.echo(json.dumps({"schema": 1, "command": command, "status": "rejected", "exit": EXIT_REJECTED,
                           "error": message, "problems": [p.as_json() for p in problems]}, indent=2))


class _Group(click.Group):
    """The `notify` group: a usage error (unknown option, bad value) under --json also prints the
    rejection document, as every other rejection does; click still prints the usage on stderr."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["notify.argv"] = list(args)
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:  # an error in the group's own options: `notify --bogus log --json`
            self._reject_as_json(ctx, exc)
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            self._reject_as_json(ctx, exc)
            raise

    @staticmethod
    def _reject_as_json(ctx: click.Context, exc: click.UsageError) -> None:
        argv = ctx.meta.get("notify.argv", [])
        options = argv[: argv.index("--")] if "--" in argv else argv  # after "--", words are values
        if "--json" in options:
            named = exc.ctx is not None and exc.ctx is not ctx
            command = exc.ctx.info_name if named else next((a for a in argv if not a.startswith("-")), None)
            _print_rejection(command, exc.format_message())


def handles_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn configuration and store errors into a clear message and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .config.problems import ConfigError
        from .store import StoreError

        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            from .app.incidents import IncidentNotFound  # here, not above: it imports the engine, which check never needs

            if isinstance(exc, IncidentNotFound):
                _fail(f"{exc.problems[0].key}: no such incident (see `notify incidents`)")
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            if all(problem.file == "store" for problem in exc.problems):  # the incident's state, not the setup
                _fail("rejected; nothing was sent", exc.problems)
            _fail(f"rejected; nothing was sent (run `{_check_command()}` to see every problem)", exc.problems)
        except StoreError as exc:
            _fail(str(exc))

    return wrapper


def _settings() -> Any:
    """The settings, or exit 2 naming every variable that is wrong (nothing is done with half of them).

    Read once per command: the clock asks for them too, and reading means the environment, `.env`
    and the secrets directory again.
    """
    meta = _meta()
    if "notify.settings" in meta:
        return meta["notify.settings"]
    settings, problems = _settings_and_problems()
    if problems:
        for problem in problems:
            click.echo(f"error: {problem.key}: {problem.message}", err=True)
        _fail("settings rejected; nothing was done", problems)
    _set_clock(settings)
    meta["notify.settings"] = settings
    return settings


def _settings_and_problems() -> tuple[Any, list[Any]]:
    """The settings with every invalid value replaced by its default, and a problem per invalid value.

    `notify check` reports those problems beside everything else it finds; the other
    commands refuse to run on them (:func:`_settings`).
    """
    from pydantic import ValidationError

    from .config.settings import Settings, load_settings, setting_errors

    try:
        settings = load_settings()
        _announce_working_directory(settings)
        return settings, []
    except ValidationError as exc:
        from .config.problems import error

        invalid = setting_errors(exc)
        problems = [error("settings", variable, message) for _, variable, message in invalid]
        defaults = {name: Settings.model_fields[name].default for name, _, _ in invalid if name in Settings.model_fields}
        return load_settings(**defaults), problems


def _announce_working_directory(settings: Any) -> None:
    """Say on stderr when configuration comes from the working directory, or why it was ignored."""
    from .config.paths import resolve_config
    from .config.settings import env_file_refusal

    if refusal := env_file_refusal():
        click.echo(f"notify: {refusal}", err=True)
    ctx = click.get_current_context(silent=True)
    chosen = ctx and (ctx.params.get("local_config_dir") or ctx.find_root().params.get("config_dir"))
    if not chosen and not settings.config_dir:
        notice = resolve_config(None, None, Path.cwd()).notice
        if notice:
            click.echo(f"notify: {notice}", err=True)


def _emit(text: str, settings: Any) -> None:
    """Print to stdout with every configured secret scrubbed, and no bidi override or carriage return (a
    reporter's text must not rewrite the operator's screen), as a last line of defence."""
    from .api import mask_secrets
    from .render.escaping import neutral

    click.echo(neutral(mask_secrets(text, settings.secrets())))


def _table_output(settings: Any) -> Any:
    """Where this command's tables go: fitted and coloured on a terminal, full width and plain otherwise.

    click decides what a terminal is, as it does for stripping colour (CliRunner(color=True)
    stands in for one in tests); the width is the terminal's, or COLUMNS; NO_COLOR turns
    colour off.
    """
    import shutil

    from .render.table import Output

    terminal = not click.utils.should_strip_ansi(sys.stdout)
    return Output.detect(terminal=terminal, columns=shutil.get_terminal_size().columns, no_color=settings.no_color,
                         secrets=settings.secrets())


def _emit_json(doc: dict[str, Any], settings: Any, indent: int | None = 2) -> None:
    """Print a --json document, with its "clock" when the command ran on a made-up time."""
    import json

    _emit(json.dumps({**doc, **_clock_json()}, indent=indent), settings)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="teamflow-notify", prog_name="notify")
@click.option("--config-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Config directory (contacts.toml, policy.toml, templates/). "
                   "Default: $NOTIFY_CONFIG_DIR, ./ if it holds contacts.toml, else the shipped defaults.")
@click.pass_context
def main(ctx: click.Context, config_dir: Path | None) -> None:
    """Incident notification dispatcher: one trigger, the right people, every channel.

    \b
    Exit statuses: 0 every recipient reached; 1 someone was not reached;
    2 input or configuration rejected before anything was sent; 3 some
    deliveries are still being retried and were left to `notify worker`.
    """
    ctx.obj = {"config_dir": config_dir}


def _config_dir(ctx: click.Context, local: Path | None) -> Path | None:
    return local or ctx.obj["config_dir"]


def _check_command(*drill_files: Path) -> str:
    """`notify check` for the configuration this command used (its --config-dir, if any), and these drill files."""
    import shlex

    from .config.paths import check_command

    ctx = click.get_current_context(silent=True)
    local = ctx.params.get("local_config_dir") if ctx else None
    command = check_command(local or (ctx.find_root().params.get("config_dir") if ctx else None))
    return " ".join([command, *(shlex.quote(str(path)) for path in drill_files)])


config_dir_option = click.option("--config-dir", "local_config_dir", type=click.Path(path_type=Path, file_okay=False),
                                 default=None, help="Config directory (overrides the global option).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print the schema-1 JSON document to stdout.")
wait_option = click.option("--wait", type=click.FloatRange(min=0), default=30.0, show_default=True,
                           help="Seconds to keep retrying this command's own deliveries; the rest is left to "
                                "`notify worker` (exit 3).")


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
    from .app import engine

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

    from .app import engine
    from .domain.incident import valid_incident_id

    prefix = rt.klass(klass).prefix
    values = {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}
    if show and not dry_run:
        _fail("--show needs --dry-run: it prints the messages a real send would deliver; nothing was sent")
    missing = [s.option for s in FIELDS if s.required and not values.get(s.name)]
    if missing:
        _fail(f"{klass}: missing required option(s): {', '.join(missing)}; nothing was sent")
    if incident_id and (problem := valid_incident_id(incident_id, prefix)):
        _fail(f"--incident: {problem}; nothing was sent")
    try:
        incident = engine.new_incident(rt, klass, values, now=_now(), drill=drill, incident_id=incident_id)
    except ValueError as exc:
        _fail(f"--started: {exc}; nothing was sent")
    if incident.started > _now() + timedelta(minutes=5):
        _fail(f"--started: {incident.started.isoformat()} is in the future; nothing was sent")
    incident = replace(incident, also=also, needs_review=needs_review)
    degraded = _degraded_note(rt, dry_run=dry_run)
    if dry_run:
        report = engine.preview(rt, klass, incident.with_id(incident_id or _peek_id(settings, prefix)))
        if not incident_id:
            report.notes.append("dry run: the id shown is the next one; nothing was allocated, stored or sent")
        report.notes += degraded
        _print_report(report, settings, as_json, extra)
        if show and not as_json:  # the document carries every message already
            _emit("\n" + report.messages_text(), settings)
        sys.exit(report.exit_status())  # as a real send would: 1 when someone would not be reached
    from .store import open_store

    store = open_store(settings.resolved_store_url())
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
    from .store import StoreError, peek_store

    year = _now().year
    try:
        store = peek_store(settings.resolved_store_url())
    except StoreError as exc:
        click.echo(f"notify: the store is unreachable, the id shown is a guess: {exc}", err=True)
        return f"{prefix}-{year}-001"
    return store.peek_id(prefix, year) if store else f"{prefix}-{year}-001"


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

    from .app.check import run_check

    settings, setting_problems = _settings_and_problems()
    result = run_check(_config_dir(ctx, local_config_dir), settings, drill_files)
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


# Register the commands on `main`.
from . import cli_drill, cli_inbox, cli_lifecycle, cli_records, cli_serve, cli_triage  # noqa: E402,F401

if __name__ == "__main__":  # pragma: no cover
    main()
