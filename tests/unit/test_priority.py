"""The outbox's priority table (domain/priority.py): pages first, then later steps, then notices."""

from __future__ import annotations

import pytest

from dispatcher.domain.priority import Priority, priority_of


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
    assert [int(p) for p in sorted(Priority)] == [0, 1, 2]
    assert Priority.PAGE < Priority.FOLLOW_UP < Priority.NOTICE


def test_a_kind_the_table_does_not_name_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="delivery kind 'paged' has no priority"):
        priority_of("paged", 0)
