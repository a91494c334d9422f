"""The normalized alert event every webhook parser returns, its one error, and the JSON readers they share.

Stdlib only: the parsers run in the webhook hot path and at CLI start.

Errors::

    ValueError
     +-- PayloadError    .field: where ("alerts[0].labels"); .problem: what is wrong.
                         str(): "<field>: <problem>"; carries at most ~60 characters
                         of any one piece of user input.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from ..errors import PayloadError  # re-exported: every parser raises it

__all__ = ["ACTIONS", "SOURCES", "AlertEvent", "AlertItem", "PayloadError"]

ACTIONS = ("trigger", "update", "resolve")
SOURCES = ("alertmanager", "grafana", "generic")
STATUSES = ("firing", "resolved")

_CLIP = 60  # characters of user input quoted in one error message
TEXT_LIMIT = 8000  # characters of triage text: bounds the phrase matching a single webhook can cost


@dataclass(frozen=True)
class AlertItem:
    """One alert of a group, as the monitoring system sent it (times normalized to UTC ISO 8601)."""

    fingerprint: str
    status: str  # firing | resolved
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str | None
    ends_at: str | None  # None: not ended (Go's zero time 0001-01-01T00:00:00Z on the wire)
    generator_url: str | None


@dataclass(frozen=True)
class AlertEvent:
    """What one webhook delivery means: which incident (dedup key), what to do, and what to say."""

    source: str  # alertmanager | grafana | generic
    action: str  # trigger | update | resolve (monitoring sources say trigger; ingest decides update)
    dedup_key: str  # one incident per key
    incident_id: str | None  # a generic body may name one
    incident_class: str | None  # a generic body may name one; otherwise the routing rules decide
    labels: dict[str, str]  # for the routing rules' label matchers
    text: str  # for the routing rules' phrases
    fields: dict[str, object]  # template fields; "summary" is always there and never empty
    alerts: tuple[AlertItem, ...] = ()
    firing: int = 0
    resolved: int = 0
    truncated: int = 0  # alerts the sender left out (Alertmanager/Grafana max_alerts)

    def __post_init__(self) -> None:
        # Parser invariants, not input checks: a violation here is a bug in a parser.
        if self.source not in SOURCES or self.action not in ACTIONS:
            raise ValueError(f"AlertEvent: bad source/action {self.source!r}/{self.action!r}")
        if not self.dedup_key or not str(self.fields.get("summary") or "").strip():
            raise ValueError("AlertEvent: dedup_key and fields['summary'] must not be empty")


# --- reading JSON, naming the field that is wrong ----------------------------------------------

def clip(value: Any) -> str:
    """User input, quoted and cut to ~60 characters, for an error message."""
    if isinstance(value, str):
        return repr(value[:_CLIP]) + ("..." if len(value) > _CLIP else "")
    text = repr(value)
    return text if len(text) <= _CLIP else text[:_CLIP] + "..."


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for "expected X, got Y" messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def path_of(parent: str, key: str) -> str:
    """Dotted path of a key under parent: ("alerts[0]", "labels") -> "alerts[0].labels"."""
    key = key if len(key) <= 40 else key[:40] + "..."
    return f"{parent}.{key}" if parent else key


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_object(body: bytes | str) -> dict[str, Any]:
    """Decode a request body that must be one JSON object (strict: UTF-8, no NaN or Infinity).

    JSON over HTTP is UTF-8 (RFC 8259); json.loads would also take UTF-16 or UTF-32 bytes,
    and a string may hold a NUL or a lone surrogate through an escape. None of those can be
    stored (PostgreSQL text refuses NUL; no encoder writes a lone surrogate), so each is
    refused here, naming where it is, rather than accepted and failing later.
    """
    try:
        text = body.decode("utf-8-sig") if isinstance(body, bytes) else body  # a BOM is tolerated
    except UnicodeDecodeError as exc:
        raise PayloadError("body", f"not UTF-8 (an invalid byte at offset {exc.start}); JSON is sent as UTF-8"
                                   " (RFC 8259)") from None
    if "\x00" in text:  # never valid JSON; ASCII in UTF-16 or UTF-32 without a BOM decodes so
        raise PayloadError("body", "holds NUL bytes: not UTF-8 (UTF-16 or UTF-32?); JSON is sent as UTF-8 (RFC 8259)")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise PayloadError("body", "nested too deeply to decode") from None
    except ValueError as exc:  # JSONDecodeError, the int digit limit
        raise PayloadError("body", f"not valid JSON: {str(exc)[:100]}") from None
    if not isinstance(data, dict):
        raise PayloadError("body", f"expected a JSON object, got {json_type(data)}")
    if _SUSPECT_ESCAPE.search(text) and (where := _unstorable_at(data)) is not None:
        raise PayloadError(where or "body", "contains a NUL character or a lone surrogate (an escape such as "
                                            "\\u0000 or \\ud800), which notify does not store")
    return data


# Only an escape can put NUL or a surrogate into a decoded string: look for one before walking the data.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _unstorable_at(value: Any, path: str = "") -> str | None:
    """The path of the first key or string holding NUL or a surrogate; None when there is none."""
    if isinstance(value, str):
        return path if _UNSTORABLE.search(value) else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        name = _UNSTORABLE.sub("?", str(key))
        where = f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{name}" if path else name)
        if isinstance(key, str) and _UNSTORABLE.search(key):
            return where
        if (found := _unstorable_at(item, where)) is not None:
            return found
    return None


def get_str(obj: Mapping[str, Any], key: str, parent: str = "", *, required: bool = False) -> str | None:
    """obj[key] as a string; None when absent or null (PayloadError if required)."""
    value = obj.get(key)
    if value is None:
        if required:
            raise PayloadError(path_of(parent, key), "missing")
        return None
    if not isinstance(value, str):
        raise PayloadError(path_of(parent, key), f"expected a string, got {json_type(value)}")
    return value


def get_text(obj: Mapping[str, Any], key: str, parent: str = "", *, required: bool = False) -> str | None:
    """obj[key] as a stripped, non-blank string; blank counts as absent."""
    value = get_str(obj, key, parent, required=required)
    value = value.strip() if value is not None else None
    if not value:
        if required:
            raise PayloadError(path_of(parent, key), "missing or empty")
        return None
    return value


def get_choice(obj: Mapping[str, Any], key: str, choices: tuple[str, ...], parent: str = "",
               *, default: str | None = None) -> str:
    value = get_str(obj, key, parent, required=default is None)
    if value is None:
        return default  # type: ignore[return-value]  # required=False only when a default exists
    if value not in choices:
        raise PayloadError(path_of(parent, key),
                           f"expected one of {', '.join(map(repr, choices))}, got {clip(value)}")
    return value


def get_labels(obj: Mapping[str, Any], key: str, parent: str = "", *, required: bool = False) -> dict[str, str]:
    """obj[key] as a map of string to string (labels, annotations); {} when absent or null."""
    value = obj.get(key)
    where = path_of(parent, key)
    if value is None:
        if required:
            raise PayloadError(where, "missing")
        return {}
    if not isinstance(value, dict):
        raise PayloadError(where, f"expected an object of string values, got {json_type(value)}")
    for name, item in value.items():
        if not isinstance(item, str):
            raise PayloadError(path_of(where, name), f"expected a string, got {json_type(item)}")
    return dict(value)


def get_count(obj: Mapping[str, Any], key: str, parent: str = "") -> int:
    """obj[key] as a non-negative integer; 0 when absent or null."""
    value = obj.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        shown = clip(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else json_type(value)
        raise PayloadError(path_of(parent, key), f"expected a non-negative integer, got {shown}")
    return value


def get_list(obj: Mapping[str, Any], key: str, parent: str = "") -> list[Any]:
    """obj[key] as a non-empty array (required)."""
    value = obj.get(key)
    where = path_of(parent, key)
    if value is None:
        raise PayloadError(where, "missing")
    if not isinstance(value, list):
        raise PayloadError(where, f"expected an array, got {json_type(value)}")
    if not value:
        raise PayloadError(where, "is empty")
    return value


def get_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(where, f"expected an object, got {json_type(value)}")
    return value


# RFC 3339 as Go and most senders write it; fractions beyond microseconds (Go sends nanoseconds) are cut.
_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?")
_GO_ZERO = datetime(1, 1, 1, tzinfo=timezone.utc)


def parse_time(value: str, where: str, *, require_offset: bool = True) -> datetime | None:
    """An RFC 3339 time as an aware UTC datetime; None for Go's zero time ("not set").

    Without an offset (allowed only when require_offset is false) the time is UTC,
    as `notify --started` reads it.
    """
    match = _TIME.fullmatch(value.strip())
    if not match or (require_offset and not match.group(4)):
        hint = "with a zone offset " if require_offset else ""
        raise PayloadError(where, f"expected an ISO 8601 time {hint}like 2026-11-26T03:12:00Z, got {clip(value)}")
    day, clock, fraction, offset = match.groups()
    offset = "+00:00" if offset in (None, "Z", "z") else offset
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}{(fraction or '')[:7]}{offset}")
        moment = moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise PayloadError(where, f"not a valid time: {clip(value)}") from None
    return None if moment == _GO_ZERO else moment


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def triage_text(parts: Iterable[str | None]) -> str:
    """Distinct non-empty parts, one per line, cut to TEXT_LIMIT characters."""
    seen: list[str] = []
    for part in parts:
        if part and part not in seen:
            seen.append(part)
    return "\n".join(seen)[:TEXT_LIMIT]
