"""The monthly report's arithmetic (domain/metrics.py), as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dispatcher.domain.metrics import (
    compliance,
    median,
    month_window,
    months_before,
    nearest_rank,
    time_zone,
)

M = timedelta(minutes=1)


@pytest.mark.parametrize(("month", "zone", "start", "end"), [
    ("2026-11", "UTC", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
    ("2026-12", "UTC", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ("2028-02", "UTC", datetime(2028, 2, 1, tzinfo=UTC), datetime(2028, 3, 1, tzinfo=UTC)),  # leap year
    # Berlin: CEST until 25 October, so November starts at 23:00 UTC the day before and ends at 23:00 UTC
    ("2026-11", "Europe/Berlin", datetime(2026, 10, 31, 23, tzinfo=UTC), datetime(2026, 11, 30, 23, tzinfo=UTC)),
    ("2026-10", "Europe/Berlin", datetime(2026, 9, 30, 22, tzinfo=UTC), datetime(2026, 10, 31, 23, tzinfo=UTC)),
    ("2026-03", "America/New_York", datetime(2026, 3, 1, 5, tzinfo=UTC), datetime(2026, 4, 1, 4, tzinfo=UTC)),
])
def test_a_month_is_its_local_midnights_as_utc_instants(month, zone, start, end) -> None:
    assert month_window(month, time_zone(zone)) == (start, end)


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "26-11", "november", "2026-11-01", ""])
def test_a_month_of_another_shape_is_refused_by_name(bad) -> None:
    with pytest.raises(ValueError, match="--month: .* is not a month like 2026-11"):
        month_window(bad, time_zone(None))


def test_an_unknown_zone_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="--tz: 'Mars/Olympus' is not a time zone"):
        time_zone("Mars/Olympus")


@pytest.mark.parametrize(("month", "count", "expected"), [
    ("2026-11", 6, ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]),
    ("2026-02", 3, ["2025-12", "2026-01", "2026-02"]),
    ("2026-01", 1, ["2026-01"]),
])
def test_the_trend_months_end_with_the_month(month, count, expected) -> None:
    assert months_before(month, count) == expected


@pytest.mark.parametrize(("minutes", "p50", "p90"), [
    ([], None, None),
    ([7], 7, 7),
    ([1, 2], 1.5, 2),
    ([5, 1, 3], 3, 5),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 5.5, 9),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 6, 10),  # rank ceil(9.9) = 10
    ([4, 4, 4, 100], 4, 100),
])
def test_median_and_nearest_rank_p90(minutes, p50, p90) -> None:
    values = [m * M for m in minutes]
    assert median(values) == (None if p50 is None else p50 * M)
    assert nearest_rank(values, 90) == (None if p90 is None else p90 * M)


@pytest.mark.parametrize(("met", "counted", "expected"), [(0, 0, None), (99, 100, 0.99), (3, 4, 0.75), (5, 5, 1.0)])
def test_compliance_is_none_when_nothing_was_counted(met, counted, expected) -> None:
    assert compliance(met, counted) == expected
