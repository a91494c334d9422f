"""The outbox key of a planned delivery: written once the incident has an id, read back whole."""

from __future__ import annotations

import pytest

from dispatcher.domain.delivery_key import DeliveryKey


@pytest.mark.parametrize(("key", "stored"), [
    (DeliveryKey("0", "ana", "phone"), "SEC-2026-001:0:ana:phone"),
    (DeliveryKey("escalation-1", "slack:security-alerts", "slack"),
     "SEC-2026-001:escalation-1:slack:security-alerts:slack"),
    (DeliveryKey("reminder-20261126T030000Z", "ic", "email"), "SEC-2026-001:reminder-20261126T030000Z:ic:email"),
])
def test_a_key_is_stored_with_its_incident_and_parsed_back_whole(key: DeliveryKey, stored: str) -> None:
    assert key.stored("SEC-2026-001") == stored
    assert DeliveryKey.parse(stored) == ("SEC-2026-001", key)  # a person id holding ":" included


def test_a_fallback_keeps_the_notice_and_the_person_and_changes_only_the_channel() -> None:
    key = DeliveryKey("update-2", "slack:security-alerts", "slack")
    assert key.on("email") == DeliveryKey("update-2", "slack:security-alerts", "email")
    assert key.on("email") != key and key.on("slack") == key  # the outbox refuses the same channel twice
