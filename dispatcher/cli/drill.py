"""CLI command `notify drill`: run a scenario, show progress, print and save the report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .common import (
    _check_command,
    _clock,
    _clock_json,
    _config_dir,
    _emit,
    _emit_json,
    _fail,
    _local_store,
    _refuse_made_up_time,
    _settings,
    _table_output,
    config_dir_option,
    handles_errors,
    main,
)


@main.command()
@click.argument("scenario_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--sandbox", is_flag=True, help="Deliver to local stand-ins for every channel (no credentials).")
@click.option("--instant", is_flag=True, help="Jump the simulated clock from tick to tick (the sandbox default).")
@click.option("--speed", type=click.FloatRange(min=1.0, max=600.0), default=None,
              help="Run simulated time N times faster than real time (1 to 600).")
@click.option("--allow", "allow", multiple=True, metavar="WHO",
              help="Live drills only: a recipient (person id, list:ID, slack:ID, role:ID) that may be reached.")
@click.option("--report", "report_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the HTML report (a timeline picture) to this file.")
@click.option("--state-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where the drill's own store goes (default: a temporary directory, removed at the end).")
@click.option("--keep", is_flag=True, help="Keep the temporary directory with the drill's store, and say where.")
@click.option("--json", "as_json", is_flag=True, help="Print the schema-1 JSON document to stdout.")
@config_dir_option
@click.pass_context
@handles_errors
def drill(ctx: click.Context, scenario_file: Path, sandbox: bool, instant: bool, speed: float | None,
          allow: tuple[str, ...], report_path: Path | None, state_dir: Path | None, keep: bool, as_json: bool,
          local_config_dir: Path | None) -> None:
    """Run an escalation drill: every message marked [DRILL], its own state, a report with SLAs.

    \b
    Exit statuses: 0 every expectation held; 1 some failed (listed);
    2 a bad scenario file or option (the message names the file and key).
    """
    from ..app import engine
    from ..app.drill import LiveClock, Sandbox, ScaledClock, allowed_recipients, play
    from ..app.drill_report import build_document, public, render_html, render_table
    from ..clock import FakeClock
    from ..config.settings import load_settings
    from ..server.drill_callbacks import DrillCallbacks

    scenario = _load_drill(scenario_file)
    if not sandbox and (instant or speed):
        _fail("drill: without --sandbox a drill reaches real people, so it runs only at real speed "
              "(drop --instant/--speed, or add --sandbox)")
    if not sandbox and not allow:
        _fail("drill: without --sandbox name who may be reached with --allow (e.g. --allow person:cto)")
    if not sandbox and any(e.via for e in scenario.events):
        _fail(f"drill: {scenario_file}: an ack 'via' a channel answers a page the stand-ins took, so it needs "
              "--sandbox (a live drill's people acknowledge for real)")
    if not sandbox and any(e.action in ("fail", "recover") for e in scenario.events):
        _fail(f"drill: {scenario_file}: 'fail'/'recover' events need --sandbox (they script the stand-ins)")
    settings = main_settings = _settings()
    if not sandbox:
        _refuse_made_up_time("a live drill (without --sandbox)")
    if not sandbox and scenario.start is not None:
        _fail(f"drill: {scenario_file}: 'start' sets a simulated clock, so it needs --sandbox")
    ran_at = _clock().now()  # for the report: when the drill was run (the simulated clock may start elsewhere)
    progress = (lambda line: click.echo(line, err=True))
    runner_kwargs = {"state_dir": state_dir, "keep": keep, "allow": None if sandbox else tuple(allow),
                     "progress": progress}
    if sandbox:
        with Sandbox() as stand_ins:
            settings = load_settings(**stand_ins.settings)  # the stand-ins replace every channel setting
            rt = engine.load_runtime(_config_dir(ctx, local_config_dir), settings)
            _fits_configuration(scenario_file, scenario, rt)
            start = scenario.start or ran_at.replace(microsecond=0)  # the file's, else NOTIFY_NOW's, else now
            clock = ScaledClock(speed, start) if speed else FakeClock(start)
            progress(f"[DRILL] {scenario.name}: sandbox on 127.0.0.1 (SMTP :{stand_ins.smtp.port}, "
                     f"Slack/Twilio via proxy :{stand_ins.proxy.port}), {'speed x%g' % speed if speed else 'instant'}")
            outcome = play(rt, scenario, clock=clock, sandbox=stand_ins, callbacks=DrillCallbacks,
                           source=str(scenario_file), **runner_kwargs)
    else:
        rt = engine.load_runtime(_config_dir(ctx, local_config_dir), settings)
        _fits_configuration(scenario_file, scenario, rt)
        runner_kwargs["allow"] = allow = allowed_recipients(rt.directory, allow)
        progress(f"[DRILL] {scenario.name}: LIVE at real speed, reaching only {', '.join(allow)}")
        outcome = play(rt, scenario, clock=LiveClock(), **runner_kwargs)
    if outcome.store_path:
        progress(f"[DRILL] store kept in {Path(outcome.store_path).parent} ({Path(outcome.store_path).name})")
    doc = {**build_document(rt, scenario, outcome, sandbox, ran_at), **_clock_json()}
    _record_run(main_settings, doc, ran_at, progress)
    if report_path:
        report_path.write_text(render_html(doc), encoding="utf-8")
        progress(f"[DRILL] HTML report: {report_path}")
    if as_json:
        _emit_json(public(doc), settings)
    else:
        _emit(render_table(doc, _table_output(settings)), settings)
    sys.exit(0 if doc["ok"] else 1)


def _record_run(settings: Any, doc: dict[str, Any], ran_at: Any, progress: Any) -> None:
    """One summary row in the main store (the monthly report counts drills); a store that cannot take it is said,
    and the drill's own result stands."""
    from ..app.monthly import record_drill_run
    from ..errors import StoreError

    try:
        with _local_store(settings) as store:
            record_drill_run(store, doc, ran_at, _clock().now())
    except StoreError as exc:
        progress(f"[DRILL] not counted in the monthly report: the store could not record the run: {exc}")


def _load_drill(path: Path) -> Any:
    from ..app.drill import load_scenario
    from ..config.problems import ConfigError

    try:
        return load_scenario(path)
    except ConfigError as exc:
        _reject_drill(path, exc.problems)


def _fits_configuration(path: Path, scenario: Any, rt: Any) -> None:
    """A drill on a class the policy lacks, or expecting an audience that names nobody, is rejected before it runs."""
    from ..app.drill import scenario_problems

    problems = scenario_problems(path, scenario, rt.policy, rt.directory)
    if problems:
        _reject_drill(path, problems)


def _reject_drill(path: Path, problems: list) -> None:
    for problem in problems:
        click.echo(str(problem), err=True)
    _fail(f"drill: {path} rejected; nothing was run (run `{_check_command(path)}` to see every problem)", problems)
