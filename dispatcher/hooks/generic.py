"""The generic webhook: a small JSON body any script, CI job or tool can send -> AlertEvent.

Schema 1. The body is one JSON object; every key is optional unless marked,
null counts as not given, and any other key is refused (with a "did you mean")::

    action             "trigger" | "update" | "resolve"                           default "trigger"
    class              incident class of the policy, e.g. "outage"; absent: the routing rules decide
    incident           incident id, e.g. "OUT-2026-014": the incident to update or resolve,
                       or the id to open it under
    dedup_key          one incident per key (max 256 characters); default: `incident` when
                       given, else a stable hash of class + summary (case and spacing ignored),
                       so the same alert posted twice is one incident
    summary            what happened (string). Required, except for "resolve" with
                       `incident` or `dedup_key`; for "update" it is the update message
    description        string: details; also used as symptoms when those are not given
    runbook            string: a URL or instructions
    affected_services  array of strings, or one comma-separated string
    customer, reported_by, commander, impact_scope, symptoms, eta, next_update
                       strings: the template fields of the same names (see `notify --help`)
    plan               the customer's plan: "basic", "pro" or "enterprise" (default: the known
                       account's, when `customer` names one); read by triage, named in the team's notices
    acv                the customer's annual contract value in dollars, a number (or "120000");
                       default: the known account's. Never shown to the customer
    started            ISO 8601 time, e.g. "2026-11-26T03:12:00Z" (no offset: UTC)
    labels             object of string values, for the routing rules' label matchers
                       (e.g. {"severity": "critical", "category": "security"})
    text               string: free text for triage only (added to summary and description)

Example::

    {"class": "outage", "summary": "API returns 503 for EU customers",
     "affected_services": "API, Webhooks", "impact_scope": "EU", "labels": {"severity": "critical"}}

"update" and "resolve" find the incident by `incident`, else by the dedup key,
so name one of them (or send the exact class and summary the trigger had).
"""

from __future__ import annotations

import re
from typing import Any

from .model import (ACTIONS, AlertEvent, AlertItem, PayloadError, clip, get_choice, get_labels, get_text, iso,
                    json_type, load_object, parse_time, path_of, triage_text)

__all__ = ["KEYS", "TEMPLATE_KEYS", "parse_generic"]

TEMPLATE_KEYS = ("summary", "description", "runbook", "customer", "reported_by", "commander", "impact_scope",
                 "symptoms", "eta", "next_update")  # plain strings copied to the template fields
KEYS = frozenset(("action", "class", "incident", "dedup_key", "affected_services", "started", "labels", "text",
                  "plan", "acv") + TEMPLATE_KEYS)

_CLASS = re.compile(r"[a-z][a-z0-9-]{0,39}")  # the policy's class names: "outage", "high-value"
_INCIDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_DEDUP_MAX = 256


def parse_generic(body: bytes) -> AlertEvent:
    """Parse a generic webhook body (schema above); PayloadError names the first field that is wrong."""
    data = load_object(body)
    _refuse_unknown(data)
    action = get_choice(data, "action", ACTIONS, default="trigger")
    klass = _match(data, "class", _CLASS, "an incident class name like \"outage\"")
    incident = _match(data, "incident", _INCIDENT, "an incident id like \"OUT-2026-014\"")
    incident = incident.upper() if incident else incident  # ids are upper case; `out-2026-014` means the same
    dedup_key = get_text(data, "dedup_key")
    if dedup_key is not None and len(dedup_key) > _DEDUP_MAX:
        raise PayloadError("dedup_key", f"longer than {_DEDUP_MAX} characters")

    fields: dict[str, object] = {}
    for key in TEMPLATE_KEYS:
        if (value := get_text(data, key)) is not None:
            fields[key] = value
    if services := _services(data.get("affected_services")):
        fields["affected_services"] = services
    if (started := get_text(data, "started")) is not None:
        fields["started"] = iso(parse_time(started, "started", require_offset=False))
    fields.update(_account_facts(data))
    labels = get_labels(data, "labels")
    text = get_text(data, "text")

    named = incident or dedup_key
    if "summary" not in fields:
        if action != "resolve" or not named:
            need = "" if action != "resolve" else " (or name the incident or dedup_key to resolve)"
            raise PayloadError("summary", f"missing or empty{need}")
        fields["summary"] = f"Resolved ({named})"
    summary = str(fields["summary"])
    key = dedup_key or incident or derived_key(klass, summary)
    status = "resolved" if action == "resolve" else "firing"
    alert = AlertItem(fingerprint=key, status=status, labels=labels,
                      annotations={k: str(fields[k]) for k in ("summary", "description", "runbook") if k in fields},
                      starts_at=fields.get("started"), ends_at=None, generator_url=None)  # type: ignore[arg-type]
    return AlertEvent(
        source="generic",
        action=action,
        dedup_key=key,
        incident_id=incident,
        incident_class=klass,
        labels=labels,
        text=triage_text([summary, fields.get("description"), text]),  # type: ignore[list-item]
        fields=fields,
        alerts=(alert,),
        firing=int(status == "firing"),
        resolved=int(status == "resolved"),
    )


def derived_key(klass: str | None, summary: str) -> str:
    """A stable dedup key for a body that names neither incident nor key: class + summary, normalized."""
    import hashlib  # here, not at the top: loading OpenSSL costs the CLI ~10 ms at start

    normal = " ".join(summary.split()).casefold()
    return "generic:" + hashlib.sha256(f"{klass or ''}\n{normal}".encode()).hexdigest()[:24]


def _refuse_unknown(data: dict[str, Any]) -> None:
    unknown = [k for k in data if k not in KEYS]
    if not unknown:
        return
    import difflib  # only on this error path: keeps import time for the CLI and server down

    first = unknown[0]
    close = difflib.get_close_matches(first[:40], KEYS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(sorted(KEYS))})"
    more = f"; also {', '.join(clip(k) for k in unknown[1:4])}{' ...' if len(unknown) > 4 else ''}" \
        if len(unknown) > 1 else ""
    raise PayloadError(path_of("", first) or '""', f"unknown key {clip(first)}{hint}{more}")


def _match(data: dict[str, Any], key: str, pattern: re.Pattern[str], expected: str) -> str | None:
    value = get_text(data, key)
    if value is not None and not pattern.fullmatch(value):
        raise PayloadError(key, f"expected {expected}, got {clip(value)}")
    return value


def _account_facts(data: dict[str, Any]) -> dict[str, object]:
    """`plan` (a string) and `acv` (a number, or a string of one) as given: their values are checked where every
    incident's are (domain.account), so a webhook and the CLI refuse the same plan alike."""
    facts: dict[str, object] = {}
    if (plan := get_text(data, "plan")) is not None:
        facts["plan"] = plan
    acv = data.get("acv")
    if isinstance(acv, bool) or not isinstance(acv, (int, float, str, type(None))):
        raise PayloadError("acv", f"expected a number of dollars, got {json_type(acv)}")
    if acv is not None and str(acv).strip():
        facts["acv"] = acv
    return facts


def _services(value: Any) -> list[str]:
    """affected_services as a list of distinct names, from an array of strings or a comma string."""
    if value is None:
        return []
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, list):
        items = value
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise PayloadError(f"affected_services[{i}]", f"expected a string, got {json_type(item)}")
    else:
        raise PayloadError("affected_services", f"expected an array of strings or a comma-separated string, "
                                                f"got {json_type(value)}")
    services: list[str] = []
    for item in items:
        if (name := item.strip()) and name not in services:
            services.append(name)
    return services
