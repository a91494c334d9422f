"""The HTTP answers the server gives as they are, status included: they never leave the server.

Outside the error tree on purpose (see dispatcher.errors): an :class:`HTTPError` is an answer already.
"""

from __future__ import annotations

__all__ = ["HTTPError", "StoreTimeout"]


class HTTPError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers or []


class StoreTimeout(HTTPError):
    """The store did not answer in time; the call may still complete, so a retry must be (and is) harmless."""

    def __init__(self, seconds: float) -> None:
        super().__init__(503, f"the store did not answer within {seconds:g} s (NOTIFY_STORE_TIMEOUT); retry later "
                              "(a repeat is recognised, never paged twice)")
