"""What a status page is told, shared by Statuspage and the generic status-page webhook.

A notice of kind ``initial`` opens the status page's incident, an ``update`` posts to it, ``resolved``
closes it; the affected services (``Notice.fields["affected_services"]``) are mapped to the page's
component ids by ``NOTIFY_STATUSPAGE_COMPONENTS`` (``service=component_id`` pairs, comma-separated).
"""

from __future__ import annotations

from dataclasses import dataclass

from dispatcher.api import Notice

__all__ = ["Components", "incident_status", "parse_components"]

INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved")


def incident_status(notice: Notice, update_status: str = "identified") -> str:
    """The status page incident's status for this notice: opened as investigating, `update_status` while it is
    updated, resolved at the end."""
    if notice.kind == "resolved":
        return "resolved"
    return update_status if notice.kind == "update" else "investigating"


@dataclass(frozen=True)
class Components:
    """The affected services of a notice as the page's component ids, and those no component stands for."""

    ids: tuple[str, ...]
    unmapped: tuple[str, ...]

    def note(self) -> str:
        """What the delivery log says about the components ('' when every service has one)."""
        if not self.unmapped:
            return ""
        return (f"no status page component for {', '.join(self.unmapped)} "
                "(NOTIFY_STATUSPAGE_COMPONENTS maps service=component_id)")


def parse_components(value: str | None) -> tuple[dict[str, str], list[str]]:
    """`api=8kbf7d35c070, web = vtnh60py4yd7` -> ({service: component id}, problems naming each bad pair)."""
    mapping: dict[str, str] = {}
    problems = []
    for pair in filter(None, (p.strip() for p in (value or "").split(","))):
        service, sep, component = (x.strip() for x in pair.partition("="))
        if not sep or not service or not component or not component.isalnum():
            problems.append(f"NOTIFY_STATUSPAGE_COMPONENTS: {pair!r} is not service=component_id "
                            "(a component id is letters and digits, e.g. api=8kbf7d35c070)")
            continue
        mapping[service.casefold()] = component
    return mapping, problems


def affected(notice: Notice, mapping: dict[str, str]) -> Components:
    """The notice's affected services as component ids, in the order given, each once."""
    services = notice.fields.get("affected_services") or ()
    if isinstance(services, str):
        services = [s.strip() for s in services.split(",")]
    ids, unmapped = [], []
    for service in (str(s).strip() for s in services if str(s).strip()):
        component = mapping.get(service.casefold())
        if component is None:
            unmapped.append(service)
        elif component not in ids:
            ids.append(component)
    return Components(tuple(ids), tuple(unmapped))
