"""The outbox's priority table (domain/priority.py): pages first, then later steps, then notices."""

from __future__ import annotations

import pytest

from dispatcher.domain.priority import Priority, lead_of, priority_of


@pytest.mark.parametrize(("kind", "step", "rank"), [
    ("step", 0, Priority.PAGE),  # the incident's first word: nobody works on it before this is out
    ("escalation", 3, Priority.PAGE),  # the response SLA is already breached
    ("escalation", 4, Priority.PAGE),  # a later stage, or a repeat pass of one: still a breach
    ("step", 1, Priority.FOLLOW_UP),  # widens the circle once the first responders were paged
    ("step", 2, Priority.FOLLOW_UP),
    ("reminder", -1, Priority.NOTICE),  # tells the commander an update is due
    ("overdue", -1, Priority.NOTICE),
    ("update", -1, Priority.NOTICE),
    ("ack", -1, Priority.NOTICE),  # someone acknowledged: nobody else needs to act
    ("resolved", -1, Priority.NOTICE),
    ("reclassify", -1, Priority.NOTICE),
    ("test", -1, Priority.NOTICE),  # a contact test
])
def test_each_kind_of_delivery_has_its_rank(kind: str, step: int, rank: Priority) -> None:
    assert priority_of(kind, step) is rank


def test_lower_ranks_go_first_and_are_stored_as_small_integers() -> None:
    assert [int(p) for p in sorted(Priority)] == [-1, 0, 1, 2]
    assert Priority.LEAD < Priority.PAGE < Priority.FOLLOW_UP < Priority.NOTICE


def test_a_kind_the_table_does_not_name_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="delivery kind 'paged' has no priority"):
        priority_of("paged", 0)


@pytest.mark.parametrize(("rows", "lead"), [
    ([("step", 0, True), ("step", 0, True)], 0),  # the policy's first step-0 delivery
    ([("step", 0, False), ("step", 0, True)], 1),  # skipped or held: the next one that will be sent
    ([("step", 1, True), ("step", 0, True)], 1),
    ([("update", -1, True), ("escalation", 3, True)], None),  # not a new incident's step 0
    ([], None),
])
def test_a_new_incidents_lead_is_its_first_step_0_delivery_that_will_be_sent(
        rows: list[tuple[str, int, bool]], lead: int | None) -> None:
    assert lead_of(rows) == lead
