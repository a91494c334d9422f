"""CLI commands around triage: `triage`, `escalate`, `who` and `test`.

Same rule as every command: parse, call a use case of app/, print. Registered on
the `notify` group when the `dispatcher.cli` package is imported.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .common import (
    EXIT_OK,
    _clock,
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
    json_option,
    main,
)
from .trigger import run_trigger, trigger_options


@main.command()
@click.argument("stdin_marker", metavar="[-]", required=False, type=click.Choice(["-"]))
@click.option("--text", default=None, help="The report text.")
@click.option("--file", "text_file", type=click.File("r"), default=None, help="Read the report from a file (- for stdin).")
@click.option("--amount", type=float, default=None, help="Amount at stake (a refund, a charge), dollars.")
@click.option("--fortune500/--not-fortune500", default=None, help="Whether the customer is a Fortune 500 company.")
@click.option("--unresolved-hours", type=float, default=None, help="Hours the problem has been unresolved.")
@click.option("--customers-affected", type=float, default=None, help="Number of customers affected.")
@click.option("--label", "labels", multiple=True, metavar="NAME=VALUE", help="An alert label (repeatable).")
@click.option("--send", is_flag=True, help="Dispatch the result exactly like the class commands.")
@trigger_options
@click.pass_context
@handles_errors
def triage(ctx: click.Context, stdin_marker: str | None, text: str | None, text_file: Any, amount: float | None,
           fortune500: bool | None, unresolved_hours: float | None, customers_affected: float | None,
           labels: tuple[str, ...], send: bool, incident_id: str, dry_run: bool, show: bool, drill: bool,
           as_json: bool, wait: float, local_config_dir: Path | None, **values: Any) -> None:
    """Route a report to its category: tier, deadline, level, audience and every rule that matched.

    \b
    Give the text with --text, --file F, or - (stdin); account facts with
    --customer (a known account fills plan, contract value and Fortune 500
    flag) or the options, which override the account. With --send the
    incident keeps the plan and contract value: its notices name them.
    """
    from ..app import engine
    from ..app.views import (
        Report,
        account_facts,
        report_with_account,
        run_triage,
        triage_document,
        triage_text,
    )
    from ..errors import InputError

    body = _report_text(text, text_file, stdin_marker)
    try:  # checked as the incident checks them, and said in the option's name
        plan, acv = account_facts(values)
    except InputError as exc:
        _fail(f"triage: --{exc.field}: {exc.problem}; nothing was sent")
    if not body.strip() and not any(v is not None for v in (plan, acv, amount, fortune500, unresolved_hours,
                                                             customers_affected)) and not labels \
            and not values.get("customer"):
        _fail("triage: nothing to triage: give the report with --text, --file or - (stdin), or account facts")
    settings = _settings()
    rt = engine.load_runtime(_config_dir(ctx, local_config_dir), settings)
    report = Report(body, plan, acv, amount, fortune500, unresolved_hours, customers_affected, _labels(labels))
    report, account = report_with_account(rt, report, values.get("customer"))
    result = run_triage(rt, report)
    doc = triage_document(rt, report, result, _now())
    if values.get("customer") and account is None:
        doc["notes"] = [f"customer {values['customer']!r} is not an account in contacts.toml: plan, contract value "
                        "and Fortune 500 flag come only from the options"]
    if not (send or dry_run):
        if as_json:
            _emit_json(doc, settings)
        else:
            _emit(triage_text(doc), settings)
        sys.exit(EXIT_OK)
    if not as_json:
        _emit(triage_text(doc) + "\n", settings)
    values["summary"] = values.get("summary") or _summary_of(body)
    values.update(plan=report.plan, acv=report.acv)  # the account's facts, as triage read them, kept by the incident
    run_trigger(rt, settings, result.klass, incident_id, values, dry_run=dry_run, drill=drill, as_json=as_json,
                wait=wait, also=result.also, needs_review=result.needs_review, extra={"triage": doc}, show=show)


def _report_text(text: str | None, text_file: Any, stdin_marker: str | None) -> str:
    sources = [s for s in (text is not None, text_file is not None, stdin_marker is not None) if s]
    if len(sources) > 1:
        _fail("triage: give the report once: --text, --file or - (stdin)")
    if text_file is not None:
        return text_file.read()
    if stdin_marker is not None:
        return sys.stdin.read()
    return text or ""


def _labels(pairs: tuple[str, ...]) -> dict[str, str]:
    labels = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            _fail(f"--label: {pair!r} is not NAME=VALUE")
        labels[name.strip()] = value.strip().strip('"')
    return labels


def _summary_of(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 200 else flat[:197] + "..."


@main.command()
@click.argument("category")
@trigger_options
@click.pass_context
@handles_errors
def escalate(ctx: click.Context, category: str, incident_id: str, dry_run: bool, show: bool, drill: bool,
             as_json: bool, wait: float, local_config_dir: Path | None, **values: Any) -> None:
    """Trigger any category of the policy (security, financial, high-value, ...)."""
    from ..app import engine

    settings = _settings()
    rt = engine.load_runtime(_config_dir(ctx, local_config_dir), settings)
    if category not in rt.policy.classes:
        _fail(f"escalate: unknown category {category!r}; the policy has: {', '.join(rt.policy.classes)}")
    run_trigger(rt, settings, category, incident_id, values, dry_run=dry_run, drill=drill, as_json=as_json, wait=wait,
                show=show)


@main.command()
@click.argument("category")
@click.option("--at", "at_time", default=None, help="ISO 8601 time to ask about (default: now).")
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def who(ctx: click.Context, category: str, at_time: str | None, as_json: bool, local_config_dir: Path | None) -> None:
    """Who would be notified for a category now (or at --at), step by step, with channels."""

    from ..app import engine
    from ..app.views import who_document, who_text

    settings = _settings()
    rt = engine.load_runtime(_config_dir(ctx, local_config_dir), settings)
    if category not in rt.policy.classes:
        _fail(f"who: unknown category {category!r}; the policy has: {', '.join(rt.policy.classes)}")
    doc = who_document(rt, category, _clock(at_time).now().replace(microsecond=0))
    if as_json:
        _emit_json(doc, settings)
    else:
        _emit(who_text(doc, _table_output(settings)), settings)


def _installed_channel(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An installed channel's name (a plugin's too), read only when --channel is given: --help stays cheap."""
    from ..config.plugins import discover

    if value is not None and value not in discover():
        raise click.BadParameter(f"{value!r} is not an installed channel (installed: {', '.join(sorted(discover()))})")
    return value


@main.command("test")
@click.argument("target")
@click.option("--channel", callback=_installed_channel, default=None, metavar="CHANNEL",
              help="The contact method to test, any installed channel (default: the person's preferred one).")
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def contact_test(ctx: click.Context, target: str, channel: str | None, as_json: bool,
                 local_config_dir: Path | None) -> None:
    """Send a clearly marked test message to a PERSON, LIST or a channel's DESTINATION (a Slack channel) and
    record the result."""
    from ..app import engine
    from ..app.contact_test import resolve_test_target, send_test

    settings = _settings()
    rt = engine.load_runtime(_config_dir(ctx, local_config_dir), settings)
    planned = resolve_test_target(rt, target, channel, _now())
    if not planned or planned[0].skip:
        _fail(f"test: {target} cannot be reached on {channel or 'that channel'}: "
              f"{planned[0].skip if planned else 'no address'}")
    store = _local_store(settings)
    try:
        report = send_test(rt, planned, store=store, clock=_clock())
    finally:
        store.close()
    if as_json:
        _emit_json(report.as_json(), settings)
    else:
        _emit(report.table(), settings)
    sys.exit(report.exit_status())
