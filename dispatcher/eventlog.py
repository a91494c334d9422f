"""One log line per thing a long-running notify does, so an operator can follow `notify serve` and `notify worker`.

Events, each with the incident it concerns (``incident``; none yet for a webhook
stored but not handled, or given up before it opened one)::

    hook.received      a webhook was accepted: the generic hook handled at once (outcome, incident),
                       Alertmanager/Grafana stored as inbox event N for the worker loop
    incident.opened    a webhook opened an incident (also .updated, .resolved; hook.ignored: a repeat
                       or a resolve for nothing open); ``inbox_event`` ties it to its hook.received
    hook.label-ignored an Alertmanager/Grafana label `plan` or `acv` that is not one: left out of triage
                       and the incident (the event was accepted already; the page still goes out)
    incident.acknowledged / incident.resolved / incident.reclassified   over the API, with ``by``
    delivery.failed    an attempt did not deliver: a warning while it is retried, an error when final
    inbox.retrying     a stored webhook could not be handled: kept, tried again at ``retry_at``
    inbox.given-up     a stored webhook will not be tried again: kept for `notify inbox`

Lines are text by default (``2026-12-05T13:51:34.726Z WARNING delivery.failed
incident=OUT-2026-001 channel=webhook ...``) or, with ``NOTIFY_LOG_FORMAT=json``,
one JSON object per line (``at``, ``level``, ``event``, ``incident`` and the
fields). Every value and the finished line are masked of the configured secrets;
detail from providers is masked before it gets here too.

Nothing is printed unless a command calls :func:`configure`: a one-shot command
reports in its own output, not in log lines.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any, Iterable, TextIO

from .api import mask_secrets

__all__ = ["configure", "emit"]

EVENTS = logging.getLogger("notify.events")
EVENTS.addHandler(logging.NullHandler())  # silent until configure(): never Python's last-resort stderr handler


def emit(event: str, incident: str | None, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event about an incident (None: no incident yet) with its fields."""
    if not EVENTS.isEnabledFor(level):
        return
    extra = {"event": event, "incident": incident, "fields": fields}
    # The text is made only if a handler asks for the message: EventFormatter writes the line from the fields
    # (a webhook burst stores hundreds a second, and formatting each line twice was half of storing one).
    EVENTS.log(level, "%s", _Text(event, incident, fields), extra=extra)


class _Text:
    """An event's text body, made when a handler formats the record (its message), not when it is logged."""

    __slots__ = ("event", "incident", "fields")

    def __init__(self, event: str, incident: str | None, fields: dict[str, Any]) -> None:
        self.event, self.incident, self.fields = event, incident, fields

    def __str__(self) -> str:
        return _text_body(self.event, self.incident, self.fields)


class EventFormatter(logging.Formatter):
    """Events and the other notify log records as one line each: text, or a JSON object."""

    def __init__(self, json_lines: bool, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.json_lines = json_lines
        self.secrets = tuple(sorted((s for s in secrets if s), key=len, reverse=True))

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
        at = at.replace("+00:00", "Z")
        event = getattr(record, "event", None)
        fields = {k: self._mask(v) for k, v in getattr(record, "fields", {}).items() if v is not None}
        incident = getattr(record, "incident", None)
        if event is None:  # any other notify record: its logger names it, its message says it
            event, fields = record.name, {"message": self._mask(record.getMessage())}
            if record.exc_info:
                fields["error"] = self._mask(self.formatException(record.exc_info))
        if self.json_lines:
            line = json.dumps({"at": at, "level": record.levelname.lower(), "event": event, "incident": incident,
                               **fields}, default=str)
        else:
            line = f"{at} {record.levelname} {_text_body(event, incident, fields)}"
        return mask_secrets(line, self.secrets)

    def _mask(self, value: Any) -> Any:
        # mask_secrets looks for each pattern's literal before its expression: a plain value costs a few `in`s
        return mask_secrets(value, self.secrets) if isinstance(value, str) else value


def _text_body(event: str, incident: str | None, fields: dict[str, Any]) -> str:
    pairs = " ".join(f"{key}={_text_value(value)}" for key, value in fields.items() if value is not None)
    return f"{event} incident={incident or '-'}" + (f" {pairs}" if pairs else "")


def _text_value(value: Any) -> str:
    """A value as logfmt writes it: bare when it has no space, quote or '=', else a JSON string."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    plain = text and not any(c in text for c in ' "=\\\n\t')
    return text if plain else json.dumps(text)


def configure(log_format: str, secrets: Iterable[str] = (), stream: TextIO | None = None) -> logging.Handler:
    """Print notify's events and log records (info and up) to stderr, as text or JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(EventFormatter(json_lines=log_format == "json", secrets=secrets))
    for name, level in (("notify", logging.INFO), ("uvicorn", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False  # one line per record, whatever else configured the root logger
    return handler
