"""Query-string parameters of `notify serve`'s routes, read strictly: a bad one is a 422 naming it."""

from __future__ import annotations

from urllib.parse import parse_qs

from .http_error import HTTPError

__all__ = ["MAX_WAIT", "hook_wait", "query_value"]

MAX_WAIT = 30.0  # seconds a generic hook's caller may wait for outcomes: longer and its HTTP client gives up


def query_value(scope: dict, name: str) -> str | None:
    """The last value of ?name= in the request's query string, or None when absent."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[-1] if values else None


def hook_wait(scope: dict, source: str, queued: frozenset[str]) -> float:
    """The ?wait=SECONDS of a hook: 0 when absent; only the generic hook waits, at most MAX_WAIT."""
    value = query_value(scope, "wait")
    if value is None:
        return 0.0
    if source in queued:
        raise HTTPError(422, f"?wait: the {source} hook is answered once stored, it does not wait "
                             "(only /hooks/generic does)", "wait")
    try:
        wait = float(value)
    except ValueError:
        wait = -1.0
    if not 0 <= wait <= MAX_WAIT:  # NaN fails this too
        raise HTTPError(422, f"?wait: expected seconds from 0 to {MAX_WAIT:g}, got {value[:40]!r}", "wait")
    return wait
