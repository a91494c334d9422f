"""Three rules of domain/timers.py at once: repeated passes, a stage fired by hand, and a reclassification's epoch.

Each was built on its own branch; these rows pin how they compose. The class is built here (not the shipped
policy), every instant is fixed.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dispatcher.config.policy import IncidentClass
from dispatcher.domain.states import IncidentStatus
from dispatcher.domain.timers import (
    IncidentState,
    due_actions,
    escalate_now,
    escalation_pass,
    escalation_position,
)

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=timezone.utc)
MIN = timedelta(minutes=1)

KLASS = IncidentClass.model_validate({
    "title": "Security Incident", "prefix": "SEC", "priority": "Critical", "tier": "immediate",
    "response_sla": "15m", "repeat": 1,
    "escalation": ["role:security-lead", "role:cto"],
    "steps": [{"at": "0m", "name": "Immediate", "notify": [{"to": "rotation:primary"}]}],
})


def escalations(state: IncidentState, now: datetime) -> list[tuple[str, datetime]]:
    return [(a.key, a.due) for a in due_actions(KLASS, state, now) if a.kind == "escalation"]


def test_the_ladder_runs_twice_one_stage_per_sla() -> None:
    state = IncidentState(T0, IncidentStatus.OPEN)
    assert escalations(state, T0 + 60 * MIN) == [
        ("escalation-1", T0 + 15 * MIN), ("escalation-2", T0 + 30 * MIN),
        ("escalation-1-pass-2", T0 + 45 * MIN), ("escalation-2-pass-2", T0 + 60 * MIN)]


def test_a_stage_fired_by_hand_shifts_every_later_page_of_every_pass() -> None:
    fired_at = T0 + 5 * MIN  # stage 1 fired by hand 10 minutes early
    state = IncidentState(T0, IncidentStatus.OPEN, escalated=(1, fired_at))
    assert escalations(state, T0 + 60 * MIN) == [
        ("escalation-1", fired_at), ("escalation-2", fired_at + 15 * MIN),
        ("escalation-1-pass-2", fired_at + 30 * MIN), ("escalation-2-pass-2", fired_at + 45 * MIN)]


def test_escalate_now_after_the_first_pass_fires_the_second_pass() -> None:
    state = IncidentState(T0, IncidentStatus.OPEN)
    action = escalate_now(KLASS, state, {"escalation-1", "escalation-2"}, T0 + 31 * MIN)
    assert action is not None and (action.key, action.due) == ("escalation-1-pass-2", T0 + 31 * MIN)
    assert escalation_position(KLASS, action.key) == (3, 1, "role:security-lead")


def test_after_a_reclassification_keys_carry_the_epoch_and_escalate_now_still_finds_its_stage() -> None:
    changed = T0 + 120 * MIN
    state = IncidentState(changed, IncidentStatus.OPEN, reclassified=1)
    assert [key for key, _ in escalations(state, changed + 30 * MIN)] == ["r1-escalation-1", "r1-escalation-2"]
    action = escalate_now(KLASS, state, {"r1-escalation-1"}, changed + 3 * MIN)
    assert action is not None and action.key == "r1-escalation-2"
    assert escalation_position(KLASS, action.key) == (2, 2, "role:cto")


@pytest.mark.parametrize(("label", "expected"), [
    ("escalation-2", 1), ("escalation-2-pass-3", 3), ("r1-escalation-2-pass-2", 2), ("r2-escalation-1", 1),
    ("step-1", 0), ("r1-step-0", 0), ("acknowledged", 0),
])
def test_the_pass_of_a_key(label: str, expected: int) -> None:
    assert escalation_pass(label) == expected
