"""The incident commands through `notify serve`'s HTTP API, for a shell far from the store (NOTIFY_SERVER_URL).

`notify ack`, `escalate-now`, `update`, `resolve`, `reclassify`, `status` and `incidents` call :class:`Remote`
instead of opening the store when NOTIFY_SERVER_URL is set; the server answers
with the same documents the local commands build, so they print the same. The
token (NOTIFY_API_TOKEN: a personal token from `notify token create`, or the
operator token) goes in the Authorization header only: never in a URL, a
message or a log line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import fields
from typing import Any, Self
from urllib.parse import quote

from ..errors import IncidentNotFound, InputError, RemoteError
from ..domain.states import DeliveryState
from .report import DeliveryLine, Report

__all__ = ["Remote", "notices_report", "recorded", "remote_from"]

POLL = 0.25  # seconds between reads of the server while its worker sends a command's notices


class Remote:
    """One `notify serve`, its token, and the settings' timeouts and CA bundle."""

    def __init__(self, url: str, token: str | None, *, connect_timeout: float = 5.0, read_timeout: float = 10.0,
                 ca_bundle: str | None = None, transport: Any = None) -> None:
        import ssl

        import httpx  # only the remote commands need it

        headers = {"accept": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, follow_redirects=False, transport=transport,
                                  timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
                                  verify=ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def ack(self, incident_id: str, by: str | None) -> dict[str, Any]:
        return self._call("POST", f"/incidents/{_id(incident_id)}/ack", incident_id, _body(by=by))

    def resolve(self, incident_id: str, message: str | None, by: str | None) -> dict[str, Any]:
        return self._call("POST", f"/incidents/{_id(incident_id)}/resolve", incident_id,
                          _body(message=message, by=by))

    def update(self, incident_id: str, message: str, by: str | None) -> dict[str, Any]:
        return self._call("POST", f"/incidents/{_id(incident_id)}/update", incident_id,
                          _body(message=message, by=by))

    def escalate(self, incident_id: str, by: str | None) -> dict[str, Any]:
        return self._call("POST", f"/incidents/{_id(incident_id)}/escalate", incident_id, _body(by=by))

    def reclassify(self, incident_id: str, klass: str, by: str | None) -> dict[str, Any]:
        return self._call("POST", f"/incidents/{_id(incident_id)}/reclassify", incident_id,
                          {"class": klass, **_body(by=by)})

    def status(self, incident_id: str) -> dict[str, Any]:
        return self._call("GET", f"/incidents/{_id(incident_id)}", incident_id)

    def incidents(self, *, open_only: bool) -> list[dict[str, Any]]:
        items = self._call("GET", "/incidents", None)["incidents"]
        return [i for i in items if i["status"] != "resolved"] if open_only else items

    def _call(self, method: str, path: str, incident_id: str | None, body: dict[str, Any] | None = None
              ) -> dict[str, Any]:
        import httpx

        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:  # the message names the URL and the cause, never the header
            raise RemoteError(f"notify serve at {self.url} could not be reached: {type(exc).__name__}: {exc}") \
                from None
        if response.status_code == 404 and incident_id is not None and "no such incident" in response.text:
            raise IncidentNotFound(incident_id)
        if response.is_success:
            return response.json()
        if response.status_code == 422 and body is not None and "by" not in body and _field_of(response) == "by":
            # The token is the operator's, which acts for no person: the server needs a name, the CLI says how.
            raise InputError("--by", f"{_error_of(response)} by notify serve at {self.url}: pass --by NAME or set "
                                     "NOTIFY_USER (the token in NOTIFY_API_TOKEN is the operator's, nobody's own)")
        raise RemoteError(f"notify serve at {self.url} answered {response.status_code} to {method} {path}: "
                          f"{_error_of(response)}", response.status_code)


def notices_report(server: Remote, command: str, incident_id: str, kind: str, wait: float, *,
                   sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic
                   ) -> Report:
    """The server's `kind` notices of an incident as the local command reports them, once none is pending
    or after `wait` seconds (the server's worker sends them; what is still pending then is left to it)."""
    deadline = monotonic() + wait
    while True:
        doc = server.status(incident_id)
        lines = [_line(d) for d in doc["deliveries"] if d["kind"] == kind]
        if not any(line.outcome is DeliveryState.PENDING for line in lines) or monotonic() >= deadline:
            return Report(command, "send", doc["incident"], lines)
        sleep(min(POLL, max(deadline - monotonic(), 0.0)))


def recorded(doc: dict[str, Any], event: str) -> str | None:
    """Who the timeline says did `event` (the latest one), from an incident's status document."""
    return next((e["by"] for e in reversed(doc.get("timeline", [])) if e["kind"] == event), None)


def remote_from(settings: Any) -> Remote | None:
    """The server the incident commands go through, or None: NOTIFY_SERVER_URL unset, they use the local store."""
    if not settings.server_url:
        return None
    token = settings.api_token.get_secret_value().split(",")[0].strip() if settings.api_token else None
    return Remote(settings.server_url, token, connect_timeout=settings.connect_timeout,
                  read_timeout=settings.read_timeout, ca_bundle=str(settings.ca_bundle) if settings.ca_bundle else None)


def _id(incident_id: str) -> str:
    return quote(incident_id, safe="")


def _body(**fields: str | None) -> dict[str, str]:
    return {name: value for name, value in fields.items() if value is not None}


def _field_of(response: Any) -> str | None:
    try:
        return response.json().get("field")
    except ValueError:
        return None


def _error_of(response: Any) -> str:
    try:
        return str(response.json().get("error") or response.text[:200])
    except ValueError:
        return response.text[:200] or response.reason_phrase


def _line(delivery: dict) -> DeliveryLine:
    """A status document's delivery as the local report's line: its own fields only (the document says more, such
    as why a queued one waits), so a server newer than this CLI is read as well."""
    known = {f.name for f in fields(DeliveryLine)}
    return DeliveryLine(**{**{k: v for k, v in delivery.items() if k in known},
                           "outcome": DeliveryState(delivery["outcome"])})
