"""Shared HTTP for channels: one POST per attempt through httpx, within the send deadline.

Every HTTP channel makes exactly one attempt per ``send`` and turns whatever
happened into a :class:`DeliveryResult`; the core owns retries, so nothing here
retries, sleeps or follows redirects. The client itself (TLS, proxies, pool) is
built by :mod:`channels._client`, one per channel instance, on its first send.

What an answer or an exception means is decided by :mod:`channels._outcomes`.
"""

from __future__ import annotations

import itertools
import json as jsonlib
import threading
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from dispatcher.api import ChannelConfig, DeliveryResult

from ._client import CaBundleError, Client, build_client, current
from ._deadline import Deadline
from ._outcomes import all_secrets, deadline_result, exception_result, host_of

if TYPE_CHECKING:
    import httpx

__all__ = ["HttpClient", "NO_JSON"]

NO_JSON = object()  # post(json=...) not given (None is a JSON value)
_MAX_BODY = 1 << 20  # provider answers are a few hundred bytes; a larger one is cut
# httpcore's pool scans every connection it holds on each request and each response (and counts them
# again per idle one), so a burst of n sends on one pool costs O(n^2): 200 webhooks at 200 ms took
# 550 ms instead of 275 ms. Threads take the clients of a channel in turn, so each pool stays small.
SHARDS = 16
_next_shard = itertools.count()


class _Attempt:
    """What one attempt got to: sent (in ``deadline.sent``) and answered, as httpcore's trace reports them."""

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline
        self.answered = False  # the status line and headers arrived
        self._tunnel = False  # the exchange under way is a proxy's CONNECT: nothing of ours has gone out

    def trace(self, event: str, info: dict) -> None:
        if event.endswith(".started") and "request" in info:  # only .started events name their request
            self._tunnel = info["request"].method == b"CONNECT"
        elif self._tunnel:
            return
        elif event == "http11.send_request_body.complete":
            self.deadline.mark_sent()
        elif event == "http11.receive_response_headers.complete":
            self.answered = True


class HttpClient:
    """One channel instance's HTTP: its httpx clients (SHARDS of them, each built on first use) and the deadline."""

    def __init__(self, config: ChannelConfig) -> None:
        self._config = config
        self._clients: list[Client | None] = [None] * SHARDS
        self._lock = threading.Lock()

    def post(self, url: str, *, secrets: Iterable[str] = (), auth: tuple[str, str] | None = None,
             headers: Mapping[str, str] | None = None, data: Any = None,
             json: Any = NO_JSON, deduplicated: bool = False, method: str = "POST") -> "httpx.Response | DeliveryResult":
        """POST (or `method`: Statuspage PATCHes an incident) once within the send deadline; answer the response,
        or a classified result when none came.

        ``deduplicated``: the provider drops a repeat of this request (PagerDuty's dedup key, a
        receiver's Idempotency-Key), so a deadline after sending may be retried rather than left unknown.
        """
        import httpx

        secrets = all_secrets(secrets, auth)
        host = host_of(url)
        attempt = _Attempt(Deadline(self._config.send_deadline))
        via_proxy = False
        try:
            client, proxy_for = self._http()
            content, fields = _body(data, json, headers)
            request = client.build_request(method, url, content=content, headers=fields,
                                           extensions={"trace": attempt.trace})
            if not 0 < (request.url.port or 80) < 65536:  # httpx leaves it to connect(), which says "refused"
                raise httpx.InvalidURL("Invalid port")
            via_proxy = proxy_for(request.url) is not None
        except (httpx.HTTPError, httpx.InvalidURL, CaBundleError, UnicodeError, ValueError, TypeError) as exc:
            return exception_result(exc, host, secrets)
        with attempt.deadline as deadline:
            current.deadline = deadline
            try:
                answer: httpx.Response | Exception = _exchange(client, request, auth)
            except (httpx.HTTPError, OSError) as exc:
                answer = exc
            finally:
                current.deadline = None
            expired = deadline.finish()  # from here the watchdog leaves the connection alone
        if expired:
            return deadline_result(deadline, host, deduplicated=deduplicated)
        if isinstance(answer, Exception):
            return exception_result(answer, host, secrets, sent=deadline.sent, answered=attempt.answered,
                                    via_proxy=via_proxy, deduplicated=deduplicated)
        return answer

    def close(self) -> None:
        """Drop pooled connections; a later send opens new ones."""
        with self._lock:
            clients, self._clients = self._clients, [None] * SHARDS
        for client in clients:
            if client is not None:
                client.http.close()

    def _http(self) -> Client:
        """The client of this thread's shard, built on first use."""
        shard = getattr(current, "shard", None)
        if shard is None:
            shard = current.shard = next(_next_shard) % SHARDS
        with self._lock:
            client = self._clients[shard]
            if client is None:
                client = self._clients[shard] = build_client(self._config)
            return client


def _exchange(client: "httpx.Client", request: "httpx.Request", auth: tuple[str, str] | None) -> "httpx.Response":
    """Send the request and read at most _MAX_BODY of the answer (a hostile provider cannot fill memory)."""
    import httpx

    response = client.send(request, auth=auth, stream=True)
    try:
        raw = bytearray()
        for chunk in response.iter_raw():
            raw += chunk
            if len(raw) > _MAX_BODY:
                break
    finally:
        response.close()
    return httpx.Response(response.status_code, headers=response.headers, content=bytes(raw[:_MAX_BODY]),
                          request=request)


def _body(data: Any, json: Any, headers: Mapping[str, str] | None) -> tuple[bytes, dict[str, str]]:
    """The encoded body and the headers: JSON, a form from a dict (Twilio) or bytes as given; the caller's
    headers win over ours whatever their case."""
    from urllib.parse import urlencode

    content_type: str | None = None
    if json is not NO_JSON:  # default=str keeps a stray datetime in fields from raising
        body, content_type = jsonlib.dumps(json, default=str).encode(), "application/json"
    elif isinstance(data, (str, bytes)):
        body = data.encode() if isinstance(data, str) else data
    elif data:
        body, content_type = urlencode(data, doseq=True).encode(), "application/x-www-form-urlencoded"
    else:
        body = b""
    fields = {"Content-Type": content_type} if content_type else {}
    for name, value in (headers or {}).items():
        fields = {k: v for k, v in fields.items() if k.lower() != name.lower()}
        fields[name] = value
    return body, fields
