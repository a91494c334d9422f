"""Does a silence or a maintenance window hold back this alert at this instant? Pure functions; stdlib only.

A silence is a set of Alertmanager matchers (:mod:`.matchers`) over the alert's labels and four
pseudo-labels: ``class`` (the incident class it was routed to), ``tier`` (that class's tier),
``source`` (alertmanager, grafana, generic, cli) and ``service`` (each service the alert names: a
matcher on it holds when any of them matches). A maintenance window names services; it holds back
an alert for any of them. Rules, in the order :func:`applies` checks them:

- only while it is in effect: ``starts <= now < ends`` (expiring one by hand moves its end to then);
- a silence made after the alert arrived does not hold it (a new silence affects future alerts only);
- a CLI trigger is a person asking for a page: a silence holds it only when it names the class
  explicitly (``class="security"``), and a maintenance window never does;
- a group is held back only when every one of its firing alerts is (as in Alertmanager).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Mapping, Sequence

from .matchers import LabelMatcher, parse_matcher

__all__ = ["PSEUDO_LABELS", "AlertFacts", "Silence", "applies", "holding"]

PSEUDO_LABELS = ("class", "tier", "source", "service")
SILENCE, MAINTENANCE = "silence", "maintenance"


@dataclass(frozen=True)
class Silence:
    """A silence (`matchers`) or a maintenance window (`services`), in effect from `starts` until `ends`."""

    id: str
    kind: str  # silence | maintenance
    starts: datetime
    ends: datetime
    created: datetime
    by: str
    reason: str
    matchers: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    expired: datetime | None = None  # when someone ended it by hand

    def active_at(self, now: datetime) -> bool:
        return self.starts <= now < self.ends

    @property
    def what(self) -> str:
        """How the timeline names it: `silence S-1a2b (alertname="DiskFull")`."""
        held = ", ".join(self.matchers) if self.kind == SILENCE else "service " + ", ".join(self.services)
        return f"{'maintenance window' if self.kind == MAINTENANCE else 'silence'} {self.id} ({held})"


@dataclass(frozen=True)
class AlertFacts:
    """What a silence reads of one alert: its labels and the pseudo-labels."""

    labels: Mapping[str, str]
    klass: str
    tier: str
    source: str
    services: tuple[str, ...] = field(default=())


def applies(silence: Silence, alert: AlertFacts, now: datetime, arrived: datetime | None = None) -> bool:
    """True when `silence` holds `alert` back at `now`; `arrived`: when a stored alert first came (a silence made
    after it does not hold it); None for an alert arriving now, which every silence in the store may hold."""
    if not silence.active_at(now) or (arrived is not None and silence.created > arrived):
        return False
    if silence.kind == MAINTENANCE:
        return alert.source != "cli" and any(s.casefold() in {a.casefold() for a in alert.services}
                                             for s in silence.services)
    matchers = [parse_matcher(m) for m in silence.matchers]
    if alert.source == "cli" and not any(m.name == "class" and m.op == "=" and m.value == alert.klass
                                         for m in matchers):
        return False
    return bool(matchers) and all(_matches(m, alert) for m in matchers)


def _matches(matcher: LabelMatcher, alert: AlertFacts) -> bool:
    pseudo = {"class": alert.klass, "tier": alert.tier, "source": alert.source}
    if matcher.name == "service":
        services = alert.services or ("",)  # none named: the empty string, as a missing label
        return any(matcher.matches({"service": s}) for s in services) if matcher.op in ("=", "=~") \
            else all(matcher.matches({"service": s}) for s in services)
    return matcher.matches({**alert.labels, **pseudo})


def holding(silences: Iterable[Silence], alerts: Sequence[AlertFacts], now: datetime,
            arrived: datetime | None = None) -> tuple[Silence, ...]:
    """The silences and windows holding back a group whose firing alerts are `alerts`; empty when any alert
    is held by none (the group pages) or there is no alert."""
    silences = list(silences)
    held: dict[str, Silence] = {}
    for alert in alerts:
        found = [s for s in silences if applies(s, alert, now, arrived)]
        if not found:
            return ()
        held.setdefault(found[0].id, found[0])
    return tuple(held.values())
