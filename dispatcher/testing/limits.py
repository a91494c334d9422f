"""A provider stand-in that enforces a rate limit, as Slack and Twilio do: past it, 429 with a Retry-After.

Each request belongs to a route (a Slack webhook's path, a Twilio sender's
`From`, Twilio's calls); a request on a route sooner than `1/rate` seconds after the last one
that route accepted is refused with 429 and recorded as such. Time is a
function given to it: a test's FakeClock, or the system's monotonic clock in a
benchmark. Use it as a ProviderProxy host's recorder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .providers import Recorded, Recorder, Reply

__all__ = ["RateLimitedRecorder", "slack_route", "twilio_route"]

TOO_MANY = Reply(429, {"message": "Too Many Requests", "code": 20429}, headers={"Retry-After": "1"})


def slack_route(request: Recorded) -> str:
    """A Slack incoming webhook is limited per webhook: its path."""
    return request.path.split("?")[0]


def twilio_route(request: Recorded) -> str:
    """Twilio limits messages per sender number (the request's From) and calls per account."""
    return "calls" if request.path.split("?")[0].endswith("/Calls.json") else request.form.get("From", "")


class RateLimitedRecorder(Recorder):
    """A Recorder that answers 429 to a route's request within `1/rate` seconds of its last accepted one."""

    def __init__(self, *replies: Reply, rate: float = 1.0, now: Callable[[], float],
                 route: Callable[[Recorded], str] = slack_route) -> None:
        super().__init__(*replies)
        self.rate, self.now, self.route = rate, now, route
        self._last: dict[str, float] = {}
        self._refused: list[Recorded] = []
        self._accepted: list[tuple[str, float, Recorded]] = []
        self._limit_lock = threading.Lock()

    def take(self, request: Recorded) -> Reply:
        route, now = self.route(request), self.now()
        with self._limit_lock:
            last = self._last.get(route)
            if last is not None and now - last < 1.0 / self.rate - 1e-9:
                self._refused.append(request)
                super().take(request)  # recorded as received, answered 429
                return TOO_MANY
            self._last[route] = now
            self._accepted.append((route, now, request))
        return super().take(request)

    @property
    def refused(self) -> list[Recorded]:
        """The requests answered 429."""
        with self._limit_lock:
            return list(self._refused)

    @property
    def accepted(self) -> list[tuple[str, float, Recorded]]:
        """(route, time, request) of each request let through, in order."""
        with self._limit_lock:
            return list(self._accepted)
