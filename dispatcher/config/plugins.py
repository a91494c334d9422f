"""The installed channels (entry points of `dispatcher.channels`) and what they declare about contacts.toml.

A channel's :class:`~dispatcher.api.Capabilities` name the contacts.toml table of destinations it owns and the
person key holding its address; its optional :class:`~dispatcher.api.Addressing` hook says what a well-formed
address is. contacts.toml and policy.toml are read through these facts, so the core names no provider:
a third-party channel declares a table exactly as Slack does.

Loading a channel's class imports its module (apprise's costs 80 ms), so each question loads only the channel it
is about, and the one named like a table or key first: only a name no channel owns makes every plugin load.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ..api import Capabilities

__all__ = ["GROUP", "capabilities", "channel_class", "discover", "family", "field_owner", "person_field",
           "table_owner", "table_owners", "target_problem"]

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


def capabilities(name: str) -> Capabilities | None:
    """What an installed channel declares; None when it is not installed, fails to load or declares nothing."""
    found = getattr(channel_class(name), "capabilities", None)
    return found if isinstance(found, Capabilities) else None


def family(name: str) -> str:
    """The template family a channel renders (its Capabilities.template); email for one not installed or broken,
    whose sends fail and say why."""
    found = capabilities(name)
    return found.template if found is not None else "email"


def person_field(name: str) -> str | None:
    """The person key holding a person's address on a channel (Slack's `slack`), if it declares one."""
    found = capabilities(name)
    return found.person_field if found is not None else None


def table_owner(table: str) -> str | None:
    """The installed channel declaring `table` as its table of destinations (Capabilities.destinations)."""
    return _owner(table, lambda c: c.destinations)


def field_owner(key: str) -> str | None:
    """The installed channel declaring `key` as its person key (Capabilities.person_field)."""
    return _owner(key, lambda c: c.person_field)


def table_owners() -> dict[str, str]:
    """Every installed channel's table of destinations: {"slack": "slack"}. Loads every plugin: for messages."""
    return {c.destinations: name for name in sorted(discover()) if (c := capabilities(name)) and c.destinations}


def target_problem(channel: str, target: str, group: bool = False) -> str | None:
    """What the channel's Addressing hook finds wrong with an address on it; None without a hook."""
    check = getattr(channel_class(channel), "target_problem", None)
    return check(target, group) if callable(check) else None


def _owner(value: str, declares: Callable[[Capabilities], str | None]) -> str | None:
    for name in sorted(discover(), key=lambda name: name != value):  # the same-named channel first
        found = capabilities(name)
        if found is not None and declares(found) == value:
            return name
    return None
