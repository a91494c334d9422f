"""The contact directory (`contacts.toml`): load, validate, and answer who is on duty.

Validation reports every problem with the file, the table/key and what is
wrong, so `notify check` can list them all; the trigger refuses to run on a
directory with errors.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from ..api import mask_url
from ..domain.working_hours import DEFAULT_WORKING_HOURS, parse_working_hours
from . import plugins
from .directory_checks import cross_check
from .problems import ConfigError, Problem, error, pydantic_problems

__all__ = ["Directory", "Person", "carries_credential", "check_directory", "load_directory", "load_toml"]

_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_ROUTING_KEY = re.compile(r"^[A-Za-z0-9]{20,64}$")
_DOMAIN = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
PERSON_CHANNELS = ("email", "sms", "phone", "voice", "pagerduty", "webhook", "apprise")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def carries_credential(target: str) -> bool:
    """A URL target can hold a token (tgram://BOT_TOKEN/..., opsgenie://API_KEY): it is never stored in clear."""
    return "://" in target


def _e164(value: str) -> str:
    if not _E164.match(value):
        raise ValueError(f"phone {value!r} is not E.164 (a + then 8 to 15 digits, e.g. +14155550199)")
    return value


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address")
    return value


def _routing_key(value: str) -> str:
    # The message never repeats the value: a routing key is a secret.
    if not _ROUTING_KEY.match(value):
        raise ValueError("not a PagerDuty Events v2 routing (integration) key: expected 20 to 64 letters and digits")
    return value


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Paris)") from None
    return value


def _domain(value: str) -> str:
    if not _DOMAIN.match(value):
        raise ValueError(f"{value!r} is not a mail domain (like acme.example, without @)")
    return value.lower()


def _reporter(value: str) -> str:
    """An allow-list entry: a whole address, or a domain whose every address is allowed."""
    return _email(value).lower() if "@" in value else _domain(value)


def _working_hours(value: str | list[str]) -> str | list[str]:
    parse_working_hours(value)  # ValueError says what is wrong: pydantic names the file and key
    return value


Phone = Annotated[str, AfterValidator(_e164)]
Email = Annotated[str, AfterValidator(_email)]
RoutingKey = Annotated[str, AfterValidator(_routing_key)]
# Any installed channel's name (a plugin's too): `notify check` checks it against the installed channels, and
# a delivery on a channel that is not installed fails permanently at send time and its fallback is tried.
ChannelName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class Table(BaseModel):
    """A table of a configuration file: a value that never changes once loaded; an unknown key is an error
    (a typo must not be ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Role(Table):
    title: str
    level: int = Field(ge=1, le=4)
    handles: str = ""


class Person(Table):
    name: str
    roles: list[str] = Field(default_factory=list)
    email: Email | None = None
    phone: Phone | None = None
    apprise: str | None = None  # a personal apprise URL (Opsgenie, Telegram...)
    # This person's pages go to their own PagerDuty service (a secret: kept out of reprs).
    pagerduty_routing_key: RoutingKey | None = Field(default=None, repr=False)
    # Their PagerDuty user id (PXXXXXX): an ack or resolution they make in PagerDuty is recorded as theirs.
    pagerduty_user_id: Annotated[str, Field(pattern=r"^P[A-Z0-9]{5,13}$")] | None = None
    login: str | None = None  # their login name, so `notify ack` without --by knows them
    channels: list[ChannelName] = Field(default_factory=lambda: ["email"])
    # Addresses on plugin channels, by channel name (`addresses = { echo = "alice" }`); a URL here is masked
    # in plans, reports and the store, as a personal apprise URL is. A key a channel declares as its
    # Capabilities.person_field (Slack's `slack = "U012AB3CD"`) lands here too, under the channel's name.
    addresses: dict[ChannelName, str] = Field(default_factory=dict)
    # Quiet hours (docs/reference/contacts.md): standard-tier calls and texts reach them only inside these hours,
    # read in their zone (default: the rotation's, else UTC).
    timezone: Annotated[str, AfterValidator(_known_zone)] | None = None
    working_hours: Annotated[str | list[str], AfterValidator(_working_hours)] = DEFAULT_WORKING_HOURS

    def target(self, channel: str) -> str | None:
        """This person's address on a channel as it may be shown and stored, or None when they have none there.

        A URL (a personal apprise URL) can carry a bot token or an API key, so it is masked
        here: plans, reports and the store only ever see the masked form, and the sender
        asks :meth:`send_target` for the real one at send time.
        """
        target = self.send_target(channel)
        return mask_url(target) if target and carries_credential(target) else target

    def send_target(self, channel: str) -> str | None:
        """The real address on a channel, credentials included: for the sender only, never to show or store."""
        if channel in _BUILT_IN_TARGETS:
            return getattr(self, _BUILT_IN_TARGETS[channel])
        return self.addresses.get(channel)


_BUILT_IN_TARGETS = {"email": "email", "sms": "phone", "phone": "phone", "voice": "phone", "pagerduty": "phone",
                     "apprise": "apprise"}


class Slot(Table):
    title: str
    phone: Phone | None = None  # the shared on-call number whoever is on duty carries
    role: str | None = None
    members: list[str] = Field(min_length=1)
    # Pages through this slot go to this PagerDuty service, whoever is on duty (a secret).
    pagerduty_routing_key: RoutingKey | None = Field(default=None, repr=False)


class Override(Table):
    slot: str
    person: str
    start: datetime
    end: datetime


class Rotation(Table):
    timezone: Annotated[str, AfterValidator(_known_zone)] = "UTC"
    handoff_day: Weekday = "monday"
    handoff_time: time = time(9, 0)
    start: date
    slots: dict[str, Slot]
    overrides: list[Override] = Field(default_factory=list)


class DistributionList(Table):
    title: str = ""
    email: Email | None = None
    members: list[str] = Field(default_factory=list)


class Destination(Table):
    """A named destination of a channel's table (`[slack.security-alerts]`): a group target, not a person."""

    channel: str = Field(min_length=1)  # the target on the owning channel (Slack: "#security-alerts")
    purpose: str = ""
    webhook_env: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")] | None = None  # its own URL's variable


