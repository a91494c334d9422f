"""Resolution targets (domain/resolution.py) and a complex incident's daily cadence (domain/timers.py), as tables."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dispatcher.config.policy import IncidentClass
from dispatcher.domain.resolution import (
    breach_stage,
    daily_updates_from,
    resolution_actions,
    time_to_target,
)
from dispatcher.domain.states import IncidentStatus
from dispatcher.domain.timers import IncidentState, due_actions

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
H = timedelta(hours=1)
REPO = Path(__file__).resolve().parents[2]


def klass(target: str | None = "4h", every: str | None = "30m") -> IncidentClass:
    data = {"title": "Security Incident", "prefix": "SEC", "priority": "Critical", "tier": "immediate",
            "response_sla": "15m", "escalation": ["rotation:secondary", "rotation:escalation", "role:cto"],
            "steps": [{"at": "0m", "name": "Immediate", "notify": [{"to": "rotation:primary"}]},
                      {"at": "15m", "name": "Executives", "notify": [{"to": "role:ceo"}]}]}
    if target:
        data["resolution_target"] = target
    if every:
        data["update_every"] = every
    return IncidentClass.model_validate(data)


@pytest.mark.parametrize(("target", "complex_", "hours", "expected"), [
    ("4h", False, 2.9, []),
    ("4h", False, 3, [("resolution-reminder-4h", "target", T0 + 3 * H)]),
    ("4h", False, 4, [("resolution-reminder-4h", "target", T0 + 3 * H), ("resolution-breach-4h", "breach", T0 + 4 * H)]),
    ("72h", False, 54, [("resolution-reminder-72h", "target", T0 + 54 * H)]),
    ("4h", True, 5, []),  # complex: the class's 4h no longer applies
    ("4h", True, 126, [("resolution-reminder-168h", "target", T0 + 126 * H)]),
    ("4h", True, 168, [("resolution-reminder-168h", "target", T0 + 126 * H),
                       ("resolution-breach-168h", "breach", T0 + 168 * H)]),
    (None, False, 500, []),  # no target, no timers
    (None, True, 168, [("resolution-reminder-168h", "target", T0 + 126 * H),
                       ("resolution-breach-168h", "breach", T0 + 168 * H)]),
])
def test_reminder_at_three_quarters_breach_at_the_target(target, complex_, hours, expected) -> None:
    due = resolution_actions(klass(target), T0, complex_, T0 + hours * H)
    assert [(a.key, a.kind, a.due) for a in due] == expected


@pytest.mark.parametrize(("paged", "expected"), [
    (set(), (1, "rotation:secondary")),
    ({2}, (2, "rotation:escalation")),  # step 2 = stage 1 (two steps before it)
    ({2, 3}, (3, "role:cto")),
    ({3}, (1, "rotation:secondary")),  # the first stage not yet paged, whatever came later
    ({2, 3, 4}, None),
])
def test_a_breach_pages_the_first_stage_not_yet_paged(paged, expected) -> None:
    found = breach_stage(klass(), paged)
    assert (found[:2] if found else None) == expected


def test_time_to_target_counts_down_and_goes_negative() -> None:
    assert time_to_target(klass(), T0, False, T0 + H)["left"] == 3 * H
    assert time_to_target(klass(), T0, False, T0 + 5 * H)["left"] == -H
    assert time_to_target(klass(), T0, True, T0)["left"] == 168 * H
    assert time_to_target(klass(None), T0, False, T0) is None


def overdue(state: IncidentState, k: IncidentClass, now: datetime) -> list[datetime]:
    return [a.due for a in due_actions(k, state, now) if a.kind == "overdue"]


def test_a_complex_incident_switches_to_daily_updates_once_its_class_target_passed() -> None:
    state = IncidentState(T0, IncidentStatus.ACKNOWLEDGED, last_update_at=T0 + 3 * H + timedelta(minutes=50),
                          complex=True, created=T0)
    assert daily_updates_from(klass(), T0, True) == T0 + 4 * H
    # before the switch the class's 30 minutes hold; after it the next update is a day after the switch
    assert overdue(state, klass(), T0 + 4 * H) == []
    assert overdue(state, klass(), T0 + 27 * H) == []  # a 30-minute cadence would have missed many by now
    assert overdue(state, klass(), T0 + 28 * H) == [T0 + 28 * H]
    plain = IncidentState(T0, IncidentStatus.ACKNOWLEDGED, last_update_at=T0 + 3 * H + timedelta(minutes=50))
    assert overdue(plain, klass(), T0 + 5 * H)[-1] == T0 + 4 * H + timedelta(minutes=50)


def test_a_complex_incident_of_a_class_without_cadence_still_owes_daily_updates() -> None:
    state = IncidentState(T0, IncidentStatus.ACKNOWLEDGED, complex=True, created=T0)
    assert overdue(state, klass(every=None), T0 + 27 * H) == []
    assert overdue(state, klass(every=None), T0 + 28 * H) == [T0 + 28 * H]
    assert overdue(IncidentState(T0, IncidentStatus.ACKNOWLEDGED), klass(every=None), T0 + 100 * H) == []


PRIORITY_TARGETS = {"Critical": "4h", "High": "24h", "Medium": "72h"}  # the seed's "Resolution Time Targets"


def test_the_shipped_targets_follow_the_priority_or_say_why() -> None:
    text = (REPO / "policy.toml").read_text()
    policy = tomllib.loads(text)
    for name, c in policy["classes"].items():
        if c["resolution_target"] == PRIORITY_TARGETS[c["priority"]]:
            continue
        block = text[text.index(f"[classes.{name}]"):]
        line = re.search(r"^resolution_target = .*$", block, re.MULTILINE).group(0)
        assert "#" in line and len(line.split("#", 1)[1].strip()) > 20, f"{name}: {line} needs a reason"
