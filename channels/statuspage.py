"""The status page: Atlassian Statuspage's REST API, or a status-page webhook of your own.

Statuspage (``NOTIFY_STATUSPAGE_URL=statuspage://API_KEY``; the page id is the address, a
contacts.toml destination ``[statuspage.ID] channel = "<page id>"``). Statuspage's documented API
(https://developer.statuspage.io, "Incidents"), authenticated with ``Authorization: OAuth <key>``:

- the first notice of an incident creates one: ``POST /v1/pages/{page_id}/incidents`` with
  ``{"incident": {"name", "status": "investigating", "body", "component_ids", "components"}}``, where
  ``components`` maps each affected component id to its status (``NOTIFY_STATUSPAGE_COMPONENT_STATUS``,
  major_outage by default). The answer's ``id`` is the delivery's provider id;
- each update PATCHes ``/v1/pages/{page_id}/incidents/{id}`` with ``{"incident": {"status", "body"}}``
  (``NOTIFY_STATUSPAGE_UPDATE_STATUS``, identified by default), the id being the one the creation was
  answered with (``Notice.earlier_id``: the channel declares ``follows_up``);
- the resolution PATCHes it with status ``resolved`` and the components back to ``operational``.

An update or resolution of an incident whose creation never got through creates one instead, with its
status, so the page is never left saying nothing. Answers: 2xx accepted; 401/403 AUTH; 404 BAD_ADDRESS
(no such page or incident); 420 (Statuspage's "enhance your calm") and 429 RATE_LIMITED, retried;
422 BAD_REQUEST; 5xx retried.

The generic variant, ``statushook`` (``NOTIFY_STATUSHOOK_URL``: json://, jsons:// or
http(s)://), POSTs the same facts as JSON to a receiver of your own (schema 1)::

    {"schema": 1, "event": "create|update|resolve", "incident": {"id", "class", "drill"},
     "earlier_id": "<the id your receiver answered the creation with, or null>",
     "status": "investigating|identified|monitoring|resolved", "name": "...", "body": "...",
     "components": {"<component id>": "<status>"}, "services": ["api", ...]}

with an ``Idempotency-Key`` header; a JSON answer's ``id`` is kept as the provider id.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from channels._http import HttpClient
from channels._outcomes import failure, is_success, not_configured, response_json
from channels._status import Components, affected, incident_status, parse_components
from channels.webhook import WebhookTarget, parse_webhook_url
from dispatcher.api import (
    Address,
    Capabilities,
    ChannelConfig,
    DeliveryResult,
    Notice,
    Reason,
    TargetKind,
)

__all__ = ["StatusWebhookChannel", "StatuspageChannel"]

API = "https://api.statuspage.io/v1"
_PAGE_ID = re.compile(r"^[A-Za-z0-9]{4,64}$")
_NAME_MAX = 255  # Statuspage's limit on an incident name
_BODY_MAX = 25000  # ... and on an update's body


class _StatusChannel:
    """What both variants share: the component map, the settings' problems, the HTTP client."""

    name: ClassVar[str]

    def __init__(self, config: ChannelConfig) -> None:
        self._components, self._problems = parse_components(config.settings.get("components"))
        self._component_status = config.settings.get("component_status") or "major_outage"
        self._update_status = config.settings.get("update_status") or "identified"
        self._client = HttpClient(config)

    def problems(self) -> list[str]:
        """Malformed settings, without their credentials."""
        if not self.configured():
            return [f"{self.name}: no url configured"]
        return list(self._problems)

    def configured(self) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        """Release pooled connections."""
        self._client.close()

    def _statuses(self, notice: Notice, components: Components) -> dict[str, str]:
        status = "operational" if notice.kind == "resolved" else self._component_status
        return dict.fromkeys(components.ids, status)


