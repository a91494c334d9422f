"""What every `notify` command shares: the `main` group, its options, the clock, settings, output and failure.

Module-level imports are click and stdlib only, so `notify --help` starts
fast; each command imports what it needs (pydantic, jinja2, apprise) when run.
"""

from __future__ import annotations

import functools
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import click

from ..errors import EXIT_REJECTED

EXIT_OK, EXIT_NOT_REACHED = 0, 1


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
        from ..app.inputs import parse_moment
        from ..clock import FakeClock

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
    from ..clock import StartedClock, SystemClock, parse_instant

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


def _fail(message: str, problems: tuple[Any, ...] | list[Any] = (), *, status: int = EXIT_REJECTED) -> None:
    """Say why nothing was done, and exit `status` (2: rejected); with --json, also print a schema-1 document saying so.

    A script reading stdout must not be left with nothing to parse: the document
    carries the same message and problems as stderr (settings errors never show a secret's value).
    """
    click.echo(f"notify: {message}", err=True)
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.params.get("as_json"):
        _print_rejection(ctx.info_name, message, problems, status)
    sys.exit(status)


def _print_rejection(command: str | None, message: str, problems: tuple[Any, ...] | list[Any] = (),
                     status: int = EXIT_REJECTED) -> None:
    import json

    click.echo(json.dumps({"schema": 1, "command": command, "status": "rejected", "exit": status,
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
    """Turn every :class:`~dispatcher.errors.NotifyError` into a clear message and its type's exit status."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ..errors import NotifyError

        try:
            return func(*args, **kwargs)
        except NotifyError as exc:
            _fail(_rejection(exc), getattr(exc, "problems", ()), status=exc.exit_status)

    return wrapper


def _rejection(exc: Any) -> str:
    """What a command says about an error, by its type (errors.py draws the tree); problems go to stderr first."""
    from ..errors import ConfigError, IncidentNotFound, InputError

    if isinstance(exc, IncidentNotFound):
        return f"{exc.incident_id}: no such incident (see `notify incidents`)"
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        return f"rejected; nothing was sent (run `{_check_command()}` to see every problem)"
    if isinstance(exc, InputError):
        return f"{_as_typed(exc.field)}: {exc.problem}; {_nothing_done()}"
    return str(exc)  # the store's errors, a closed incident: their message says what and why


# Commands that record things but send nothing: their refusal says so, not "nothing was sent".
_RECORDS_ONLY = frozenset({"silence", "maintenance", "heartbeats", "token", "tokens"})


def _as_typed(field: str) -> str:
    """An input error's field as the person typed it: `--for`, when this command has that option (the service
    layer names fields as the HTTP API does, `for`), else the field itself."""
    ctx = click.get_current_context(silent=True)
    option = f"--{field.replace('_', '-')}"
    if ctx is not None and any(option in p.opts for p in ctx.command.params):
        return option
    return field


def _nothing_done() -> str:
    ctx = click.get_current_context(silent=True)
    names = set(ctx.command_path.split()) if ctx is not None else set()  # "notify silence add"
    return "nothing was changed" if names & _RECORDS_ONLY else "nothing was sent"


def _local_store(settings: Any) -> Any:
    """This machine's store. With NOTIFY_SERVER_URL set, the command reaching here does not go through the server
    (only the incident commands do, cli/remote.py): say so, or an empty local store reads as "nobody was paged"."""
    from ..app.stores import mask_store_url, open_store

    url = settings.resolved_store_url()
    if settings.server_url:
        ctx = click.get_current_context(silent=True)
        command = "notify " + ctx.command_path.partition(" ")[2] if ctx else "this command"  # the path's root: "notify"
        click.echo(f"notify: NOTIFY_SERVER_URL is set, but `{command}` does not go through the server: it uses "
                   f"this machine's store, {mask_store_url(url)}", err=True)
    return open_store(url)


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

    from ..config.settings import Settings, load_settings, setting_errors

    try:
        settings = load_settings()
        _announce_working_directory(settings)
        return settings, []
    except ValidationError as exc:
        from ..config.problems import error

        invalid = setting_errors(exc)
        problems = [error("settings", variable, message) for _, variable, message in invalid]
        defaults = {name: Settings.model_fields[name].default for name, _, _ in invalid if name in Settings.model_fields}
        return load_settings(**defaults), problems


def _announce_working_directory(settings: Any) -> None:
    """Say on stderr when configuration comes from the working directory, or why it was ignored."""
    from ..config.paths import resolve_config
    from ..config.settings import env_file_refusal

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
    from ..app.terminal import printable

    click.echo(printable(text, settings.secrets()))


def _table_output(settings: Any) -> Any:
    """Where this command's tables go: fitted and coloured on a terminal, full width and plain otherwise.

    click decides what a terminal is, as it does for stripping colour (CliRunner(color=True)
    stands in for one in tests); the width is the terminal's, or COLUMNS; NO_COLOR turns
    colour off.
    """
    import shutil

    from ..app.terminal import Output

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
    Exit statuses: 0 a provider accepted it for every recipient; 1 for someone none did;
    2 input or configuration rejected before anything was sent; 3 some
    deliveries are still being retried and were left to `notify worker`.
    """
    ctx.obj = {"config_dir": config_dir}


def _config_dir(ctx: click.Context, local: Path | None) -> Path | None:
    return local or ctx.obj["config_dir"]


def _check_command(*drill_files: Path) -> str:
    """`notify check` for the configuration this command used (its --config-dir, if any), and these drill files."""
    import shlex

    from ..config.paths import check_command

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
