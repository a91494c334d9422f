"""Working hours and quiet hours, as pure functions of a person's hours, their time zone and a moment.

A person's `working_hours` (contacts.toml) is one span or a list of them:
``"mon-fri 09:00-18:00"`` (the default), ``"mon,wed,fri 10:00-16:00"``,
``"sat 10:00-14:00"``, ``"always"``; an empty list means never. Each span is
read in the person's time zone, so a span keeps its local hours across a
daylight-saving change and a weekend is the person's own weekend.

:func:`pages_now` is the quiet-hours rule: standard-tier notices reach a person
by email and Slack at any hour, but by phone or SMS only inside their working
hours, unless the incident reached its response SLA unacknowledged; the
immediate and priority tiers always page at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["DEFAULT_WORKING_HOURS", "QUIET_TIERS", "RINGING_FAMILIES", "WorkingHours", "is_working", "next_start",
           "pages_now", "parse_working_hours"]

DEFAULT_WORKING_HOURS = "mon-fri 09:00-18:00"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
QUIET_TIERS = frozenset({"standard"})  # the tiers whose calls and texts wait for working hours
RINGING_FAMILIES = frozenset({"voice", "sms"})  # what wakes someone: a call or a text (email and Slack never)
_SPAN = re.compile(r"^(?P<days>[a-z,-]+)\s+(?P<start>\d\d:\d\d)-(?P<end>\d\d:\d\d)$")
_END_OF_DAY = time.max


@dataclass(frozen=True)
class Span:
    days: frozenset[int]  # 0 = Monday
    start: time
    end: time  # time.max for "24:00"

    def holds(self, local: datetime) -> bool:
        return local.weekday() in self.days and self.start <= local.time() < self.end


@dataclass(frozen=True)
class WorkingHours:
    spans: tuple[Span, ...]
    text: str  # as written, for messages: "mon-fri 09:00-18:00"


def parse_working_hours(value: str | list[str] | tuple[str, ...]) -> WorkingHours:
    """Read working hours as contacts.toml writes them; ValueError says what is wrong and what is expected."""
    items = [value] if isinstance(value, str) else list(value)
    if items == ["always"]:
        return WorkingHours((Span(frozenset(range(7)), time(0), _END_OF_DAY),), "always")
    spans = tuple(_span(str(item)) for item in items)
    return WorkingHours(spans, ", ".join(str(i) for i in items) if items else "never")


def _span(text: str) -> Span:
    found = _SPAN.match(" ".join(text.strip().lower().split()))
    if not found:
        raise ValueError(f"{text!r} is not working hours like 'mon-fri 09:00-18:00' (days, then HH:MM-HH:MM; "
                         "or 'always')")
    start, end = _clock(found["start"], text), _clock(found["end"], text)
    if end <= start:
        raise ValueError(f"{text!r}: the end ({found['end']}) must be after the start ({found['start']}); "
                         "split a span past midnight in two ('mon-fri 22:00-24:00', 'tue-sat 00:00-06:00')")
    return Span(_days(found["days"], text), start, end)


def _clock(hhmm: str, text: str) -> time:
    if hhmm == "24:00":
        return _END_OF_DAY
    hours, minutes = int(hhmm[:2]), int(hhmm[3:])
    if hours > 23 or minutes > 59:
        raise ValueError(f"{text!r}: {hhmm} is not a time of day (00:00 to 24:00)")
    return time(hours, minutes)


def _days(spec: str, text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"{text!r}: {part!r} is not a day or a range of days ({', '.join(DAYS)}; 'mon-fri')")
        a, b = DAYS.index(first), DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])  # "fri-mon" wraps
    return frozenset(days)


def is_working(hours: WorkingHours, zone: str, at: datetime) -> bool:
    """True when `at` falls inside one of the spans, read in `zone`."""
    local = at.astimezone(ZoneInfo(zone))
    return any(span.holds(local) for span in hours.spans)


def next_start(hours: WorkingHours, zone: str, at: datetime) -> datetime | None:
    """The next moment after `at` at which working hours begin (UTC), or None when there are none."""
    tz = ZoneInfo(zone)
    local_day = at.astimezone(tz).date()
    starts = [_instant(local_day + timedelta(days=d), span.start, tz) for d in range(8) for span in hours.spans
              if (local_day + timedelta(days=d)).weekday() in span.days]
    later = [s for s in starts if s > at]
    return min(later) if later else None


def _instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """A local wall-clock time as an instant; one skipped by a spring-forward change is the instant it became."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def pages_now(tier: str, family: str, hours: WorkingHours, zone: str, at: datetime, *,
              sla_reached: bool = False) -> bool:
    """The quiet-hours rule: may a notice of this tier go to this person on this channel family at `at`?"""
    if tier not in QUIET_TIERS or family not in RINGING_FAMILIES or sla_reached:
        return True
    return is_working(hours, zone, at)
