"""The escalation policy (`policy.toml`): classes, steps, SLAs, cadences, and what is due.

The models are loaded once; the functions below them are pure: given a class,
a start time and "now", they say which steps and escalation stages are due.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from ..domain.durations import parse_duration
from . import plugins
from .directory import ChannelName, Directory, Table, load_toml
from .problems import ConfigError, Problem, error, pydantic_problems

__all__ = ["IncidentClass", "Policy", "check_policy", "load_policy"]

MAX_REPEAT = 9
# `<kind>:<id>`, or one of the words; a kind is built in (below) or the table of destinations an installed
# channel declares (Capabilities.destinations: Slack's `slack:ID`).
AUDIENCE = re.compile(r"^(?:(?P<kind>[a-z][a-z0-9_-]*):[a-z0-9][a-z0-9_-]*|customer|success-manager|commander)$")
_BUILT_IN_KINDS = ("list", "rotation", "role", "person", "external", "success-managers")


def is_audience(value: str) -> bool:
    """Whether `value` is an audience: a built-in kind, a channel's table of destinations or one of the words."""
    found = AUDIENCE.match(value)
    return bool(found) and (found["kind"] in (None, *_BUILT_IN_KINDS) or _table_of(value) is not None)


def _table_of(audience: str) -> str | None:
    """The channel owning an audience's table (`slack:ID` -> "slack"); None for a built-in kind or a word."""
    kind, sep, _ = audience.partition(":")
    return plugins.table_owner(kind) if sep and kind not in _BUILT_IN_KINDS else None


def _audience(value: str) -> str:
    if not is_audience(value):
        tables = "".join(f"{table}:ID, " for table in plugins.table_owners())
        raise ValueError(f"{value!r} is not an audience (list:ID, {tables}rotation:SLOT, role:ID, "
                         "person:ID, external:ID, customer, success-manager, success-managers:PLAN, commander)")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Audience = Annotated[str, AfterValidator(_audience)]
_OUTSIDE_TEAM = ("customer", "success-manager", "success-managers", "external", "statuspage")
_PUBLIC_CHANNELS = ("statuspage", "statushook")


class Notify(Table):
    to: Audience
    channel: ChannelName | None = None  # None: each person's preferred channel, with fallbacks
    template: str | None = None  # None: the channel's own template family


class Step(Table):
    at: Duration
    name: str
    seed: str = ""
    notify: list[Notify] = Field(min_length=1)


class IncidentClass(Table):
    title: str
    prefix: str = Field(pattern=r"^[A-Z]{2,5}$")
    tier: str
    priority: str
    severity: Literal["critical", "error", "warning", "info"] = "critical"
    response_sla: Duration
    resolution_target: Duration | None = None
    update_every: Duration | None = None
    # Who hears `notify update`; None: the class's channel destination (the first of step 0, such as its
    # Slack channel) and the commander.
    update_audience: list[Audience] | None = Field(default=None, min_length=1)
    commander: str = "rotation:primary"
    escalation: list[str] = Field(default_factory=list)
    escalation_channels: list[ChannelName] = Field(default_factory=lambda: ["phone", "sms"])
    # More passes of the escalation ladder while nobody acknowledges (N+1 in all, as PagerDuty's num_loops);
    # at most 9, as PagerDuty allows: past that, the ladder pages the same people for hours.
    repeat: int = Field(default=0, ge=0, le=MAX_REPEAT, strict=True)
    steps: list[Step] = Field(min_length=1)
    # Internal: about notify's own monitoring (a heartbeat gone silent), never told to anyone outside the team.
    internal: bool = False

    @field_validator("internal")
    @classmethod
    def _nobody_outside(cls, internal: bool, info: ValidationInfo) -> bool:
        """An internal class names no customer, success manager, outside contact or status page in any step or
        update, by audience or by channel."""
        entries = [n for step in info.data.get("steps", []) for n in step.notify]
        audiences = [n.to for n in entries] + list(info.data.get("update_audience") or [])
        outside = [a for a in audiences if a.partition(":")[0] in _OUTSIDE_TEAM]
        outside += [f"{n.to} by {n.channel}" for n in entries if n.channel in _PUBLIC_CHANNELS]
        if internal and outside:
            raise ValueError(f"an internal class tells nobody outside the team, but it names {', '.join(outside)}")
        return internal

    @field_validator("update_audience", mode="before")
    @classmethod
    def _a_list(cls, value: object) -> object:
        """`update_audience = "customer"`, as policies before the list wrote it, means ["customer"]."""
        return [value] if isinstance(value, str) else value

    @field_validator("repeat")
    @classmethod
    def _something_to_repeat(cls, repeat: int, info: ValidationInfo) -> int:
        if repeat and not info.data.get("escalation"):
            raise ValueError(f"repeat = {repeat} needs an escalation ladder to repeat: add `escalation = [...]` "
                             "or remove repeat")
        return repeat

    @field_validator("steps")
    @classmethod
    def _step_zero_first(cls, steps: list[Step]) -> list[Step]:
        if steps[0].at != timedelta(0):
            raise ValueError("the first step must be at '0m' (the immediate actions)")
        if any(b.at < a.at for a, b in zip(steps, steps[1:])):
            raise ValueError("steps must be in order of their 'at' offsets")
        return steps

    def updates_to(self) -> list[str]:
        """The audiences of a status update (see `update_audience`)."""
        if self.update_audience:
            return list(self.update_audience)
        destinations = [e.to for e in self.steps[0].notify if _table_of(e.to)]
        return destinations[:1] + ["commander"]

    def escalation_schedule(self) -> list[tuple[timedelta, str]]:
        """(offset, audience) of each escalation stage: one per response SLA while unacknowledged."""
        return [(self.response_sla * (i + 1), audience) for i, audience in enumerate(self.escalation)]

    def escalation_pages(self) -> list[tuple[int, int, timedelta, str]]:
        """(stage, pass, offset, audience) of every escalation page: the ladder, then the whole ladder again
        from its first stage for each `repeat`, one stage per response SLA while unacknowledged."""
        ladder = len(self.escalation)
        return [(k + 1, p + 1, self.response_sla * (p * ladder + k + 1), audience)
                for p in range(self.repeat + 1) for k, audience in enumerate(self.escalation)]


