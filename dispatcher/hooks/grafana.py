"""Grafana alerting webhook contact point (unified alerting, payload version "1") -> AlertEvent.

Grafana documents the body in "Configure the webhook notifier for Alerting"
(https://grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier/);
grafana/alerting `receivers/webhook` builds it from Alertmanager's template data::

    {"receiver": str, "status": "firing" | "resolved", "orgId": int, "alerts": [alert],
     "groupLabels": {..}, "commonLabels": {..}, "commonAnnotations": {..}, "externalURL": str,
     "version": "1", "groupKey": str, "truncatedAlerts": int,
     "title": str, "state": "alerting" | "ok", "message": str}     # the last three: "will be deprecated"
    alert = {"status", "labels", "annotations", "startsAt", "endsAt", "values": {str: number},
             "generatorURL", "fingerprint", "silenceURL", "dashboardURL", "panelURL", "imageURL"}

The group is Alertmanager's shape, so :func:`.alertmanager.parse_group` reads it.
The dedup key is the group key; a body without one (a custom payload template
that dropped it) falls back to the alert rule's UID, which Grafana strips from
the labels (`__alert_rule_uid__` is private) but leaves in each alert's
silenceURL (`matcher=__alert_rule_uid__=<uid>`) and generatorURL
(`/alerting/grafana/<uid>/view`). Grafana's legacy (pre-8) alert notifications
(`ruleName`, `evalMatches`, no `version`) are refused with a message that says so.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .alertmanager import parse_group
from .model import AlertEvent, PayloadError, clip, get_str, get_text, load_object

__all__ = ["parse_grafana"]

VERSION = "1"
RULE_UID_LABEL = "__alert_rule_uid__"
_RULE_PATH = re.compile(r"/alerting/grafana/([^/?#]+)/view")
_UID = re.compile(r"[A-Za-z0-9_-]{1,40}")  # Grafana's UID alphabet; anything else is not one


def parse_grafana(body: bytes) -> AlertEvent:
    """Parse a Grafana webhook contact point body; PayloadError names the first field that is wrong."""
    data = load_object(body)
    version = get_str(data, "version")
    if version is None:
        legacy = "ruleName" in data or "evalMatches" in data
        raise PayloadError("version", "missing; this is a legacy Grafana alert notification, use a unified "
                                      "alerting webhook contact point" if legacy else "missing")
    if version != VERSION:
        raise PayloadError("version", f"expected \"1\" (Grafana alerting webhook), got {clip(version)}")
    title = get_text(data, "title")
    return parse_group("grafana", data, get_text(data, "groupKey"), _rule_key, title=title)


def _rule_key(alerts: list[dict[str, Any]]) -> str:
    """'grafana-rule:<uid>[,<uid>...]' from the alerts' rule UIDs; PayloadError when none names one."""
    uids: list[str] = []
    for i, alert in enumerate(alerts):
        uid = (alert.get("labels") or {}).get(RULE_UID_LABEL) or _uid_in_silence_url(
            get_str(alert, "silenceURL", f"alerts[{i}]")) or _uid_in_generator_url(alert.get("generatorURL"))
        if uid and _UID.fullmatch(uid) and uid not in uids:
            uids.append(uid)
    if not uids:
        raise PayloadError("groupKey", "missing, and no alert names its rule UID (silenceURL, generatorURL) "
                                       "to group by instead")
    return "grafana-rule:" + ",".join(sorted(uids))


def _uid_in_silence_url(url: str | None) -> str | None:
    if not url:
        return None
    try:
        query = urlsplit(url).query
    except ValueError:  # e.g. a malformed IPv6 host: no UID to find
        return None
    for matcher in parse_qs(query).get("matcher", []):
        name, _, value = matcher.partition("=")
        if name == RULE_UID_LABEL and value:
            return value
    return None


def _uid_in_generator_url(url: str | None) -> str | None:
    match = _RULE_PATH.search(url or "")  # a string already: parse_group checked generatorURL
    return match.group(1) if match else None