class StatuspageChannel(_StatusChannel):
    """Incidents on an Atlassian Statuspage page: created, updated, resolved."""

    name: ClassVar[str] = "statuspage"
    capabilities: ClassVar[Capabilities] = Capabilities(
        target=TargetKind.URL, template="email", destinations="statuspage", quietness=5, follows_up=True,
        status_page=True)

    @staticmethod
    def target_problem(target: str, group: bool = False) -> str | None:
        """A page id: letters and digits, as Statuspage shows it in the page's API settings."""
        return None if _PAGE_ID.match(target) else f"{target!r} is not a Statuspage page id (like kctbh9vrtdwd)"

    def __init__(self, config: ChannelConfig) -> None:
        super().__init__(config)
        self._key: str | None = None
        if config.url:
            parts = urlsplit(config.url.strip())
            key = unquote(parts.netloc.rpartition("@")[2] if parts.scheme == "statuspage" else "")
            if key:
                self._key = key
            else:
                self._problems.append("statuspage url must be statuspage://API_KEY")

    def configured(self) -> bool:
        return self._key is not None or bool(self._problems)

    def send(self, notice: Notice, address: Address) -> DeliveryResult:
        """Create the page's incident, or PATCH the one created before (update, resolve)."""
        if self._key is None:
            return not_configured(self.name, "; ".join(self._problems) or "statuspage: NOTIFY_STATUSPAGE_URL is not set")
        components = affected(notice, self._components)
        status = incident_status(notice, self._update_status)
        incident: dict[str, Any] = {"status": status, "body": notice.text[:_BODY_MAX]}
        if notice.earlier_id:
            url, method = f"{API}/pages/{address.target}/incidents/{notice.earlier_id}", "PATCH"
        else:
            url, method = f"{API}/pages/{address.target}/incidents", "POST"
            incident = {"name": notice.subject[:_NAME_MAX], **incident}
        if components.ids and (method == "POST" or notice.kind == "resolved"):
            incident["component_ids"] = list(components.ids)
            incident["components"] = self._statuses(notice, components)
        headers = {"Authorization": f"OAuth {self._key}"}
        response = self._client.post(url, json={"incident": incident}, headers=headers, secrets=(self._key,),
                                     method=method)
        if isinstance(response, DeliveryResult):
            return response
        if not is_success(response):
            limited = Reason.RATE_LIMITED if response.status_code == 420 else None
            result = failure(response, (self._key,))
            return DeliveryResult.transient(Reason.RATE_LIMITED, result.detail, status=420) if limited else result
        answer = response_json(response)
        found = answer.get("id") if isinstance(answer, dict) else None
        what = f"{'updated' if method == 'PATCH' else 'created'} status page incident {found or '(no id answered)'}"
        return DeliveryResult.delivered(status=response.status_code, provider_id=found or notice.earlier_id,
                                     delivered_to=f"statuspage page {address.target}",
                                     detail="; ".join(filter(None, (what, f"status {status}", components.note()))))


class StatusWebhookChannel(_StatusChannel):
    """The status page's facts as JSON to a receiver of your own."""

    name: ClassVar[str] = "statushook"
    capabilities: ClassVar[Capabilities] = Capabilities(
        target=TargetKind.URL, template="email", destinations="statushook", quietness=5, follows_up=True,
        status_page=True)

    def __init__(self, config: ChannelConfig) -> None:
        super().__init__(config)
        self._default = self._parse("url", config.url) if config.url else None
        self._routes = {name: self._parse(f"route {name!r}", url) for name, url in config.routes.items()}

    def _parse(self, what: str, url: str) -> WebhookTarget | None:
        try:
            return parse_webhook_url(url)
        except ValueError as exc:
            self._problems.append(f"statushook {what}: {exc}")
            return None

    def configured(self) -> bool:
        return self._default is not None or bool(self._routes) or bool(self._problems)

    def send(self, notice: Notice, address: Address) -> DeliveryResult:
        """POST the schema-1 body; any 2xx is accepted, its JSON `id` kept for the next notice."""
        target = self._routes.get(address.target, self._default)
        if target is None:
            return not_configured(self.name, "; ".join(self._problems) or "statushook: no url configured")
        components = affected(notice, self._components)
        event = "resolve" if notice.kind == "resolved" else "update" if notice.earlier_id else "create"
        body = {"schema": 1, "event": event,
                "incident": {"id": notice.incident_id, "class": notice.incident_class, "drill": notice.drill},
                "earlier_id": notice.earlier_id, "status": incident_status(notice, self._update_status),
                "name": notice.subject, "body": notice.text, "components": self._statuses(notice, components),
                "services": list(notice.fields.get("affected_services") or ())}
        key = notice.dedup_key or f"{notice.incident_id}/{notice.kind}/{address.person}"  # one per notice, every retry
        response = self._client.post(target.url, json=body, headers={**target.headers, "Idempotency-Key": key},
                                     auth=target.auth, secrets=target.secrets, deduplicated=True)
        if isinstance(response, DeliveryResult):
            return response
        if not is_success(response):
            return failure(response, target.secrets, auth=target.auth)
        answer = response_json(response)
        found = answer.get("id") if isinstance(answer, dict) and isinstance(answer.get("id"), (str, int)) else None
        return DeliveryResult.delivered(status=response.status_code, provider_id=str(found) if found else notice.earlier_id,
                                     detail="; ".join(filter(None, (f"{event}: status {body['status']}",
                                                                    components.note()))))
