"""Times across the store boundary: aware datetimes in, aware UTC datetimes out.

The store's methods take aware datetimes and its rows carry aware UTC datetimes;
how a time is held is the store's business. SQLite holds UTC ISO 8601 text (as it
always has: its text compares in time order only when every value has one offset);
PostgreSQL holds ``timestamptz``, given and read as datetimes by psycopg.
A naive datetime is a programming error: it names no instant, so it is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["as_text", "aware", "loaded"]


def aware(value: Any, what: str = "time") -> datetime:
    """`value`, checked: an aware datetime (TypeError for anything else, ValueError for a naive one)."""
    if not isinstance(value, datetime):
        raise TypeError(f"store: {what} must be an aware datetime, not {type(value).__name__} {value!r}")
    if value.utcoffset() is None:
        raise ValueError(f"store: {what} {value.isoformat()} is a naive datetime: give it a time zone "
                         "(the clock's times are UTC)")
    return value


def as_text(value: datetime, what: str = "time") -> str:
    """How SQLite holds a time: UTC ISO 8601 text."""
    return aware(value, what).astimezone(UTC).isoformat()


def loaded(value: str | datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime (None stays None); one stored without an offset is UTC."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.utcoffset() is None else moment.astimezone(UTC)
