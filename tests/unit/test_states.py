"""The delivery and incident state enums: their values stay the stored strings, their properties the rules."""

from __future__ import annotations

import json

import pytest

from dispatcher.api import Outcome
from dispatcher.app.report import outcome_label
from dispatcher.domain.states import DeliveryState, IncidentStatus

S = DeliveryState

# state: (is_failure, is_waiting, is_final, is_accepted, reported, label)
TABLE = {
    S.PENDING: (False, True, False, False, S.PENDING, "pending"),
    S.IN_FLIGHT: (False, True, False, False, S.PENDING, "in-flight"),
    S.ACCEPTED: (False, False, True, True, S.ACCEPTED, "accepted"),
    S.CONFIRMED: (False, False, True, True, S.ACCEPTED, "confirmed"),
    S.POSTED: (False, False, True, False, S.POSTED, "posted"),
    S.POSSIBLY_DELIVERED: (False, False, True, False, S.POSSIBLY_DELIVERED, "possibly-delivered"),
    S.FAILED_TRANSIENT: (True, False, True, False, S.FAILED_TRANSIENT, "failed-transient"),
    S.FAILED_PERMANENT: (True, False, True, False, S.FAILED_PERMANENT, "failed-permanent"),
    S.SKIPPED: (False, False, True, False, S.SKIPPED, "skipped"),
    S.DRY_RUN: (False, False, False, False, S.DRY_RUN, "dry-run"),
    S.HELD: (False, False, False, False, S.HELD, "held"),  # waits for a person, not for a sender
}


def test_the_table_covers_every_state() -> None:
    assert set(TABLE) == set(DeliveryState)


@pytest.mark.parametrize("state", list(TABLE), ids=str)
def test_each_delivery_state_answers_its_questions(state: DeliveryState) -> None:
    failure, waiting, final, accepted, reported, label = TABLE[state]
    assert (state.is_failure, state.is_waiting, state.is_final) == (failure, waiting, final)
    assert state.is_accepted is accepted
    assert state.reported is reported and state.label == label
    assert state.is_confirmed is (state is S.CONFIRMED)


def test_accepted_keeps_schema_1s_stored_and_json_value() -> None:
    # Rows written before the enum hold "delivered"; the JSON document's outcome stays "delivered".
    assert DeliveryState("delivered") is S.ACCEPTED
    assert json.dumps({"outcome": S.ACCEPTED}) == '{"outcome": "delivered"}'
    assert f"{S.FAILED_PERMANENT}" == "failed-permanent" and S.IN_FLIGHT == "in-flight"


@pytest.mark.parametrize("outcome", list(Outcome), ids=str)
def test_every_outcome_a_channel_can_answer_is_a_final_delivery_state(outcome: Outcome) -> None:
    state = DeliveryState(outcome.value)
    assert state.is_final and state.is_accepted == (outcome is Outcome.DELIVERED)


@pytest.mark.parametrize(("value", "closed"), [("open", False), ("acknowledged", False), ("resolved", True)])
def test_incident_status_reads_its_stored_value_and_says_whether_it_is_closed(value: str, closed: bool) -> None:
    status = IncidentStatus(value)
    assert status == value and status.is_closed is closed


def test_an_unknown_stored_state_is_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="'delivered-ish'"):
        DeliveryState("delivered-ish")


@pytest.mark.parametrize(("outcome", "confirmed", "shown"), [
    ("delivered", False, "accepted"),
    ("delivered", True, "confirmed"),
    ("failed-permanent", False, "failed-permanent"),
    ("posted", True, "posted"),  # only an accepted message can be confirmed
])
def test_text_output_says_accepted_for_schema_1s_delivered(outcome: str, confirmed: bool, shown: str) -> None:
    assert outcome_label(outcome, confirmed) == shown
