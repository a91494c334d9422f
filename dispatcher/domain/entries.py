"""One line of a step's `notify` list, as planning reads it: an audience, maybe one channel, maybe one template.

policy.toml's entries are validated pydantic models (config.policy.Notify);
the entries domain/ makes up itself (the on-call primary for a weak triage
match, an escalation stage on each escalation channel, the commander for an
overdue update) are plain :class:`Entry` values built from audiences the policy
already validated. Planning reads both through :class:`AudienceEntry`, so
domain/ needs nothing from config/ at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..config.policy import IncidentClass

__all__ = ["AudienceEntry", "Entry", "escalation_entries"]

# The audiences that name people, paged on each escalation channel. Any other audience has a channel of its
# own (a list is mailed; a channel's destination such as `slack:ID` is posted on that channel) and is sent once.
_PEOPLE = ("rotation", "role", "person", "external", "customer", "success-manager", "success-managers",
           "commander")


class AudienceEntry(Protocol):
    @property
    def to(self) -> str: ...  # an audience: list:ID, rotation:SLOT, person:ID, commander...

    @property
    def channel(self) -> str | None: ...  # None: each person's preferred channel, with fallbacks

    @property
    def template(self) -> str | None: ...  # None: the channel's own template family


@dataclass(frozen=True)
class Entry:
    to: str
    channel: str | None = None
    template: str | None = None


def escalation_entries(klass: IncidentClass, audience: str) -> tuple[Entry, ...]:
    """An escalation stage's audience on each of the class's escalation channels; a list or a channel's
    destination once, on its own channel. The worker pages these and `notify status` shows them: one rule for
    both."""
    if audience.partition(":")[0] not in _PEOPLE:
        return (Entry(to=audience),)
    return tuple(Entry(to=audience, channel=channel) for channel in klass.escalation_channels)
