"""Generic JSON webhook: one POST per (notice, recipient) to a receiver you run.

Accepted URLs, in ``config.url`` or as values of ``config.routes`` (a route is
chosen when its key equals ``Address.target``; otherwise ``config.url``)::

    json://host[:port]/path        -> http://host[:port]/path   (apprise syntax)
    jsons://host[:port]/path       -> https://host[:port]/path
    http(s)://host[:port]/path?q   -> as written
    user:pass@host                 -> HTTP Basic auth, never sent in the URL
    json(s)://...?+X-Header=value  -> extra request header (apprise '+')
    json(s)://...?-param=value     -> query parameter on the POST (apprise '-')

The body (``schema`` 1; new keys may be added, existing ones keep their meaning)::

    {
      "schema": 1,
      "incident": {"id": "INC-1", "class": "security", "step": 0, "drill": false},
      "subject": "...",
      "text": "...",
      "fields": {...},                       # Notice.fields, plain incident data
      "recipient": {"person": "alice", "role": "rotation:primary",
                    "channel": "webhook", "target": "<masked>"}
    }

Headers: ``Content-Type: application/json`` and ``Idempotency-Key:
<incident>:<step>:<person>:<channel>``, identical on every retry so a receiver
can drop duplicates; so an attempt the send deadline ends after sending is retried, not left
"possibly delivered". Any 2xx is delivered; the rest follows ``channels._http``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from channels._http import HttpClient
from channels._outcomes import failure, is_success, not_configured, split_query
from dispatcher.api import (
    Address,
    Capabilities,
    ChannelConfig,
    DeliveryResult,
    Notice,
    TargetKind,
)

_SCHEMES = {"json": "http", "jsons": "https", "http": "http", "https": "https"}


@dataclass(frozen=True)
class WebhookTarget:
    """A parsed receiver: URL without credentials, auth and headers; repr shows none of them."""

    url: str = field(repr=False)
    auth: tuple[str, str] | None = field(default=None, repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)


def parse_webhook_url(url: str) -> WebhookTarget:
    """Parse json://, jsons:// or http(s):// into a target; errors never contain credentials."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES or not parts.hostname:
        raise ValueError("url must be json://host/path, jsons://host/path or http(s)://host/path")
    auth = (unquote(parts.username or ""), unquote(parts.password or "")) if parts.username else None
    headers: dict[str, str] = {}
    query = parts.query
    if scheme in ("json", "jsons"):
        params: list[tuple[str, str]] = []
        for key, value in split_query(parts.query):
            if key.startswith("+"):
                headers[key[1:]] = value
            elif key.startswith("-"):
                params.append((key[1:], value))
            elif key.startswith(":"):
                raise ValueError("payload overrides (?:key=) are not supported: the body is schema 1")
            elif key.lower() == "method" and value.upper() != "POST":
                raise ValueError("only method=POST is supported")
        query = urlencode(params)
    netloc = parts.netloc.rpartition("@")[2]
    target = urlunsplit((_SCHEMES[scheme], netloc, parts.path or "/", query, ""))
    secrets = [auth[1]] if auth else []
    secrets += list(headers.values()) + [v for _, v in split_query(query)]
    return WebhookTarget(target, auth, headers, tuple(secrets))


def webhook_body(notice: Notice, address: Address) -> dict:
    """The schema-1 JSON body documented in the module docstring."""
    return {
        "schema": 1,
        "incident": {"id": notice.incident_id, "class": notice.incident_class,
                     "step": notice.step, "drill": notice.drill},
        "subject": notice.subject,
        "text": notice.text,
        "fields": dict(notice.fields),
        "recipient": {"person": address.person, "role": address.role,
                      "channel": address.channel, "target": address.masked},
    }


def idempotency_key(notice: Notice, address: Address) -> str:
    """The same key for every attempt at one (incident, step, person, channel)."""
    return f"{notice.incident_id}:{notice.step}:{address.person}:{address.channel}"


class WebhookChannel:
    """JSON POSTs to a receiver of your own."""

    name: ClassVar[str] = "webhook"
    capabilities: ClassVar[Capabilities] = Capabilities(target=TargetKind.URL, template="email", quietness=30)

    def __init__(self, config: ChannelConfig) -> None:
        self._problems: list[str] = []
        self._default = self._parse("url", config.url) if config.url else None
        self._routes = {name: self._parse(f"route {name!r}", url) for name, url in config.routes.items()}
        self._client = HttpClient(config)

    def _parse(self, what: str, url: str) -> WebhookTarget | None:
        try:
            return parse_webhook_url(url)
        except ValueError as exc:
            self._problems.append(f"webhook {what}: {exc}")
            return None

    def configured(self) -> bool:
        """True when a default URL or at least one route is set."""
        return self._default is not None or bool(self._routes) or bool(self._problems)

    def problems(self) -> list[str]:
        """Malformed URLs, without their credentials."""
        if not self.configured():
            return ["webhook: no url configured (json://host/path or https://...)"]
        return list(self._problems)

    def send(self, notice: Notice, address: Address) -> DeliveryResult:
        """POST the schema-1 body once; any 2xx is delivered."""
        target = self._routes.get(address.target, self._default)
        if target is None:
            return not_configured(self.name, "; ".join(self._problems))
        headers = {**target.headers, "Idempotency-Key": idempotency_key(notice, address)}
        response = self._client.post(target.url, json=webhook_body(notice, address), headers=headers,
                                     auth=target.auth, secrets=target.secrets, deduplicated=True)
        if isinstance(response, DeliveryResult):
            return response
        if is_success(response):
            return DeliveryResult.delivered(status=response.status_code)
        return failure(response, target.secrets, auth=target.auth)

    def close(self) -> None:
        """Release pooled connections."""
        self._client.close()
