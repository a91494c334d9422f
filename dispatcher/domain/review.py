"""The post-incident review's timers, pure: when the root cause is due, and the reminders and breach before it.

The seed's "Post-Escalation Process": "Root Cause Analysis: Complete within 48
hours". Resolving an incident of a tier in :data:`REVIEWED_TIERS` opens its
review; the commander is reminded a day before the root cause is due and again
four hours before, and a root cause not recorded by then is a breach.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .incident import format_time

__all__ = ["REVIEWED_TIERS", "ROOT_CAUSE_WITHIN", "ReviewAction", "review_actions", "root_cause_due"]

ROOT_CAUSE_WITHIN = timedelta(hours=48)
REVIEWED_TIERS = ("immediate", "priority")  # the issue: immediate- and priority-tier incidents are reviewed
REMINDERS_BEFORE = (timedelta(hours=24), timedelta(hours=4))


@dataclass(frozen=True)
class ReviewAction:
    key: str  # unique within the incident: the store records it once
    kind: str  # rca-reminder | rca-breach (the timeline event)
    due: datetime
    detail: str


def root_cause_due(resolved_at: datetime) -> datetime:
    return resolved_at + ROOT_CAUSE_WITHIN


def review_actions(due: datetime, now: datetime) -> list[ReviewAction]:
    """The reminders and breach of a root cause due at `due` that are due at `now` (recorded ones included)."""
    when = format_time(due)
    actions = [ReviewAction(f"rca-reminder-{int(lead.total_seconds() // 3600)}h", "rca-reminder", due - lead,
                            f"root cause analysis due at {when}") for lead in REMINDERS_BEFORE]
    actions.append(ReviewAction("rca-breach", "rca-breach", due, f"root cause analysis not recorded by {when}"))
    return [a for a in actions if a.due <= now]
