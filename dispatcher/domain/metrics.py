"""The monthly report's arithmetic, pure: month windows, percentiles, compliance against a target.

- A month is ``YYYY-MM`` in a time zone (UTC unless the reader says otherwise):
  its window is [first midnight, next month's first midnight) there, as UTC instants.
- The median is the middle value (the mean of the two middle ones for an even count);
  p90 is the nearest-rank 90th percentile (the smallest value with at least 90 % of
  the values at or below it), a value that actually occurred.
- Compliance is met / counted, None when nothing was counted (a month without
  incidents is not 0 % compliant), and meets its target when at or above it.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from statistics import median as _median
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["RESPONSE_SLA_TARGET", "SATISFACTION_TARGET", "compliance", "median", "month_window", "months_before",
           "nearest_rank", "time_zone"]

RESPONSE_SLA_TARGET = 0.99  # the seed: "SLA Compliance: >99% for response times"
SATISFACTION_TARGET = 0.95  # the seed: "Customer Satisfaction: >95% for escalated issues"
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def time_zone(name: str | None) -> ZoneInfo:
    """An IANA zone by name (None: UTC); ValueError naming it when unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"--tz: {name!r} is not a time zone (an IANA name such as Europe/Berlin or UTC)") from None


def month_window(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a ``YYYY-MM`` month in `zone`, as UTC instants; ValueError for another shape."""
    found = _MONTH.match(month.strip())
    if found is None:
        raise ValueError(f"--month: {month!r} is not a month like 2026-11 (YYYY-MM)")
    year, number = int(found[1]), int(found[2])
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def months_before(month: str, count: int) -> list[str]:
    """The `count` months ending with `month`, oldest first (2026-02, 3 -> 2025-12, 2026-01, 2026-02)."""
    year, number = (int(part) for part in month.split("-"))
    index = year * 12 + number - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - count + 1, index + 1)]


def median(values: list[timedelta]) -> timedelta | None:
    return _median(values) if values else None


def nearest_rank(values: list[timedelta], percent: float) -> timedelta | None:
    """The nearest-rank percentile: the value at rank ceil(percent/100 x n) of the sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(percent / 100 * len(ordered)), 1) - 1]


def compliance(met: int, counted: int) -> float | None:
    return met / counted if counted else None
