"""Channel discovery through the `dispatcher.channels` entry points, and their wiring.

Built-in channels register exactly as a third-party package would. A channel
module is imported only when a command needs that channel, so `notify --help`
never pays for apprise or requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..api import (
    Address,
    Capabilities,
    Channel,
    ChannelConfig,
    DeliveryResult,
    Notice,
    Reason,
    TargetKind,
)
from ..config.directory import Directory
from ..config.plugins import GROUP, discover
from ..config.settings import CHANNEL_URL_FIELDS, Settings

__all__ = ["GROUP", "Registry", "carries_own_url", "channel_config", "discover", "refuse"]

def channel_config(settings: Settings, name: str, directory: Directory | None, *, drill: bool = False) -> ChannelConfig:
    """Build a channel's settings: its URL, per-destination routes, timeouts, CA bundle."""
    routes: dict[str, str] = {}
    for target, variable in directory.destinations(name) if directory is not None else ():
        url = settings.named_env(variable) if variable else None
        if url:
            routes[target] = url  # the channel routes by itself: notify only hands it every destination's URL
    if name in ("phone", "pagerduty") and directory is not None:
        routes = directory.pagerduty_routes()  # "rotation:SLOT" / "person:ID" -> a PagerDuty routing key
    extra = settings.built_in_settings(name) if name in CHANNEL_URL_FIELDS else {key: value.get_secret_value()
                                                   for key, value in settings.plugin_settings(name).items()
                                                   if key != "url"}
    return ChannelConfig(url=settings.channel_url(name), routes=routes, settings=extra, connect_timeout=settings.connect_timeout,
                         read_timeout=settings.read_timeout, send_deadline=settings.send_deadline,
                         ca_bundle=str(settings.ca_bundle) if settings.ca_bundle else None, drill=drill,
                         proxy=settings.proxy, sandbox_proxy=settings.sandbox_proxy)


# The address kinds every channel may use; a channel whose addresses have a form of their own (TargetKind.SLACK)
# says which are its own through its Addressing hook (api.Addressing).
_TARGET_CHECK = {
    TargetKind.EMAIL: lambda t: "@" in t,
    TargetKind.PHONE: lambda t: t.startswith("+"),
    TargetKind.URL: lambda t: True,
}


def carries_own_url(capabilities: Capabilities, address: Address) -> bool:
    """A URL channel needs no settings of its own for an address that brings its URL (a person's apprise URL)."""
    return capabilities.target is TargetKind.URL and "://" in address.target


def _takes(channel: object, capabilities: Capabilities, target: str) -> bool:
    """Whether the channel sends to `target`: an address of its kind, or (its own hook says) a person's or a
    destination's."""
    check = getattr(channel, "target_problem", None)
    if callable(check):
        return check(target) is None or check(target, True) is None
    return _TARGET_CHECK.get(capabilities.target, lambda t: True)(target)


def refuse(capabilities: Capabilities, notice: Notice, address: Address,
           channel: object = None) -> DeliveryResult | None:
    """Refuse a send the channel cannot make, before any plugin code runs (its Addressing hook is a
    declaration: a pure function of the address)."""
    if not address.target:
        return DeliveryResult.permanent(Reason.BAD_ADDRESS, "no address for this channel")
    if not _takes(channel, capabilities, address.target):
        return DeliveryResult.permanent(Reason.UNSUPPORTED,
                                        f"{address.channel} sends to {capabilities.target.value} addresses")
    return None


@dataclass
class Registry:
    """Channel instances for one command, built on first use and closed together."""

    settings: Settings
    directory: Directory | None
    drill: bool = False

    def __post_init__(self) -> None:
        self._found = discover()
        self._instances: dict[str, Channel] = {}
        self.load_errors: dict[str, str] = {}  # channel -> why its plugin could not be loaded

    def names(self) -> list[str]:
        return sorted(self._found)

    def get(self, name: str) -> Channel | None:
        """The channel named, or None when no installed package provides it."""
        if name not in self._instances:
            if name not in self._found or name in self.load_errors:
                return None
            try:
                cls = self._found[name].load()
            except (ImportError, AttributeError) as exc:  # a broken plugin must not break the others
                self.load_errors[name] = f"{self._found[name].value}: {exc}"
                return None
            self._instances[name] = cls(channel_config(self.settings, name, self.directory, drill=self.drill))
        return self._instances[name]

    def probe(self, name: str, url: str) -> list[str]:
        """Problems the channel finds with `url` as if it were its setting (a person's own URL), without sending."""
        if self.get(name) is None:
            return []
        probe = type(self._instances[name])(ChannelConfig(url=url, ca_bundle=None))
        try:
            return probe.problems()
        finally:
            probe.close()

    def all(self) -> Iterable[tuple[str, Channel]]:
        return ((name, self.get(name)) for name in self.names())

    def close(self) -> None:
        for channel in self._instances.values():
            channel.close()
