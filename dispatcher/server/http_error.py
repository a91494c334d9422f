"""The HTTP answers the server gives as they are, status included: they never leave the server.

Outside the error tree on purpose (see dispatcher.errors): an :class:`HTTPError` is an answer already.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from re import Pattern
from typing import Any

__all__ = ["HTTPError", "StoreTimeout", "no_route", "replayed_answer"]


class HTTPError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers or []


def no_route(method: str, path: str, routes: Mapping[str, Sequence[Pattern[str]]], others: Iterable[Any] = ()
             ) -> HTTPError:
    """404 for a path nothing serves; 405 with Allow for a path served to other methods (a GET of a hook).
    `routes`: method -> the app's own path patterns; `others`: route objects that tell their methods (.methods)."""
    allowed = [verb for verb, patterns in routes.items() if any(p.match(path) for p in patterns)]
    allowed += [m for r in others for m in getattr(r, "methods", lambda _: [])(path) if m not in allowed]
    if allowed and method not in allowed:
        return HTTPError(405, f"{path} takes {' or '.join(allowed)}, not {method}",
                         headers=[(b"allow", ", ".join(allowed).encode())])
    return HTTPError(404 if method in ("GET", "POST") else 405, f"no route for {method} {path}")


class StoreTimeout(HTTPError):
    """The store did not answer in time; the call may still complete, so a retry must be (and is) harmless."""

    def __init__(self, seconds: float) -> None:
        super().__init__(503, f"the store did not answer within {seconds:g} s (NOTIFY_STORE_TIMEOUT); retry later "
                              "(a repeat is recognised, never paged twice)")


def replayed_answer(earlier: tuple[int | None, dict[str, Any] | None] | None) -> tuple[int, Any, str]:
    """The answer to a replay of a signed request: the first answer, marked duplicate."""
    status, answer = earlier or (None, None)
    if answer is None:  # still being handled, or its answer was not kept
        return 202, {"schema": 1, "outcome": "duplicate", "duplicate": True,
                     "note": "this signed request was received before; it changed nothing this time"}, \
            "application/json"
    return status or 202, {**answer, "duplicate": True}, "application/json"
