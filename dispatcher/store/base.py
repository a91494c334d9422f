"""The store contract, its rows and errors, shared by every store implementation.

:class:`Store` is what the engine, the lifecycle timers and the worker use: the
union of small protocols (incidents, outbox, attempt log, inbox, replay record,
lifecycle), so a module can ask for only what it uses. SQLite and PostgreSQL
implement it with the same SQL (see sql.py and sql_store.py).

Times cross this boundary as aware datetimes: every method takes them so (a naive
one is refused), and every row carries them in UTC (see times.py); how each
database holds a time stays inside the store.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Iterable, Mapping, Protocol, Sequence

from ..domain.delivery_key import DeliveryKey
from ..domain.states import DeliveryState, IncidentStatus
from ..errors import (  # re-exported: the store's errors
    AlreadyHandled,
    StoreBehind,
    StoreError,
    StoreRejected,
)

__all__ = ["DUE_NOW", "AlreadyHandled", "AttemptLog", "AttemptRow", "DeliveryRow", "EventRow", "Inbox", "InboxRow",
           "IncidentRow", "IncidentStore", "LinkRow", "Links", "NewDelivery", "Outbox", "PersonalTokens", "ReplayRecord",
           "Heartbeats", "HeldPages", "Store", "StoreBehind", "StoreError", "StoreLifecycle", "StoreRejected", "UPDATE_KINDS"]

# Event kinds of a status update: each is numbered (incidents.updates); only "update" restarts the update
# cadence (last_update_at). "uncounted-update" reached only internal people, or nobody, when the cadence
# asks for customer updates.
UPDATE_KINDS = ("update", "uncounted-update")

# What Outbox.next_due says when a pending row is due at once: a time before any other.
DUE_NOW = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class IncidentRow:
    id: str
    klass: str
    status: IncidentStatus
    drill: bool
    started: datetime
    created: datetime
    fields: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)  # account, also, needs_review, dedup_key
    acked_at: datetime | None = None
    acked_by: str | None = None
    resolved_at: datetime | None = None
    updates: int = 0
    last_update_at: datetime | None = None


@dataclass(frozen=True)
class NewDelivery:
    """A delivery to plan: what the outbox stores before it gives the row an id and a state.

    Its key is known without the incident's id (see :class:`DeliveryKey`), so an
    incident and its deliveries are planned before the store allocates the id.
    """

    label: str  # the step, or the timer or event that planned it: DeliveryKey.label
    step: int
    person: str
    display: str
    role: str
    channel: str
    target: str
    masked_target: str
    template: str
    kind: str = "step"  # step|escalation|update|reminder|overdue|resolved|test
    skip: str | None = None  # why it will never be sent: stored as skipped
    notice: Mapping[str, Any] = field(default_factory=dict)  # the lifecycle notice context
    fallbacks: tuple[tuple[str, str], ...] = ()  # (channel, target) still to try, in order
    fallback_of: int | None = None  # the delivery it stands in for
    hold: str | None = None  # why it waits for a person (a needs-review customer notice): stored as held

    @property
    def key(self) -> DeliveryKey:
        return DeliveryKey(self.label, self.person, self.channel)


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    key: str
    incident_id: str
    step: int
    person: str
    display: str
    role: str
    channel: str
    target: str
    masked_target: str
    template: str
    status: DeliveryState
    attempts: int
    reason: str | None
    detail: str | None
    fallback_of: int | None
    skip: str | None
    fallbacks: list[list[str]] = field(default_factory=list)  # [[channel, target], ...] still to try
    warning: str | None = None
    delivered_to: str | None = None
    kind: str = "step"  # step|escalation|update|reminder|overdue|resolved|reclassify|test
    notice: dict[str, Any] = field(default_factory=dict)  # the lifecycle notice context (message, number...)
    possible_duplicate: bool = False
    next_attempt_at: datetime | None = None

    @property
    def delivery_key(self) -> DeliveryKey:
        return DeliveryKey.parse(self.key)[1]


@dataclass(frozen=True)
class AttemptRow:
    at: datetime
    incident_id: str
    klass: str
    step: int
    person: str
    role: str
    channel: str
    masked_target: str
    attempt: int
    outcome: DeliveryState  # what this attempt ended as (never pending, in-flight or confirmed)
    reason: str
    detail: str
    latency_ms: float
    fallback_of: int | None
    delivered_to: str | None
    kind: str = "step"
    possible_duplicate: bool = False
    provider_id: str | None = None  # the id the provider answered with (message id, call sid, incident id)

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "incident": self.incident_id, "class": self.klass, "step": self.step,
                "kind": self.kind, "recipient": self.person, "role": self.role, "channel": self.channel,
                "target": self.masked_target, "attempt": self.attempt, "outcome": self.outcome,
                "reason": self.reason, "detail": self.detail, "latency_ms": round(self.latency_ms, 1),
                "fallback_of": self.fallback_of, "delivered_to": self.delivered_to,
                "possible_duplicate": self.possible_duplicate, "provider_id": self.provider_id}


@dataclass(frozen=True)
class EventRow:
    at: datetime
    kind: str  # triggered|acknowledged|update|uncounted-update|reminder|overdue|sla-breach|escalation|step|resolved
    key: str
    by: str | None
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "kind": self.kind, "key": self.key, "by": self.by, "detail": self.detail}


@dataclass(frozen=True)
class LinkRow:
    """An action link as stored (see links_sql): never its token, only the token's digest."""

    digest: str
    incident_id: str
    person: str  # the person id of contacts.toml the link was sent to: the link acts as them
    display: str  # their name, as recorded on what the link does
    channel: str  # the channel it was sent on: what the link does is recorded "via" it
    created: datetime
    expires: datetime


