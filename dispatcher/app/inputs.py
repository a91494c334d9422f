"""What commands read from their options, by the domain's rules: the incident fields and the times.

:data:`FIELDS` is the table of incident fields a trigger takes: the CLI builds
one option per field from it when imported, so `notify --help` loads this
module, and the parsers below import theirs when called. :func:`parse_moment`
reads an ISO 8601 time (`--at`), :func:`since` a `--since` bound; each raises
ValueError for the command to name its option.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ..domain.fields import FIELDS, RECORDABLE

__all__ = ["FIELDS", "RECORDABLE", "parse_moment", "since"]


def parse_moment(value: str) -> datetime:
    """ISO 8601 -> aware datetime, UTC when no zone is given; ValueError when it does not parse."""
    from ..domain.incident import parse_moment

    return parse_moment(value)


def since(value: str, now: datetime) -> datetime:
    """--since (an ISO 8601 time, or a duration ago such as 2h) as an aware UTC time."""
    from ..domain.durations import parse_duration
    from ..domain.incident import parse_started

    try:
        return now - parse_duration(value)
    except ValueError:
        pass
    return parse_started(value, now).astimezone(timezone.utc)
