"""The working-hours and quiet-hours rule (domain/working_hours.py), as tables: zones, DST, weekends."""

from __future__ import annotations

from datetime import datetime

import pytest

from dispatcher.domain.working_hours import (
    DEFAULT_WORKING_HOURS,
    is_working,
    next_start,
    pages_now,
    parse_working_hours,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


WORKING = [
    # (hours, zone, instant (UTC), working?, why)
    (DEFAULT_WORKING_HOURS, "America/Los_Angeles", "2026-12-07T18:00Z", True, "Monday 10:00 PST"),
    (DEFAULT_WORKING_HOURS, "America/Los_Angeles", "2026-12-07T11:00Z", False, "Monday 03:00 PST"),
    (DEFAULT_WORKING_HOURS, "America/Los_Angeles", "2026-12-12T01:59Z", True, "Friday 17:59 PST"),
    (DEFAULT_WORKING_HOURS, "America/Los_Angeles", "2026-12-12T02:00Z", False, "Friday 18:00 PST: the end is out"),
    (DEFAULT_WORKING_HOURS, "America/Los_Angeles", "2026-12-05T18:00Z", False, "Saturday 10:00 PST"),
    (DEFAULT_WORKING_HOURS, "America/Los_Angeles", "2026-12-08T01:00Z", True, "Monday 17:00 PST, Tuesday in UTC"),
    # DST: the span keeps its local hours when the offset changes.
    (DEFAULT_WORKING_HOURS, "America/New_York", "2026-03-06T13:30Z", False, "Friday 08:30 EST"),
    (DEFAULT_WORKING_HOURS, "America/New_York", "2026-03-09T13:30Z", True, "Monday 09:30 EDT (after spring forward)"),
    (DEFAULT_WORKING_HOURS, "Europe/Berlin", "2026-10-23T07:30Z", True, "Friday 09:30 CEST"),
    (DEFAULT_WORKING_HOURS, "Europe/Berlin", "2026-10-26T07:30Z", False, "Monday 08:30 CET (after fall back)"),
    (DEFAULT_WORKING_HOURS, "Europe/Berlin", "2026-10-26T08:00Z", True, "Monday 09:00 CET"),
    # Their weekend, not UTC's; half-hour zones.
    (DEFAULT_WORKING_HOURS, "Asia/Tokyo", "2026-12-07T00:00Z", True, "Monday 09:00 JST, still Sunday in UTC"),
    (DEFAULT_WORKING_HOURS, "Asia/Tokyo", "2026-12-05T00:00Z", False, "Saturday 09:00 JST, Friday in UTC"),
    (DEFAULT_WORKING_HOURS, "Asia/Kolkata", "2026-12-07T03:29Z", False, "Monday 08:59 IST"),
    (DEFAULT_WORKING_HOURS, "Asia/Kolkata", "2026-12-07T03:30Z", True, "Monday 09:00 IST"),
    # Other shapes of hours.
    ("always", "UTC", "2026-12-06T03:00Z", True, "always: Sunday 03:00"),
    ([], "UTC", "2026-12-07T10:00Z", False, "never: Monday 10:00"),
    ("sat-sun 10:00-14:00", "Europe/London", "2026-12-05T11:00Z", True, "a weekend worker on Saturday 11:00"),
    ("sat-sun 10:00-14:00", "Europe/London", "2026-12-07T11:00Z", False, "a weekend worker on Monday"),
    ("fri-mon 08:00-12:00", "UTC", "2026-12-06T09:00Z", True, "a range of days that wraps: Sunday"),
    ("fri-mon 08:00-12:00", "UTC", "2026-12-08T09:00Z", False, "a range of days that wraps: Tuesday"),
    (["mon-thu 09:00-17:00", "fri 09:00-13:00"], "UTC", "2026-12-11T14:00Z", False, "two spans: Friday 14:00"),
    (["mon-thu 09:00-17:00", "fri 09:00-13:00"], "UTC", "2026-12-10T14:00Z", True, "two spans: Thursday 14:00"),
    ("mon-fri 22:00-24:00", "UTC", "2026-12-07T23:59Z", True, "until midnight (24:00)"),
]


@pytest.mark.parametrize("hours, zone, at, expected, why", WORKING, ids=[w[-1] for w in WORKING])
def test_working_hours_are_read_in_the_persons_zone(hours, zone: str, at: str, expected: bool, why: str) -> None:
    assert is_working(parse_working_hours(hours), zone, utc(at)) is expected, why


NEXT = [
    ("America/Los_Angeles", "2026-12-12T03:00Z", "2026-12-14T17:00Z", "Friday 19:00 PST -> Monday 09:00 PST"),
    ("America/Los_Angeles", "2026-12-07T11:00Z", "2026-12-07T17:00Z", "Monday 03:00 -> Monday 09:00"),
    ("America/New_York", "2026-03-07T15:00Z", "2026-03-09T13:00Z", "Saturday EST -> Monday 09:00 EDT"),
    ("Europe/Berlin", "2026-10-24T12:00Z", "2026-10-26T08:00Z", "Saturday CEST -> Monday 09:00 CET"),
]


@pytest.mark.parametrize("zone, at, expected, why", NEXT, ids=[n[-1] for n in NEXT])
def test_the_next_start_of_working_hours_is_local_nine_across_dst_and_weekends(zone: str, at: str, expected: str,
                                                                               why: str) -> None:
    assert next_start(parse_working_hours(DEFAULT_WORKING_HOURS), zone, utc(at)) == utc(expected), why


def test_never_working_has_no_next_start() -> None:
    assert next_start(parse_working_hours([]), "UTC", utc("2026-12-07T10:00Z")) is None


NIGHT, DAY = utc("2026-12-07T11:00Z"), utc("2026-12-07T18:00Z")  # Monday 03:00 and 10:00 in Los Angeles
PAGES = [
    # (tier, channel family, at, SLA reached, pages now?)
    ("standard", "voice", NIGHT, False, False),
    ("standard", "sms", NIGHT, False, False),
    ("standard", "email", NIGHT, False, True),
    ("standard", "slack", NIGHT, False, True),
    ("standard", "voice", DAY, False, True),
    ("standard", "voice", NIGHT, True, True),  # the response SLA passed unacknowledged: the phone rings
    ("immediate", "voice", NIGHT, False, True),
    ("priority", "sms", NIGHT, False, True),
]


@pytest.mark.parametrize("tier, family, at, sla, expected", PAGES)
def test_only_standard_tier_calls_and_texts_wait_for_working_hours(tier: str, family: str, at: datetime, sla: bool,
                                                                   expected: bool) -> None:
    hours = parse_working_hours(DEFAULT_WORKING_HOURS)
    assert pages_now(tier, family, hours, "America/Los_Angeles", at, sla_reached=sla) is expected


@pytest.mark.parametrize("text, says", [
    ("mon-fri 9-18", "is not working hours like 'mon-fri 09:00-18:00'"),
    ("mon-fri 18:00-09:00", "must be after the start"),
    ("funday 09:00-10:00", "'funday' is not a day"),
    ("mon 25:00-26:00", "25:00 is not a time of day"),
])
def test_bad_working_hours_say_what_is_wrong_and_what_is_expected(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says.replace("(", r"\(")):
        parse_working_hours(text)
