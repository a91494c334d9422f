"""How the deliveries an event planned stand (`notify ingest --json`, the generic hook's `?wait=`)."""

from __future__ import annotations

import pytest

from dispatcher.app.ingest import delivery_counts
from dispatcher.domain.states import DeliveryState as S
from dispatcher.store import DeliveryRow


def row(id_: int, status: S, *, channel: str = "slack", fallback_of: int | None = None,
        fallbacks: tuple[str, ...] = ()) -> DeliveryRow:
    return DeliveryRow(id=id_, key=f"OUT-2026-001:0:ann:{channel}", incident_id="OUT-2026-001", step=0,
                       person="ann", display="Ann", role="on-call", channel=channel, target="t", masked_target="t",
                       template="slack", status=status, attempts=1, reason=None, detail=None,
                       fallback_of=fallback_of, skip=None, fallbacks=[[c, "t"] for c in fallbacks])


@pytest.mark.parametrize(("rows", "standing"), [
    ([row(1, S.ACCEPTED)], "delivered"),
    ([row(1, S.CONFIRMED)], "delivered"),
    ([row(1, S.IN_FLIGHT)], "pending"),
    ([row(1, S.FAILED_PERMANENT)], "failed"),
    # A Slack mention is final: with no channel left to try, it failed for good instead of pending forever.
    ([row(1, S.POSTED)], "failed"),
    ([row(1, S.POSTED, fallbacks=("email",))], "pending"),  # its fallback is about to be planned
    ([row(1, S.POSTED, fallbacks=("email",)), row(2, S.ACCEPTED, channel="email", fallback_of=1)], "delivered"),
    ([row(1, S.POSSIBLY_DELIVERED, fallbacks=("email",)),
      row(2, S.FAILED_TRANSIENT, channel="email", fallback_of=1)], "failed"),
], ids=["accepted", "confirmed", "in-flight", "failed", "posted-alone", "posted-fallback-coming",
        "posted-then-accepted", "possibly-then-failed"])
def test_a_planned_delivery_stands_as_its_chain_of_fallbacks_does(rows: list[DeliveryRow], standing: str) -> None:
    counts = delivery_counts(rows, [1])
    assert counts == {"planned": 1, "delivered": 0, "failed": 0, "pending": 0, standing: 1}


def test_a_skipped_delivery_is_not_a_planned_send() -> None:
    assert delivery_counts([row(1, S.SKIPPED)], [1]) == {"planned": 0, "delivered": 0, "failed": 0, "pending": 0}


def test_held_and_skipped_rows_are_not_counted_as_planned_sends() -> None:
    """A needs-review alert's held customer notice waits for a person: a hook's caller must not read a failure."""
    rows = [row(1, S.ACCEPTED), row(2, S.HELD, channel="email"), row(3, S.SKIPPED, channel="sms")]
    assert delivery_counts(rows, [1, 2, 3]) == {"planned": 1, "delivered": 1, "failed": 0, "pending": 0}
