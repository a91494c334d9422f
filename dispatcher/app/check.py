"""`notify check`: every problem in directory, policy, templates and channel settings, at once.

Finds at 3 p.m. what would otherwise break at 3 a.m.: a template with an
undefined variable, an unknown role, a malformed phone number, a channel the
policy uses that has no settings.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..api import Channel, Routing, TargetKind, mask_secrets
from ..config.callbacks import callback_problems
from ..config.directory import (
    PERSON_CHANNELS,
    Directory,
    carries_credential,
    check_directory,
)
from ..config.paths import ConfigPaths, resolve_config
from ..config.policy import Policy, check_policy
from ..config.problems import Problem, error, note, warning
from ..config.routing import check_routing
from ..config.settings import CHANNEL_URL_FIELDS, Settings, channel_variable
from .links import check_links

__all__ = ["CheckResult", "run_check"]


@dataclass
class CheckResult:
    paths: ConfigPaths
    problems: list[Problem] = field(default_factory=list)
    policy: Policy | None = None  # as loaded, for the checks of drill files (drill.scenario)
    directory: Directory | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity.value == "error"]

    def exit_status(self) -> int:
        return 2 if self.errors else 0


def run_check(config_dir: Path | None, settings: Settings) -> CheckResult:
    """Every problem of the configuration. Drill files are checked against it by drill.scenario."""
    paths = resolve_config(config_dir, settings.config_dir, Path.cwd())
    result = CheckResult(paths)
    directory, problems = check_directory(paths.contacts)
    result.problems += problems
    policy, problems = check_policy(paths.policy, directory)
    result.problems += problems
    if policy is not None:
        result.problems += check_routing(paths.routing, policy)[1]
        result.problems += _check_templates(paths, policy)
        result.problems += _check_channels(policy, directory, settings)
        result.problems += _check_installed(str(paths.policy), policy, str(paths.contacts), directory)
        result.problems += _check_phone_alias(policy, directory, settings)
    if directory is not None:
        result.problems += _check_routing(str(paths.contacts), directory, settings)
        result.problems += _check_personal_urls(str(paths.contacts), directory, settings)
    result.problems += _check_store(settings)
    result.problems += _check_clock(settings)
    result.problems += check_links(settings)
    result.problems += callback_problems(settings)
    result.policy, result.directory = policy, directory
    return result


def _check_clock(settings: Settings) -> list[Problem]:
    """NOTIFY_NOW is for tests and rehearsals: left set, every command would run on a made-up time."""
    if not settings.now:
        return []
    from ..clock import parse_instant

    try:
        start = parse_instant(settings.now, "NOTIFY_NOW").isoformat()
    except ValueError as exc:
        return [error("settings", "NOTIFY_NOW", str(exc).removeprefix("NOTIFY_NOW: "))]
    return [warning("settings", "NOTIFY_NOW", f"set: every command's clock starts at {start}, not the real time; "
                    "`serve`, a looping `worker` and live drills refuse to start (unset it for real use)")]


def _check_store(settings: Settings) -> list[Problem]:
    """The store URL is usable and its directory can be created and written, without creating anything."""
    import os

    from ..store import StoreError, _sqlite_path

    url = settings.resolved_store_url()
    if url.startswith(("postgresql://", "postgres://")):
        return _check_postgres(url)
    try:
        path = Path(_sqlite_path(url))
    except StoreError as exc:
        return [error("settings", "NOTIFY_STORE_URL", str(exc).removeprefix("NOTIFY_STORE_URL: "))]
    existing = next((p for p in [path.parent, *path.parent.parents] if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK):
        return [error("settings", "NOTIFY_STORE_URL", f"cannot create or write the store {path} "
                      f"({existing} is not a writable directory)")]
    if path.exists():  # an existing store must be at this notify's schema, or every command would refuse it
        return _check_schema(url, str(path))
    return [note("settings", "NOTIFY_STORE_URL", f"store: {path} (created on first use)")]


def _check_templates(paths: ConfigPaths, policy: Policy) -> list[Problem]:
    """Render every template of every class with sample contexts."""
    from ..render.templates import Renderer  # jinja2 only for the commands that render

    return [error(p.file, f"line {p.line}" if p.line else "", p.message)
            for p in Renderer(paths.template_dirs).check(
                list(policy.classes), [name for name, c in policy.classes.items() if c.internal])]


def channels_used(policy: Policy, directory: Directory | None) -> dict[str, list[str]]:
    """channel -> policy keys that use it (explicitly, or through people's preferred channels)."""
    used: dict[str, list[str]] = defaultdict(list)
    for name, klass in policy.classes.items():
        for s, step in enumerate(klass.steps):
            for n, entry in enumerate(step.notify):
                key = f"classes.{name}.steps[{s}].notify[{n}]"
                if entry.channel:
                    used[entry.channel].append(key)
                elif directory is not None:
                    for channel in _preferred_channels(entry.to, directory):
                        used[channel].append(key)
        for channel in klass.escalation_channels if klass.escalation else ():
            used[channel].append(f"classes.{name}.escalation_channels")
    return used


def _preferred_channels(audience: str, directory: Directory) -> set[str]:
    kind, _, ident = audience.partition(":")
    if kind == "role":
        return {directory.people[p].channels[0] for p in directory.holders(ident) if directory.people[p].channels}
    if kind == "person" and ident in directory.people:
        return set(directory.people[ident].channels[:1])
    if kind in directory.table_owners():  # a channel's own destination (slack:ID): on that channel
        return {directory.table_owners()[kind]}
    return {"email"}


def _check_channels(policy: Policy, directory: Directory | None, settings: Settings) -> list[Problem]:
    from ..delivery.registry import Registry

    problems = []
    used = channels_used(policy, directory)
    registry = Registry(settings, directory)
    for name in sorted(set(used) | set(registry.names())):
        setting = channel_variable(name)
        if name in CHANNEL_URL_FIELDS and not used.get(name) and not settings.channel_url(name):
            continue  # a built-in nobody uses and nobody configured: nothing to say, no import to pay
        channel = registry.get(name)
        if channel is None and name in registry.load_errors:
            problems.append(error("channels", name, f"plugin failed to load: {registry.load_errors[name]}"))
        elif channel is None:
            continue  # named by the configuration but not installed: _check_installed says where
        elif not channel.configured() and used.get(name) and not _people_bring_urls(channel, name, directory):
            problems.append(error("settings", setting, f"channel {name!r} is used by {used[name][0]}"
                                  f"{f' and {len(used[name]) - 1} more' if len(used[name]) > 1 else ''}"
                                  " but has no settings"))
        # The outbound webhook gets every step without a step naming it (engine.webhook_planned): set is used.
        elif channel.configured() and not used.get(name) and name != "webhook":
            problems.append(note("settings", setting, f"channel {name!r} is configured but no policy step uses it"))
        if channel is not None and channel.configured():
            problems += [error("settings", setting, message) for message in channel.problems()]
    registry.close()
    return problems


def _check_installed(policy_file: str, policy: Policy, contacts_file: str,
                     directory: Directory | None) -> list[Problem]:
    """Every channel the policy or a person names must be installed (a `dispatcher.channels` entry point);
    at send time a delivery on one that is not fails permanently and the person's next channel is tried."""
    from ..delivery.registry import discover

    installed = sorted(discover())
    problems = []

    def named(file: str, key: str, channel: str) -> None:
        if channel not in installed:
            problems.append(error(file, key, f"channel {channel!r} is not installed "
                                  f"(installed: {', '.join(installed)})"))

    for name, klass in policy.classes.items():
        for s, step in enumerate(klass.steps):
            for n, entry in enumerate(step.notify):
                if entry.channel:
                    named(policy_file, f"classes.{name}.steps[{s}].notify[{n}].channel", entry.channel)
        for i, channel in enumerate(klass.escalation_channels):
            named(policy_file, f"classes.{name}.escalation_channels[{i}]", channel)
    for pid, person in (directory.people.items() if directory else ()):
        for i, channel in enumerate(person.channels):
            named(contacts_file, f"people.{pid}.channels[{i}]", channel)
    return problems


def _check_phone_alias(policy: Policy, directory: Directory | None, settings: Settings) -> list[Problem]:
    """`phone` is kept for configurations written before `voice` and `pagerduty` split it: say so once."""
    used = channels_used(policy, directory).get("phone")
    url = settings.channel_url("phone")
    if not used and not url:
        return []
    scheme = (url or "").partition(":")[0].lower()
    if scheme in ("twilio", "pagerduty"):
        instead = "voice" if scheme == "twilio" else "pagerduty"
        advice = f"name {instead} instead, with NOTIFY_{instead.upper()}_URL"
    else:
        advice = ("name voice (twilio://) or pagerduty (pagerduty://) instead, with NOTIFY_VOICE_URL or "
                  "NOTIFY_PAGERDUTY_URL")
    where = f"used by {used[0]}" if used else "set"
    return [note("settings", "NOTIFY_PHONE_URL",
                 f"channel 'phone' ({where}) is a deprecated alias, chosen by its URL's scheme: {advice}")]


def _personal_urls(directory: Directory, channel: str) -> dict[str, str]:
    """person id -> their own URL on a channel (a personal apprise URL); secret, never to print."""
    urls = {pid: p.send_target(channel) for pid, p in directory.people.items()}
    return {pid: url for pid, url in urls.items() if url and carries_credential(url)}


def _people_bring_urls(channel: Channel, name: str, directory: Directory | None) -> bool:
    """A URL channel without settings still reaches the people who carry their own URL (the sender uses it)."""
    return (channel.capabilities.target is TargetKind.URL and directory is not None
            and bool(_personal_urls(directory, name)))


def _check_personal_urls(file: str, directory: Directory, settings: Settings) -> list[Problem]:
    """Each person's own URL must load in its channel as a setting would, or their page fails at 3 a.m."""
    from ..delivery.registry import Registry

    plugin_channels = {channel for person in directory.people.values() for channel in person.addresses}
    found = {channel: _personal_urls(directory, channel) for channel in (*PERSON_CHANNELS, *sorted(plugin_channels))}
    if not any(found.values()):
        return []  # nobody carries a URL: no channel to import
    registry = Registry(settings, directory)
    problems = []
    for channel, urls in found.items():
        for pid, url in urls.items():
            key = f"people.{pid}.{channel}" if channel in PERSON_CHANNELS else f"people.{pid}.addresses.{channel}"
            problems += [error(file, key, mask_secrets(message, (url,)))
                         for message in registry.probe(channel, url)]
    registry.close()
    return problems


def _check_routing(file: str, directory: Directory, settings: Settings) -> list[Problem]:
    """What a channel that routes by itself (:class:`~dispatcher.api.Routing`: Slack) says of the destinations
    contacts.toml names on it, and of each person it is the only channel of: pages it could at best post
    where they may see them never count as reaching them."""
    from ..delivery.registry import Registry

    registry = Registry(settings, directory)
    alone = {pid: person.channels[0] for pid, person in directory.people.items() if len(set(person.channels)) == 1}
    asked = sorted(set(alone.values()) | {name for name in registry.names() if directory.destinations(name)})
    routing = {name: channel for name in asked if isinstance(channel := registry.get(name), Routing)}
    problems = [warning(file, name, message) for name, channel in routing.items()
                for message in channel.route_warnings([target for target, _ in directory.destinations(name)])]
    for pid, name in alone.items():
        target = directory.people[pid].send_target(name)
        if name in routing and target and (why := routing[name].posted_only(target)):
            message = mask_secrets(f"reachable only on {name}, and {why}", (target,))
            problems.append(warning(file, f"people.{pid}.channels", message))
    registry.close()
    return problems


def _check_postgres(url: str) -> list[Problem]:
    """Connect and read the schema version; never print the password."""
    from ..store.urls import mask_store_url

    return _check_schema(url, mask_store_url(url))


def _check_schema(url: str, shown: str) -> list[Problem]:
    """Read an existing store's schema version (read-only) and say whether this notify can use it."""
    from ..api import mask_secrets
    from ..store import StoreError, peek_store
    from ..store.schema import SCHEMA_VERSION

    try:
        store = peek_store(url)
        version = store.schema_version() if store else 0
        if store:
            store.close()
    except StoreError as exc:
        return [error("settings", "NOTIFY_STORE_URL", mask_secrets(str(exc)))]
    if version < SCHEMA_VERSION:
        return [error("settings", "NOTIFY_STORE_URL", f"store {shown} is at schema {version}, "
                      f"this notify needs {SCHEMA_VERSION}: run `notify db upgrade`")]
    if version > SCHEMA_VERSION:
        return [error("settings", "NOTIFY_STORE_URL", f"store {shown} is at schema {version}, newer than this "
                      f"notify ({SCHEMA_VERSION}): upgrade notify")]
    return [note("settings", "NOTIFY_STORE_URL", f"store: {shown} (schema {version})")]

