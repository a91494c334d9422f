"""Webhook bodies -> AlertEvent: Alertmanager v4, Grafana contact point, the generic schema, and bad input.

Fixtures in tests/payloads/:
- alertmanager-0.25-webhook-v4.json: a real delivery from Alertmanager 0.25 (copied from the shared samples);
- alertmanager-v4-resolved.json: the same group resolved, as `send_resolved` delivers it;
- alertmanager-v4-group.json: a kube-prometheus style group of three pods (one resolved), truncatedAlerts 2,
  built to Alertmanager's notify/webhook/webhook.go Message and template/template.go Data;
- grafana-firing.json, grafana-resolved.json: see the Grafana section.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import pytest

from dispatcher.domain.fields import FIELDS
from dispatcher.hooks import AlertEvent, PayloadError, parse
from dispatcher.hooks.alertmanager import fingerprint
from dispatcher.hooks.generic import KEYS

PAYLOADS = Path(__file__).parent / "payloads"


def load(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / name).read_text())


def body(data: Any) -> bytes:
    return json.dumps(data).encode()


def edited(name: str, edit: Callable[[dict[str, Any]], None]) -> bytes:
    data = copy.deepcopy(load(name))
    edit(data)
    return body(data)


def rejects(source: str, raw: bytes) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        parse(source, raw)
    return caught.value


SAMPLE = "alertmanager-0.25-webhook-v4.json"
SAMPLE_KEY = ('{}:{alertname="BenchLatency", instance="127.0.0.1:9100", run="lat-1795716551", seq="0", '
              'service="checkout", severity="critical"}')


# --- Alertmanager --------------------------------------------------------------------------------

def test_the_real_alertmanager_sample_becomes_one_firing_event_keyed_by_its_group():
    event = parse("alertmanager", (PAYLOADS / SAMPLE).read_bytes())

    assert (event.source, event.action, event.dedup_key) == ("alertmanager", "trigger", SAMPLE_KEY)
    assert event.incident_id is None and event.incident_class is None
    assert event.labels["severity"] == "critical" and event.labels["alertname"] == "BenchLatency"
    assert event.fields == {
        "summary": "bench alert 0",
        "description": "synthetic alert for loopback benchmark",
        "runbook": "http://127.0.0.1/runbook",
        "affected_services": ["checkout"],
        "started": "2026-11-26T18:09:11.475476+00:00",
    }
    assert event.text == "bench alert 0\nsynthetic alert for loopback benchmark"
    (alert,) = event.alerts
    assert alert.fingerprint == "29e934c6e715490c" and alert.status == "firing"
    assert alert.ends_at is None  # 0001-01-01T00:00:00Z: still firing
    assert alert.generator_url == "http://127.0.0.1:9090/graph?g0.expr=up%3D%3D0"
    assert (event.firing, event.resolved, event.truncated) == (1, 0, 0)


def test_the_resolved_group_resolves_the_same_dedup_key():
    event = parse("alertmanager", (PAYLOADS / "alertmanager-v4-resolved.json").read_bytes())

    assert (event.action, event.dedup_key) == ("resolve", SAMPLE_KEY)
    assert event.alerts[0].ends_at == "2026-11-26T18:14:11.475476+00:00"
    assert (event.firing, event.resolved) == (0, 1)


def test_a_mixed_group_counts_alerts_lists_services_and_starts_at_the_earliest_alert():
    event = parse("alertmanager", (PAYLOADS / "alertmanager-v4-group.json").read_bytes())

    assert event.action == "trigger"  # the group fires while any alert in it does
    assert (event.firing, event.resolved, event.truncated) == (2, 1, 2)
    assert event.dedup_key == '{}/{severity=~"critical|warning"}:{alertname="KubePodCrashLooping", cluster="eu-1"}'
    # service, else app, else job: one name per firing alert, in alert order, no repeats (the resolved
    # alert's job, kube-state-metrics, is no longer affected)
    assert event.fields["affected_services"] == ["payments-api", "checkout-web"]
    # 04:10:30.123456789+01:00 is the earliest; nanoseconds are cut to microseconds
    assert event.fields["started"] == "2026-11-26T03:10:30.123456+00:00"
    assert event.fields["summary"] == "Pod is crash looping."
    assert event.fields["description"].startswith("Pod payments/payments-api")  # no common one: the first alert's
    assert "checkout/checkout-web" in event.text  # every alert's description is there for triage
    assert event.labels == {"alertname": "KubePodCrashLooping", "cluster": "eu-1", "job": "kube-state-metrics",
                            "severity": "warning"}
    assert event.alerts[2].ends_at == "2026-11-26T03:20:00+00:00"


def _no_annotations(data: dict[str, Any]) -> None:
    data["commonAnnotations"] = {}
    data["alerts"][0]["annotations"] = {}


def _second_alert_only_summary(data: dict[str, Any]) -> None:
    first = copy.deepcopy(data["alerts"][0])
    first["annotations"] = {}
    data["alerts"][0]["annotations"] = {"summary": "second alert says it"}
    data["alerts"].insert(0, first)
    data["commonAnnotations"] = {}


@pytest.mark.parametrize("edit, summary", [
    (lambda d: None, "bench alert 0"),  # commonAnnotations.summary
    (lambda d: d["commonAnnotations"].pop("summary"), "bench alert 0"),  # the alert's own
    (_second_alert_only_summary, "second alert says it"),  # the first alert that has one
    (_no_annotations, "BenchLatency"),  # the alertname
    (lambda d: (_no_annotations(d), d["commonLabels"].pop("alertname"), d["alerts"][0]["labels"].pop("alertname")),
     "alertmanager alert group " + SAMPLE_KEY[:60]),
], ids=["common", "alert", "first-alert-with-one", "alertname", "last-resort"])
def test_summary_is_never_empty(edit: Callable[[dict[str, Any]], None], summary: str):
    event = parse("alertmanager", edited(SAMPLE, edit))
    assert event.fields["summary"] == summary


def test_runbook_and_description_fall_back_to_other_annotation_names():
    def edit(data: dict[str, Any]) -> None:
        data["commonAnnotations"] = {"runbook": "see wiki/checkout", "message": "older rules say message"}
        data["alerts"][0]["annotations"] = dict(data["commonAnnotations"])

    event = parse("alertmanager", edited(SAMPLE, edit))
    assert event.fields["runbook"] == "see wiki/checkout"
    assert event.fields["description"] == "older rules say message"


def test_a_hand_written_alert_without_fingerprint_gets_alertmanagers_own():
    event = parse("alertmanager", edited(SAMPLE, lambda d: d["alerts"][0].pop("fingerprint")))
    assert event.alerts[0].fingerprint == "29e934c6e715490c"  # what Alertmanager computed for these labels
    assert fingerprint({}) == "cbf29ce484222325"  # FNV-1a offset: Prometheus' empty label set


def test_unknown_keys_from_a_newer_alertmanager_are_ignored():
    event = parse("alertmanager", edited(SAMPLE, lambda d: d.update(somethingNew={"x": 1})))
    assert event.dedup_key == SAMPLE_KEY


@pytest.mark.parametrize("edit, field, words", [
    (lambda d: d.update(version="3"), "version", "expected \"4\""),
    (lambda d: d.pop("version"), "version", "missing"),
    (lambda d: d.update(version=4), "version", "expected a string, got a number"),
    (lambda d: d.pop("alerts"), "alerts", "missing"),
    (lambda d: d.update(alerts=[]), "alerts", "is empty"),
    (lambda d: d.pop("groupKey"), "groupKey", "missing"),
    (lambda d: d.update(groupKey="  "), "groupKey", "missing or empty"),
    (lambda d: d.update(status="pending"), "status", "'firing', 'resolved'"),
    (lambda d: d["alerts"][0].update(labels=["severity"]), "alerts[0].labels", "expected an object"),
    (lambda d: d["alerts"][0]["labels"].update(seq=0), "alerts[0].labels.seq", "expected a string"),
    (lambda d: d["alerts"][0].pop("startsAt"), "alerts[0].startsAt", "missing"),
    (lambda d: d["alerts"][0].update(startsAt="yesterday"), "alerts[0].startsAt", "ISO 8601"),
    (lambda d: d["alerts"][0].update(endsAt="2026-11-26T18:09:11"), "alerts[0].endsAt", "zone offset"),
    (lambda d: d["alerts"][0].update(status="ok"), "alerts[0].status", "expected one of"),
    (lambda d: d.update(truncatedAlerts=-1), "truncatedAlerts", "non-negative integer"),
    (lambda d: d.update(commonLabels="severity=critical"), "commonLabels", "expected an object"),
], ids=lambda v: v if isinstance(v, str) and " " not in v else None)
def test_a_bad_alertmanager_payload_is_refused_naming_the_field(edit: Callable, field: str, words: str):
    error = rejects("alertmanager", edited(SAMPLE, edit))
    assert error.field == field
    assert str(error).startswith(f"{field}: ") and words in str(error)


# --- Grafana -------------------------------------------------------------------------------------
# The fixtures follow Grafana's "Configure the webhook notifier for Alerting" page (the JSON payload
# and its Body and Alert field tables, grafana/grafana docs/sources/alerting/configure-notifications/
# manage-contact-points/integrations/webhook-notifier.md) and the body grafana/alerting builds in
# receivers/webhook/v1/webhook.go (webhookMessage) and templates/template_data.go (ExtendedAlert):
# version "1", orgId, title/state/message, per-alert values/silenceURL/dashboardURL/panelURL, private
# labels such as __alert_rule_uid__ removed from labels but kept in silenceURL matchers.

GRAFANA_KEY = '{}:{alertname="API 5xx rate", grafana_folder="Platform"}'


def test_grafana_firing_fixture_is_a_trigger_for_its_group():
    event = parse("grafana", (PAYLOADS / "grafana-firing.json").read_bytes())

    assert (event.source, event.action, event.dedup_key) == ("grafana", "trigger", GRAFANA_KEY)
    assert (event.firing, event.resolved, event.truncated) == (2, 0, 0)
    assert event.labels["severity"] == "critical" and event.labels["grafana_folder"] == "Platform"
    assert event.fields["summary"] == "API 5xx rate above 5% in eu-west-1"  # regions differ: the first alert's
    assert event.fields["runbook"] == "https://wiki.example.com/runbooks/api-5xx"
    assert event.fields["affected_services"] == ["api"]
    assert event.fields["started"] == "2026-11-26T02:21:10+00:00"
    assert "API 5xx rate above 5% in us-east-1" in event.text
    assert [a.fingerprint for a in event.alerts] == ["6f1e2a0c9b8d7e45", "c21d4b7a0e9f3865"]
    assert all(a.ends_at is None for a in event.alerts)
    assert event.alerts[0].generator_url == "https://grafana.example.com/alerting/grafana/fe2kq0l3xn6yoa/view?orgId=1"


def test_grafana_resolved_fixture_resolves_the_same_group():
    event = parse("grafana", (PAYLOADS / "grafana-resolved.json").read_bytes())

    assert (event.action, event.dedup_key) == ("resolve", GRAFANA_KEY)
    assert (event.firing, event.resolved) == (0, 2)
    assert event.alerts[1].ends_at == "2026-11-26T02:50:10+00:00"


def test_grafana_without_group_key_groups_by_the_alert_rule_uid():
    by_silence_url = edited("grafana-firing.json", lambda d: d.pop("groupKey"))
    by_generator_url = edited("grafana-firing.json", lambda d: (
        d.update(groupKey=""), [a.pop("silenceURL") for a in d["alerts"]]))

    assert parse("grafana", by_silence_url).dedup_key == "grafana-rule:fe2kq0l3xn6yoa"
    assert parse("grafana", by_generator_url).dedup_key == "grafana-rule:fe2kq0l3xn6yoa"


def test_grafana_summary_falls_back_to_alertname_then_title():
    def no_summary(data: dict[str, Any]) -> None:
        for alert in data["alerts"]:
            alert["annotations"].pop("summary")
            alert["annotations"].pop("description")

    def no_alertname_either(data: dict[str, Any]) -> None:
        no_summary(data)
        for labels in [data["commonLabels"], data["groupLabels"]] + [a["labels"] for a in data["alerts"]]:
            labels.pop("alertname")

    assert parse("grafana", edited("grafana-firing.json", no_summary)).fields["summary"] == "API 5xx rate"
    assert parse("grafana", edited("grafana-firing.json", no_alertname_either)).fields["summary"] == \
        "[FIRING:2] API 5xx rate Platform (api critical platform)"


@pytest.mark.parametrize("edit, field, words", [
    (lambda d: d.update(version="4"), "version", "expected \"1\""),
    (lambda d: (d.pop("groupKey"), [(a.pop("silenceURL"), a.pop("generatorURL")) for a in d["alerts"]]),
     "groupKey", "rule UID"),
    (lambda d: d.pop("alerts"), "alerts", "missing"),
    (lambda d: d["alerts"][1].update(silenceURL=7, fingerprint=8), "alerts[1].fingerprint", "expected a string"),
], ids=["version", "no-key", "no-alerts", "types"])
def test_a_bad_grafana_payload_is_refused_naming_the_field(edit: Callable, field: str, words: str):
    error = rejects("grafana", edited("grafana-firing.json", edit))
    assert (error.field, words in str(error)) == (field, True)


def test_a_legacy_grafana_notification_is_refused_with_a_hint():
    legacy = {"title": "[Alerting] CPU", "ruleId": 1, "ruleName": "CPU", "state": "alerting",
              "evalMatches": [{"value": 100, "metric": "High value"}], "message": "Someone is testing"}
    error = rejects("grafana", body(legacy))
    assert error.field == "version" and "legacy" in str(error)


# --- generic -------------------------------------------------------------------------------------

@pytest.mark.parametrize("given, expect", [
    ({"summary": "API returns 503"},
     {"action": "trigger", "incident_id": None, "incident_class": None, "fields": {"summary": "API returns 503"}}),
    ({"class": "outage", "summary": "API down", "affected_services": "API, Webhooks, ,API", "impact_scope": "EU",
      "labels": {"severity": "critical"}, "started": "2026-11-26T03:12:00", "eta": "1h"},
     {"incident_class": "outage", "labels": {"severity": "critical"},
      "fields": {"summary": "API down", "affected_services": ["API", "Webhooks"], "impact_scope": "EU",
                 "eta": "1h", "started": "2026-11-26T03:12:00+00:00"}}),
    ({"class": "security", "incident": "SEC-2026-001", "summary": "Unusual admin logins", "customer": "Acme Corp",
      "reported_by": "jane@acme.example", "description": "from a new ASN", "runbook": "https://wiki/sec",
      "commander": "dana", "symptoms": "logins", "next_update": "in 30 min", "text": "suspicious activity",
      "affected_services": ["SSO"], "action": "trigger", "dedup_key": None},
     {"incident_id": "SEC-2026-001", "dedup_key": "SEC-2026-001", "text": "Unusual admin logins\nfrom a new ASN\n"
                                                                           "suspicious activity"}),
    ({"action": "update", "incident": "OUT-2026-014", "summary": "Fix deploying"},
     {"action": "update", "dedup_key": "OUT-2026-014", "fields": {"summary": "Fix deploying"}}),
    ({"action": "resolve", "incident": "OUT-2026-014"},
     {"action": "resolve", "resolved": 1, "firing": 0, "fields": {"summary": "Resolved (OUT-2026-014)"}}),
    ({"action": "resolve", "dedup_key": "ci-deploy-eu"},
     {"action": "resolve", "dedup_key": "ci-deploy-eu", "incident_id": None}),
], ids=["minimal", "outage-fields", "named-incident", "update", "resolve-incident", "resolve-key"])
def test_generic_bodies(given: dict[str, Any], expect: dict[str, Any]):
    event = parse("generic", body(given))
    assert event.source == "generic"
    for name, value in expect.items():
        assert getattr(event, name) == value, name


def test_generic_dedup_key_is_stable_for_the_same_alert_and_differs_for_another():
    first = parse("generic", body({"class": "outage", "summary": "Disk full on db-1"}))
    again = parse("generic", body({"summary": "disk  full on DB-1 ", "class": "outage"}))  # case, spaces
    other = parse("generic", body({"class": "outage", "summary": "Disk full on db-2"}))
    other_class = parse("generic", body({"class": "technical", "summary": "Disk full on db-1"}))

    assert first.dedup_key == again.dedup_key
    assert first.dedup_key.startswith("generic:")
    assert len({first.dedup_key, other.dedup_key, other_class.dedup_key}) == 3
    assert first.alerts[0].fingerprint == first.dedup_key  # a repeat is the same alert to ingest


@pytest.mark.parametrize("given, field, words", [
    ({}, "summary", "missing"),
    ({"summary": "   "}, "summary", "missing or empty"),
    ({"action": "resolve"}, "summary", "name the incident or dedup_key"),
    ({"action": "update", "incident": "OUT-2026-014"}, "summary", "missing"),
    ({"summary": "x", "sumary": "typo"}, "sumary", "did you mean 'summary'"),
    ({"summary": "x", "zzz": 1, "yyy": 2}, "zzz", "also 'yyy'"),
    ({"summary": "x", "labels": ["severity=critical"]}, "labels", "expected an object of string values"),
    ({"summary": "x", "labels": {"severity": 5}}, "labels.severity", "expected a string, got a number"),
    ({"summary": "x", "action": "fire"}, "action", "'trigger', 'update', 'resolve'"),
    ({"summary": "x", "action": None, "class": "Outage!"}, "class", "incident class name"),
    ({"summary": "x", "incident": "SEC 2026 001"}, "incident", "incident id"),
    ({"summary": 3}, "summary", "expected a string, got a number"),
    ({"summary": "x", "affected_services": {"api": True}}, "affected_services", "array of strings"),
    ({"summary": "x", "affected_services": ["api", 2]}, "affected_services[1]", "expected a string"),
    ({"summary": "x", "started": "tomorrow"}, "started", "ISO 8601"),
    ({"summary": "x", "started": "2026-02-30T10:00:00Z"}, "started", "not a valid time"),
    ({"summary": "x", "dedup_key": "k" * 300}, "dedup_key", "longer than 256"),
    ({"summary": "x", "text": ["a"]}, "text", "expected a string"),
], ids=lambda v: v if isinstance(v, str) and " " not in v and len(v) < 30 else None)
def test_a_bad_generic_body_is_refused_naming_the_field(given: dict[str, Any], field: str, words: str):
    error = rejects("generic", body(given))
    assert error.field == field
    assert words in str(error)


def test_the_generic_schema_takes_every_documented_template_field():
    assert {f.name for f in FIELDS} <= KEYS  # a new template field must be added to the generic schema


# --- any source: malformed bodies are PayloadErrors, never another exception --------------------

def _sample_with(edit: Callable[[dict[str, Any]], Any]) -> bytes:
    return edited(SAMPLE, edit)


MALFORMED: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("blank", b"  \n "),
    ("not-json", b"notify me"),
    ("not-utf8", b"\xff\xfe\x00garbage"),
    ("bad-utf8-in-string", b'{"summary": "\xc3\x28"}'),
    ("null", b"null"),
    ("array", b'[{"summary": "x"}]'),
    ("string", b'"summary"'),
    ("number", b"42"),
    ("empty-object", b"{}"),
    ("truncated", (PAYLOADS / SAMPLE).read_bytes()[:700]),
    ("deep-nesting", b"[" * 100_000 + b"]" * 100_000),
    ("nan", b'{"summary": "x", "truncatedAlerts": NaN, "version": "4"}'),
    ("huge-int", b'{"truncatedAlerts": ' + b"9" * 5000 + b"}"),
    ("alerts-object", _sample_with(lambda d: d.update(alerts={"0": d["alerts"][0]}))),
    ("alert-string", _sample_with(lambda d: d.update(alerts=["firing"]))),
    ("labels-null-values", _sample_with(lambda d: d["alerts"][0]["labels"].update(seq=None))),
    ("time-overflow", _sample_with(lambda d: d["alerts"][0].update(startsAt="0001-01-01T00:00:00+01:00"))),
    ("time-month-13", _sample_with(lambda d: d["alerts"][0].update(startsAt="2026-13-01T00:00:00Z"))),
    ("truncated-bool", _sample_with(lambda d: d.update(truncatedAlerts=True))),
    ("status-number", _sample_with(lambda d: d.update(status=1))),
    ("annotations-list", _sample_with(lambda d: d["alerts"][0].update(annotations=[["summary", "x"]]))),
]


@pytest.mark.parametrize("source", ["alertmanager", "grafana", "generic"])
@pytest.mark.parametrize("raw", [raw for _, raw in MALFORMED], ids=[name for name, _ in MALFORMED])
def test_a_malformed_body_is_a_payload_error_for_every_source(source: str, raw: bytes):
    error = rejects(source, raw)
    assert error.field and isinstance(error, ValueError)
    assert len(str(error)) < 400  # a bounded message, whatever came in


def test_error_messages_quote_at_most_a_little_user_input():
    long = "x" * 10_000
    for source, raw in [("generic", body({"summary": "x", long: 1})),
                        ("generic", body({"summary": "x", "class": long})),
                        ("alertmanager", _sample_with(lambda d: d.update(version=long))),
                        ("alertmanager", _sample_with(lambda d: d["alerts"][0]["labels"].update({long: 1}))),
                        ("alertmanager", _sample_with(lambda d: d["alerts"][0].update(startsAt=long)))]:
        error = rejects(source, raw)
        assert str(error).count("x") <= 110, str(error)[:200]


def test_an_unknown_source_is_refused():
    assert rejects("nagios", b"{}").field == "source"


def test_events_are_frozen():
    event = parse("generic", body({"summary": "x"}))
    assert isinstance(event, AlertEvent)
    with pytest.raises(AttributeError):
        event.action = "resolve"  # type: ignore[misc]
