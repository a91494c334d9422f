"""What a command did, as one versioned JSON document and as a terminal table.

The document (``"schema": 1``) is defined once here and reused by every
command and API that reports deliveries:

    {"schema": 1, "command": str, "mode": "dry-run" | "send" | "drill",
     "incident": {"id", "class", "title", "priority", "status", "drill", "started", "fields", "existing"},
     "deliveries": [{"step", "recipient", "display", "role", "channel", "target" (masked),
                     "outcome": "delivered|posted|possibly-delivered|failed-transient|failed-permanent|pending|"
                                "held|skipped|dry-run",
                     "confirmed": bool, "attempts", "reason", "detail", "fallback_of", "delivered_to", "warning",
                     "message": {"subject", "text"} (dry runs only)}],
     "summary": {"total", "delivered", "failed", "skipped", "pending", "dry_run", "reached_all", "unreached",
                 "posted", "possibly_delivered", "held",
                 "would_fail" (dry runs only): [{"recipient", "channel", "reason", "fallback"}]},
     "notes": [str]}

"delivered" means accepted by the provider (its API answered success), not that a
person has read it; ``confirmed`` is true once the provider reports it delivered
(see :mod:`dispatcher.domain.states`; nothing records such reports yet). Text
output says "accepted" for it, and never "reached": notify cannot know that.

Stdlib only, so printing a report costs nothing at start-up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..domain.quiet_hours import QUIET_HOURS
from ..domain.states import DeliveryState
from ..render.table import PLAIN, Column, Output, render

__all__ = ["DeliveryLine", "Report", "SCHEMA", "outcome_label"]

SCHEMA = 1
_S = DeliveryState
# Keyed by the word a table shows (outcome_label), not the stored value.
OUTCOME_COLOURS = {"accepted": "green", _S.CONFIRMED: "green", _S.FAILED_TRANSIENT: "red", _S.FAILED_PERMANENT: "red",
                   _S.PENDING: "yellow", _S.IN_FLIGHT: "yellow", _S.SKIPPED: "dim", _S.DRY_RUN: "cyan",
                   _S.POSTED: "yellow", _S.POSSIBLY_DELIVERED: "yellow"}

DELIVERY_COLUMNS = (Column("STEP", fixed=True), Column("RECIPIENT"), Column("ROLE"), Column("CHANNEL", fixed=True),
                    Column("TARGET"), Column("OUTCOME", fixed=True, colours=OUTCOME_COLOURS),
                    Column("TRIES", align="right", fixed=True), Column("NOTE"))


def outcome_label(outcome: str, confirmed: bool = False) -> str:
    """The word a table shows for an outcome: "accepted" (or "confirmed") for schema 1's "delivered"."""
    state = DeliveryState(outcome)
    return DeliveryState.CONFIRMED.label if confirmed and state.is_accepted else state.label


@dataclass
class DeliveryLine:
    step: int
    recipient: str
    display: str
    role: str
    channel: str
    target: str  # masked
    outcome: DeliveryState  # as reported: never in-flight or confirmed (see DeliveryState.reported)
    confirmed: bool = False  # the provider reported it delivered (accepted is all "delivered" says)
    attempts: int = 0
    reason: str | None = None
    detail: str | None = None
    fallback_of: str | None = None  # "recipient/channel" of the delivery this one stands in for
    delivered_to: str | None = None
    warning: str | None = None
    message: dict[str, str] | None = None
    kind: str = "step"  # step|escalation|update|reminder|overdue|resolved|test
    possible_duplicate: bool = False  # re-sent after its sender died mid-send

    @property
    def ref(self) -> str:
        return f"{self.recipient}/{self.channel}"

    def as_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "message"}
        if self.message is not None:
            out["message"] = self.message
        return out


