"""`notify db upgrade`: the store's schema."""

from __future__ import annotations

from .common import _emit, _settings, handles_errors, main


@main.group()
def db() -> None:
    """The store's schema."""


@db.command()
@handles_errors
def upgrade() -> None:
    """Apply pending schema migrations to the store (NOTIFY_STORE_URL)."""
    from ..app.stores import mask_store_url, open_store

    settings = _settings()
    with open_store(settings.resolved_store_url(), upgrade=True) as store:
        before, after = store.upgraded
    change = f"upgraded from schema {before} to {after}" if before != after else f"already at schema {after}"
    _emit(f"store {mask_store_url(settings.resolved_store_url())}: {change}", settings)  # a password never printed
