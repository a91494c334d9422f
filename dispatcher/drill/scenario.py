"""A drill scenario (TOML): the incident, a timeline of events at offsets, and what must have happened.

    name = "Security breach at Acme"
    class = "security"
    duration = "2h"                  # how much simulated time to run (default: last event + 15m)
    start = 2026-12-07T17:01:00Z     # sandbox only: where the simulated clock starts (default:
                                     #   NOTIFY_NOW, else now), so a drill meets the same rotation week
    [fields]                         # the trigger's incident fields (summary required)
    summary = "Unusual admin logins"
    [[events]]                       # at an offset from the start, one action:
    at = "22m"                       #   trigger | ack (by) | update (message, by) | resolve (message, by)
    action = "ack"                   #   fail (channel, status, times: the sandbox provider answers
    by = "Support Manager A"         #   that status) | recover (channel)
                                     # an ack may act as a person does (sandbox only): by = a person id,
                                     #   via = "sms" | "voice" | "slack" | "link": a signed provider
                                     #   callback (or the link's page and form) to serve's app
    [[expect]]                       # who must have been notified by when, on which channel:
    who = "rotation:primary"         #   an audience (rotation:primary, role:cto, list:..., slack:...) or
    channel = "phone"                #   a person id; channel and kind (step, escalation, update,
    within = "1m"                    #   reminder, overdue, resolved) optional; never = true: must not be
                                     #   notified; sla = "response" | "updates": the class's SLA held
                                     #   (met = false: the drill means it to be missed). An SLA missed
                                     #   that no expectation names fails the drill.
"""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from ..config.policy import Duration, audience_problems, is_audience
from ..config.problems import ConfigError, Problem, error, pydantic_problems

if TYPE_CHECKING:
    from ..config.directory import Directory
    from ..config.policy import Policy

__all__ = ["Event", "Expectation", "Scenario", "drill_file_problems", "load_scenario", "scenario_problems"]

ACTIONS = ("trigger", "ack", "update", "resolve", "fail", "recover")
CHANNELS = ("email", "slack", "sms", "phone", "webhook")
VIAS = ("sms", "voice", "slack", "link")  # how a person acknowledges in a drill, as in life
KINDS = ("step", "escalation", "update", "reminder", "overdue", "resolved")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Event(_Model):
    at: Duration
    action: Literal["trigger", "ack", "update", "resolve", "fail", "recover"]
    by: str | None = None
    message: str | None = None
    channel: Literal["email", "slack", "sms", "phone", "webhook"] | None = None
    status: int | None = Field(default=None, ge=400, le=599)
    times: int | None = Field(default=None, ge=1)
    via: Literal["sms", "voice", "slack", "link"] | None = None

    @model_validator(mode="after")
    def _needs(self) -> "Event":
        if self.action == "ack" and not self.by:
            raise ValueError("an ack needs 'by' (who acknowledges)")
        if self.via is not None and self.action != "ack":
            raise ValueError(f"'via' goes with action = \"ack\" only (this event is {self.action!r})")
        if self.action == "update" and not self.message:
            raise ValueError("an update needs 'message'")
        if self.action in ("fail", "recover") and not self.channel:
            raise ValueError(f"{self.action} needs 'channel' (email, slack, sms, phone, webhook)")
        if self.action == "fail" and self.status is None:
            raise ValueError("fail needs 'status' (the HTTP status the provider answers, e.g. 500 or 429)")
        return self


class Expectation(_Model):
    who: str | None = None
    channel: Literal["email", "slack", "sms", "phone", "webhook"] | None = None
    kind: Literal["step", "escalation", "update", "reminder", "overdue", "resolved"] | None = None
    within: Duration | None = None
    never: bool = False
    sla: Literal["response", "updates"] | None = None
    met: bool = True  # with sla: false when the drill means to show the SLA missed

    @model_validator(mode="after")
    def _shape(self) -> "Expectation":
        if (self.who is None) == (self.sla is None):
            raise ValueError("an expectation names either 'who' (and optionally channel, kind, within, never) "
                             "or 'sla' (response or updates, and optionally met = false)")
        if self.who is not None and not self.met:
            raise ValueError("'met' goes with 'sla'; for a recipient who must not be reached, use never = true")
        if self.who is not None and not self.never and self.within is None:
            raise ValueError("say by when: 'within' (e.g. \"16m\"), or never = true")
        return self

    def describe(self) -> str:
        if self.sla:
            return f"{self.sla} SLA {'met' if self.met else 'missed'}"
        what = f"{self.who}" + (f" by {self.channel}" if self.channel else "") + (f" ({self.kind})" if self.kind else "")
        if self.never:
            return f"{what} never notified"
        return f"{what} notified within {int(self.within.total_seconds() // 60)}m"


