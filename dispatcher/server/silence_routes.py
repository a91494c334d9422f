"""Silences and maintenance windows over the API, as `notify silence` and `notify maintenance` do them.

    GET  /silences                  those in effect or to come (?all=1: every one)      (API token)
    POST /silences                  {"matchers": [...], "for": "2h", "by": ..., "reason": ...}: 201, with the
                                    open incidents it matches (a silence affects new alerts only)
    POST /silences/{id}/expire      end it now; a group it held that still fires pages at once
    GET  /maintenance               the windows in effect or to come
    POST /maintenance               {"services": [...], "from": ISO 8601, "to": ISO 8601, "by": ..., "reason": ...}

The app (app.py) tries these routes before answering 404; auth.py gives them the API token, as every
route that is not a hook, a link, a provider callback or a probe. A body is read as strictly as an
incident action's; a field that is wrong is answered 422 naming it.
"""

from __future__ import annotations

import re
from typing import Any, Awaitable, Callable

from ..app.inputs import parse_moment
from ..app.silences import add_maintenance, add_silence, expire, list_silences, silence_json
from ..app.webhooks import load_object
from ..errors import InputError, PayloadError
from .http_error import HTTPError

__all__ = ["SilenceRoutes"]

EXPIRE = re.compile(r"^/silences/([A-Za-z0-9-]{1,40})/expire$")
JSON = "application/json"

Run = Callable[..., Awaitable[Any]]


class SilenceRoutes:
    """The routes, over one runtime, store and clock; `wake` tells the worker loop pages were planned."""

    def __init__(self, rt: Any, store: Any, clock: Any, wake: Callable[[], None],
                 track: Callable[[Callable[..., Any]], Callable[..., Any]] = lambda f: f) -> None:
        self.rt, self.store, self.clock, self.wake = rt, store, clock, wake
        self._add, self._window, self._expire = track(self.add), track(self.add_window), track(self.expire)

    async def answer(self, method: str, path: str, body: bytes, run: Run) -> tuple[int, Any, str] | None:
        if path in ("/silences", "/maintenance") and method == "GET":
            return 200, await run(self.listed, path == "/maintenance"), JSON
        if path == "/silences" and method == "POST":
            return 201, await run(self._add, _body(body)), JSON
        if path == "/maintenance" and method == "POST":
            return 201, await run(self._window, _body(body)), JSON
        if (match := EXPIRE.match(path)) and method == "POST":
            answered = await run(self._expire, match.group(1))
            self.wake()  # the pages it released are in the outbox: the worker loop sends them now
            return 200, answered, JSON
        return None

    @staticmethod
    def methods(path: str) -> list[str]:
        """The methods answer() takes at `path` (a 405's Allow for the others)."""
        if path in ("/silences", "/maintenance"):
            return ["GET", "POST"]
        return ["POST"] if EXPIRE.match(path) else []

    def listed(self, windows_only: bool) -> dict[str, Any]:
        now = self.clock.now()
        rows = [s for s in list_silences(self.store, now) if not windows_only or s.kind == "maintenance"]
        return {"schema": 1, "silences": [silence_json(s, now) for s in rows]}

    def add(self, body: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.now()
        made, matching = add_silence(self.rt, self.store, _strings(body, "matchers"), duration=_text(body, "for"),
                                     by=_text(body, "by"), reason=_text(body, "reason"), now=now)
        return {"schema": 1, "silence": silence_json(made, now), "open_incidents_matched": matching}

    def add_window(self, body: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.now()
        window = add_maintenance(self.store, _strings(body, "services"), starts=_moment(body, "from"),
                                 ends=_moment(body, "to"), by=_text(body, "by"), reason=_text(body, "reason"),
                                 now=now)
        return {"schema": 1, "window": silence_json(window, now)}

    def expire(self, silence_id: str) -> dict[str, Any]:
        now = self.clock.now()
        ended = expire(self.rt, self.store, silence_id, now)
        return {"schema": 1, "silence": silence_json(ended.silence, now), "released": ended.released}


def _body(body: bytes) -> dict[str, Any]:
    try:
        return load_object(body)
    except PayloadError as exc:
        raise HTTPError(exc.http_status, str(exc), exc.field) from None


def _text(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str):
        raise InputError(field, "required: a string")
    return value


def _strings(body: dict[str, Any], field: str) -> list[str]:
    value = body.get(field)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(field, "required: an array of strings")
    return value


def _moment(body: dict[str, Any], field: str) -> Any:
    text = _text(body, field)
    try:
        return parse_moment(text)
    except ValueError:
        raise InputError(field, f"{text[:40]!r} is not an ISO 8601 time") from None
