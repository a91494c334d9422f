"""The provider route a delivery is paced on, by a name safe to show: `slack:#outage-response`, `twilio:sender-1`.

A route is what a provider limits on its own: a Slack channel (an incoming
webhook posts to one), a Twilio sender number, a PagerDuty routing key, an SMTP
server, an apprise service URL. Its name is made of things the directory and
settings name (a channel, a person id, the n-th sender number), never of a URL,
a token or a phone number: it is a metric label, a row in the store and a line
of `notify status`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from ..config.directory import carries_credential
from ..config.rates import limit_for
from ..domain.pacing import Limit

__all__ = ["Route", "RouteNames", "family_of"]

_LOCAL_HOSTS = ("localhost", "::1")
_SAFE = re.compile(r"^[#@]?[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")  # a Slack channel or member id, a person id


@dataclass(frozen=True)
class Route:
    """A provider route: its name, its provider family (config/rates.py) and its budget (None: not paced)."""

    label: str
    family: str
    limit: Limit | None


def family_of(url: str) -> tuple[str, str, bool]:
    """(provider family, the URL's scheme, whether its host is this machine) of a channel or target URL."""
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    except ValueError:  # the channel says what is wrong with its URL when it sends
        return "apprise", "invalid", False
    local = host in _LOCAL_HOSTS or host.startswith("127.")
    if scheme == "slack" or host == "hooks.slack.com" or host.endswith(".slack.com"):
        return "slack", scheme, local
    if scheme == "twilio" or host.endswith("twilio.com"):
        return "twilio", scheme, local
    if scheme in ("pagerduty", "pd") or host.endswith("pagerduty.com"):
        return "pagerduty", scheme, local
    if scheme in ("smtp", "smtps", "mailto", "mailtos"):
        return "smtp", scheme, local
    if scheme in ("http", "https"):
        return "webhook", scheme, local
    return "apprise", scheme, local


class RouteNames:
    """Names each delivery's route from the settings' channel URLs and the directory (looked up once each)."""

    def __init__(self, settings: Any, directory: Any = None) -> None:
        self.settings, self.directory = settings, directory
        self._cache: dict[tuple[str, str, str], Route] = {}

    def of(self, channel: str, target: str, person: str) -> Route:
        """The route a delivery of `person` on `channel` to `target` (as stored: masked or not) goes over."""
        key = (channel, target, person)
        if key not in self._cache:
            label, family, local = self._name(channel, target, person)
            self._cache[key] = Route(label, family, limit_for(label, family, local, self.settings.route_limits))
        return self._cache[key]

    def _name(self, channel: str, target: str, person: str) -> tuple[str, str, bool]:
        if carries_credential(target):  # a person's or list's own URL: a route of its own, named for them
            family, scheme, local = family_of(target)
            return f"{scheme if family == 'apprise' else family}:{_safe(person, channel)}", family, local
        url = self.settings.channel_url(channel)
        if not url:
            return f"{channel}:default", channel, False
        family, scheme, local = family_of(url)
        if family == "slack":
            return f"slack:{self._slack_route(url, target)}", family, local
        if family == "twilio":  # messages are limited per sender number, calls per account (calls a second)
            calls = "method=call" in (urlsplit(url).query or "")
            return "twilio:calls" if calls else f"twilio:sender-{self._sender(url)}", family, local
        if family == "pagerduty":
            own = self.directory is not None and f"person:{person}" in self.directory.pagerduty_routes()
            return f"pagerduty:{_safe(person, 'default') if own else 'default'}", family, local
        if family == "apprise":
            return f"{scheme}:{channel}", family, local
        return f"{family}:{channel}", family, local

    def _slack_route(self, url: str, target: str) -> str:
        """A Slack channel with a webhook of its own, or any channel or member a bot token posts to, is a route;
        everything else goes through the default incoming webhook, which posts to its one channel."""
        own = {dest for dest, env in (self.directory.destinations("slack") if self.directory else []) if env}
        bot = url.lower().startswith("slack://") or "xoxb-" in url
        if _SAFE.match(target) and (bot or target in own):
            return target
        return "default"

    def _sender(self, url: str) -> int:
        """The number of a Twilio URL's sender among those configured (a plugin's comes after the built-ins')."""
        if _host(url) not in self._senders:
            self._senders.append(_host(url))
        return self._senders.index(_host(url)) + 1

    @cached_property
    def _senders(self) -> list[str]:
        """The Twilio sender numbers of the configured channels, in order: sender-1 is the first."""
        from ..config.settings import CHANNEL_URL_FIELDS

        urls = [self.settings.channel_url(c) for c in CHANNEL_URL_FIELDS]
        return sorted({_host(u) for u in urls if u and family_of(u)[0] == "twilio"})


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _safe(name: str, otherwise: str) -> str:
    """`name` when it is a plain identifier (never a number or a URL), else `otherwise`."""
    return name if _SAFE.match(name) and not name.lstrip("+").isdigit() else otherwise
