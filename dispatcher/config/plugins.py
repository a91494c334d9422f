"""The installed channels (entry points of `dispatcher.channels`) and what they declare about contacts.toml.

A channel's :class:`~dispatcher.api.Capabilities` name the contacts.toml table of destinations it owns and the
person key holding its address; its optional :class:`~dispatcher.api.Addressing` hook says what a well-formed
address is. contacts.toml and policy.toml are read through these facts, so the core names no provider:
a third-party channel declares a table exactly as Slack does.

Loading a channel's class imports its module; nothing here runs before a command reads its configuration.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ..api import Capabilities

__all__ = ["GROUP", "Declared", "channel_class", "declared", "discover", "family"]

GROUP = "dispatcher.channels"


@functools.cache
def discover() -> dict[str, EntryPoint]:
    """Installed channels by name; a later registration of a name wins.

    Read once per process: what is installed does not change while a command runs
    (a test that installs a plugin calls `discover.cache_clear()`).
    """
    return {ep.name: ep for ep in entry_points(group=GROUP)}


@functools.cache
def _load(entry_point: EntryPoint) -> Any:
    try:
        return entry_point.load()
    except (ImportError, AttributeError):  # a broken plugin: the registry reports it, its sends fail and say why
        return None


def channel_class(name: str) -> Any:
    """The class an installed channel registers; None when none is installed by that name or it fails to load."""
    found = discover().get(name)
    return _load(found) if found is not None else None


def family(name: str) -> str:
    """The template family a channel renders (its Capabilities.template); email for one not installed or broken,
    whose sends fail and say why."""
    capabilities = getattr(channel_class(name), "capabilities", None)
    return capabilities.template if isinstance(capabilities, Capabilities) else "email"


@dataclass(frozen=True)
class Declared:
    """What the installed channels declare about contacts.toml, by name."""

    capabilities: dict[str, Capabilities]

    def table_owners(self) -> dict[str, str]:
        """The channel owning each table of destinations: {"slack": "slack"}."""
        return {c.destinations: name for name, c in self.capabilities.items() if c.destinations}

    def person_fields(self) -> dict[str, str]:
        """The channel whose address each person key holds: {"slack": "slack"}."""
        return {c.person_field: name for name, c in self.capabilities.items() if c.person_field}

    def target_problem(self, channel: str, target: str, group: bool = False) -> str | None:
        """What the channel's Addressing hook finds wrong with an address on it; None without a hook."""
        check = getattr(channel_class(channel), "target_problem", None)
        return check(target, group) if callable(check) else None


def declared() -> Declared:
    """The declarations of every channel installed and loadable (a broken plugin declares nothing)."""
    classes = {name: channel_class(name) for name in discover()}
    return Declared({name: cls.capabilities for name, cls in classes.items()
                     if isinstance(getattr(cls, "capabilities", None), Capabilities)})
