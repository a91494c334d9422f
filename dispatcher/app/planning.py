"""Planning a notice's deliveries for an incident's audiences: shared by the lifecycle, its timers and its review.

Its own module so that the use cases beside :mod:`.incidents` (resolution targets,
post-incident reviews) plan as it does without importing it, and it them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..config.directory import Directory
from ..config.policy import Notify
from ..domain.incident import Incident
from ..domain.plan import Planned, plan_audience, template_for
from ..errors import IncidentNotFound
from ..store import IncidentRow, NewDelivery, Store
from .engine import Runtime, outbox_row

__all__ = ["load", "plan_entries", "planned_for", "quietness", "update_deliveries"]


def load(store: Store, incident_id: str) -> IncidentRow:
    row = store.incident(incident_id)
    if row is None:
        raise IncidentNotFound(incident_id)
    return row


def plan_entries(rt: Runtime, incident: Incident, entries: tuple[Notify, ...], *, step: int, kind: str,
                 label: str, notice: dict[str, Any]) -> list[NewDelivery]:
    """Outbox rows for audiences of a timer or command, on the templates of its kind."""
    return [outbox_row(p, kind=kind, label=label, notice=notice)
            for p in planned_for(rt, incident, entries, step=step, kind=kind)]


def planned_for(rt: Runtime, incident: Incident, entries: tuple[Notify, ...], *, step: int,
             kind: str) -> list[Planned]:
    """The audiences' deliveries on the templates of `kind`, once per (recipient, channel)."""
    klass = rt.klass(incident.klass)
    planned: dict[tuple[str, str], Planned] = {}
    for entry in entries:
        for item in plan_audience(entry, incident, klass, step, rt.directory):
            template = entry.template or template_for(rt.directory.family(item.address.channel), kind)
            planned.setdefault((item.address.person, item.address.channel), replace(item, template=template))
    return list(planned.values())


def update_deliveries(planned: list[Planned], by: str | None, directory: Directory) -> list[Planned]:
    """An update reaches each person once, on their quietest channel first, and never its own author."""
    out: dict[str, Planned] = {}
    for item in planned:
        person = directory.people.get(item.address.person)
        if item.skip or person is None:
            out.setdefault(f"{item.address.person}/{item.address.channel}", item)
            continue
        # nobody is phoned to hear a status update while they can read it
        first, *rest = sorted((item.address, *item.fallbacks), key=lambda a: quietness(a.channel))
        item = replace(item, address=first, fallbacks=tuple(rest), template=template_for(directory.family(first.channel), "update"))
        if by and by.strip().casefold() in (item.address.person.casefold(), person.name.casefold()):
            item = replace(item, skip="the author of this update", fallbacks=())
        out.setdefault(item.address.person, item)
    return list(out.values())


def quietness(channel: str) -> int:
    """How loud a channel is (Capabilities.quietness): the quietest a person was reached on carries the
    resolution notice, as nobody is called to hear "resolved". A channel not installed is loudest."""
    from ..config.plugins import channel_class

    return getattr(getattr(channel_class(channel), "capabilities", None), "quietness", 1000)
