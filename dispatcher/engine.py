"""Sequences one trigger: load the setup, build the incident, plan, render, store, send, report.

Each function here reads as a sentence over the modules that do the work;
nothing in this file talks to a network or parses a file itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from .api import Address, Notice
from .config import ConfigPaths, resolve_config
from .directory import Directory, load_directory
from .incident import Incident, build_incident, public_fields, render_context
from .plan import Planned, plan_step
from .policy import IncidentClass, Policy, load_policy
from .problems import ConfigError, error
from .report import DeliveryLine, Report
from .settings import Settings, load_settings

__all__ = ["Runtime", "compose_notice", "load_runtime", "new_incident", "preview"]

FAMILY_OF_TEMPLATE = {"customer": "email"}  # every other template name is its own family


@dataclass
class Runtime:
    """Everything one command needs, loaded once."""

    paths: ConfigPaths
    settings: Settings
    directory: Directory
    policy: Policy
    _renderer: Any = field(default=None, repr=False)

    @property
    def renderer(self) -> Any:
        if self._renderer is None:
            from .rendering import Renderer  # jinja2 only for commands that render

            self._renderer = Renderer(self.paths.template_dirs)
        return self._renderer

    def klass(self, name: str) -> IncidentClass:
        if name not in self.policy.classes:
            raise ConfigError([error(str(self.paths.policy), f"classes.{name}", "no such incident class")])
        return self.policy.classes[name]


def load_runtime(config_dir: Path | None = None, settings: Settings | None = None) -> Runtime:
    """Resolve the config directory and load directory and policy (ConfigError when unusable)."""
    settings = settings or load_settings()
    paths = resolve_config(config_dir, settings.config_dir, Path.cwd())
    directory = load_directory(paths.contacts)
    policy = load_policy(paths.policy, directory)
    return Runtime(paths, settings, directory, policy)


def new_incident(rt: Runtime, klass_name: str, values: Mapping[str, Any], *, now: datetime, drill: bool,
                 incident_id: str = "") -> Incident:
    return build_incident(klass_name, rt.klass(klass_name), rt.directory, values, now=now, drill=drill,
                          incident_id=incident_id)


def compose_notice(rt: Runtime, incident: Incident, planned: Planned, *,
                   max_length: int | None = None) -> tuple[Notice, str | None]:
    """Render one notice; on a template error fall back to a plain notice and return the warning."""
    from .rendering import TemplateError, fallback_notice

    klass = rt.klass(incident.klass)
    family = FAMILY_OF_TEMPLATE.get(planned.template, planned.template)
    recipient = {"display": planned.address.display, "role": planned.address.role}
    context = render_context(incident, klass, rt.policy.tiers[klass.tier].title, rt.directory, planned.step,
                             recipient)
    warning = None
    try:
        rendered = rt.renderer.render(incident.klass, planned.template, context, family=family,
                                      drill=incident.drill, max_length=max_length)
    except TemplateError as exc:
        warning = f"template failed, plain fallback sent: {exc.problem.file}: {exc.problem.message}"
        rendered = fallback_notice(incident_id=incident.id, incident_class=incident.klass,
                                   summary=incident.fields.get("summary"), family=family, drill=incident.drill)
    notice = Notice(incident.id, incident.klass, planned.step, rendered.subject, rendered.text, rendered.html,
                    drill=incident.drill, severity=klass.severity, dedup_key=incident.dedup_key or incident.id,
                    fields=public_fields(incident), fallback=warning is not None)
    return notice, warning


def incident_summary(rt: Runtime, incident: Incident, *, status: str, existing: bool = False) -> dict[str, Any]:
    klass = rt.klass(incident.klass)
    return {"id": incident.id, "class": incident.klass, "title": klass.title, "priority": klass.priority,
            "status": status, "drill": incident.drill, "started": incident.started.isoformat(),
            "fields": public_fields(incident), "existing": existing}


def line_for(planned: Planned, outcome: str, **extra: Any) -> DeliveryLine:
    a: Address = planned.address
    return DeliveryLine(step=planned.step, recipient=a.person, display=a.display, role=a.role, channel=a.channel,
                        target=a.masked if a.target else "", outcome=outcome, **extra)


def preview(rt: Runtime, command: str, incident: Incident) -> Report:
    """Render every step-0 message and say who would get it; send and write nothing."""
    report = Report(command, "dry-run", incident_summary(rt, incident, status="dry-run"))
    for planned in plan_step(incident, rt.klass(incident.klass), 0, rt.directory):
        if planned.skip:
            report.deliveries.append(line_for(planned, "skipped", reason=planned.skip))
            continue
        notice, warning = compose_notice(rt, incident, planned)
        fallbacks = ", ".join(f"{f.channel} {f.masked}" for f in planned.fallbacks)
        report.deliveries.append(line_for(
            planned, "dry-run", warning=warning, detail=f"fallback: {fallbacks}" if fallbacks else None,
            message={"subject": notice.subject, "text": notice.text}))
    return report
