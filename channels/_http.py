"""Shared HTTP plumbing for channels: one pooled session, timeouts, and one classification table.

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
    connection/proxy/TLS     -> transient CONNECTION

A provider's own error code (Slack's ``channel_not_found``, Twilio's 21211) may
refine a permanent status, never turn a 429/5xx into a permanent failure.
"""

from __future__ import annotations

import base64
import email.utils
import json
import logging
import re
import threading
import time
from typing import TYPE_CHECKING, Any, Iterable
from urllib.parse import quote, unquote, urlsplit

from dispatcher.api import ChannelConfig, DeliveryResult, Reason, mask_secrets

if TYPE_CHECKING:  # requests is imported lazily: channel modules must stay cheap to import
    import requests

__all__ = [
    "HttpClient",
    "TRANSIENT",
    "exception_result",
    "failure",
    "is_success",
    "not_configured",
    "parse_retry_after",
    "response_json",
    "split_query",
]

log = logging.getLogger("channels.http")

USER_AGENT = "teamflow-notify/0.1"
TRANSIENT = frozenset({Reason.RATE_LIMITED, Reason.SERVER_ERROR, Reason.TIMEOUT, Reason.CONNECTION})
MAX_CONNECTIONS_PER_HOST = 1024  # NOTIFY_CONCURRENCY's upper bound
_SNIPPET = 200  # characters of a provider's answer kept in `detail`
_SCAN = 4000  # mask this much before cutting, so a secret is never half-cut past the mask


class HttpClient:
    """One pooled ``requests.Session`` per channel instance, with its timeouts and CA bundle."""

    def __init__(self, config: ChannelConfig) -> None:
        self._timeout = (config.connect_timeout, config.read_timeout)
        # Passed on every request: a session-level verify loses to REQUESTS_CA_BUNDLE in requests.
        self._verify: bool | str = config.ca_bundle or True
        # An explicit proxy (NOTIFY_PROXY, the drill sandbox) wins over HTTPS_PROXY from the environment.
        self._proxies = {"https": config.proxy, "http": config.proxy} if config.proxy else None
        self._session: requests.Session | None = None
        self._lock = threading.Lock()
        self._environment: dict[tuple[str, str], dict[str, Any]] = {}  # (scheme, netloc) -> send settings
        install_log_redaction()

    def post(self, url: str, *, secrets: Iterable[str] = (), auth: tuple[str, str] | None = None,
             headers: dict[str, str] | None = None, data: Any = None, **kw: Any) -> "requests.Response | DeliveryResult":
        """POST once; answer the response, or a classified result when no response came back."""
        import requests

        if "json" in kw:  # encode here: default=str keeps a stray datetime in fields from raising
            headers = {"Content-Type": "application/json", **(headers or {})}
            data = json.dumps(kw.pop("json"), default=str).encode()
        try:
            # Session.post, minus the part that reads the environment on every request (below).
            session = self._get_session()
            prepared = session.prepare_request(requests.Request("POST", url, headers=headers, data=data or {},
                                                                auth=auth, **kw))
            return session.send(prepared, timeout=self._timeout, allow_redirects=False,
                                **self._send_settings(session, prepared.url or url))
        except requests.RequestException as exc:
            return exception_result(exc, host_of(url), all_secrets(secrets, auth))

    def _send_settings(self, session: "requests.Session", url: str) -> dict[str, Any]:
        """Proxies (HTTPS_PROXY/NO_PROXY or NOTIFY_PROXY) and CA bundle for a URL, as requests would merge them.

        requests works them out again on every request (scanning the whole environment twice: about
        0.5 ms of CPU, a quarter of a local request); the environment of a running process does not
        change, so this asks requests once per scheme and host and keeps its answer.
        """
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        settings = self._environment.get(key)
        if settings is None:
            settings = session.merge_environment_settings(url, dict(self._proxies or {}), None, self._verify, None)
            with self._lock:
                self._environment[key] = settings
        return settings

    def close(self) -> None:
        """Drop pooled connections; a later send opens a new session."""
        with self._lock:
            session, self._session = self._session, None
            self._environment.clear()
        if session is not None:
            session.close()

    def _get_session(self) -> "requests.Session":
        with self._lock:
            if self._session is None:
                self._session = _new_session()
            return self._session


