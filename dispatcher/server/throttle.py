"""Slow down guessing: an address with too many failed authentications is refused (429) for a while."""

from __future__ import annotations

import time
from typing import Callable

__all__ = ["FailureThrottle"]


class FailureThrottle:
    """Counts failed authentications per client address in fixed windows.

    Once an address has failed `limit` times within `window` seconds, its further failures are
    answered 429 until that window ends (the authenticator lets a valid credential in regardless:
    pages must not wait for someone else's failures). At most `tracked` addresses are remembered
    (the oldest windows are dropped first), so a flood from many addresses cannot fill memory.
    """

    def __init__(self, limit: int = 10, window: float = 60.0, now: Callable[[], float] = time.monotonic,
                 tracked: int = 10_000) -> None:
        self.limit, self.window, self.now, self.tracked = limit, window, now, tracked
        self._windows: dict[str, tuple[float, int]] = {}  # address -> (window start, failures in it)

    def blocked_for(self, address: str) -> float:
        """Seconds until `address` may try again; 0 when it may now."""
        start, failures = self._windows.get(address, (0.0, 0))
        left = start + self.window - self.now()
        return left if failures >= self.limit and left > 0 else 0.0

    def failed(self, address: str) -> None:
        now = self.now()
        start, failures = self._windows.pop(address, (now, 0))
        if now - start >= self.window:
            start, failures = now, 0
        self._windows[address] = (start, failures + 1)  # re-inserted last: dicts keep insertion order
        while len(self._windows) > self.tracked:
            del self._windows[next(iter(self._windows))]