@dataclass(frozen=True)
class InboxRow:
    """A monitoring webhook as it was received, waiting to become (or repeat, or resolve) an incident."""

    id: int
    source: str  # alertmanager|grafana
    dedup_key: str  # the group (scoped by source): its rows are handled one at a time, in order
    body: str
    received: datetime
    attempts: int = 0  # failed tries to handle it so far


class StoreLifecycle(Protocol):
    """Opening and closing: `with open_store(url) as store:` closes the store when the block ends."""

    def close(self) -> None: ...
    def __enter__(self) -> Any: ...
    def __exit__(self, *exc_info: object) -> None: ...
    def schema_version(self) -> int: ...
    def upgrade(self) -> tuple[int, int]: ...


class IncidentStore(Protocol):
    """Incidents, their ids and their timeline; an incident opens with its planned deliveries in one write."""

    def peek_id(self, prefix: str, year: int) -> str: ...
    def incident(self, incident_id: str) -> IncidentRow | None: ...
    def incidents(self, *, open_only: bool = False) -> list[IncidentRow]: ...
    def open_by_dedup_key(self, dedup_key: str) -> IncidentRow | None: ...
    def open_incident(self, incident: dict[str, Any], deliveries: Iterable[NewDelivery], *,
                      prefix: str, year: int, now: datetime,
                      events: Iterable[tuple[str, str, str]] = ()) -> tuple[str, bool]: ...
    def record_event(self, incident_id: str, key: str, kind: str, at: datetime, detail: str = "", by: str | None = None,
                     deliveries: Iterable[NewDelivery] = (), status: IncidentStatus | None = None,
                     cancel: Iterable[int] = (), cancel_reason: str = "",
                     meta: dict[str, Any] | None = None) -> bool: ...
    def record_reclassification(self, incident_id: str, key: str, kind: str, at: datetime, detail: str, by: str, *,
                                was: str, klass: str, meta: dict[str, Any], cancel: Iterable[tuple[int, str]] = (),
                                release: bool = False, reopen: bool = False,
                                deliveries: Iterable[NewDelivery] = ()) -> bool: ...
    def events(self, incident_id: str) -> list[EventRow]: ...


