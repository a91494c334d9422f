"""Who gets what: a policy step's audiences resolved to addresses, as pure data.

Given the directory, an incident and a step, :func:`plan_step` returns one
:class:`Planned` delivery per (recipient, channel), with the recipient's
fallback addresses, or a reason it is skipped. No I/O happens here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..api import Address
from .delivery_key import DeliveryKey
from .entries import AudienceEntry, Entry, escalation_entries
from .incident import Incident, commander_of
from .loaded import PerLoaded

if TYPE_CHECKING:  # the loaded configuration, read here by attribute only
    from ..config.directory import Directory
    from ..config.policy import IncidentClass

__all__ = ["HELD_UNTIL_CONFIRMED", "Planned", "plan_audience", "plan_escalation", "plan_step",
           "step_entries", "template_for"]

# Drills never reach people outside the company (the seed's external contacts, the customer).
_OUTSIDE = ("customer", "external")
# A needs-review incident's notices to people outside the company wait for a person to confirm its class
# (`notify reclassify`): a customer is never told "security incident" on a guess.
HELD_UNTIL_CONFIRMED = "held until the class is confirmed (notify reclassify)"


@dataclass(frozen=True)
class Planned:
    step: int
    address: Address
    template: str  # template name: email|customer|slack|sms|voice
    fallbacks: tuple[Address, ...] = ()
    skip: str | None = None  # why nothing will be sent to this recipient
    held: str | None = None  # why it waits (stored, sent once released): HELD_UNTIL_CONFIRMED

    def key(self, label: str | int | None = None) -> DeliveryKey:
        """Its outbox key: labelled by its step, or by the timer or event that planned it."""
        return DeliveryKey(str(self.step if label is None else label), self.address.person, self.address.channel)


def step_entries(incident: Incident, klass: IncidentClass, step_index: int) -> tuple[AudienceEntry, ...]:
    """The audiences of a step (step 0 with those triage added); a needs-review incident's outside ones are
    planned held (see plan_audience)."""
    extra = tuple(Entry(to=a) for a in incident.also) if step_index == 0 else ()
    return tuple(klass.steps[step_index].notify) + extra


def plan_step(incident: Incident, klass: IncidentClass, step_index: int, directory: Directory) -> list[Planned]:
    """Every delivery of one step, deduplicated by (recipient, channel)."""
    planned: dict[tuple[str, str], Planned] = {}
    for entry in step_entries(incident, klass, step_index):
        for item in plan_audience(entry, incident, klass, step_index, directory):
            planned.setdefault((item.address.person, item.address.channel), item)
    return _drop_planned_fallbacks(planned)


def _drop_planned_fallbacks(planned: dict[tuple[str, str], Planned]) -> list[Planned]:
    """A fallback the step sends anyway (phone falling back to an SMS already planned) adds nothing."""
    kept = []
    for p in planned.values():
        fallbacks = tuple(f for f in p.fallbacks if (f.person, f.channel) not in planned)
        # dataclasses.replace costs 10 us a row: only for the rows that lose a fallback
        kept.append(p if len(fallbacks) == len(p.fallbacks) else replace(p, fallbacks=fallbacks))
    return kept


def plan_audience(entry: AudienceEntry, incident: Incident, klass: IncidentClass, step: int,
                  directory: Directory) -> list[Planned]:
    """One notify entry of a step resolved to planned deliveries."""
    kind, _, ident = entry.to.partition(":")
    if incident.drill and kind in _OUTSIDE:
        return [_skipped(entry, step, "drills never contact customers or external contacts", directory)]
    planned = _RESOLVERS.get(kind, _destination)(entry, ident, incident, klass, step, directory)
    if incident.needs_review and kind in _OUTSIDE:
        planned = [p if p.skip else replace(p, held=HELD_UNTIL_CONFIRMED) for p in planned]
    if incident.allow is not None:  # a live drill: everyone not named by --allow is left out
        planned = [p if p.skip or {p.address.person, p.address.role} & set(incident.allow)
                   else replace(p, skip="not in the drill's --allow list", fallbacks=()) for p in planned]
    return planned


_CALLED = ("phone", "voice", "pagerduty", "sms")  # channels that reach a rotation slot's shared number


def template_for(family: str, kind: str = "step") -> str:
    """The template of a channel's family (its Capabilities.template: email, slack, sms, voice): the family
    itself for a step, `<kind>-<family>` for a lifecycle notice."""
    return family if kind in ("step", "test") else f"{kind}-{family}"


def _template(entry: AudienceEntry, channel: str, d: Directory) -> str:
    return entry.template or template_for(d.family(channel))


def _skipped(entry: AudienceEntry, step: int, reason: str, d: Directory, display: str = "") -> Planned:
    channel = entry.channel or "email"
    address = Address(entry.to, display or entry.to, entry.to, channel, "")
    return Planned(step, address, _template(entry, channel, d), skip=reason)


def _for_person(entry: AudienceEntry, pid: str, step: int, d: Directory, *, phone: str | None = None) -> Planned:
    """A person on the entry's channel (or their preferred one), with their fallbacks."""
    addresses = _addresses(d, pid, entry.to, entry.channel, phone)
    if not addresses:
        name = d.people[pid].name
        return _skipped(entry, step, f"{name} has no address for {entry.channel}", d, name)
    return Planned(step, addresses[0], _template(entry, addresses[0].channel, d), addresses[1:])


