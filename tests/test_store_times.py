"""How a time crosses the store boundary: aware datetimes in, UTC datetimes out, each database's form inside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from dispatcher.store.sql import POSTGRES, SQLITE
from dispatcher.store.times import loaded

FIVE_PAST = datetime(2026, 11, 26, 3, 5, tzinfo=UTC)
IN_BERLIN = FIVE_PAST.astimezone(timezone(timedelta(hours=1)))


@pytest.mark.parametrize("stored", [
    "2026-11-26T03:05:00+00:00",  # as notify writes it in SQLite
    "2026-11-26T04:05:00+01:00",  # another offset (by hand, or an older notify)
    "2026-11-26T03:05:00",  # no offset: UTC, as the PostgreSQL upgrade reads such text
    IN_BERLIN,  # psycopg's datetime, in the session's time zone
])
def test_a_stored_time_loads_as_the_same_instant_in_utc(stored: object) -> None:
    moment = loaded(stored)
    assert moment == FIVE_PAST and moment.tzinfo is UTC


def test_a_missing_time_stays_none() -> None:
    assert loaded(None) is None and SQLITE.t(None) is None and POSTGRES.t(None) is None


def test_sqlite_takes_utc_iso_text_and_postgres_the_datetime_itself() -> None:
    assert SQLITE.t(IN_BERLIN) == "2026-11-26T03:05:00+00:00"
    assert POSTGRES.t(IN_BERLIN) is IN_BERLIN


@pytest.mark.parametrize("dialect", [SQLITE, POSTGRES], ids=lambda d: d.name)
def test_a_naive_datetime_is_refused_naming_the_argument(dialect) -> None:
    with pytest.raises(ValueError, match=r"store: lease_until 2026-11-26T03:05:00 is a naive datetime"):
        dialect.t(FIVE_PAST.replace(tzinfo=None), "lease_until")
    with pytest.raises(TypeError, match=r"store: now must be an aware datetime, not str '2026-11-26T03:05:00Z'"):
        dialect.t("2026-11-26T03:05:00Z", "now")