class Outbox(Protocol):
    """Planned deliveries, leased to one sender at a time and settled with each attempt."""

    def deliveries(self, incident_id: str, step: int | None = None) -> list[DeliveryRow]: ...
    def pages_to(self, target: str, channel: str, *, limit: int = 50) -> list[DeliveryRow]: ...
    def pending_ids(self, incident_id: str, step: int) -> list[int]: ...
    def claim(self, owner: str, now: datetime, lease_until: datetime, *, limit: int = 100,
              incident_id: str | None = None, ids: Iterable[int] | None = None,
              skip_channels: Iterable[str] = (), leads_only: bool = False) -> list[DeliveryRow]: ...
    def add_fallback(self, original: DeliveryRow, d: NewDelivery, now: datetime) -> int | None: ...
    def confirm(self, delivery_id: int, now: datetime) -> bool: ...
    def set_warning(self, delivery_id: int, warning: str) -> None: ...
    def record_attempt(self, delivery: DeliveryRow, attempt: AttemptRow, *, final_status: DeliveryState | None,
                       next_attempt_at: datetime | None = None) -> None: ...
    def renew(self, owner: str, lease_until: datetime) -> int: ...
    def release(self, owner: str, ids: Iterable[int] | None = None) -> int: ...
    def requeue(self, ids: Iterable[int], now: datetime) -> int: ...
    def next_due(self) -> datetime | None: ...
    def earlier_provider_id(self, incident_id: str, channel: str, target: str) -> str | None: ...
    def customer_reached(self, incident_id: str) -> bool: ...
    def latest_on(self, incident_id: str, channels: Any) -> tuple[DeliveryState, str | None, str | None] | None: ...


class AttemptLog(Protocol):
    """Every attempt as it happened, the numbers metrics report, and the workers' heartbeats."""

    def attempts(self, *, incident_id: str | None = None, since: datetime | None = None,
                 limit: int | None = None) -> list[AttemptRow]: ...
    def stats(self, now: datetime) -> dict[str, float]: ...
    def heartbeat(self, worker: str, now: datetime) -> None: ...
    def last_heartbeat(self) -> datetime | None: ...


class Inbox(Protocol):
    """Monitoring webhooks as received, each group handled by one owner at a time, in order."""

    def enqueue(self, source: str, dedup_key: str, body: str, received: datetime) -> int: ...
    def enqueue_many(self, webhooks: Sequence[tuple[str, str, str]], received: datetime) -> list[int]: ...
    def claim_inbox(self, owner: str, now: datetime, lease_until: datetime, *, limit: int) -> list[InboxRow]: ...
    def inbox_done(self, inbox_id: int, owner: str) -> bool: ...
    def writes_together(self) -> AbstractContextManager[None]: ...
    def inbox_failed(self, inbox_id: int, owner: str, error: str, retry_at: datetime | None) -> bool: ...
    def renew_inbox(self, owner: str, ids: Iterable[int], lease_until: datetime) -> int: ...
    def release_inbox(self, owner: str) -> int: ...
    def inbox_counts(self) -> tuple[int, int, int]: ...
    def webhooks_waiting(self) -> bool: ...
    def inbox_rows(self) -> list[dict[str, Any]]: ...
    def inbox_retry(self, ids: Iterable[int]) -> int: ...
    def inbox_discard(self, ids: Iterable[int]) -> int: ...


class ReplayRecord(Protocol):
    """Signed requests already handled, recorded with their effect (see requests_sql)."""

    def sealed(self, key: str, at: datetime) -> Any: ...
    def request_answer(self, key: str) -> tuple[int | None, dict[str, Any] | None] | None: ...
    def remember_answer(self, key: str, at: datetime, status: int, answer: dict[str, Any],
                        forget_before: datetime) -> None: ...


class PersonalTokens(Protocol):
    """Personal API tokens by hash (see tokens_sql): the token itself is never stored."""

    def add_token(self, token_id: str, person: str, digest: str, created: datetime) -> None: ...
    def tokens(self) -> list[Any]: ...
    def use_token(self, digest: str, now: datetime) -> Any | None: ...
    def revoke_token(self, token_id: str, now: datetime) -> Any | None: ...


class Links(Protocol):
    """Action links sent in personal pages, by the digest of their token (see links_sql)."""

    def add_link(self, row: LinkRow) -> None: ...
    def link(self, digest: str) -> LinkRow | None: ...
    def forget_links(self, before: datetime) -> int: ...


class WebRecords(Protocol):
    """The web view's sessions, login links, notes and calendar feeds, secrets by digest (see web_sql)."""

    def add_session(self, digest: str, person: str, created: datetime, expires: datetime) -> None: ...
    def session(self, digest: str, now: datetime) -> Any | None: ...
    def end_session(self, digest: str, now: datetime) -> bool: ...
    def forget_sessions(self, before: datetime) -> int: ...
    def add_login_link(self, digest: str, person: str, created: datetime, expires: datetime) -> None: ...
    def login_link_person(self, digest: str, now: datetime) -> str | None: ...
    def use_login_link(self, digest: str, now: datetime) -> str | None: ...
    def login_links_since(self, person: str, since: datetime) -> int: ...
    def forget_login_links(self, before: datetime) -> int: ...
    def add_note(self, incident_id: str, at: datetime, by: str, text: str) -> None: ...
    def notes(self, incident_id: str) -> list[Any]: ...
    def add_feed(self, row: Any) -> None: ...
    def feed(self, digest: str) -> Any | None: ...
    def feeds(self, person: str) -> list[Any]: ...
    def revoke_feed(self, digest: str, person: str, now: datetime) -> bool: ...


