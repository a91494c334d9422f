"""Dry runs: every step-0 message rendered and who would get it, and which channels would fail; nothing is sent.

`notify trigger --dry-run` and `notify serve`'s start-up warning ask here; nothing here writes to the store.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..config.paths import check_command
from ..config.settings import channel_variable
from ..delivery.registry import Registry
from ..domain.incident import Incident
from ..domain.plan import Planned, plan_step
from ..domain.quiet_hours import hold_quiet_pages
from ..domain.states import DeliveryState
from .engine import Runtime, compose_notice, incident_summary, line_for
from .links import footer_for
from .report import Report

__all__ = ["preview", "unusable_channels"]


def preview(rt: Runtime, command: str, incident: Incident) -> Report:
    """Render every step-0 message and say who would get it, and what would fail; send and write nothing."""
    report = Report(command, "dry-run", incident_summary(rt, incident, status="dry-run"))
    klass = rt.klass(incident.klass)
    step, _ = hold_quiet_pages(plan_step(incident, klass, 0, rt.directory), klass, rt.directory, incident.opened_at,
                               opened=incident.opened_at)
    sendable = [p for p in step if not p.skip]
    failing = unusable_channels(rt, (a.channel for p in sendable for a in (p.address, *p.fallbacks)))  # -> why
    for planned in step:
        if planned.skip:
            report.deliveries.append(line_for(planned, DeliveryState.SKIPPED, reason=planned.skip))
            continue
        if planned.held:  # a real send would store it, waiting for a person to confirm the class, or quiet hours
            report.deliveries.append(line_for(planned, DeliveryState.HELD, reason=planned.held))
            continue
        notice, warning = compose_notice(rt, incident, planned, footer=lambda family, p=planned: footer_for(
            rt.settings.public_url, rt.directory.people, incident_id=incident.id, person=p.address.person,
            kind="step", family=family, issue=None))  # a link as long as a real one; none is stored
        if why := failing.get(planned.address.channel):
            warning = (f"{warning}; " if warning else "") + f"{why}: a real send would fail"
            report.would_fail.append(_would_fail(planned, why, failing))
        fallbacks = ", ".join(f"{f.channel} {f.masked}" for f in planned.fallbacks)
        report.deliveries.append(line_for(
            planned, DeliveryState.DRY_RUN, warning=warning, detail=f"fallback: {fallbacks}" if fallbacks else None,
            message={"subject": notice.subject, "text": notice.text}))
    given = rt.paths.source == "--config-dir"
    if failing:
        unset = [variable for c in failing if (variable := channel_variable(c)) and not rt.settings.channel_url(c)]
        to_set = f"set {' and '.join(unset)}; " if unset else ""
        report.notes.append(f"{', '.join(failing)}: no usable settings, a real send would not reach those recipients "
                            f"({to_set}run `{check_command(rt.paths.config_dir if given else None)}`)")
    return report


def _would_fail(planned: Planned, why: str, failing: Mapping[str, str]) -> dict[str, Any]:
    """A dry run's entry for a delivery a real send would fail, with the fallback channel that would stand in."""
    rescue = next((f.channel for f in planned.fallbacks if f.channel not in failing), None)
    return {"recipient": planned.address.person, "channel": planned.address.channel, "reason": why,
            "fallback": rescue}


def unusable_channels(rt: Runtime, channels: Iterable[str]) -> dict[str, str]:
    """Of these channels, those whose every send would fail as configured, with why."""
    registry = Registry(rt.settings, rt.directory)
    try:
        return {c: why for c in sorted(set(channels)) if (why := _why_sends_would_fail(registry, c))}
    finally:
        registry.close()


def _why_sends_would_fail(registry: Registry, channel: str) -> str | None:
    """Why every send on `channel` would fail as configured (not installed, no settings, a malformed URL)."""
    if channel == "apprise":  # people may carry their own apprise URLs; importing apprise to ask costs 60 ms
        return None
    plugin = registry.get(channel)
    if plugin is None:
        return f"channel {channel!r} is not installed"
    if not plugin.configured():
        variable = channel_variable(channel)
        return f"channel {channel!r} has no settings" + (f" (set {variable})" if variable else "")
    problems = plugin.problems()
    return f"channel {channel!r} settings are wrong ({'; '.join(problems)})" if problems else None
