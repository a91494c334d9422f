"""The held-out triage set is well formed; structure only, never the engine's accuracy on it."""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HOLDOUT = REPO / "tests" / "triage_holdout.json"

KINDS = {"plain", "alert", "negated", "hypothetical", "non_incident", "typo", "mixed"}
REQUIRED = {"id", "text", "expected", "lang", "kind", "criterion"}
OPTIONAL = {"fields", "labels"}
# Each account fact the triage command accepts, with the JSON types it may take.
FIELD_TYPES = {
    "plan": (str,), "acv": (int, float), "amount": (int, float), "unresolved_hours": (int, float),
    "customers_affected": (int, float), "fortune500": (bool,),
}
PLANS = {"basic", "pro", "enterprise"}


@pytest.fixture(scope="module")
def reports() -> list[dict]:
    loaded = json.loads(HOLDOUT.read_text(encoding="utf-8"))
    assert isinstance(loaded, list), f"{HOLDOUT.name}: top level must be a list of reports"
    return loaded


@pytest.fixture(scope="module")
def policy_classes() -> set[str]:
    with (REPO / "policy.toml").open("rb") as handle:  # an internal class (monitoring) is never triaged to
        return {name for name, c in tomllib.load(handle)["classes"].items() if not c.get("internal")}


def test_there_are_enough_reports_and_enough_in_english(reports: list[dict]) -> None:
    assert len(reports) >= 220
    assert sum(report["lang"] == "en" for report in reports) >= 200


def test_ids_are_unique_and_shaped_like_h001(reports: list[dict]) -> None:
    ids = Counter(report["id"] for report in reports)
    assert [rid for rid, count in ids.items() if count > 1] == []
    assert [rid for rid in ids if not re.fullmatch(r"h\d{3,}", rid)] == []


def test_no_sentence_appears_twice(reports: list[dict]) -> None:
    texts = Counter(report["text"] for report in reports)
    assert [text for text, count in texts.items() if count > 1] == []


def test_every_report_has_exactly_the_known_keys(reports: list[dict]) -> None:
    for report in reports:
        keys = set(report)
        assert REQUIRED <= keys <= REQUIRED | OPTIONAL, f"{report.get('id')}: keys {sorted(keys)}"
        assert isinstance(report["text"], str) and report["text"].strip(), report["id"]
        assert isinstance(report["criterion"], str) and report["criterion"].strip(), report["id"]
        assert report["kind"] in KINDS, f"{report['id']}: unknown kind {report['kind']!r}"
        assert re.fullmatch(r"[a-z]{2}", report["lang"]), f"{report['id']}: lang {report['lang']!r}"


def test_expected_classes_are_policy_classes(reports: list[dict], policy_classes: set[str]) -> None:
    unknown = {report["id"]: report["expected"] for report in reports if report["expected"] not in policy_classes}
    assert unknown == {}


def test_every_policy_class_is_expected_somewhere_in_english(
        reports: list[dict], policy_classes: set[str]) -> None:
    present = {report["expected"] for report in reports if report["lang"] == "en"}
    assert policy_classes - present == set()


def test_fields_name_known_account_facts_with_the_right_types(reports: list[dict]) -> None:
    for report in (r for r in reports if "fields" in r):
        fields = report["fields"]
        assert fields and set(fields) <= set(FIELD_TYPES), f"{report['id']}: fields {sorted(fields)}"
        for name, value in fields.items():
            # bool is an int in Python; a number field must not be a bare true/false.
            wrong_bool = isinstance(value, bool) and bool not in FIELD_TYPES[name]
            assert isinstance(value, FIELD_TYPES[name]) and not wrong_bool, f"{report['id']}: {name}={value!r}"
        assert fields.get("plan", "basic") in PLANS, f"{report['id']}: plan {fields['plan']!r}"


def test_alerts_and_only_alerts_carry_string_label_sets_with_an_alertname(reports: list[dict]) -> None:
    for report in reports:
        assert ("labels" in report) == (report["kind"] == "alert"), report["id"]
        labels = report.get("labels", {"alertname": "-"})
        assert "alertname" in labels, report["id"]
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()), report["id"]
