"""Monitoring webhooks -> normalized alert events: pure parsing, stdlib only, no I/O.

    parse("alertmanager" | "grafana" | "generic", body) -> AlertEvent    or PayloadError

Alertmanager: webhook payload version 4 (:mod:`.alertmanager`). Grafana: the
alerting webhook contact point, version "1" (:mod:`.grafana`). Generic: our own
small JSON body, schema in :mod:`.generic`. What an event does to incidents
(open, repeat, update, resolve) is decided by :mod:`dispatcher.app.ingest`.
"""

from __future__ import annotations

from .model import ACTIONS, SOURCES, AlertEvent, AlertItem, PayloadError
from .parsing import parse

__all__ = ["ACTIONS", "SOURCES", "AlertEvent", "AlertItem", "PayloadError", "parse"]
