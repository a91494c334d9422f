"""What one HTTP attempt's answer, or exception, means: a :class:`DeliveryResult` with its outcome and reason.

Classification (``failure`` / ``exception_result``)::

    2xx                      -> the channel reads the body (it may still hold a provider error)
    3xx                      -> permanent BAD_REQUEST (a POST is never replayed elsewhere)
    400, 405..., other 4xx   -> permanent BAD_REQUEST
    401, 403                 -> permanent AUTH
    404, 410                 -> permanent BAD_ADDRESS
    408                      -> transient TIMEOUT
    429                      -> transient RATE_LIMITED, retry_after from Retry-After
    5xx                      -> transient SERVER_ERROR (retry_after if the server sent one)
    connect or write timeout -> transient TIMEOUT (httpx.ConnectTimeout, WriteTimeout: the request never got out)
    read timeout (httpx.ReadTimeout), the send deadline (NOTIFY_SEND_DEADLINE) passed, or the connection
    lost (httpx.ReadError, RemoteProtocolError...) without an answer:
      before the request was sent             -> transient (TIMEOUT / CONNECTION)
      after, provider drops repeats (dedup)   -> transient (retried)
      after, otherwise                        -> POSSIBLY_DELIVERED (never retried; fallback)
    certificate not trusted  -> permanent CONNECTION, naming the certificate problem (so is an unreadable CA bundle)
    refused, proxy, other TLS-> transient CONNECTION (httpx.ConnectError, ProxyError)
    answer cut short/garbled -> transient UNKNOWN
    malformed URL or header  -> permanent BAD_REQUEST (httpx.InvalidURL, UnsupportedProtocol, LocalProtocolError)

A provider's own error code (Slack's ``channel_not_found``, Twilio's 21211) may
refine a permanent status, never turn a 429/5xx into a permanent failure.
Details name the host, never the URL: a Slack webhook's path is its credential,
and httpx puts URLs in its messages, so every cause is masked before it is kept.
"""

from __future__ import annotations

import base64
import re
import time
from typing import TYPE_CHECKING, Any, Iterable
from urllib.parse import quote, unquote, urlsplit

from dispatcher.api import DeliveryResult, Reason, mask_secrets

from ._client import CaBundleError, redact_urls
from ._deadline import Deadline

if TYPE_CHECKING:
    import httpx

__all__ = ["TRANSIENT", "all_secrets", "deadline_result", "exception_result", "failure", "host_of", "is_success",
           "not_configured", "parse_retry_after", "response_json", "split_query", "status_reason"]

TRANSIENT = frozenset({Reason.RATE_LIMITED, Reason.SERVER_ERROR, Reason.TIMEOUT, Reason.CONNECTION})
_SNIPPET = 200  # characters of a provider's answer kept in `detail`
_SCAN = 4000  # mask this much before cutting, so a secret is never half-cut past the mask


def host_of(url: str) -> str:
    """The host (and non-default port) of a URL, safe to show: never userinfo or path."""
    try:
        parts = urlsplit(str(url))
    except ValueError:  # a broken IPv6 literal
        return "?"
    host = parts.hostname or "?"
    try:
        port = parts.port
    except ValueError:  # out of range or not a number
        port = None
    return f"{host}:{port}" if port else host


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


def is_success(response: "httpx.Response") -> bool:
    """True for a 2xx answer."""
    return 200 <= response.status_code < 300


def response_json(response: "httpx.Response") -> Any:
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


def failure(response: "httpx.Response", secrets: Iterable[str] = (), *,
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


def response_detail(response: "httpx.Response", secrets: tuple[str, ...]) -> str:
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


def exception_result(exc: BaseException, host: str, secrets: tuple[str, ...] = (), *, sent: bool = False,
                     answered: bool = False, via_proxy: bool = False, deduplicated: bool = False) -> DeliveryResult:
    """Classify an attempt that got no complete answer (the last rows of the table above)."""
    import httpx

    why = _why(exc, secrets)
    cause = f": {why}" if why else ""
    if isinstance(exc, CaBundleError):
        return DeliveryResult.permanent(Reason.CONNECTION, f"TLS with {host}: {exc}")
    if isinstance(exc, httpx.ConnectTimeout):
        return DeliveryResult.transient(Reason.TIMEOUT, f"connect timeout to {host}")
    if isinstance(exc, httpx.PoolTimeout):
        return DeliveryResult.transient(Reason.TIMEOUT, f"no free connection to {host} within the connect timeout")
    if isinstance(exc, httpx.ReadTimeout) and sent:  # the provider has the request and said nothing
        return _silent(host, deduplicated=deduplicated)
    if isinstance(exc, httpx.TimeoutException):  # the request did not get out whole: nothing can have happened
        return DeliveryResult.transient(Reason.TIMEOUT, f"timeout sending to {host}")
    if isinstance(exc, httpx.ProxyError):
        return DeliveryResult.transient(Reason.CONNECTION, f"proxy error reaching {host}: CONNECT answered {why}")
    if isinstance(exc, httpx.ConnectError):
        return _connect_failure(exc, host, cause, via_proxy)
    if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError, UnicodeError,
                        ValueError, TypeError)):
        return DeliveryResult.permanent(Reason.BAD_REQUEST, f"request to {host} is malformed{cause}")
    if isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError, OSError)) and not answered:
        return _lost(host, cause, sent=sent, deduplicated=deduplicated)
    return DeliveryResult.transient(Reason.UNKNOWN, f"broken answer from {host}{cause}")


