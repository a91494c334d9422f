"""Who is on call, shift by shift: the on-call page, and calendar feeds (iCalendar) at secret, revocable URLs.

A shift is a stretch of time one person holds a rotation slot. Its edges are the
weekly hand-offs of contacts.toml's ``[rotation]`` and the ends of its overrides;
who holds each stretch is asked of :meth:`Directory.on_duty`, the same answer
`notify who --at` gives, so a calendar can never disagree with a page.

A feed's URL carries a random token; the store keeps its digest, with who made it
and what it shows (a person's shifts, or a slot's). Calendar clients hold no
session, so the URL is the credential: its maker can revoke it from the on-call page.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from ..config.directory import WEEKDAYS, Directory
from ..errors import InputError
from ..store import Store
from ..store.links_sql import link_digest
from ..store.web_sql import FeedRow

__all__ = ["FEED_KINDS", "Shift", "feed_calendar", "ical", "new_feed", "on_call_slots", "shifts"]

FEED_KINDS = ("person", "slot")
FEED_PAST, FEED_AHEAD = timedelta(weeks=2), timedelta(weeks=12)  # what a feed shows, around now
WEEK = timedelta(weeks=1)


@dataclass(frozen=True)
class Shift:
    slot: str
    person: str
    name: str
    start: datetime
    end: datetime
    override: bool  # held by an override of contacts.toml, not the weekly turn


def _handoffs(directory: Directory, start: datetime, end: datetime) -> list[datetime]:
    """The weekly hand-offs in [start, end], at the rotation's wall-clock time (as on_duty counts weeks)."""
    rotation = directory.rotation
    assert rotation is not None
    zone = ZoneInfo(rotation.timezone)
    first = datetime.combine(rotation.start, rotation.handoff_time, zone)
    first += timedelta(days=(WEEKDAYS.index(rotation.handoff_day) - rotation.start.weekday()) % 7)
    weeks = (start.astimezone(zone).replace(tzinfo=None) - first.replace(tzinfo=None)) // WEEK
    found, moment = [], first + weeks * WEEK
    while moment <= end:
        if moment >= start:
            found.append(moment.astimezone(UTC))
        moment += WEEK
    return found


def _override_edges(directory: Directory, slot: str) -> list[tuple[datetime, datetime]]:
    rotation = directory.rotation
    assert rotation is not None
    zone = ZoneInfo(rotation.timezone)
    aware = [(o.start if o.start.tzinfo else o.start.replace(tzinfo=zone),
              o.end if o.end.tzinfo else o.end.replace(tzinfo=zone)) for o in rotation.overrides if o.slot == slot]
    return [(s.astimezone(UTC), e.astimezone(UTC)) for s, e in aware]


def shifts(directory: Directory, slot: str, start: datetime, end: datetime) -> list[Shift]:
    """The slot's shifts overlapping [start, end), each as long as one person holds it (cut at the window)."""
    overrides = _override_edges(directory, slot)
    edges = {start, end, *_handoffs(directory, start, end)}
    edges |= {edge for pair in overrides for edge in pair if start < edge < end}
    ordered = sorted(edges)
    found: list[Shift] = []
    for begin, until in pairwise(ordered):
        person = directory.on_duty(slot, begin)
        override = any(s <= begin < e for s, e in overrides)
        if found and found[-1].person == person and found[-1].override == override:
            found[-1] = Shift(slot, person, found[-1].name, found[-1].start, until, override)
        else:
            found.append(Shift(slot, person, directory.people[person].name, begin, until, override))
    return found


def _around(directory: Directory, slot: str, now: datetime) -> list[Shift]:
    """The slot's shifts from the one held at `now`, far enough ahead to show the next hand-off, whole (not cut
    at the window's end)."""
    end = _handoffs(directory, now + 5 * WEEK, now + 6 * WEEK)[0]
    return shifts(directory, slot, now, end)


