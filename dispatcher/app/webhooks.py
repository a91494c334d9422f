"""Request bodies into monitoring events, for `notify serve` and `notify ingest`: hooks/'s parsers behind app/.

:func:`parse` picks the parser by the source's name (alertmanager, grafana,
generic); :func:`load_object` reads an API body (ack, resolve) as strictly as
a hook's. Both raise PayloadError naming the field; :mod:`.ingest` then turns
the event into an incident.
"""

from __future__ import annotations

from ..hooks.model import load_object
from ..hooks.parsing import parse

__all__ = ["load_object", "parse"]