class Silences(Protocol):
    """Silences and maintenance windows (silences_sql.py), and the pages they held back."""

    def add_silence(self, silence: Any) -> None: ...
    def silences(self, *, ending_after: datetime | None = None) -> list[Any]: ...
    def silence(self, silence_id: str) -> Any | None: ...
    def expire_silence(self, silence_id: str, now: datetime) -> Any | None: ...
    def unannounced(self, now: datetime, since: datetime) -> list[tuple[Any, str]]: ...
    def claim_announcement(self, silence_id: str, edge: str, now: datetime) -> bool: ...
    def held(self, *, incident_id: str | None = None, since: datetime | None = None) -> list[tuple[str, EventRow]]: ...
    def held_counts(self) -> dict[str, int]: ...


class Heartbeats(Protocol):
    """Monitors' dead man's switches, one row per name (see heartbeats_sql)."""

    def record_beat(self, name: str, at: datetime, interval: timedelta, grace: timedelta,
                    source: str = "http") -> Any: ...
    def heartbeat_row(self, name: str) -> Any | None: ...
    def heartbeat_rows(self) -> list[Any]: ...
    def mark_heartbeat_late(self, row: Any, incident_id: str, at: datetime) -> bool: ...
    def mark_heartbeat_back(self, name: str) -> str | None: ...
    def forget_heartbeat(self, name: str) -> bool: ...


class HeldPages(Protocol):
    """Pages held back by quiet hours, released or dropped once with their timeline event (see holds_sql)."""

    def settle_held(self, incident_id: str, ids: Iterable[int], key: str, kind: str, at: datetime, detail: str,
                    *, release: bool, skip: str = "") -> bool: ...
    def quiet_held_incidents(self) -> set[str]: ...


class Reviews(Protocol):
    """Post-incident reviews and drill runs (see reviews_sql): root causes, satisfaction answers, drill summaries."""

    def open_review(self, incident_id: str, resolved_at: datetime, root_cause_due: datetime) -> bool: ...
    def review(self, incident_id: str) -> Any | None: ...
    def reviews(self, since: datetime, until: datetime) -> list[Any]: ...
    def pending_reviews(self, due_since: datetime | None = None) -> list[Any]: ...
    def record_root_cause(self, incident_id: str, root_cause: str, link: str | None, by: str | None,
                          at: datetime) -> Any | None: ...
    def record_csat(self, incident_id: str, score: int, at: datetime) -> Any | None: ...
    def add_drill_run(self, scenario: str, klass: str, started: datetime, finished: datetime, passed: bool,
                      summary: dict[str, Any]) -> int: ...
    def drill_runs(self, since: datetime, until: datetime) -> list[Any]: ...


class RateBudgetStore(Protocol):
    """Rate budgets per provider route, shared by every process on the store, and what waits for them (see budgets_sql)."""

    def take_budget(self, route: str, now: datetime, limit: Any, hold: float = 0.0,
                    priority: int | None = None) -> float: ...
    def settle_budget(self, route: str, now: datetime, limit: Any, sent_at: datetime) -> None: ...
    def throttle_route(self, route: str, now: datetime, limit: Any, retry_after: float | None) -> None: ...
    def budgets(self) -> list[Any]: ...
    def queue_delivery(self, delivery_id: int, owner: str, route: str, now: datetime, due: datetime,
                       why: str) -> bool: ...
    def queued(self, incident_id: str | None = None) -> list[Any]: ...


class Store(StoreLifecycle, IncidentStore, Outbox, AttemptLog, Inbox, ReplayRecord, Links, PersonalTokens, WebRecords,
            Silences, Heartbeats, HeldPages, Reviews, RateBudgetStore, Protocol):
    """Everything the engine asks of a store, the union of the protocols above; every write is one transaction.

    A module that needs only part of it may ask for that part (an `Inbox`, an `AttemptLog`).
    """