def on_call_slots(directory: Directory, now: datetime) -> list[dict]:
    """Each slot: its title, who holds it now and until when, who is next and from when, and its overrides."""
    rotation = directory.rotation
    if rotation is None:
        return []
    slots = []
    for name, slot in rotation.slots.items():
        held = _around(directory, name, now)
        overrides = [{"person": directory.people[o.person].name if o.person in directory.people else o.person,
                      "start": s, "end": e} for o, (s, e) in zip([o for o in rotation.overrides if o.slot == name],
                                                                  _override_edges(directory, name)) if e > now]
        slots.append({"slot": name, "title": slot.title, "now": held[0], "next": held[1] if len(held) > 1 else None,
                      "overrides": overrides})
    return slots


def new_feed(store: Store, directory: Directory, maker: str, kind: str, subject: str, now: datetime) -> str:
    """A new calendar feed's token: `kind` person (subject: a person id) or slot (a rotation slot)."""
    if kind not in FEED_KINDS:
        raise InputError("kind", f"{kind!r} is no kind of feed; expected one of {', '.join(FEED_KINDS)}")
    known = directory.people if kind == "person" else (directory.rotation.slots if directory.rotation else {})
    if subject not in known:
        raise InputError("subject", f"{subject!r} is no {kind} of contacts.toml")
    token = secrets.token_urlsafe(32)
    store.add_feed(FeedRow(link_digest(token), kind, subject, maker, now))
    return token


def feed_calendar(directory: Directory, store: Store, token: str, now: datetime) -> str | None:
    """The iCalendar text a feed's URL serves, or None when the token is unknown or revoked."""
    row = store.feed(link_digest(token)) if token else None
    if row is None or directory.rotation is None:
        return None
    # whole weeks: every event's edges are real hand-offs, and its UID the same at each refresh
    start = _handoffs(directory, now - FEED_PAST - WEEK, now - FEED_PAST)[-1]
    end = _handoffs(directory, now + FEED_AHEAD, now + FEED_AHEAD + WEEK)[0]
    if row.kind == "slot":
        if row.subject not in directory.rotation.slots:
            return None
        found = shifts(directory, row.subject, start, end)
        title = f"On call: {directory.rotation.slots[row.subject].title}"
    else:
        found = [s for slot in directory.rotation.slots for s in shifts(directory, slot, start, end)
                 if s.person == row.subject]
        name = directory.people[row.subject].name if row.subject in directory.people else row.subject
        title = f"On call: {name}"
    return ical(directory, found, title, now)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _text(value: str) -> str:
    """A TEXT value escaped as RFC 5545 says (backslash, semicolon, comma, newline)."""
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _folded(line: str) -> str:
    """A content line folded at 75 octets (RFC 5545, 3.1)."""
    data, out = line.encode(), []
    while len(data) > 75:
        cut = 75 if not out else 74
        while (data[cut] & 0xC0) == 0x80:  # never inside a UTF-8 sequence
            cut -= 1
        out.append(data[:cut].decode())
        data = data[cut:]
    out.append(data.decode())
    return "\r\n ".join(out)


def ical(directory: Directory, found: list[Shift], title: str, now: datetime) -> str:
    """A VCALENDAR of one VEVENT per shift, times in UTC, each with a stable UID (a refresh updates, not adds)."""
    rotation = directory.rotation
    slot_titles = {name: s.title for name, s in rotation.slots.items()} if rotation else {}
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//notify//on-call//EN", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH", f"X-WR-CALNAME:{_text(title)}"]
    for s in found:
        what = f"{slot_titles.get(s.slot, s.slot)} on call: {s.name}" + (" (override)" if s.override else "")
        lines += ["BEGIN:VEVENT", f"UID:{s.slot}-{s.person}-{_stamp(s.start)}@notify", f"DTSTAMP:{_stamp(now)}",
                  f"DTSTART:{_stamp(s.start)}", f"DTEND:{_stamp(s.end)}", f"SUMMARY:{_text(what)}",
                  f"DESCRIPTION:{_text(f'slot {s.slot}; person {s.person}')}", "TRANSP:TRANSPARENT", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(_folded(line) + "\r\n" for line in lines)
