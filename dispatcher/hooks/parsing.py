"""One entry point for every webhook format: the source's name picks its parser.

Apart from model.py so that the parsers, which import model.py for the event
types and the JSON readers, are never imported back by it: no import circle.
"""

from __future__ import annotations

from .alertmanager import parse_alertmanager
from .generic import parse_generic
from .grafana import parse_grafana
from .model import SOURCES, AlertEvent, PayloadError, clip

__all__ = ["parse"]

_PARSERS = {"alertmanager": parse_alertmanager, "grafana": parse_grafana, "generic": parse_generic}


def parse(source: str, body: bytes) -> AlertEvent:
    """The event a webhook body from `source` describes; PayloadError names what is wrong with it."""
    parser = _PARSERS.get(source)
    if parser is None:
        raise PayloadError("source", f"unknown webhook source {clip(source)} (use {', '.join(SOURCES)})")
    return parser(body)