class Scenario(_Model):
    name: str
    description: str = ""
    klass: str = Field(alias="class")
    duration: Duration | None = None
    start: AwareDatetime | None = None
    fields: dict[str, str | list[str]]
    events: list[Event] = Field(min_length=1)
    expect: list[Expectation] = Field(min_length=1)

    @model_validator(mode="after")
    def _timeline(self) -> "Scenario":
        # Only provider failures may be set up before the trigger, at 0m, so step 0 can meet them.
        setup = [e for e in self.events if e.action in ("fail", "recover") and e.at == timedelta(0)]
        rest = self.events[len(setup):] if self.events[:len(setup)] == setup else self.events
        if not rest or rest[0].action != "trigger" or rest[0].at != timedelta(0):
            raise ValueError("the first event must be the trigger at '0m' (after any 'fail' set up at '0m')")
        if sum(e.action == "trigger" for e in self.events) != 1:
            raise ValueError("a drill has exactly one trigger")
        if any(b.at < a.at for a, b in zip(self.events, self.events[1:])):
            raise ValueError("events must be in order of their 'at' offsets")
        if not str(self.fields.get("summary", "")).strip():
            raise ValueError("fields.summary is required")
        for n, event in enumerate(self.events):
            if self.duration is not None and event.at > self.duration:  # the drill would end before it
                raise ValueError(f"events[{n}] ({event.action} at {_minutes(event.at)}) comes after duration "
                                 f"{_minutes(self.duration)}: it would never happen (lengthen duration)")
        for n, expectation in enumerate(self.expect):
            if expectation.who and not (is_audience(expectation.who) or ":" not in expectation.who):
                raise ValueError(f"expect[{n}].who {expectation.who!r} is neither an audience nor a person id")
        return self

    @property
    def length(self) -> timedelta:
        return self.duration or self.events[-1].at + timedelta(minutes=15)


def _minutes(delta: timedelta) -> str:
    return f"{int(delta.total_seconds() // 60)}m"


def load_scenario(path: Path) -> Scenario:
    """Load a drill file; ConfigError naming the file, the line or key, and the problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([error(str(path), "", "drill file not found")]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([error(str(path), "", f"not valid TOML: {exc}")]) from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(pydantic_problems(path, exc)) from None


# --- `notify check drills/*.toml`: each drill file loads and fits this configuration ---

def drill_file_problems(files: Iterable[Path], policy: Policy | None, directory: Directory | None) -> list[Problem]:
    """Each drill file loads and fits this configuration, as `notify drill` will need it to."""
    files = list(files)
    if not files:
        return []
    problems: list[Problem] = []
    for path in files:
        try:
            scenario = load_scenario(path)
        except ConfigError as exc:
            problems += exc.problems
            continue
        problems += scenario_problems(path, scenario, policy, directory)
    return problems


def scenario_problems(path: Path, scenario: Any, policy: Policy | None, directory: Directory | None) -> list[Problem]:
    """What in a well-formed drill does not fit the configuration: an unknown class, an audience naming nobody.

    An expectation on a misspelt audience would hold by chance (``never = true``) or fail
    for the wrong reason, so it is an error here rather than a surprise in the report.
    """
    problems = []
    if policy is not None and scenario.klass not in policy.classes:
        problems.append(error(str(path), "class", f"no such incident class {scenario.klass!r} "
                              f"(the policy has: {', '.join(policy.classes)})"))
    for n, expectation in enumerate(scenario.expect):
        if directory is not None and expectation.who and ":" in expectation.who:
            problems += [error(str(path), f"expect[{n}].who", message)
                         for message in audience_problems(expectation.who, directory)]
        elif directory is not None and expectation.who and not is_audience(expectation.who) \
                and expectation.who not in directory.people:  # a bare person id, misspelt: would hold by chance
            problems.append(error(str(path), f"expect[{n}].who", f"no person {expectation.who!r} in contacts.toml"))
    if directory is not None:
        problems += [error(str(path), key, message) for key, message in _actor_problems(scenario, directory)]
    return problems


# What a person needs on the channel they act "via" (its address there): a phone number, a Slack member id.
_CONTACT = {"sms": "phone number", "voice": "phone number", "slack": "Slack member id"}


def _actor_problems(scenario: Any, directory: Directory) -> list[tuple[str, str]]:
    """An ack `via` a channel acts as a person of contacts.toml, who must be reachable on it."""
    found = []
    for n, event in enumerate(scenario.events):
        if event.via is None:
            continue
        person = directory.people.get(event.by)
        if person is None:
            found.append((f"events[{n}].by", (f"an ack via {event.via} acts as a person of contacts.toml: "
                          f"{event.by!r} is none (give the person's id, e.g. \"support-manager-a\")")))
        elif event.via in _CONTACT and not person.send_target(event.via):
            found.append((f"events[{n}].via", (f"{event.by} has no {_CONTACT[event.via]} in contacts.toml, "
                          f"so no {event.via} page can reach them to answer")))
    return found
