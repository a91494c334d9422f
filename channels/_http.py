"""Shared HTTP plumbing for channels: a small stdlib transport, timeouts, and one classification table.

Every HTTP channel makes exactly one attempt per ``send`` and turns whatever
happened into a :class:`DeliveryResult`; the core owns retries, so nothing here
retries, sleeps or follows redirects.

Classification (``failure`` / ``exception_result``)::

    2xx                      -> the channel reads the body (it may still hold a provider error)
    3xx                      -> permanent BAD_REQUEST (a POST is never replayed elsewhere)
    400, 405..., other 4xx   -> permanent BAD_REQUEST
    401, 403                 -> permanent AUTH
    404, 410                 -> permanent BAD_ADDRESS
    408                      -> transient TIMEOUT
    429                      -> transient RATE_LIMITED, retry_after from Retry-After
    5xx                      -> transient SERVER_ERROR (retry_after if the server sent one)
    connect/read timeout     -> transient TIMEOUT
    send deadline (NOTIFY_SEND_DEADLINE) passed:
      before the request was sent             -> transient TIMEOUT
      after, provider drops repeats (dedup)   -> transient TIMEOUT (retried)
      after, otherwise                        -> POSSIBLY_DELIVERED TIMEOUT (never retried; fallback)
    connection/proxy/TLS     -> transient CONNECTION (also a connection lost before the answer)
    answer cut short/garbled -> transient UNKNOWN
    malformed URL or header  -> permanent BAD_REQUEST

A provider's own error code (Slack's ``channel_not_found``, Twilio's 21211) may
refine a permanent status, never turn a 429/5xx into a permanent failure.

The wire itself is :mod:`channels._transport` (http.client and ssl, no requests).
"""

from __future__ import annotations

import base64
import os
import re
import time
from typing import Any, Iterable, Mapping
from urllib.parse import quote, unquote

from dispatcher.api import ChannelConfig, DeliveryResult, Reason, mask_secrets

from ._deadline import Deadline
from ._transport import (
    NO_JSON, CannotConnect, ConnectionLost, ConnectTimeout, InvalidRequest, ProxyError, ReadTimeout,
    Response, TLSError, Transport, TransportError, build_request, host_of,
)

__all__ = [
    "HttpClient",
    "Response",
    "TRANSIENT",
    "TransportError",
    "deadline_result",
    "exception_result",
    "failure",
    "host_of",
    "is_success",
    "not_configured",
    "parse_retry_after",
    "response_json",
    "split_query",
]

TRANSIENT = frozenset({Reason.RATE_LIMITED, Reason.SERVER_ERROR, Reason.TIMEOUT, Reason.CONNECTION})
_SNIPPET = 200  # characters of a provider's answer kept in `detail`
_SCAN = 4000  # mask this much before cutting, so a secret is never half-cut past the mask


class HttpClient:
    """One channel instance's HTTP: a :class:`Transport` with its timeouts, CA bundle and proxy."""

    def __init__(self, config: ChannelConfig) -> None:
        self._transport = Transport(connect_timeout=config.connect_timeout, read_timeout=config.read_timeout,
                                    ca_bundle=config.ca_bundle, proxy=config.proxy, environ=os.environ,
                                    sandbox_proxy=config.sandbox_proxy)
        self._deadline = config.send_deadline

    def post(self, url: str, *, secrets: Iterable[str] = (), auth: tuple[str, str] | None = None,
             headers: Mapping[str, str] | None = None, data: Any = None,
             json: Any = NO_JSON, deduplicated: bool = False) -> Response | DeliveryResult:
        """POST once within the send deadline; answer the response, or a classified result when none came.

        ``deduplicated``: the provider drops a repeat of this request (PagerDuty's dedup key, a
        receiver's Idempotency-Key), so a deadline after sending may be retried rather than left unknown.
        """
        try:
            request = build_request(url, auth, headers, data, json)
        except TransportError as exc:
            return exception_result(exc, host_of(url), all_secrets(secrets, auth))
        with Deadline(self._deadline) as deadline:
            try:
                response: Response | TransportError = self._transport.exchange(request, deadline)
            except TransportError as exc:
                response = exc
            expired = deadline.finish()  # an answer that beat the deadline by a hair stands
        if expired:
            return deadline_result(deadline, host_of(url), deduplicated=deduplicated)
        if isinstance(response, TransportError):
            return exception_result(response, host_of(url), all_secrets(secrets, auth))
        return response

    def close(self) -> None:
        """Drop pooled connections; a later send opens new ones."""
        self._transport.close()


# --- classification -----------------------------------------------------------------------

