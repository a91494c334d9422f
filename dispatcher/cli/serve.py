"""CLI commands for monitoring: `serve` (webhooks + API + worker) and `ingest` (command-style hooks)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .common import (
    _clock,
    _config_dir,
    _emit,
    _emit_json,
    _fail,
    _refuse_made_up_time,
    _settings,
    config_dir_option,
    handles_errors,
    json_option,
    main,
    wait_option,
)
from .trigger import _degraded_note

if TYPE_CHECKING:
    from ..app.engine import Runtime


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=9095, show_default=True, help="Port to listen on.")
@click.option("--interval", type=click.FloatRange(min=0.05), default=5.0, show_default=True,
              help="Worker loop: seconds between ticks at most (a stored event wakes it at once).")
@click.option("--no-auth", is_flag=True, help="Accept unauthenticated requests (on a loopback address only).")
@click.option("--insecure-no-auth", is_flag=True,
              help="Allow --no-auth on a non-loopback address: anyone who reaches it can page and resolve.")
@click.option("--header-timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds a client has to send a request's headers (from connecting); then 408 and closed.")
@click.option("--body-timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Seconds a client has to send a request's body (after its headers); then 408 and closed.")
@click.option("--max-connections", type=click.IntRange(min=1), default=4096, show_default=True,
              help="Open connections at most (kept below the open-file limit); more are answered 503.")
@click.option("--max-in-flight", type=click.IntRange(min=1), default=64, show_default=True,
              help="Requests being read or handled at once; more are answered 503 (not /healthz, /metrics).")
@config_dir_option
@click.pass_context
@handles_errors
def serve(ctx: click.Context, host: str, port: int, interval: float, no_auth: bool, insecure_no_auth: bool,
          header_timeout: float, body_timeout: float, max_connections: int, max_in_flight: int,
          local_config_dir: Path | None) -> None:
    """Receive Alertmanager, Grafana and generic webhooks, serve the API and /metrics, and run the worker.

    The worker loop is a `notify worker` subprocess on the same configuration and store, woken
    by each stored event (server/sender.py); one that exits unasked is replaced.
    """
    from ..app import engine
    from ..app.stores import open_store
    from ..clock import SystemClock
    from ..eventlog import configure, emit
    from ..server.front_end import FrontEndLimits
    from ..server.run import serve as run_server

    settings = _settings()
    _refuse_made_up_time("serve")
    _refuse_unsafe_auth(settings, host, no_auth, insecure_no_auth)
    rt = engine.load_runtime(_config_dir(ctx, local_config_dir), settings, remember=True)
    rt.routing  # noqa: B018 - load the rules now: a broken routing.toml fails at start, not at the first alert
    store_url = settings.resolved_store_url()
    open_store(store_url, timeout=settings.store_timeout).close()  # a store that cannot be opened (or is behind) fails here, before anything starts
    from ..app.stores import mask_store_url

    configure(settings.log_format, settings.secrets())
    say = _say(settings.log_format == "json", emit)
    _warn_about_unusable_channels(rt, local_config_dir, say)
    say("serve.listening", f"notify serve: listening on http://{host}:{port} (store {mask_store_url(store_url)})",
        url=f"http://{host}:{port}", store=mask_store_url(store_url))
    run_server(rt, lambda: open_store(store_url, timeout=settings.store_timeout), SystemClock(), host=host, port=port,
               interval=interval, sender=_sender_command(rt, interval),
               limits=FrontEndLimits(header_timeout=header_timeout, body_timeout=body_timeout,
                                     max_connections=max_connections, max_in_flight=max_in_flight))
    say("serve.stopped", "notify serve: stopped, worker finished and leases released")


def _sender_command(rt: Runtime, interval: float) -> list[str]:
    """`notify worker` as serve's sender: the configuration directory serve resolved, the same environment."""
    return [sys.executable, "-m", "dispatcher", "--config-dir", str(rt.paths.config_dir), "worker",
            "--interval", repr(interval)]


def serve_sender(ctx: click.Context, local_config_dir: Path | None, interval: float, report_fd: int, *,
                 fires_timers: bool = True) -> None:
    """`notify worker --report-fd N`: serve's sender, woken and reporting over the inherited socket N;
    ``fires_timers=False``: serve's second sender, which leaves the timers to the first.

    The configuration falls back to the last copy that validated: a file broken since serve
    started must not stop the pages of the alerts serve keeps accepting.
    """
    import socket

    from ..app import engine
    from ..app.stores import open_store
    from ..clock import SystemClock
    from ..eventlog import configure
    from ..server.sender import run_child

    sock = socket.socket(fileno=report_fd)
    settings = _settings()
    rt = engine.load_runtime(_config_dir(ctx, local_config_dir), settings, last_good=True)
    configure(settings.log_format, settings.secrets())
    store_url = settings.resolved_store_url()
    run_child(rt, lambda: open_store(store_url, timeout=settings.store_timeout), SystemClock(), interval, sock,
              fires_timers=fires_timers)