def _connect_failure(exc: BaseException, host: str, cause: str, via_proxy: bool) -> DeliveryResult:
    """No connection: refused or unreachable (transient), or a certificate we cannot trust (permanent)."""
    import ssl

    root = _root(exc)
    if isinstance(root, ssl.SSLCertVerificationError):  # stays wrong until someone fixes it: do not retry
        return DeliveryResult.permanent(Reason.CONNECTION, f"TLS certificate of {host} not trusted{cause}")
    if isinstance(root, ssl.SSLError):
        return DeliveryResult.transient(Reason.CONNECTION, f"TLS error with {host}{cause}")
    if via_proxy:
        return DeliveryResult.transient(Reason.CONNECTION, f"proxy error reaching {host}{cause}")
    return DeliveryResult.transient(Reason.CONNECTION, f"cannot connect to {host}{cause}")


def _lost(host: str, cause: str, *, sent: bool, deduplicated: bool) -> DeliveryResult:
    """The connection broke with no answer: unknown once the request was sent, unless deduplicated."""
    if not sent:
        return DeliveryResult.transient(Reason.CONNECTION, f"connection to {host} lost before the request was "
                                                           f"sent{cause}")
    return _unanswered(Reason.CONNECTION, f"connection to {host} lost before an answer{cause}",
                       deduplicated=deduplicated)


def _silent(host: str, *, deduplicated: bool) -> DeliveryResult:
    """The read timeout passed after the request was sent: unknown, as when the send deadline ends it."""
    return _unanswered(Reason.TIMEOUT, f"read timeout: {host} had the request and did not answer",
                       deduplicated=deduplicated)


def _unanswered(reason: Reason, what: str, *, deduplicated: bool) -> DeliveryResult:
    """``what`` happened after the request went out: the provider may have acted on it. Retried only where
    it drops a repeat; otherwise possibly delivered, and never sent again."""
    if deduplicated:
        return DeliveryResult.transient(reason, f"{what}; safe to retry: the provider drops a repeat by its dedup key")
    return DeliveryResult.possibly_delivered(reason, f"{what}: it may have been delivered; not retried, so nobody "
                                                     "gets it twice")


def _root(exc: BaseException) -> BaseException:
    """The innermost cause (httpx wraps httpcore, which wraps the OSError or ssl error)."""
    while (inner := exc.__cause__ or exc.__context__) is not None:
        exc = inner
    return exc


def _why(exc: BaseException, secrets: tuple[str, ...]) -> str:
    """A short reason: 'unable to get local issuer certificate', '[Errno 111] Connection refused'; no URL."""
    root = _root(exc)
    verify = getattr(root, "verify_message", None) or getattr(root, "reason", None)
    if isinstance(verify, str) and verify:
        return verify
    if isinstance(root, OSError) and root.errno is not None and root.strerror:
        return f"[Errno {root.errno}] {root.strerror}"
    text = str(root) or type(root).__name__
    return mask_secrets(redact_urls(text), secrets)[:_SNIPPET]


def deadline_result(deadline: Deadline, host: str, *, deduplicated: bool) -> DeliveryResult:
    """Classify an attempt the send deadline ended: unknown once the request was sent, unless deduplicated."""
    limit = f"the send deadline ({deadline.seconds:g} s)"
    if not deadline.sent:
        return DeliveryResult.transient(Reason.TIMEOUT, f"{limit} passed before the request was sent to {host}")
    return _unanswered(Reason.TIMEOUT, f"{limit} passed waiting for {host} to answer", deduplicated=deduplicated)


def not_configured(channel: str, why: str = "") -> DeliveryResult:
    """The answer of a channel that has no usable settings; no network call was made."""
    return DeliveryResult.permanent(Reason.NOT_CONFIGURED, why or f"{channel}: no url configured")
