"""`POST /heartbeat/NAME`: a monitor's dead man's switch, authenticated as a hook (see auth.py).

``?interval=5m`` (and ``&grace=2m``) give the expected interval of a heartbeat
routing.toml does not declare, on its first call; a declared one keeps its
declaration. The body is ignored (a webhook may be pointed here as it is). The
answer is 200 with the heartbeat as stored; a beat that ends a silence resolves
its `monitoring` incident, and the worker is woken for the resolution notices.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from .query import query_value

__all__ = ["HEARTBEAT", "heartbeat_answer"]

HEARTBEAT = re.compile(r"^/heartbeat/([^/]{1,100})$")


async def heartbeat_answer(name: str, scope: dict, *, run: Callable[..., Awaitable[Any]],
                           services: Any) -> tuple[int, Any, str]:
    """Record one beat (services.beat, on the store thread) and answer what it did."""
    beat = await run(services.beat, name, query_value(scope, "interval"), query_value(scope, "grace"))
    if beat.delivery_ids:
        services.wake()  # the resolution notices of the silence it ended
    return 200, beat.as_json(), "application/json"