def _new_session() -> "requests.Session":
    """Build a session that honours HTTPS_PROXY/NO_PROXY and never retries on its own."""
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    session.trust_env = True  # corporate proxies, and the test proxy standing in for providers
    session.headers["User-Agent"] = USER_AGENT
    # max_retries=0: the core counts attempts; a hidden retry would page twice and lie in the log.
    # pool_maxsize is how many connections to one host are kept for reuse (none are opened ahead): as
    # many as NOTIFY_CONCURRENCY allows at once, so a wide fan-out's next wave or retry reconnects to nobody.
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=MAX_CONNECTIONS_PER_HOST, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def all_secrets(secrets: Iterable[str], auth: tuple[str, str] | None = None) -> tuple[str, ...]:
    """Expand secrets with the encodings a provider might echo back (URL-quoted, Basic auth)."""
    out = [s for s in secrets if s]
    if auth:
        out.append(auth[1])
        out.append(base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    out += [quote(s, safe="") for s in out if quote(s, safe="") != s]
    # Longest first, so a secret that contains another is masked whole.
    return tuple(sorted(set(out), key=len, reverse=True))


def host_of(url: str) -> str:
    """The host (and non-default port) of a URL, safe to show: never userinfo or path."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def split_query(query: str) -> list[tuple[str, str]]:
    """Split an apprise query string without turning '+' into a space ('+Header=', '+1555')."""
    pairs = (item.partition("=") for item in query.split("&") if item)
    return [(unquote(key), unquote(value)) for key, _, value in pairs]


def is_success(response: "requests.Response") -> bool:
    """True for a 2xx answer."""
    return 200 <= response.status_code < 300


def response_json(response: "requests.Response") -> Any:
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


def failure(response: "requests.Response", secrets: Iterable[str] = (), *,
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


def response_detail(response: "requests.Response", secrets: tuple[str, ...]) -> str:
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
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:  # RFC 9110 dates are GMT; a naive one is garbage
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def exception_result(exc: Exception, host: str, secrets: tuple[str, ...] = ()) -> DeliveryResult:
    """Classify a requests exception raised before any answer arrived."""
    import requests

    cause = mask_secrets(_errno_text(exc), secrets)
    if isinstance(exc, requests.exceptions.ConnectTimeout):  # before ConnectionError: it is both
        return DeliveryResult.transient(Reason.TIMEOUT, f"connect timeout to {host}")
    if isinstance(exc, requests.Timeout):
        return DeliveryResult.transient(Reason.TIMEOUT, f"read timeout from {host}")
    if isinstance(exc, requests.exceptions.ProxyError):
        return DeliveryResult.transient(Reason.CONNECTION, f"proxy error reaching {host}{cause}")
    if isinstance(exc, requests.exceptions.SSLError):
        return DeliveryResult.transient(Reason.CONNECTION, f"TLS error with {host}")
    if isinstance(exc, requests.ConnectionError):
        return DeliveryResult.transient(Reason.CONNECTION, f"cannot connect to {host}{cause}")
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                        requests.exceptions.MissingSchema, requests.exceptions.InvalidHeader)):
        return DeliveryResult.permanent(Reason.BAD_REQUEST, f"request to {host} is malformed: "
                                        f"{type(exc).__name__}")
    return DeliveryResult.transient(Reason.UNKNOWN, f"{type(exc).__name__} talking to {host}")


def _errno_text(exc: Exception) -> str:
    """': [Errno 111] Connection refused' from a requests exception; never the URL it carries."""
    match = re.search(r"\[Errno -?\d+\] [^'\")\]]+", str(exc))
    return f": {match.group(0).strip()}" if match else ""


def not_configured(channel: str, why: str = "") -> DeliveryResult:
    """The answer of a channel that has no usable settings; no network call was made."""
    return DeliveryResult.permanent(Reason.NOT_CONFIGURED, why or f"{channel}: no url configured")


# urllib3 logs request paths at DEBUG ('"POST /services/T/B/<token> HTTP/1.1" 200').
# A Slack webhook path *is* its credential, so keep the first segment and hide the rest.
_PATH = re.compile(
    r"(?:^|(?<=[\s'\"(=]))(?P<head>(?:[a-z][a-z0-9+.-]*://[^/\s'\"]+)?/[^/\s'\"?]*)"
    r"(?P<tail>[/?][^\s'\"]*)?",
    re.I,
)
_URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager")


def _keep_first_segment(match: re.Match[str]) -> str:
    tail = match.group("tail")
    return match.group("head") + (tail[0] + "***" if tail else "")


class RedactPaths(logging.Filter):
    """Hide everything after the first path segment of URLs in urllib3's log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _PATH.sub(_keep_first_segment, message)
        record.msg, record.args = mask_secrets(redacted), ()
        return True


def install_log_redaction() -> None:
    """Attach RedactPaths to urllib3's loggers once per process."""
    for name in _URLLIB3_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactPaths) for f in logger.filters):
            logger.addFilter(RedactPaths())