def _addresses(d: Directory, pid: str, role: str, channel: str | None, phone: str | None) -> tuple[Address, ...]:
    """A person's addresses in the order they are tried: the channel asked for, then their preferred ones.

    Remembered per loaded directory (a frozen value; the same one for every webhook of a burst): every
    incident's step 0 asks again for the same people, and working them out was a third of plan_step.
    A rotation's person is asked for by who is on duty, so a hand-off asks for someone else.
    """
    cache = _ADDRESSES.get((d,), dict)
    key = (pid, role, channel, phone)
    found = cache.get(key)
    if found is None:
        if len(cache) > 4096:
            cache.clear()
        found = cache[key] = _addresses_of(d, pid, role, channel, phone)
    return found


_ADDRESSES: PerLoaded[dict[tuple, tuple[Address, ...]]] = PerLoaded()


def _addresses_of(d: Directory, pid: str, role: str, channel: str | None, phone: str | None) -> tuple[Address, ...]:
    person = d.people[pid]
    order = [channel] if channel else []
    order += [c for c in person.channels if c not in order]

    def address(on: str) -> Address | None:
        target = phone if phone and on in _CALLED else person.target(on)
        return Address(pid, person.name, role, on, target) if target else None

    return tuple(a for a in map(address, order) if a)


def _list(entry, ident, incident, klass, step, d: Directory) -> list[Planned]:
    dlist = d.lists[ident]
    if dlist.email:
        address = Address(f"list:{ident}", dlist.title or ident, entry.to, "email", dlist.email)
        return [Planned(step, address, _template(entry, "email", d))]
    return [_for_person(entry, member, step, d) for member in dlist.members]


def _destination(entry, ident, incident, klass, step, d: Directory) -> list[Planned]:
    """A destination of a channel's own table (`slack:ID` is contacts.toml's [slack.ID]), on that channel: the
    policy accepts no other kind of audience, and the directory says which channel owns the table."""
    table = entry.to.partition(":")[0]
    channel, target = d.table_owners()[table], d.table(table)[ident].channel
    address = Address(entry.to, target, entry.to, channel, target)
    return [Planned(step, address, _template(entry, channel, d))]


def _rotation(entry, ident, incident, klass, step, d: Directory) -> list[Planned]:
    slot = d.rotation.slots[ident]
    return [_for_person(entry, d.on_duty(ident, incident.opened_at), step, d, phone=slot.phone)]


def _role(entry, ident, incident, klass, step, d: Directory) -> list[Planned]:
    return [_for_person(entry, pid, step, d) for pid in d.holders(ident)]


def _person(entry, ident, incident, klass, step, d: Directory) -> list[Planned]:
    return [_for_person(entry, ident, step, d)]


def _external(entry, ident, incident, klass, step, d: Directory) -> list[Planned]:
    contact = d.external[ident]
    channel = entry.channel or ("phone" if contact.phone else "email")
    target = contact.email if channel == "email" else contact.phone
    address = Address(f"external:{ident}", contact.name, entry.to, channel, target or "")
    return [Planned(step, address, _template(entry, channel, d))]


def _customer(entry, ident, incident, klass, step, d: Directory) -> list[Planned]:
    contact = incident.fields.get("reported_by")
    if not contact or "@" not in str(contact):
        return [_skipped(entry, step, "no customer email (give --reported-by or a known --customer)", d)]
    if incident.reporter_unverified:
        return [_skipped(entry, step, f"reporter {contact} came from a webhook and is in no customer account's "
                                      "domains nor [reporters] allow of contacts.toml: recorded, not mailed", d)]
    display = incident.fields.get("customer") or contact
    address = Address("customer", str(display), entry.to, entry.channel or "email", str(contact))
    return [Planned(step, address, _template(entry, address.channel, d))]


def _success_manager(entry, ident, incident, klass, step, d: Directory) -> list[Planned]:
    account = d.customers.get(incident.account or "")
    if account is None or not account.success_manager:
        return [_skipped(entry, step, "no dedicated success manager (customer unknown or has none)", d)]
    return [_for_person(entry, account.success_manager, step, d)]


def _success_managers(entry, ident, incident, klass, step, d: Directory) -> list[Planned]:
    managers = dict.fromkeys(a.success_manager for a in d.customers.values()
                             if a.plan == ident and a.success_manager)
    return [_for_person(entry, pid, step, d) for pid in managers]


def _commander(entry, ident, incident, klass, step, d: Directory) -> list[Planned]:
    commander = commander_of(incident, klass, d)
    if commander.person is None:
        return [_skipped(entry, step, f"commander {commander.name!r} is not in the directory", d)]
    return [_for_person(entry, commander.person, step, d)]


_RESOLVERS = {
    "list": _list, "rotation": _rotation, "role": _role, "person": _person,
    "external": _external, "customer": _customer, "success-manager": _success_manager,
    "success-managers": _success_managers, "commander": _commander,
}



def plan_escalation(incident: Incident, klass: IncidentClass, stage: int, directory: Directory) -> list[Planned]:
    """The deliveries of one escalation stage, on the class's escalation channels.

    Stages are numbered after the steps (step index = len(steps) + stage) so their
    idempotency keys never collide with a step's.
    """
    step = len(klass.steps) + stage
    planned: dict[tuple[str, str], Planned] = {}
    for entry in escalation_entries(klass, klass.escalation[stage]):
        for item in plan_audience(entry, incident, klass, step, directory):
            planned.setdefault((item.address.person, item.address.channel), item)
    return _drop_planned_fallbacks(planned)
