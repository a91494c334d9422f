"""The bodies of the incident actions of the API (``POST /incidents/{id}/<action>``), checked field by field.

Each action names the service that does it and the arguments it takes after the
incident id; a wrong field is :class:`BadField` (the app answers 422 naming it).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ACTIONS", "BadField", "parsed"]

ACTIONS = ("ack", "escalate", "update", "resolve", "reclassify")


class BadField(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def _text(body: dict[str, Any], field: str, *, required: str | None = None) -> str | None:
    """A string field, stripped; None when absent (refused when `required` says what it is for)."""
    value = body.get(field)
    if value is not None and not isinstance(value, str):
        raise BadField(field, f"field {field!r} must be a string")
    if required and not (value and value.strip()):
        raise BadField(field, f"field {field!r} ({required}) is required")
    return value.strip() if isinstance(value, str) and field != "message" else value


def parsed(action: str, body: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """(the service's name, its arguments after the incident id) for an action's body."""
    if action in ("ack", "escalate"):
        who = "who acknowledges" if action == "ack" else "who escalates"
        return action, (_text(body, "by", required=who), _text(body, "via") or "api")
    if action == "reclassify":
        klass = _text(body, "class", required="the class it is")
        return "reclassify", (klass.lower(), _text(body, "by", required="who decides"))
    if action == "update":
        return "update", (_text(body, "message", required="the status update"), _text(body, "by"))
    return "resolve", (_text(body, "message"), _text(body, "by"))
