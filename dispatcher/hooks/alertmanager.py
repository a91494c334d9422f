"""Alertmanager webhook (payload version 4) -> AlertEvent.

The body is Alertmanager's template data plus three webhook fields, as
`notify/webhook/webhook.go` marshals it (documented under `<webhook_config>`
in https://prometheus.io/docs/alerting/latest/configuration/)::

    {"version": "4", "groupKey": str, "truncatedAlerts": int,
     "status": "firing" | "resolved", "receiver": str, "externalURL": str,
     "groupLabels": {str: str}, "commonLabels": {str: str}, "commonAnnotations": {str: str},
     "alerts": [{"status": "firing" | "resolved", "labels": {..}, "annotations": {..},
                 "startsAt": RFC 3339, "endsAt": RFC 3339, "generatorURL": str, "fingerprint": str}]}

One delivery is one notification for one alert group, so the group key is the
dedup key: the same group firing again is the same incident. The group's
status is "resolved" only when every alert in it is. `endsAt` is Go's zero time
(0001-01-01T00:00:00Z) while an alert fires. Keys this parser does not know are
ignored, so a newer Alertmanager that adds fields still pages; a different
`version` is refused, because its meaning may have changed.

Grafana's contact-point webhook sends the same group shape with extra fields;
:func:`parse_group` is shared with :mod:`.grafana`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

from .model import (STATUSES, AlertEvent, AlertItem, PayloadError, clip, get_choice, get_count, get_labels,
                    get_list, get_object, get_str, get_text, iso, load_object, parse_time, triage_text)

__all__ = ["parse_alertmanager", "parse_group", "fingerprint"]

VERSION = "4"
SUMMARY_KEYS = ("summary",)
DESCRIPTION_KEYS = ("description", "message")  # older kube-prometheus rules annotate "message"
RUNBOOK_KEYS = ("runbook_url", "runbook")
SERVICE_LABELS = ("service", "app", "job")  # per alert, the first present names its service


def parse_alertmanager(body: bytes) -> AlertEvent:
    """Parse an Alertmanager webhook body; PayloadError names the first field that is wrong."""
    data = load_object(body)
    version = get_str(data, "version", required=True)
    if version != VERSION:
        raise PayloadError("version", f"expected \"4\" (Alertmanager webhook payload version 4), got {clip(version)}")
    group_key = get_text(data, "groupKey", required=True)
    return parse_group("alertmanager", data, group_key)  # type: ignore[arg-type]  # required: never None


def parse_group(source: str, data: Mapping[str, Any], dedup_key: str | None,
                fallback_key: Callable[[list[dict[str, Any]]], str] | None = None,
                title: str | None = None) -> AlertEvent:
    """The event for an Alertmanager-shaped alert group (Alertmanager, Grafana).

    dedup_key None: fallback_key(alerts) gives it, from the alert objects once they are valid
    (Grafana's rule UID). title: the summary of last resort, after the alert name.
    """
    status = get_choice(data, "status", STATUSES)
    raw_alerts = get_list(data, "alerts")
    alerts = tuple(read_alert(get_object(raw, f"alerts[{i}]"), f"alerts[{i}]") for i, raw in enumerate(raw_alerts))
    group_labels = get_labels(data, "groupLabels")
    common_labels = get_labels(data, "commonLabels")
    common_annotations = get_labels(data, "commonAnnotations")
    truncated = get_count(data, "truncatedAlerts")
    if dedup_key is None:
        if fallback_key is None:
            raise PayloadError("groupKey", "missing")
        dedup_key = fallback_key(raw_alerts)

    summary = (_annotation(SUMMARY_KEYS, common_annotations, alerts)
               or _label("alertname", common_labels, alerts) or title or f"{source} alert group {dedup_key[:60]}")
    description = _annotation(DESCRIPTION_KEYS, common_annotations, alerts)
    fields: dict[str, object] = {"summary": summary}
    if description:
        fields["description"] = description
    if runbook := _annotation(RUNBOOK_KEYS, common_annotations, alerts):
        fields["runbook"] = runbook
    # The services of the alerts still firing: a resolved alert in the group is no longer affected.
    if services := _services([a for a in alerts if a.status == "firing"] or alerts):
        fields["affected_services"] = services
    starts = [a.starts_at for a in alerts if a.starts_at]
    if starts:
        fields["started"] = min(starts, key=datetime.fromisoformat)

    # Every alert's own summary and description count for triage, not only the group's:
    # a group of mixed alerts has no common annotations, and the second alert may be the database.
    text = triage_text([summary, description] + [a.annotations.get(k, "").strip() for a in alerts
                                                  for k in SUMMARY_KEYS + DESCRIPTION_KEYS])
    return AlertEvent(
        source=source,
        action="resolve" if status == "resolved" else "trigger",
        dedup_key=dedup_key,
        incident_id=None,
        incident_class=None,
        labels={**group_labels, **common_labels},
        text=text,
        fields=fields,
        alerts=alerts,
        firing=sum(a.status == "firing" for a in alerts),
        resolved=sum(a.status == "resolved" for a in alerts),
        truncated=truncated,
    )


def read_alert(obj: Mapping[str, Any], where: str) -> AlertItem:
    labels = get_labels(obj, "labels", where, required=True)
    starts = get_str(obj, "startsAt", where, required=True)
    ends = get_str(obj, "endsAt", where)
    return AlertItem(
        fingerprint=get_text(obj, "fingerprint", where) or fingerprint(labels),
        status=get_choice(obj, "status", STATUSES, where),
        labels=labels,
        annotations=get_labels(obj, "annotations", where),
        starts_at=iso(parse_time(starts, f"{where}.startsAt")),  # type: ignore[arg-type]  # required
        ends_at=iso(parse_time(ends, f"{where}.endsAt")) if ends else None,
        generator_url=get_text(obj, "generatorURL", where),
    )


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of a label set (FNV-1a 64 over sorted names and values), for
    hand-written payloads that leave it out."""
    h = 0xCBF29CE484222325
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode() + b"\xff":
                h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def _annotation(keys: tuple[str, ...], common: Mapping[str, str], alerts: tuple[AlertItem, ...]) -> str | None:
    """The group's annotation, else the first alert's that has one."""
    for source in (common, *(a.annotations for a in alerts)):
        for key in keys:
            if value := source.get(key, "").strip():
                return value
    return None


def _label(name: str, common: Mapping[str, str], alerts: tuple[AlertItem, ...]) -> str | None:
    for source in (common, *(a.labels for a in alerts)):
        if value := source.get(name, "").strip():
            return value
    return None


def _services(alerts: Sequence[AlertItem]) -> list[str]:
    services: list[str] = []
    for alert in alerts:
        name = next((v for k in SERVICE_LABELS if (v := alert.labels.get(k, "").strip())), None)
        if name and name not in services:
            services.append(name)
    return services