def _refuse_unsafe_auth(settings: Any, host: str, no_auth: bool, insecure_no_auth: bool) -> None:
    """Weak credentials, or none on an address others can reach, are refused before anything starts."""
    from ..server.auth import credential_problems

    if problems := credential_problems(settings):
        _fail("serve: " + "; ".join(problems))
    if no_auth and not insecure_no_auth and not _loopback(host):
        _fail(f"serve: --no-auth on {host}, which is not a loopback address: anyone who reaches it could page "
              "and resolve; set NOTIFY_WEBHOOK_TOKEN and NOTIFY_API_TOKEN, listen on 127.0.0.1, or pass "
              "--insecure-no-auth as well")
    credentials = (settings.webhook_token, settings.webhook_hmac_secret, settings.api_token)
    if not (any(credentials) or no_auth):
        _fail("serve: set NOTIFY_WEBHOOK_TOKEN (inbound bearer token) or NOTIFY_WEBHOOK_HMAC_SECRET for hooks, "
              "and NOTIFY_API_TOKEN for the API; or pass --no-auth on a loopback address")


def _loopback(host: str) -> bool:
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # another host name: it may resolve to anything
        return False


def _say(as_json: bool, emit: Any) -> Any:
    """The server's own start and stop lines: as written on stderr, or as events among the JSON lines."""
    def say(event: str, text: str, level: int = 20, **fields: Any) -> None:
        if as_json:
            emit(event, None, level=level, message=text.removeprefix("notify serve: "), **fields)
        else:
            click.echo(text, err=True)

    return say


def _warn_about_unusable_channels(rt: Runtime, local_config_dir: Path | None, say: Any) -> None:
    """Every hook is answered 202 whatever happens next: say now if the policy's pages cannot go out."""
    from ..app.check import channels_used
    from ..app.preview import unusable_channels
    from ..config.paths import check_command

    used = channels_used(rt.policy, rt.directory)
    for channel, why in unusable_channels(rt, used).items():
        say("serve.channel-unusable",
            f"notify serve: warning: {why}: {_places(len(used[channel]))} by "
            f"{channel} will fail (and fall back where they can); run `{check_command(local_config_dir)}`",
            level=30, channel=channel)


def _places(n: int) -> str:
    return "the one place in the policy that pages" if n == 1 else f"the {n} places in the policy that page"


@main.command()
@click.argument("source_file", metavar="[FILE|-]", type=click.File("rb"), default="-")
@click.option("--format", "source", type=click.Choice(["alertmanager", "grafana", "generic"]), required=True,
              help="The payload's format.")
@wait_option
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def ingest(ctx: click.Context, source_file: Any, source: str, wait: float, as_json: bool,
           local_config_dir: Path | None) -> None:
    """Ingest one monitoring payload from a file or stdin, exactly as `notify serve` would, and send it."""
    from ..app import engine
    from ..app.ingest import ingest_and_send
    from ..app.stores import open_store
    from ..app.webhooks import parse
    from ..errors import InputError, PayloadError

    body = source_file.read()
    try:
        event = parse(source, body)
    except PayloadError as exc:
        _fail(f"ingest: {getattr(source_file, 'name', '-')}: {exc}; nothing was stored")
    settings = _settings()
    rt = engine.load_runtime(_config_dir(ctx, local_config_dir), settings, last_good=True, remember=True)
    degraded = _degraded_note(rt)
    store = open_store(settings.resolved_store_url())
    try:
        sent = ingest_and_send(rt, store, _clock(), event, wait=wait)
    except InputError as exc:  # the event's fields, validated in domain/ as for the CLI and the webhooks
        _fail(f"ingest: {exc}; nothing was stored", status=exc.exit_status)
    finally:
        store.close()
    if sent.report is None:
        if as_json:
            _emit_json(sent.result.as_json(sent.counts), settings, indent=None)
        elif sent.result.outcome == "heartbeat":  # Alertmanager's Watchdog: never an incident of its own
            _emit(f"{source}: the Watchdog alert, a beat of its heartbeat (see `notify heartbeats`)", settings)
        else:
            _emit(f"{source}: nothing open for this alert group; nothing to do", settings)
        return
    report = sent.report
    report.notes += degraded
    if as_json:
        _emit_json({**report.as_json(), "ingest": sent.result.as_json(sent.counts)}, settings)
    else:
        _emit(report.table(), settings)
    sys.exit(report.exit_status())