class Tier(Table):
    title: str
    within: Duration


class Level(Table):
    name: str
    response: dict[str, Duration]


class Drills(Table):
    # The seed's "Monthly: Escalation scenario drills": how many drills a month the report expects.
    per_month: int = Field(default=1, ge=0, strict=True)


class Policy(Table):
    tiers: dict[str, Tier]
    levels: dict[str, Level] = Field(default_factory=dict)
    drills: Drills = Field(default_factory=Drills)
    classes: dict[str, IncidentClass]

    def by_prefix(self, incident_id: str) -> str | None:
        """The class whose id prefix starts an incident id (SEC-2026-001 -> security)."""
        head = incident_id.split("-", 1)[0].upper()
        return next((name for name, c in self.classes.items() if c.prefix == head), None)


def steps_due(klass: IncidentClass, started: datetime, now: datetime) -> list[int]:
    """Indexes of the steps whose offset has passed at `now` (step 0 always)."""
    elapsed = now - started
    return [i for i, step in enumerate(klass.steps) if step.at <= elapsed]


def check_policy(path: Path, directory: Directory | None) -> tuple[Policy | None, list[Problem]]:
    """Load and validate the policy, and check every audience against the directory."""
    data, problems = load_toml(path)
    if data is None:
        return None, problems
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        return None, pydantic_problems(path, exc)
    problems = [error(str(path), f"classes.{n}.tier", f"unknown tier {c.tier!r}")
                for n, c in policy.classes.items() if c.tier not in policy.tiers]
    if directory is not None:
        problems += _check_audiences(str(path), policy, directory)
    return policy, problems


def load_policy(path: Path, directory: Directory | None) -> Policy:
    """Load a policy or raise ConfigError listing its errors."""
    policy, problems = check_policy(path, directory)
    errors = [p for p in problems if p.severity.value == "error"]
    if policy is None or errors:
        raise ConfigError(errors or problems)
    return policy


def _check_audiences(file: str, policy: Policy, d: Directory) -> list[Problem]:
    problems = []
    for name, klass in policy.classes.items():
        for s, step in enumerate(klass.steps):
            for n, entry in enumerate(step.notify):
                key = f"classes.{name}.steps[{s}].notify[{n}]"
                problems += [error(file, f"{key}.to", m) for m in _audience_problems(entry.to, entry.channel, d)]
        for i, audience in enumerate(klass.escalation):
            key = f"classes.{name}.escalation[{i}]"
            if not is_audience(audience):
                problems.append(error(file, key, f"{audience!r} is not an audience"))
            problems += [error(file, key, m) for m in _audience_problems(audience, None, d)]
        audiences = [("commander", klass.commander)]
        audiences += [(f"update_audience[{i}]", a) for i, a in enumerate(klass.update_audience or ())]
        for key, audience in audiences:
            problems += [error(file, f"classes.{name}.{key}", m) for m in _audience_problems(audience, None, d)]
    return problems


def audience_problems(audience: str, directory: Directory) -> list[str]:
    """Why an audience (role:cto, list:..., rotation:primary) names nobody in the directory; empty when it does."""
    return _audience_problems(audience, None, directory)


_TABLE_OF = {"list": "lists", "role": "roles", "person": "people", "external": "external"}


def _audience_problems(audience: str, channel: str | None, d: Directory) -> list[str]:
    kind, _, ident = audience.partition(":")
    owner = _table_of(audience)
    if kind in _TABLE_OF and ident not in getattr(d, _TABLE_OF[kind]):
        return [f"unknown {kind} {ident!r} (not in contacts.toml [{_TABLE_OF[kind]}])"]
    if owner and ident not in d.table(kind):
        return [f"unknown {kind} {ident!r} (not in contacts.toml [{kind}])"]
    if kind == "rotation" and (d.rotation is None or ident not in d.rotation.slots):
        return [f"unknown rotation slot {ident!r}"]
    only = "email" if kind == "list" else owner  # a list is mailed; a channel's destination is on that channel
    if only and channel not in (None, only):
        return [f"a {kind} is reached by {only}, not {channel}"]
    if kind == "external" and channel and getattr(
            d.external[ident], "email" if channel == "email" else "phone") is None:
        return [f"external contact {ident!r} has no address for {channel}"]
    return []
