"""What a command did, as one versioned JSON document and as a terminal table.

The document (``"schema": 1``) is defined once here and reused by every
command and API that reports deliveries:

    {"schema": 1, "command": str, "mode": "dry-run" | "send" | "drill",
     "incident": {"id", "class", "title", "priority", "status", "drill", "started", "fields", "existing"},
     "deliveries": [{"step", "recipient", "display", "role", "channel", "target" (masked),
                     "outcome": "delivered|posted|possibly-delivered|failed-transient|failed-permanent|pending|"
                                "held|skipped|dry-run",
                     "attempts", "reason", "detail", "fallback_of", "delivered_to", "warning",
                     "message": {"subject", "text"} (dry runs only)}],
     "summary": {"total", "delivered", "failed", "skipped", "pending", "dry_run", "reached_all", "unreached",
                 "posted", "possibly_delivered", "held",
                 "would_fail" (dry runs only): [{"recipient", "channel", "reason", "fallback"}]},
     "notes": [str]}

Stdlib only, so printing a report costs nothing at start-up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..render.table import PLAIN, Column, Output, render

__all__ = ["DeliveryLine", "Report", "SCHEMA"]

SCHEMA = 1
FAILED = ("failed-transient", "failed-permanent")
WAITING = ("pending", "in-flight")
# Seen in a channel (a Slack webhook post mentioning the person), not sent to them: not reached.
POSTED = "posted"
# Sent, but the send deadline passed before the provider answered: it may have arrived. Not retried
# (that could page twice) and not counted as reached, so the fallback runs.
POSSIBLY = "possibly-delivered"
OUTCOME_COLOURS = {"delivered": "green", "failed-transient": "red", "failed-permanent": "red", "pending": "yellow",
                   "in-flight": "yellow", "skipped": "dim", "dry-run": "cyan", "posted": "yellow",
                   POSSIBLY: "yellow"}
DELIVERY_COLUMNS = (Column("STEP", fixed=True), Column("RECIPIENT"), Column("ROLE"), Column("CHANNEL", fixed=True),
                    Column("TARGET"), Column("OUTCOME", fixed=True, colours=OUTCOME_COLOURS),
                    Column("TRIES", align="right", fixed=True), Column("NOTE"))


@dataclass
class DeliveryLine:
    step: int
    recipient: str
    display: str
    role: str
    channel: str
    target: str  # masked
    outcome: str
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
        """Recipients with a failed, pending or only posted delivery and none delivered (a fallback counts).

        In a dry run: the recipients a real send would not reach.
        """
        delivered = {d.recipient for d in self.deliveries if d.outcome == "delivered"}
        missing = {d.recipient for d in self.deliveries if d.outcome in (*FAILED, *WAITING, POSTED, POSSIBLY)}
        return sorted((missing | self._would_not_reach()) - delivered)

    def _would_not_reach(self) -> set[str]:
        """Dry runs: recipients whose every planned delivery would fail, with no fallback to stand in."""
        lost = {(w["recipient"], w["channel"]) for w in self.would_fail if not w["fallback"]}
        planned = [d for d in self.deliveries if d.outcome == "dry-run"]
        return {d.recipient for d in planned} - {d.recipient for d in planned if (d.recipient, d.channel) not in lost}

    def still_retrying(self) -> list[str]:
        """Recipients whose delivery is left to the worker, still being retried."""
        delivered = {d.recipient for d in self.deliveries if d.outcome == "delivered"}
        return sorted({d.recipient for d in self.deliveries if d.outcome in WAITING} - delivered)

    def reached_all(self) -> bool:
        """True when every recipient got the notice on some channel: primary or fallback."""
        return not self.unreached()

    def summary(self) -> dict[str, Any]:
        count = lambda *outcomes: sum(d.outcome in outcomes for d in self.deliveries)  # noqa: E731
        return {"total": len(self.deliveries), "delivered": count("delivered"), "failed": count(*FAILED),
                "skipped": count("skipped"), "pending": count("pending"), "dry_run": count("dry-run"),
                "reached_all": self.reached_all(), "unreached": self.unreached(), "posted": count(POSTED),
                "possibly_delivered": count(POSSIBLY), "held": count("held"),
                **({"would_fail": self.would_fail} if self.mode == "dry-run" else {})}

    def exit_status(self) -> int:
        """0 everyone reached; 1 someone definitely not reached; 3 the rest are still being retried."""
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
            rows.append((step, d.display, d.role, d.channel, d.target, d.outcome, d.attempts, note))
        lines = [render(DELIVERY_COLUMNS, rows, out)] if rows else []
        s = self.summary()
        tail = (f"{s['total']} {'delivery' if s['total'] == 1 else 'deliveries'}: {s['delivered']} delivered, "
                f"{s['failed']} failed, {s['skipped']} skipped, {s['dry_run']} dry-run, {s['pending']} pending")
        if s["posted"]:
            tail += f", {s['posted']} posted (in a channel, not sent to the person)"
        if s["possibly_delivered"]:
            tail += f", {s['possibly_delivered']} possibly delivered (no answer within the send deadline)"
        if s["held"]:
            tail += f", {s['held']} held until the class is confirmed (notify reclassify)"
        if self.still_retrying():
            tail += f"\nSTILL RETRYING (left to `notify worker`): {', '.join(self.still_retrying())}"
        if set(self.unreached()) - set(self.still_retrying()):
            tail += f"\n{'WOULD NOT BE REACHED' if self.mode == 'dry-run' else 'NOT REACHED'}: {', '.join(sorted(set(self.unreached()) - set(self.still_retrying())))}"
        return "\n".join([head, *lines, tail, *self.notes])

    def messages_text(self) -> str:
        """Every rendered message of a dry run, as its recipient would read it (`--dry-run --show`)."""
        shown = [d for d in self.deliveries if d.message is not None]
        blocks = [f"--- {n}/{len(shown)}: {d.display} ({d.role}) by {d.channel} to {d.target or '-'} ---\n"
                  + (f"Subject: {d.message['subject']}\n" if d.message.get("subject") else "")
                  + d.message.get("text", "").rstrip("\n") for n, d in enumerate(shown, 1)]
        return "\n\n".join(blocks) if blocks else "no message would be sent"
