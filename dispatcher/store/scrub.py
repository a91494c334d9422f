"""Schema 4, a data step: mask the personal URLs that earlier versions stored in clear.

Before schema 4 a person's own apprise URL (``tgram://BOT_TOKEN/CHAT``) was written
to ``deliveries.target``, ``deliveries.masked_target``, ``deliveries.fallbacks`` and
``attempts.masked_target`` as it was. Now the store keeps only the masked form and
the sender reads the real URL from the directory at send time, so masking the old
rows loses nothing a send needs. Shared by both stores: the connection's
``execute`` is the DB-API one, and ``param`` is the driver's placeholder.
"""

from __future__ import annotations

import json
from typing import Any

from ..api import mask_url

__all__ = ["mask_stored_urls"]


def mask_stored_urls(conn: Any, param: str) -> None:
    """Rewrite every stored target that is a URL in its masked form (masking a masked URL changes nothing)."""
    rows = conn.execute("SELECT id, target, masked_target, fallbacks FROM deliveries "
                        "WHERE target LIKE '%://%' OR masked_target LIKE '%://%' OR fallbacks LIKE '%://%'").fetchall()
    for delivery_id, target, masked_target, fallbacks in rows:
        conn.execute(f"UPDATE deliveries SET target = {param}, masked_target = {param}, fallbacks = {param} "
                     f"WHERE id = {param}",
                     (_mask(target), _mask(masked_target), _mask_fallbacks(fallbacks), delivery_id))
    for attempt_id, masked_target in conn.execute(
            "SELECT id, masked_target FROM attempts WHERE masked_target LIKE '%://%'").fetchall():
        conn.execute(f"UPDATE attempts SET masked_target = {param} WHERE id = {param}",
                     (_mask(masked_target), attempt_id))


def _mask(target: str) -> str:
    return mask_url(target) if "://" in target else target


def _mask_fallbacks(fallbacks: str) -> str:
    """The JSON list of [channel, target] pairs still to try, with its URLs masked."""
    return json.dumps([[channel, _mask(target)] for channel, target in json.loads(fallbacks)])
