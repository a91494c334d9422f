"""`notify inbox`: the Alertmanager and Grafana webhooks `notify serve` stored and has not handled yet.

Normally empty within milliseconds. What stays is either waiting for a worker
(none running, or a backlog), failing (retried with backoff), or given up (kept
for inspection after repeated failures, or at once when its body no longer
parses). After fixing the cause, `--retry` makes rows due again at once;
`--discard` deletes rows that should never be handled (they are gone for good).
"""

from __future__ import annotations

import click

from .common import (
    _emit,
    _emit_json,
    _fail,
    _local_store,
    _settings,
    _table_output,
    handles_errors,
    json_option,
    main,
)


def _table(rows: list[dict], settings) -> str:
    """The stored webhooks as a table (imported here: `notify --help` need not load the table renderer)."""
    from ..app.tables import inbox_table

    return inbox_table(rows, _table_output(settings))


@main.command()
@click.option("--retry", "retry_ids", multiple=True, type=int, metavar="ID",
              help="Try this stored webhook again now, from its first attempt (repeatable).")
@click.option("--discard", "discard_ids", multiple=True, type=int, metavar="ID",
              help="Delete this stored webhook without handling it (repeatable; it is gone for good).")
@json_option
@handles_errors
def inbox(retry_ids: tuple[int, ...], discard_ids: tuple[int, ...], as_json: bool) -> None:
    """List the webhooks stored and not handled yet: waiting, failing or given up."""
    from ..clock import iso

    if set(retry_ids) & set(discard_ids):
        _fail(f"--retry and --discard name the same webhook: {sorted(set(retry_ids) & set(discard_ids))}")
    settings = _settings()
    store = _local_store(settings)
    try:
        retried, discarded = store.inbox_retry(retry_ids), store.inbox_discard(discard_ids)
        rows = store.inbox_rows()
    finally:
        store.close()
    missing = len(set(retry_ids)) - retried + len(set(discard_ids)) - discarded
    if as_json:
        _emit_json({"schema": 1, "command": "inbox", "retried": retried, "discarded": discarded,
                    "webhooks": [{**r, "received": iso(r["received"]), "lease_until": iso(r["lease_until"])}
                                 for r in rows]}, settings)
    else:
        notes = ([f"{retried} to be tried again now"] if retry_ids else []) + \
                ([f"{discarded} discarded"] if discard_ids else [])
        table = [_table(rows, settings)] if rows else []
        _emit("\n".join(notes + (table or ["no stored webhooks waiting"])), settings)
    if missing:
        _fail(f"{missing} of the ids given are not in the inbox (handled already, or never stored) or are being "
              "handled now")
