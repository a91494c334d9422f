"""Sequences one trigger: load the setup, build the incident, plan, render, store, send, report.

Each function here reads as a sentence over the modules that do the work;
nothing in this file talks to a network or parses a file itself.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, MutableMapping

from ..api import Address, Notice, target_dedup_key
from ..clock import Clock
from ..config.directory import Directory, load_directory
from ..config.paths import ConfigPaths, resolve_config
from ..config.policy import IncidentClass, Policy, load_policy
from ..config.problems import ConfigError, error
from ..config.settings import Settings, load_settings
from ..delivery.registry import Registry
from ..domain.incident import Incident, build_incident, public_fields, render_context
from ..domain.plan import Planned, plan_step
from ..domain.quiet_hours import hold_quiet_pages
from ..domain.states import DeliveryState, IncidentStatus
from ..domain.timers import escalation_pass, split_epoch
from ..store import DeliveryRow, IncidentRow, NewDelivery, Store
from .facts import FactsMemo
from .holds import trigger_hold
from .interactive import Offer, offered
from .links import ActionFooter, footer_for, issue_link
from .report import DeliveryLine, Report

if TYPE_CHECKING:
    from ..delivery.sender import Sender

WORKER_RECENT = timedelta(minutes=2)

__all__ = ["Runtime", "compose_notice", "incident_from_row", "lines_from_store", "load_runtime", "make_sender",
           "new_incident", "outbox_row", "send_pending", "trigger"]


@dataclass
class Runtime:
    """Everything one command needs, loaded once."""

    paths: ConfigPaths
    settings: Settings
    directory: Directory
    policy: Policy
    _renderer: Any = field(default=None, repr=False)
    _routing: Any = field(default=None, repr=False)
    # Set when the files were broken and the last copy that validated was loaded: (problems, saved at).
    degraded: tuple[list[Any], datetime] | None = field(default=None, repr=False)

    @property
    def renderer(self) -> Any:
        if self._renderer is None:
            from ..render.templates import (
                Renderer,  # jinja2 only for commands that render
            )

            self._renderer = Renderer(self.paths.template_dirs)
        return self._renderer

    @property
    def routing(self) -> Any:
        """The triage rules, loaded on first use (ConfigError when invalid)."""
        if self._routing is None:
            from ..config.routing import load_routing

            self._routing = load_routing(self.paths.routing, self.policy)
        return self._routing

    def klass(self, name: str) -> IncidentClass:
        if name not in self.policy.classes:
            raise ConfigError([error(str(self.paths.policy), f"classes.{name}", "no such incident class")])
        return self.policy.classes[name]


def load_runtime(config_dir: Path | None = None, settings: Settings | None = None, *,
                 last_good: bool = False, remember: bool = False) -> Runtime:
    """Resolve the config directory and load directory and policy (ConfigError when unusable).

    With `last_good` (triggers), broken files fall back to the last copy that validated
    (:mod:`dispatcher.config.known_good`); the runtime's `degraded` then says what was wrong.
    With `remember` (commands that write state anyway: never a dry run), valid files
    become that copy.
    """
    from ..config import known_good

    settings = settings or load_settings()
    paths = resolve_config(config_dir, settings.config_dir, Path.cwd())
    try:
        directory = load_directory(paths.contacts)
        policy = load_policy(paths.policy, directory)
    except ConfigError as exc:
        recalled = known_good.recall(paths, settings.resolved_state_dir()) if last_good else None
        if recalled is None:
            raise
        kept, saved = recalled
        directory = load_directory(kept.contacts)
        runtime = Runtime(kept, settings, directory, load_policy(kept.policy, directory))
        runtime.degraded = (list(exc.problems), saved)
        return runtime
    if remember:
        known_good.remember(paths, settings.resolved_state_dir())
    return Runtime(paths, settings, directory, policy)


def new_incident(rt: Runtime, klass_name: str, values: Mapping[str, Any], *, now: datetime, drill: bool,
                 incident_id: str = "") -> Incident:
    return build_incident(klass_name, rt.klass(klass_name), rt.directory, values, now=now, drill=drill,
                          incident_id=incident_id)


def compose_notice(rt: Runtime, incident: Incident, planned: Planned, *, max_length: int | None = None,
                   notice: Mapping[str, Any] | None = None, page_key: str | None = None,
                   footer: Callable[[str], ActionFooter | None] | None = None,
                   offer: Callable[[str], Offer] | None = None,
                   facts: Mapping[str, Any] | None = None,
                   cache: MutableMapping[Any, Any] | None = None) -> tuple[Notice, str | None]:
    """Render one notice; on a template error fall back to a plain notice and return the warning.

    `footer(family)`: what a personal page ends with (an action link, see links.py), kept whole within
    the family's budget; the rendered body is cut for it instead. `cache`: renders to share between recipients
    of the same content (see render.personal; the sender's FactsMemo keeps it briefly).
    """
    from ..render.notice import fallback_notice, footer_budget, with_footer
    from ..render.templates import TemplateError, family_of

    klass = rt.klass(incident.klass)
    family = family_of(planned.template)
    recipient = {"display": planned.address.display, "role": planned.address.role}
    context = _context(rt, incident, klass, planned.step, notice, facts, cache) | {"recipient": recipient}
    warning = None
    closing = footer(family) if footer is not None else None
    budget = footer_budget(family, closing.text(family), max_length) if closing else max_length
    try:
        rendered = rt.renderer.render(incident.klass, planned.template, context, family=family,
                                      drill=incident.drill, max_length=budget, cache=cache)
    except TemplateError as exc:
        warning = f"template failed, so a plain fallback notice is used: {exc.problem.file}: {exc.problem.message}"
        rendered = fallback_notice(incident_id=incident.id, incident_class=incident.klass,
                                   summary=incident.fields.get("summary"), family=family, drill=incident.drill,
                                   max_length=budget if closing else None)
    if closing is not None and not closing.said_in(rendered.text):
        rendered = with_footer(rendered, family, closing.text(family), closing.html())
    page_key = page_key or target_dedup_key(incident.id, planned.step, planned.address.person)
    notice_out = Notice(incident.id, incident.klass, planned.step, rendered.subject, rendered.text, rendered.html,
                        drill=incident.drill, severity=klass.severity, dedup_key=page_key,
                        fields=_neutral(public_fields(incident)), fallback=warning is not None,
                        lines=rendered.lines, page_event=(notice or {}).get("pager_event", "trigger"),
                        kind=(notice or {}).get("kind") or "initial")
    if offer is not None:  # buttons, a keypress (see interactive.py)
        notice_out = replace(notice_out, **asdict(offer(family)))
    return notice_out, warning


def _context(rt: Runtime, incident: Incident, klass: IncidentClass, step: int, notice: Mapping[str, Any] | None,
             facts: Mapping[str, Any] | None, cache: MutableMapping[Any, Any] | None) -> dict[str, Any]:
    """render_context but the recipient, made once for the rows of one incident (the same objects: the worker's
    incident cache, the FactsMemo's facts) while `cache` lives: it was a tenth of composing a shared notice."""
    key = ("context", incident.id, step, repr(notice))
    known = cache.get(key) if cache is not None else None
    if known is not None and known[0] is incident and known[1] is facts:
        return known[2]
    context = render_context(incident, klass, rt.policy.tiers[klass.tier].title, rt.directory, step, {}, notice, facts)
    if cache is not None:
        cache[key] = (incident, facts, context)
    return context


def _neutral(fields: dict[str, Any]) -> dict[str, Any]:
    """Fields as a channel may send them (the outbound webhook's JSON): no bidi control, no carriage return."""
    from ..render.escaping import neutral

    def clean(value: Any) -> Any:
        return neutral(value) if isinstance(value, str) else [clean(v) for v in value] if isinstance(value, list) \
            else value

    return {key: clean(value) for key, value in fields.items()}


def incident_summary(rt: Runtime, incident: Incident, *, status: str, existing: bool = False) -> dict[str, Any]:
    klass = rt.policy.classes.get(incident.klass)  # a contact test, or a class since removed from the policy
    title, priority = (klass.title, klass.priority) if klass else (incident.klass.capitalize(), "-")
    return {"id": incident.id, "class": incident.klass, "title": title, "priority": priority,
            "status": status, "drill": incident.drill, "started": incident.started.isoformat(),
            "fields": public_fields(incident), "existing": existing,
            "needs_review": incident.needs_review}  # a weak triage match: outside notices held until confirmed


def line_for(planned: Planned, outcome: DeliveryState, **extra: Any) -> DeliveryLine:
    a: Address = planned.address
    return DeliveryLine(step=planned.step, recipient=a.person, display=a.display, role=a.role, channel=a.channel,
                        target=a.masked if a.target else "", outcome=outcome, **extra)


def outbox_row(planned: Planned, *, kind: str = "step", label: str | int | None = None,
               notice: Mapping[str, Any] | None = None) -> NewDelivery:
    """A planned delivery as the store's outbox row; `label` names the step or timer in its key."""
    a = planned.address
    return NewDelivery(planned.key(label).label, planned.step, a.person, a.display, a.role, a.channel, a.target,
                       a.masked if a.target else "", planned.template, kind=kind, skip=planned.skip,
                       hold=planned.held, notice=dict(notice or {}),
                       fallbacks=tuple((f.channel, f.target) for f in planned.fallbacks))


def webhook_planned(rt: Runtime, step: int) -> list[Planned]:
    """The optional outbound webhook receives every step when NOTIFY_WEBHOOK_URL is set."""
    if not rt.settings.channel_url("webhook"):
        return []
    return [Planned(step, Address("webhook", "outbound webhook", "webhook", "webhook", "NOTIFY_WEBHOOK_URL"),
                    "email")]


def incident_record(incident: Incident) -> dict[str, Any]:
    return {"id": incident.id, "class": incident.klass, "drill": incident.drill, "dedup_key": incident.dedup_key,
            "started": incident.started, "fields": public_fields(incident),
            "meta": {"account": incident.account, "also": list(incident.also), "needs_review": incident.needs_review,
                     "allow": list(incident.allow) if incident.allow is not None else None,
                     "reporter_unverified": incident.reporter_unverified}}


def incident_from_row(row: IncidentRow) -> Incident:
    """Rebuild the engine's incident from its stored row (a worker, a later command)."""
    fields = {k: v for k, v in row.fields.items() if k != "started"}
    meta = row.meta
    allow = meta.get("allow")
    return Incident(row.id, row.klass, row.started, fields, row.drill, meta.get("account"),
                    row.id, tuple(meta.get("also", ())), bool(meta.get("needs_review", False)),
                    tuple(allow) if allow is not None else None,
                    opened=datetime.fromisoformat(meta["classified_at"]) if meta.get("classified_at") else row.created,
                    reporter_unverified=bool(meta.get("reporter_unverified", False)),
                    recorded=tuple(meta.get("recorded", ())))


def make_sender(rt: Runtime, store: Store, clock: Clock, registry: Registry, *, owner: str,
                incidents: Callable[..., Incident],
                on_attempt: Callable[[str, str, int, float], None] | None = None) -> "Sender":
    """The sender for this runtime: retry policy, concurrency, lease and secrets from settings.

    `incidents(id)` gives the incident a row is sent for; a row planned after the incident's n-th reclassification
    asks `incidents(id, n)`: the incident as of at least that reclassification.
    """
    from ..delivery.paced import Pacer
    from ..delivery.routes import RouteNames
    from ..delivery.sender import (  # tenacity and the channels: only commands that send need them
        RetryPolicy,
        Sender,
    )

    memo = FactsMemo(monotonic=clock.monotonic)  # an incident's rows rendered within a second share its facts

    def compose(row: DeliveryRow) -> tuple[Notice, str | None]:
        if row.kind == "announcement":  # a maintenance window's start or end (windows.py): its text is stored
            return Notice(row.incident_id, "maintenance", 0, row.notice["subject"], row.notice["text"],
                          severity="info", dedup_key=row.incident_id), None
        channel = registry.get(row.channel)
        max_length = channel.capabilities.max_length if channel is not None else None
        planned = Planned(row.step, Address(row.person, row.display, row.role, row.channel, row.target),
                          row.template)

        def footer(family: str) -> ActionFooter | None:  # a link per attempt: a link is never stored in clear
            return footer_for(rt.settings.public_url, rt.directory.people, incident_id=row.incident_id,
                              person=row.person, kind=row.kind, family=family,
                              issue=lambda: issue_link(store, row, clock.now(), rt.settings.link_ttl))

        epoch = row_epoch(row)  # planned after a reclassification: the incident as of it, never older
        incident = incidents(row.incident_id, epoch) if epoch else incidents(row.incident_id)
        facts, renders = memo.facts(store, incident, row.channel)
        notice, warning = compose_notice(rt, incident, planned, max_length=max_length, notice=row.notice,
                                         page_key=row.notice.get("pager_key") or row_page_key(row), footer=footer,
                                         offer=lambda family: offered(rt.settings, rt.directory.people, family=family,
                                                                      kind=row.kind, person=row.person,
                                                                      incident_id=row.incident_id),
                                         facts=facts, cache=renders)
        if channel is not None and channel.capabilities.follows_up:  # what it created before, to update it
            notice = replace(notice, earlier_id=store.earlier_provider_id(row.incident_id, row.channel, row.target))
        return notice, warning

    lease = timedelta(seconds=2 * (rt.settings.connect_timeout + rt.settings.read_timeout) + 30)
    return Sender(store, registry, clock, compose, owner,
                  RetryPolicy(rt.settings.retry_attempts, max_wait=rt.settings.retry_max_wait),
                  concurrency=rt.settings.concurrency, lease=lease, secrets=rt.settings.secrets() + rt.directory.secrets(),
                  klass_of=lambda incident_id: incidents(incident_id).klass, on_attempt=on_attempt,
                  pacer=Pacer(store, RouteNames(rt.settings, rt.directory), clock, owner, hold=rt.settings.send_deadline,
                              max_block=rt.settings.retry_max_wait))


def row_epoch(row: DeliveryRow) -> int:
    """How many reclassifications the incident had when this row was planned (its label says: r1-step-0,
    reclassify-1), so a cache of incidents never renders the new class's page on the old class's templates."""
    found = re.match(r"(?:r|reclassify-)([0-9]+)(?:-|$)", row.delivery_key.label)
    return int(found.group(1)) if found else 0


def row_page_key(row: DeliveryRow) -> str:
    """`ID/step/person` for a step or escalation page; a reminder, overdue or resolution notice (all
    step -1) puts its timer's label in place of the step, so two of them never merge into one. After a
    reclassification a page's step carries its epoch (`ID/r1-0/person`): a pager must not fold the new
    class's page into the old one's alert. A repeated escalation pass adds its pass (`ID/5-pass-2/person`):
    PagerDuty would merge it into the first page."""
    label = row.delivery_key.label
    if row.kind in ("step", "escalation"):
        label = split_epoch(label)[0] + str(row.step)
        if row.kind == "escalation" and (repeat := escalation_pass(row.delivery_key.label)) > 1:
            label = f"{label}-pass-{repeat}"
    return target_dedup_key(row.incident_id, label, row.person)


def send_pending(rt: Runtime, store: Store, clock: Clock, incident: Incident, rows: list[DeliveryRow], *,
                 wait: float | None) -> None:
    """Send a command's own deliveries now; retries due after `wait` seconds are left to the worker."""
    registry = Registry(rt.settings, rt.directory, drill=incident.drill)
    sender = make_sender(rt, store, clock, registry, owner=f"cli-{os.getpid()}", incidents=lambda *_: incident)
    deadline = clock.now() + timedelta(seconds=wait) if wait is not None else None
    try:
        sender.send_now(rows, deadline)
    finally:
        registry.close()


def trigger(rt: Runtime, command: str, incident: Incident, *, store: Store, clock: Clock,
            wait: float | None = None) -> Report:
    """Store the incident and its step-0 deliveries in one transaction, then send them all."""
    klass = rt.klass(incident.klass)
    record, held = incident_record(incident), trigger_hold(rt, store, incident, clock.now())  # a silence naming it
    planned = [] if held else plan_step(incident, klass, 0, rt.directory) + webhook_planned(rt, 0)
    planned, quiet = hold_quiet_pages(planned, klass, rt.directory, clock.now(), opened=clock.now())
    record["meta"].update(held.meta if held else {})
    incident_id, created = store.open_incident(record, [outbox_row(p) for p in planned], prefix=klass.prefix,
                                               year=clock.now().year, now=clock.now(),
                                               events=([held.event] if held else []) + quiet)
    incident = incident.with_id(incident_id)
    if not created:
        return _existing_report(rt, command, store, incident_id)
    send_pending(rt, store, clock, incident, store.deliveries(incident_id, 0), wait=wait)
    report = Report(command, "drill" if incident.drill else "send",
                    incident_summary(rt, incident, status=IncidentStatus.OPEN))
    report.deliveries = lines_from_store(store.deliveries(incident_id))
    report.notes += [held.event[2]] if held else worker_notes(store, clock, klass)
    return report


def worker_notes(store: Store, clock: Clock, klass: IncidentClass) -> list[str]:
    """Say so when later steps or reminders are due but no worker has been seen lately."""
    if len(klass.steps) == 1 and not klass.escalation and not klass.update_every:
        return []
    seen = store.last_heartbeat()
    if seen and clock.now() - seen < WORKER_RECENT:
        return []
    when = f"last seen {seen.isoformat()}" if seen else "none has run"
    return [f"follow-up steps, escalation and reminders need a running `notify worker` ({when})"]


def _existing_report(rt: Runtime, command: str, store: Store, incident_id: str) -> Report:
    row = store.incident(incident_id)
    klass = rt.klass(row.klass)
    summary = {"id": row.id, "class": row.klass, "title": klass.title, "priority": klass.priority,
               "status": row.status, "drill": row.drill, "started": row.started.isoformat(), "fields": row.fields,
               "existing": True}
    report = Report(command, "send", summary, lines_from_store(store.deliveries(incident_id)))
    report.notes.append(f"{incident_id} already exists (status {row.status}, opened {row.created.isoformat()}): "
                        "nobody was paged again")
    if any(d.outcome.is_failure for d in report.deliveries):
        report.notes.append(f"some deliveries failed: `notify retry {incident_id}` sends them again")
    return report


def lines_from_store(rows: list[DeliveryRow]) -> list[DeliveryLine]:
    """Report lines for stored deliveries; a fallback names the delivery it stands in for."""
    refs = {r.id: f"{r.person}/{r.channel}" for r in rows}
    return [DeliveryLine(step=r.step, recipient=r.person, display=r.display, role=r.role, channel=r.channel,
                         target=r.masked_target, outcome=r.status.reported,
                         confirmed=r.status.is_confirmed, attempts=r.attempts,
                         reason=r.skip or r.reason, detail=r.detail, fallback_of=refs.get(r.fallback_of),
                         delivered_to=r.delivered_to, warning=r.warning, kind=r.kind,
                         possible_duplicate=r.possible_duplicate)
            for r in rows]