class DestinationTable(Table):
    """A contacts.toml table of destinations, owned by the installed channel that declares it."""

    channel: str  # the owning channel's name
    entries: dict[str, Destination] = Field(default_factory=dict)


class External(Table):
    name: str
    kind: str = "other"
    phone: Phone | None = None
    email: Email | None = None


class Customer(Table):
    name: str
    plan: Literal["basic", "pro", "enterprise"]
    annual_contract_value: int = Field(default=0, ge=0)
    fortune500: bool = False
    success_manager: str | None = None
    contact: Email | None = None
    # The account's mail domains: a webhook's `reported_by` in one of them may receive customer notices.
    domains: list[Annotated[str, AfterValidator(_domain)]] = Field(default_factory=list)


class Reporters(Table):
    """`[reporters]`: whom a webhook may name as reporter besides the accounts' domains."""

    allow: list[Annotated[str, AfterValidator(_reporter)]] = Field(default_factory=list)  # addresses or domains


class Directory(Table):
    roles: dict[str, Role] = Field(default_factory=dict)
    people: dict[str, Person] = Field(default_factory=dict)
    rotation: Rotation | None = None
    lists: dict[str, DistributionList] = Field(default_factory=dict)
    # The tables of destinations installed channels declare (Capabilities.destinations), by table name:
    # `[slack.security-alerts]` is tables["slack"].entries["security-alerts"], owned by channel "slack".
    tables: dict[str, DestinationTable] = Field(default_factory=dict)
    external: dict[str, External] = Field(default_factory=dict)
    customers: dict[str, Customer] = Field(default_factory=dict)
    reporters: Reporters = Field(default_factory=Reporters)

    @model_validator(mode="before")
    @classmethod
    def _channel_tables(cls, data: object) -> object:
        """Read the tables and person keys installed channels declare as theirs (Capabilities.destinations and
        person_field): `[slack.ID]` into `tables`, a person's `slack` into their `addresses`."""
        if not isinstance(data, dict) or "tables" in data:
            return data  # read already (a dumped directory validated again)
        data = dict(data)
        owners = {key: plugins.table_owner(key) for key in data if key not in cls.model_fields}
        data["tables"] = {key: {"channel": owner, "entries": data.pop(key)} for key, owner in owners.items() if owner}
        if isinstance(data.get("people"), dict):
            data["people"] = {pid: _person_fields(pid, person) for pid, person in data["people"].items()}
        return data

    def family(self, channel: str) -> str:
        """The template family a channel renders (its Capabilities.template: email, slack, sms, voice); email for
        one not installed. Planning (domain/, which imports no channel) reads it here."""
        return plugins.family(channel)

    def table(self, name: str) -> dict[str, Destination]:
        """The destinations of a channel's table (`slack`), by id; empty when no installed channel owns it."""
        found = self.tables.get(name)
        return dict(found.entries) if found is not None else {}

    def table_owners(self) -> dict[str, str]:
        """The channel owning each table of destinations: what an audience `<table>:<id>` is sent on."""
        return {name: table.channel for name, table in self.tables.items()}

    def mailable_reporter(self, address: str) -> bool:
        """Whether a reporter a webhook names may be mailed: in an account's domains or on the allow-list.

        A webhook body is written by whatever can reach `notify serve`; mailing any address it
        names would let it send TeamFlow-branded mail to anyone.
        """
        address = address.strip().lower()
        domain = address.rpartition("@")[2]
        if "@" not in address or not domain:
            return False
        allowed = set(self.reporters.allow) | {d for account in self.customers.values() for d in account.domains}
        return address in allowed or any(domain == d or domain.endswith("." + d) for d in allowed if "@" not in d)

    def delivery_target(self, person: str, channel: str, stored: str) -> str | None:
        """Where a stored delivery really goes: a masked URL is the person's real one here, else as stored.

        None when the store holds a masked URL the directory no longer has for that person:
        the masked form must never be sent to.
        """
        if not carries_credential(stored):
            return stored
        entry = self.people.get(person)
        real = entry.send_target(channel) if entry is not None else None
        return real if real and carries_credential(real) else None

    def holders(self, role: str) -> list[str]:
        """Ids of the people who hold a role, in directory order."""
        return [pid for pid, p in self.people.items() if role in p.roles]

    def destinations(self, channel: str) -> list[tuple[str, str | None]]:
        """The group destinations this file names on a channel, in its order: (target, the variable naming the
        destination's own URL, or None for the channel's): the entries of the table the channel owns."""
        return [(entry.channel, entry.webhook_env) for table in self.tables.values() if table.channel == channel
                for entry in table.entries.values()]

    def pagerduty_routes(self) -> dict[str, str]:
        """Routing keys by the audience they serve: "rotation:SLOT" and "person:ID" (secrets)."""
        routes = {f"person:{pid}": p.pagerduty_routing_key for pid, p in self.people.items()
                  if p.pagerduty_routing_key}
        slots = self.rotation.slots.items() if self.rotation else ()
        routes.update({f"rotation:{name}": s.pagerduty_routing_key for name, s in slots if s.pagerduty_routing_key})
        return routes

    def secrets(self) -> tuple[str, ...]:
        """Secret values the directory holds, so output and the log can be scrubbed of them."""
        return tuple(self.pagerduty_routes().values())

    def customer(self, name_or_id: str) -> tuple[str, Customer] | None:
        """Find an account by id or by name, case-insensitively."""
        wanted = name_or_id.strip().casefold()
        for cid, account in self.customers.items():
            if wanted in (cid.casefold(), account.name.casefold()):
                return cid, account
        return None

    def person_named(self, name: str) -> tuple[str, Person] | None:
        """The person a login or NOTIFY_USER means: by id, then `login`, then email, case-insensitively."""
        wanted = name.strip().casefold()
        for key in (lambda pid, p: pid, lambda pid, p: p.login, lambda pid, p: p.email):
            for pid, person in self.people.items():
                value = key(pid, person)
                if value and value.casefold() == wanted:
                    return pid, person
        return None

    def on_duty(self, slot_name: str, at: datetime) -> str:
        """The person on duty in a rotation slot at a moment (overrides first, then the weekly turn)."""
        assert self.rotation is not None
        rotation = self.rotation
        zone = ZoneInfo(rotation.timezone)
        local = at.astimezone(zone)
        for override in rotation.overrides:
            if override.slot == slot_name and _aware(override.start, zone) <= local < _aware(override.end, zone):
                return override.person
        first = datetime.combine(rotation.start, rotation.handoff_time, zone)
        first += timedelta(days=(WEEKDAYS.index(rotation.handoff_day) - rotation.start.weekday()) % 7)
        members = rotation.slots[slot_name].members
        return members[((local - first) // timedelta(weeks=1)) % len(members)]


def _person_fields(pid: str, person: object) -> object:
    """A person's keys that channels declare as theirs (`slack = "U..."`) moved into `addresses`, by channel."""
    if not isinstance(person, dict):
        return person
    fields = {key: owner for key in person if key not in Person.model_fields and (owner := plugins.field_owner(key))}
    if not fields:
        return person
    addresses = person.get("addresses", {})
    if not isinstance(addresses, dict):
        return person  # pydantic names the bad `addresses`
    person, addresses = dict(person), dict(addresses)
    for key, channel in fields.items():
        if channel in addresses:
            raise ValueError(f"people.{pid}: {key} and addresses.{channel} both give an address on {channel}: "
                             "keep one")
        addresses[channel] = person.pop(key)
    person["addresses"] = addresses
    return person


def _aware(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def load_toml(path: Path) -> tuple[dict | None, list[Problem]]:
    """Parse a TOML file, turning a syntax error into a problem that names the line."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), []
    except FileNotFoundError:
        return None, [error(str(path), "", "file not found")]
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return None, [error(str(path), "", f"not valid TOML: {exc}")]


def check_directory(path: Path) -> tuple[Directory | None, list[Problem]]:
    """Load and validate a directory; return it (None when unusable) and every problem."""
    data, problems = load_toml(path)
    if data is None:
        return None, problems
    try:
        directory = Directory.model_validate(data)
    except ValidationError as exc:
        return None, pydantic_problems(path, exc)
    return directory, cross_check(str(path), directory)


def load_directory(path: Path) -> Directory:
    """Load a directory or raise ConfigError listing its errors."""
    directory, problems = check_directory(path)
    errors = [p for p in problems if p.severity.value == "error"]
    if directory is None or errors:
        raise ConfigError(errors or problems)
    return directory
