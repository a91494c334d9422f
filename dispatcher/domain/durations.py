"""Durations as people write them in policy.toml ('15m', '2h30m') and read them in a notice ('1 hour 30 minutes').

Pure: the policy parses with :func:`parse_duration`, the timers and the
templates print with :func:`format_duration`.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_duration", "parse_duration"]

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(value: object) -> timedelta:
    """'15m', '1h', '2h30m', '1d' -> timedelta; a timedelta passes through."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value).strip()) if value not in ("", None) else None
    if not match or not any(match.groups()):
        raise ValueError(f"{value!r} is not a duration like '15m', '1h' or '2h30m'")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(value: timedelta) -> str:
    """timedelta -> '15 minutes', '1 hour', '4 hours', '1 hour 30 minutes'."""
    minutes = int(value.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{hours} hour{'s' * (hours != 1)}"] if hours else []
    parts += [f"{minutes} minute{'s' * (minutes != 1)}"] if minutes or not hours else []
    return " ".join(parts)
