"""An incident as the engine sees it, and the template context built from it."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Mapping

from ..errors import InputError
from .account import account_context, checked_acv, checked_plan
from .durations import format_duration
from .fields import RECORDABLE

if TYPE_CHECKING:  # the loaded configuration, read here by attribute only
    from ..config.directory import Directory
    from ..config.policy import IncidentClass

__all__ = ["NOTICE_KEYS", "NOTICE_KINDS", "RECORDABLE", "Incident", "Lazy", "build_incident", "commander_of", "format_time", "parse_started", "public_fields",
           "render_context", "started_at", "valid_incident_id"]

# What a follow-up notice says about itself, as the templates see it (``notice.kind`` ...).
NOTICE_KINDS = ("initial", "update", "reminder", "overdue", "resolved", "escalation", "ack", "reclassify", "target",
                "breach", "review", "follow-up")
# `previous`: the class's title before a reclassification (the incident's own title is the new one).
NOTICE_KEYS = ("kind", "message", "by", "number", "due", "stage", "at", "duration", "via", "previous", "link")


# How far ahead of our clock `started` may be: another host's clock a little ahead is not a typo.
FUTURE_SLACK = timedelta(minutes=5)
_ID = re.compile(r"[A-Z]{2,5}-[0-9]{4}-(?:[0-9]{3}|[1-9][0-9]{3,})", re.ASCII)


@dataclass(frozen=True)
class Incident:
    id: str
    klass: str
    started: datetime
    fields: Mapping[str, Any]
    drill: bool = False
    account: str | None = None  # customer account id when --customer named a known account
    dedup_key: str = ""
    also: tuple[str, ...] = ()  # audiences triage adds to step 0 (e.g. the Finance Director)
    needs_review: bool = False  # a weak triage match: its outside notices wait for a person to confirm the class
    allow: tuple[str, ...] | None = None  # a live drill reaches only these recipients (ids or audiences)
    opened: datetime | None = None  # when notify opened it; None: at `started`
    # A webhook named `reported_by`, and it is in no account's domains nor the allow-list: it is
    # recorded, and never sent a customer notice (a webhook must not choose who gets our mail).
    reporter_unverified: bool = False
    recorded: tuple[str, ...] = ()  # of RECORDABLE: what people recorded as done

    def with_id(self, incident_id: str) -> "Incident":
        return replace(self, id=incident_id, dedup_key=self.dedup_key or incident_id)

    @property
    def opened_at(self) -> datetime:
        """When notify opened the incident: who is on duty, and every timer, count from here.

        `started` (an alert's startsAt, a --started) may be hours earlier; the on-call of
        that moment may be off duty by now, and the response SLA starts when people are paged.
        """
        return self.opened or self.started


@dataclass(frozen=True)
class Commander:
    name: str
    contact: str
    person: str | None = None  # directory id when the commander is in the directory


def valid_incident_id(value: str, prefix: str) -> str | None:
    """A problem with a user-given id, or None (ids look like SEC-2024-001)."""
    if not _ID.fullmatch(value):
        return f"{value!r} is not an incident id like {prefix}-2026-001"
    if not value.startswith(prefix + "-"):
        return f"{value!r} does not start with this class's prefix {prefix}-"
    return None


def parse_started(value: str | None, now: datetime) -> datetime:
    """ISO 8601 -> aware datetime (UTC when no zone is given); None -> now."""
    return parse_moment(value) if value else now


def parse_moment(value: str) -> datetime:
    """ISO 8601 -> aware datetime, UTC when no zone is given; ValueError when it does not parse."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def started_at(value: str | None, now: datetime) -> datetime:
    """An incident's `started` as given (ISO 8601, UTC when no zone) or now; InputError("started") when it is
    not a time or lies in the future: whoever sent it (a person, a command hook, a webhook) is refused alike."""
    if not value:
        return now
    try:
        started = parse_moment(str(value))
    except ValueError:
        raise InputError("started", f"{str(value)[:60]!r} is not an ISO 8601 time (e.g. 2026-11-26T03:12:00Z)") from None
    if started > now + FUTURE_SLACK:
        raise InputError("started", f"{started.isoformat()} is in the future")
    return started


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def build_incident(klass_name: str, klass: IncidentClass, directory: Directory, values: Mapping[str, Any],
                   *, now: datetime, drill: bool, incident_id: str = "") -> Incident:
    """Validate the input (InputError naming the field) and fill defaults from the directory (account contact,
    commander, next update). Every way in (the CLI, `notify ingest`, the webhooks, drills) builds incidents here."""
    if incident_id and (problem := valid_incident_id(incident_id, klass.prefix)):
        raise InputError("incident", problem)
    fields = {k: v for k, v in values.items() if v not in (None, "", ())}
    started = started_at(fields.pop("started", None), now)
    for name, check in (("plan", checked_plan), ("acv", checked_acv)):
        if name in fields:
            fields[name] = check(fields[name])
    account_id = None
    if fields.get("customer") and (found := directory.customer(fields["customer"])):
        account_id, account = found
        fields["customer"] = account.name
        if not fields.get("reported_by") and account.contact:
            fields["reported_by"] = account.contact
    if klass.update_every and not fields.get("next_update"):
        fields["next_update"] = format_time(now + klass.update_every)  # the cadence counts from now
    return Incident(incident_id, klass_name, started, fields, drill, account_id, incident_id, opened=now)


def commander_of(incident: Incident, klass: IncidentClass, directory: Directory) -> Commander:
    """The named commander, else the class's commander audience resolved now."""
    named = incident.fields.get("commander")
    if named and named in directory.people:
        return _person_commander(directory, named)
    if named:
        return Commander(str(named), "see incident channel")
    kind, _, ident = klass.commander.partition(":")
    if kind == "rotation" and directory.rotation and ident in directory.rotation.slots:
        person = directory.on_duty(ident, incident.opened_at)
        slot_phone = directory.rotation.slots[ident].phone
        return _person_commander(directory, person, slot_phone)
    if kind == "role" and directory.holders(ident):
        return _person_commander(directory, directory.holders(ident)[0])
    if kind == "person" and ident in directory.people:
        return _person_commander(directory, ident)
    return Commander("On-call primary", "see incident channel")


def _person_commander(directory: Directory, pid: str, phone: str | None = None) -> Commander:
    person = directory.people[pid]
    contact = " / ".join(x for x in (phone or person.phone, person.email) if x)
    return Commander(person.name, contact or "see incident channel", pid)


def step_name(klass: IncidentClass, step_index: int, notice: Mapping[str, Any]) -> str:
    """A step's name; escalation stages and lifecycle notices are named by what they are."""
    if 0 <= step_index < len(klass.steps):
        return klass.steps[step_index].name
    return str(notice.get("stage") or str(notice.get("kind", "notice")).capitalize())


class Lazy:
    """A fact a template may ask for, worked out only when it does (from the delivery log): most templates never
    ask, and their notices cost no look-up. Truthy and printable as its value; None prints as nothing."""

    __slots__ = ("_compute", "_done", "_value")

    def __init__(self, compute: Any) -> None:
        self._compute, self._done, self._value = compute, False, None

    @property
    def value(self) -> Any:
        if not self._done:
            self._value, self._done = self._compute(), True
        return self._value

    def __bool__(self) -> bool:
        return bool(self.value)

    def __str__(self) -> str:
        return "" if self.value is None else str(self.value)

    def __eq__(self, other: object) -> bool:
        return self.value == (other.value if isinstance(other, Lazy) else other)

    __hash__ = None  # type: ignore[assignment]


def recorded_facts(incident: Incident, customer_reached: Any = None) -> dict[str, Any]:
    """`incident.recorded.<name>` (customer_acknowledged...): recorded with `notify update --record`, or, for the
    customer's two, `customer_reached()` (a notice to the customer was accepted: asked only when a template does)."""
    facts: dict[str, Any] = {}
    for name in RECORDABLE:
        done = name in incident.recorded
        if not done and name != "environment-secured" and customer_reached is not None:
            facts[name.replace("-", "_")] = Lazy(customer_reached)
        else:
            facts[name.replace("-", "_")] = done
    return facts


def render_context(incident: Incident, klass: IncidentClass, tier_title: str, directory: Directory,
                   step_index: int, recipient: Mapping[str, str],
                   notice: Mapping[str, Any] | None = None, facts: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The plain dict every template sees (keys documented in the README). `facts`: what the delivery log says,
    worked out when a template asks (`status_page`, `recorded`; see app/facts.py)."""
    f = incident.fields
    commander = commander_of(incident, klass, directory)
    services = f.get("affected_services") or ()
    if isinstance(services, str):
        services = [s.strip() for s in services.split(",") if s.strip()]
    return {
        "incident": {
            "id": incident.id, "class": incident.klass, "title": klass.title, "priority": klass.priority,
            "tier": klass.tier, "tier_title": tier_title, "response_sla": format_duration(klass.response_sla),
            "update_every": format_duration(klass.update_every) if klass.update_every else None,
            "started": format_time(incident.started), "customer": f.get("customer"),
            "reported_by": f.get("reported_by"), "summary": f.get("summary", ""),
            "commander": commander.name, "commander_contact": commander.contact,
            "affected_services": list(services), "impact_scope": f.get("impact_scope"),
            "symptoms": f.get("symptoms"), "eta": f.get("eta"), "next_update": f.get("next_update"),
            "drill": incident.drill, "account": account_context(f, incident.account, directory),
            # The status page's state ("update requested", "update accepted"...; None: none is kept for it).
            "status_page": (facts or {}).get("status_page"),
            "recorded": (facts or {}).get("recorded") or recorded_facts(incident),
        },
        "step": {"index": step_index, "name": step_name(klass, step_index, notice or {})},
        "recipient": dict(recipient),
        "notice": {key: (notice or {}).get(key) for key in NOTICE_KEYS} | {"kind": (notice or {}).get("kind") or "initial"},
    }


def public_fields(incident: Incident) -> dict[str, Any]:
    """Fields as stored and reported (JSON-safe)."""
    out: dict[str, Any] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in incident.fields.items()}
    out["started"] = incident.started.isoformat()
    return out

