"""`notify token create|list|revoke`: personal API tokens for acting on incidents through `notify serve`.

Parse, call app/tokens.py, print. A token is printed once, by `create`, and
never again: the store keeps only its hash.
"""

from __future__ import annotations

from pathlib import Path

import click

from .common import (
    _emit,
    _emit_json,
    _now,
    _table_output,
    config_dir_option,
    handles_errors,
    json_option,
    main,
)
from .lifecycle import _runtime_and_store


@main.group()
def token() -> None:
    """Personal API tokens: each acts on incidents through `notify serve` as one person of contacts.toml."""


@token.command()
@click.argument("person")
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def create(ctx: click.Context, person: str, as_json: bool, local_config_dir: Path | None) -> None:
    """Create a token for PERSON (id, login or email in contacts.toml); it is shown this once."""
    from ..app.tokens import create_token

    settings, rt, store = _runtime_and_store(ctx, local_config_dir)
    with store:
        new = create_token(store, rt.directory, person, _now())
    if as_json:
        _emit_json({"schema": 1, "command": "token create", "id": new.id, "person": new.person, "name": new.name,
                    "token": new.token}, settings)
        return
    _emit(f"token {new.id} for {new.name} ({new.person}); shown this once, only its hash is kept:\n"
          f"  {new.token}\nuse it as NOTIFY_API_TOKEN with NOTIFY_SERVER_URL; revoke it with "
          f"`notify token revoke {new.id}`", settings)


@token.command(name="list")
@json_option
@config_dir_option
@click.pass_context
@handles_errors
def list_(ctx: click.Context, as_json: bool, local_config_dir: Path | None) -> None:
    """Every personal token: id, person, created, last used, revoked (never the token)."""
    from ..app.tokens import list_tokens, tokens_table

    settings, _, store = _runtime_and_store(ctx, local_config_dir)
    with store:
        rows = list_tokens(store)
    if as_json:
        _emit_json({"schema": 1, "command": "token list", "tokens": [r.as_json() for r in rows]}, settings)
        return
    if not rows:
        _emit("no personal tokens (create one with `notify token create PERSON`)", settings)
        return
    _emit(tokens_table(rows, _table_output(settings)), settings)


@token.command()
@click.argument("token_id", metavar="ID")
@config_dir_option
@click.pass_context
@handles_errors
def revoke(ctx: click.Context, token_id: str, local_config_dir: Path | None) -> None:
    """Revoke a token by its id (see `notify token list`): `notify serve` refuses it from now on."""
    from ..app.tokens import revoke_token
    from ..clock import iso

    settings, _, store = _runtime_and_store(ctx, local_config_dir)
    with store:
        row = revoke_token(store, token_id, _now())
    _emit(f"token {row.id} of {row.person} revoked at {iso(row.revoked)}", settings)