@dataclass
class Report:
    command: str
    mode: str
    incident: dict[str, Any]
    deliveries: list[DeliveryLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Dry runs only: the deliveries a real send would fail, as engine.preview found them.
    would_fail: list[dict[str, Any]] = field(default_factory=list)

    def unreached(self) -> list[str]:
        """Recipients with a failed, pending or only posted delivery and none accepted (a fallback counts).

        In a dry run: the recipients a real send would not get through to.
        """
        accepted = self._accepted()
        missing = {d.recipient for d in self.deliveries  # failed, waiting, posted or possibly delivered
                   if not d.outcome.is_accepted and d.outcome not in (DeliveryState.SKIPPED, DeliveryState.DRY_RUN, DeliveryState.HELD)}
        return sorted((missing | self._would_not_reach()) - accepted)

    def _accepted(self) -> set[str]:
        return {d.recipient for d in self.deliveries if d.outcome.is_accepted}

    def _would_not_reach(self) -> set[str]:
        """Dry runs: recipients whose every planned delivery would fail, with no fallback to stand in."""
        lost = {(w["recipient"], w["channel"]) for w in self.would_fail if not w["fallback"]}
        planned = [d for d in self.deliveries if d.outcome is DeliveryState.DRY_RUN]
        return {d.recipient for d in planned} - {d.recipient for d in planned if (d.recipient, d.channel) not in lost}

    def still_retrying(self) -> list[str]:
        """Recipients whose delivery is left to the worker, still being retried."""
        return sorted({d.recipient for d in self.deliveries if d.outcome.is_waiting} - self._accepted())

    def reached_all(self) -> bool:
        """True when a provider accepted the notice for every recipient on some channel: primary or fallback."""
        return not self.unreached()

    def summary(self) -> dict[str, Any]:
        outcomes = [d.outcome for d in self.deliveries]
        return {"total": len(outcomes), "delivered": sum(o.is_accepted for o in outcomes),
                "failed": sum(o.is_failure for o in outcomes), "skipped": outcomes.count(_S.SKIPPED),
                "pending": outcomes.count(_S.PENDING), "dry_run": outcomes.count(_S.DRY_RUN),
                # Schema 1's names: "reached" here means accepted by a provider (docs/reference/json.md).
                "reached_all": self.reached_all(), "unreached": self.unreached(), "posted": outcomes.count(_S.POSTED),
                "possibly_delivered": outcomes.count(_S.POSSIBLY_DELIVERED), "held": outcomes.count(_S.HELD),
                **({"would_fail": self.would_fail} if self.mode == "dry-run" else {})}

    def exit_status(self) -> int:
        """0 accepted for everyone; 1 someone's notice definitely not accepted; 3 the rest are still being retried."""
        if set(self.unreached()) - set(self.still_retrying()):
            return 1
        return 3 if self.still_retrying() else 0

    def as_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "command": self.command, "mode": self.mode, "incident": self.incident,
                "deliveries": [d.as_json() for d in self.deliveries], "summary": self.summary(),
                "notes": self.notes}

    def to_json(self) -> str:
        return json.dumps(self.as_json(), indent=2, sort_keys=False)

    def table(self, out: Output = PLAIN) -> str:
        """A readable summary for a terminal (fitted to `out`), or for a pipe at full width."""
        inc = self.incident
        head = f"{inc['id']}  {inc['title']}  ({inc['priority']})"
        if inc.get("drill"):
            head = "[DRILL] " + head
        rows = []
        for d in self.deliveries:
            note = d.warning or d.detail or d.reason or ""
            if d.fallback_of:
                note = f"fallback for {d.fallback_of}; {note}".rstrip("; ")
            if d.possible_duplicate:
                note = f"possibly duplicated; {note}".rstrip("; ")
            step = str(d.step) if d.kind in ("step", "test") else d.kind
            rows.append((step, d.display, d.role, d.channel, d.target, outcome_label(d.outcome, d.confirmed),
                         d.attempts, note))
        lines = [render(DELIVERY_COLUMNS, rows, out)] if rows else []
        s = self.summary()
        tail = (f"{s['total']} {'delivery' if s['total'] == 1 else 'deliveries'}: {s['delivered']} accepted, "
                f"{s['failed']} failed, {s['skipped']} skipped, {s['dry_run']} dry-run, {s['pending']} pending")
        if s["posted"]:
            tail += f", {s['posted']} posted (in a channel, not sent to the person)"
        if s["possibly_delivered"]:
            tail += f", {s['possibly_delivered']} possibly delivered (no answer within the send deadline)"
        quiet = sum(d.outcome is _S.HELD and (d.reason or "").startswith(QUIET_HOURS) for d in self.deliveries)
        if s["held"] - quiet:
            tail += f", {s['held'] - quiet} held until the class is confirmed (notify reclassify)"
        if quiet:
            tail += f", {quiet} held by quiet hours (they ring when working hours begin or the response SLA passes)"
        if self.still_retrying():
            tail += f"\nSTILL RETRYING (left to `notify worker`): {', '.join(self.still_retrying())}"
        if set(self.unreached()) - set(self.still_retrying()):
            lost = ", ".join(sorted(set(self.unreached()) - set(self.still_retrying())))
            tail += f"\n{'WOULD NOT BE ACCEPTED' if self.mode == 'dry-run' else 'NOT ACCEPTED'} FOR: {lost}"
        return "\n".join([head, *lines, tail, *self.notes])

    def messages_text(self) -> str:
        """Every rendered message of a dry run, as its recipient would read it (`--dry-run --show`)."""
        shown = [d for d in self.deliveries if d.message is not None]
        blocks = [f"--- {n}/{len(shown)}: {d.display} ({d.role}) by {d.channel} to {d.target or '-'} ---\n"
                  + (f"Subject: {d.message['subject']}\n" if d.message.get("subject") else "")
                  + d.message.get("text", "").rstrip("\n") for n, d in enumerate(shown, 1)]
        return "\n\n".join(blocks) if blocks else "no message would be sent"
