"""The checks across the tables of `contacts.toml`, once each table has parsed (:mod:`.directory`).

A person's unknown role, a channel listed without its address, a role nobody
can be reached in, a rotation or list naming someone unknown, two people with
one login or email: each is a problem naming the file and the key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import plugins
from .problems import Problem, error, note

if TYPE_CHECKING:
    from .directory import Directory

__all__ = ["cross_check"]


def cross_check(file: str, d: Directory) -> list[Problem]:
    """Every problem between the tables of a directory that parsed: unknown names, unreachable roles, duplicates."""
    problems: list[Problem] = []
    problems += _check_people(file, d)
    problems += _check_roles(file, d)
    problems += _check_rotation(file, d)
    problems += _check_lists(file, d)
    problems += _check_addresses(file, d)
    problems += _check_shipped_emails(file, d)
    for cid, account in d.customers.items():
        if account.success_manager and account.success_manager not in d.people:
            problems.append(error(file, f"customers.{cid}.success_manager",
                                  f"unknown person {account.success_manager!r}"))
    return problems


def _check_people(file: str, d: Directory) -> list[Problem]:
    problems, seen, logins = [], {}, {}
    for pid, person in d.people.items():
        if person.login:
            if person.login.casefold() in logins:
                problems.append(error(file, f"people.{pid}.login",
                                      f"same login as people.{logins[person.login.casefold()]}: "
                                      "`notify ack` could not tell them apart"))
            logins[person.login.casefold()] = pid
        for role in person.roles:
            if role not in d.roles:
                problems.append(error(file, f"people.{pid}.roles", f"unknown role {role!r}"))
        for channel in person.channels:
            if channel != "webhook" and person.send_target(channel) is None:
                problems.append(error(file, f"people.{pid}.channels",
                                      f"lists {channel!r} but the person has no "
                                      f"{_FIELD_FOR.get(channel) or _declared_key(channel)}"))
        if person.email:
            if person.email.casefold() in seen:
                problems.append(error(file, f"people.{pid}.email",
                                      f"duplicate person: same email as people.{seen[person.email.casefold()]}"))
            seen[person.email.casefold()] = pid
    return problems


# The shipped contacts.toml is TeamFlow's: its lists use the seed's own addresses. For any other team they are
# somebody else's inboxes, which a first real trigger would mail; like the people's .example ones, say so.
SHIPPED_DOMAINS = ("teamflow.com",)


def _check_shipped_emails(file: str, d: Directory) -> list[Problem]:
    """A note for every email address that is a placeholder (.example) or the shipped example company's."""
    found = [(f"people.{pid}.email", p.email) for pid, p in d.people.items()]
    found += [(f"lists.{lid}.email", dl.email) for lid, dl in d.lists.items()]
    found += [(f"external.{eid}.email", e.email) for eid, e in d.external.items()]
    found += [(f"customers.{cid}.contact", c.contact) for cid, c in d.customers.items()]
    problems = []
    for key, email in found:
        domain = str(email or "").rpartition("@")[2].casefold()
        if domain.endswith(".example"):
            problems.append(note(file, key, "placeholder address: replace with a real one"))
        elif domain in SHIPPED_DOMAINS:
            problems.append(note(file, key, f"the shipped example company's address ({domain}): replace it with "
                                            "your own, or your notices are mailed there"))
    return problems


_FIELD_FOR = {"email": "email", "sms": "phone", "phone": "phone", "voice": "phone", "pagerduty": "phone",
              "apprise": "apprise URL"}


def _declared_key(channel: str) -> str:
    """Where a person's address on a channel is written: the key it declares (`slack`), else `addresses.NAME`."""
    return plugins.person_field(channel) or f"addresses.{channel}"


def _check_addresses(file: str, d: Directory) -> list[Problem]:
    """Every address on a channel with an Addressing hook (Slack's member ids and #names), before any send."""
    problems = []
    for pid, person in d.people.items():
        for channel, target in person.addresses.items():
            message = plugins.target_problem(channel, target)
            if message:
                problems.append(error(file, f"people.{pid}.{_declared_key(channel)}", message))
    for name, table in d.tables.items():
        for ident, entry in table.entries.items():
            message = plugins.target_problem(table.channel, entry.channel, group=True)
            if message:
                problems.append(error(file, f"{name}.{ident}.channel", message))
    return problems


def _check_roles(file: str, d: Directory) -> list[Problem]:
    problems = []
    for rid in d.roles:
        reachable = [pid for pid in d.holders(rid) if d.people[pid].channels]
        if not reachable:
            problems.append(error(file, f"roles.{rid}", "nobody can be reached in this role (no person holds it)"))
    return problems


def _check_rotation(file: str, d: Directory) -> list[Problem]:
    if d.rotation is None:
        return []
    problems = []
    for name, slot in d.rotation.slots.items():
        for member in slot.members:
            if member not in d.people:
                problems.append(error(file, f"rotation.slots.{name}.members", f"unknown person {member!r}"))
        if slot.role and slot.role not in d.roles:
            problems.append(error(file, f"rotation.slots.{name}.role", f"unknown role {slot.role!r}"))
    for i, override in enumerate(d.rotation.overrides):
        key = f"rotation.overrides[{i}]"
        if override.slot not in d.rotation.slots:
            problems.append(error(file, f"{key}.slot", f"unknown rotation slot {override.slot!r}"))
        if override.person not in d.people:
            problems.append(error(file, f"{key}.person", f"unknown person {override.person!r}"))
        if override.end <= override.start:
            problems.append(error(file, f"{key}.end", "ends before it starts"))
    return problems


def _check_lists(file: str, d: Directory) -> list[Problem]:
    problems = []
    for lid, dlist in d.lists.items():
        if not dlist.email and not dlist.members:
            problems.append(error(file, f"lists.{lid}", "empty list: no email and no members"))
        for member in dlist.members:
            if member not in d.people:
                problems.append(error(file, f"lists.{lid}.members", f"unknown person {member!r}"))
    return problems