def all_secrets(secrets: Iterable[str], auth: tuple[str, str] | None = None) -> tuple[str, ...]:
    """Expand secrets with the encodings a provider might echo back (URL-quoted, Basic auth)."""
    out = [s for s in secrets if s]
    if auth:
        out.append(auth[1])
        out.append(base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    out += [quote(s, safe="") for s in out if quote(s, safe="") != s]
    # Longest first, so a secret that contains another is masked whole.
    return tuple(sorted(set(out), key=len, reverse=True))


def split_query(query: str) -> list[tuple[str, str]]:
    """Split an apprise query string without turning '+' into a space ('+Header=', '+1555')."""
    pairs = (item.partition("=") for item in query.split("&") if item)
    return [(unquote(key), unquote(value)) for key, _, value in pairs]


def is_success(response: Response) -> bool:
    """True for a 2xx answer."""
    return 200 <= response.status_code < 300


def response_json(response: Response) -> Any:
    """The decoded JSON body, or None when the body is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def status_reason(status: int) -> Reason:
    """Map an HTTP status to a reason, following the table in the module docstring."""
    if 200 <= status < 300:
        return Reason.OK
    if status == 429:
        return Reason.RATE_LIMITED
    if status >= 500:
        return Reason.SERVER_ERROR
    if status == 408:
        return Reason.TIMEOUT
    if status in (401, 403):
        return Reason.AUTH
    if status in (404, 410):
        return Reason.BAD_ADDRESS
    return Reason.BAD_REQUEST


def failure(response: Response, secrets: Iterable[str] = (), *,
            provider_reason: Reason | None = None, auth: tuple[str, str] | None = None,
            now: float | None = None) -> DeliveryResult:
    """Classify an answer that did not deliver; a provider code refines only permanent statuses."""
    reason = status_reason(response.status_code)
    if provider_reason is not None and reason not in TRANSIENT:
        reason = provider_reason
    detail = response_detail(response, all_secrets(secrets, auth))
    kw: dict[str, Any] = {"status": response.status_code}
    if reason in TRANSIENT:
        kw["retry_after"] = parse_retry_after(response.headers.get("Retry-After"), now)
        return DeliveryResult.transient(reason, detail, **kw)
    if reason is Reason.OK:  # a 2xx the channel could not read: say so rather than guess
        reason = Reason.UNKNOWN
    return DeliveryResult.permanent(reason, detail, **kw)


def response_detail(response: Response, secrets: tuple[str, ...]) -> str:
    """'HTTP 500 from host: <start of body>', masked before it is cut."""
    body = " ".join(response.text[:_SCAN].split())
    body = mask_secrets(body, secrets)[:_SNIPPET]
    head = f"HTTP {response.status_code} from {host_of(response.url or '')}"
    return f"{head}: {body}" if body else head


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    import email.utils  # an HTTP-date is rare; email.utils costs every channel 10 ms to import

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:  # RFC 9110 dates are GMT; a naive one is garbage
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def exception_result(exc: TransportError, host: str, secrets: tuple[str, ...] = ()) -> DeliveryResult:
    """Classify a transport failure: no answer arrived (the last rows of the table above)."""
    cause = f": {mask_secrets(exc.cause, secrets)}" if exc.cause else ""
    if isinstance(exc, ConnectTimeout):
        return DeliveryResult.transient(Reason.TIMEOUT, f"connect timeout to {host}")
    if isinstance(exc, ReadTimeout):
        return DeliveryResult.transient(Reason.TIMEOUT, f"read timeout from {host}")
    if isinstance(exc, ProxyError):
        return DeliveryResult.transient(Reason.CONNECTION, f"proxy error reaching {host}{cause}")
    if isinstance(exc, TLSError):
        return DeliveryResult.transient(Reason.CONNECTION, f"TLS error with {host}{cause}")
    if isinstance(exc, CannotConnect):
        return DeliveryResult.transient(Reason.CONNECTION, f"cannot connect to {host}{cause}")
    if isinstance(exc, ConnectionLost):
        return DeliveryResult.transient(Reason.CONNECTION, f"connection to {host} lost before an answer{cause}")
    if isinstance(exc, InvalidRequest):
        return DeliveryResult.permanent(Reason.BAD_REQUEST, f"request to {host} is malformed{cause}")
    return DeliveryResult.transient(Reason.UNKNOWN, f"broken answer from {host}{cause}")


def deadline_result(deadline: Deadline, host: str, *, deduplicated: bool) -> DeliveryResult:
    """Classify an attempt the send deadline ended: unknown once the request was sent, unless deduplicated."""
    limit = f"the send deadline ({deadline.seconds:g} s)"
    if not deadline.sent:
        return DeliveryResult.transient(Reason.TIMEOUT, f"{limit} passed before the request was sent to {host}")
    if deduplicated:
        return DeliveryResult.transient(Reason.TIMEOUT, f"{limit} passed waiting for {host} to answer; safe to "
                                                        "retry: the provider drops a repeat by its dedup key")
    return DeliveryResult.possibly_delivered(Reason.TIMEOUT, f"{limit} passed waiting for {host} to answer: it may "
                                             "have been delivered; not retried, so nobody gets it twice")


def not_configured(channel: str, why: str = "") -> DeliveryResult:
    """The answer of a channel that has no usable settings; no network call was made."""
    return DeliveryResult.permanent(Reason.NOT_CONFIGURED, why or f"{channel}: no url configured")
