"""The apprise channel: any apprise URL (Opsgenie, GoAlert, Teams, Telegram...), one URL per delivery.

The recipient's URL is ``Address.target`` when it contains ``://`` (a
directory entry may carry its own), else a named route in ``config.routes``,
else ``config.url`` (NOTIFY_APPRISE_URL).

apprise is made to behave like a transport and nothing more:

* retries and pacing belong to the core, so each plugin instance gets
  ``retry = 0`` (any ``?retry=`` in the URL is overridden) and
  ``request_rate_per_sec = 0`` (apprise's ``URLBase.throttle()`` returns at
  once when it is 0; the default is 5.5 s between requests of one instance).
  A few plugins still sleep on a provider's own rate-limit reply
  (``throttle(wait=...)``); that cannot be switched off from outside.
* apprise opens its own connections, so the send deadline (NOTIFY_SEND_DEADLINE)
  cannot close them: each send runs in a worker thread that is abandoned when
  the deadline passes. The attempt is then "possibly delivered" (whether the
  request went out is unknown here), and the thread ends at apprise's own read
  timeout; its log records stay masked until then.
* apprise's log records pass through a masking filter installed on the
  ``apprise`` logger, and that logger is held at INFO: its DEBUG records carry
  tokens and payloads. ``mask_secrets`` plus every token-like part of the URLs
  in flight are removed before any handler (ours, or apprise's own per-result
  capture) sees a record.

Note: ``import apprise`` below is the library, not this module: absolute
imports resolve top-level names, and this module is ``channels.apprise``.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl, urlsplit

import apprise

from dispatcher.api import (
    Address,
    Capabilities,
    ChannelConfig,
    DeliveryResult,
    Notice,
    Reason,
    TargetKind,
    mask_secrets,
)

__all__ = ["AppriseChannel"]

_INSTALL_LOCK = threading.Lock()
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$")
_SECRET_KEYS = re.compile(r"token|key|secret|pass|pwd|auth|sig|apikey|webhook|hook|bot", re.I)


class _LogMask(logging.Filter):
    """Masks credentials in every record of the apprise logger before any handler sees it."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: dict[str, int] = {}  # secret -> how many sends are using it

    @contextlib.contextmanager
    def hiding(self, secrets: tuple[str, ...]) -> Iterator[None]:
        """Also mask these exact strings while the block runs (sends overlap, hence the counts)."""
        with self._lock:
            for s in secrets:
                self._secrets[s] = self._secrets.get(s, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                for s in secrets:
                    self._secrets[s] -= 1
                    if not self._secrets[s]:
                        del self._secrets[s]

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            secrets = tuple(sorted(self._secrets, key=len, reverse=True))  # longest first
        message = record.getMessage()
        masked = mask_secrets(message, secrets)
        if masked != message or record.args:
            record.msg, record.args = masked, ()
        return True


def _log_mask() -> _LogMask:
    """The one masking filter on the apprise logger, installed on first use."""
    logger = logging.getLogger(apprise.LOGGER_NAME)
    with _INSTALL_LOCK:
        for existing in logger.filters:
            if isinstance(existing, _LogMask):
                return existing
        mask = _LogMask()
        logger.addFilter(mask)
        if logger.level == logging.NOTSET or logger.level < logging.INFO:
            logger.setLevel(logging.INFO)  # apprise DEBUG logs tokens and payloads
        return mask


def url_secrets(url: str) -> tuple[str, ...]:
    """Every part of an apprise URL that may be a credential: password, tokens, header values."""
    parts = urlsplit(url)
    found = {parts.password or ""}
    rest = url.split("://", 1)[-1].split("?", 1)[0]
    found.update(p for p in re.split(r"[/:@#,]+", rest) if _looks_secret(p))
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        # apprise sends +key=value as an HTTP header and -key / :key into payloads.
        if key[:1] in "+-:" or _SECRET_KEYS.search(key) or _looks_secret(value):
            found.add(value)
    return tuple(s for s in found if len(s) >= 4)


def _looks_secret(part: str) -> bool:
    """A long opaque string is treated as a token; hostnames and IPs are not."""
    if _IPV4.match(part) or _HOSTNAME.match(part):
        return False
    return len(part) >= 20 or (len(part) >= 8 and any(c.isdigit() for c in part))


# apprise sends through requests, and urllib3 logs request paths at DEBUG ('"POST /services/T/B/<token>
# HTTP/1.1" 200'); a webhook path *is* its credential, so keep the first segment and hide the rest.
# (notify's own HTTP channels use httpx through channels/_http.py, whose details never carry a URL.)
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


class AppriseChannel:
    """Sends a notice through any apprise URL, as exactly one delivery per URL."""

    name = "apprise"
    capabilities = Capabilities(target=TargetKind.URL, template="email", quietness=40)

    def __init__(self, config: ChannelConfig) -> None:
        self.config = config
        self._asset = apprise.AppriseAsset(storage_mode="memory")  # no files written behind our back
        self._mask = _log_mask()
        install_log_redaction()

    def __repr__(self) -> str:
        return f"AppriseChannel(configured={self.configured()})"

    def configured(self) -> bool:
        """True when NOTIFY_APPRISE_URL is set; a person's own URL is sent to without it (see api.Channel)."""
        return bool(self.config.url)

    def problems(self) -> list[str]:
        """URLs apprise cannot load, and options the core overrides; found without sending."""
        named = [("url", self.config.url)] + [(f"route {k}", v) for k, v in self.config.routes.items()]
        problems: list[str] = []
        for label, url in named:
            if not url:
                continue
            if self.plugin_for(url) is None:
                problems.append(f"apprise {label}: cannot parse {_scheme(url)}:// URL")
            elif re.search(r"[?&](retry|wait)=", url):
                problems.append(f"apprise {label}: retry=/wait= ignored, the dispatcher owns retries")
        return problems

    def plugin_for(self, url: str) -> apprise.NotifyBase | None:
        """Load one URL as an apprise plugin with retry and throttle off; None if apprise cannot."""
        with self._mask.hiding(url_secrets(url)):
            plugin = apprise.Apprise.instantiate(url, asset=self._asset)
        if plugin is None:
            return None
        plugin.retry = 0  # the core retries, with its own budget
        plugin.request_rate_per_sec = 0  # the core paces; apprise would sleep up to 5.5 s
        plugin.socket_connect_timeout = self.config.connect_timeout
        plugin.socket_read_timeout = self.config.read_timeout
        if self.config.ca_bundle and plugin.verify_certificate is True:
            # requests takes a CA bundle path wherever it takes verify=True.
            plugin.verify_certificate = self.config.ca_bundle
        return plugin

    def send(self, notice: Notice, address: Address) -> DeliveryResult:
        """Make one apprise notification for one URL and map its single result."""
        url = self._url_for(address)
        if not url:
            return DeliveryResult.permanent(Reason.NOT_CONFIGURED, "no apprise URL for this address")
        secrets = url_secrets(url)
        plugin = self.plugin_for(url)
        if plugin is None:
            return DeliveryResult.permanent(Reason.BAD_ADDRESS, f"apprise cannot parse this {_scheme(url)}:// URL")
        sender = apprise.Apprise(asset=self._asset)
        sender.add(plugin)

        def notify() -> list[apprise.NotifyResult]:
            with self._mask.hiding(secrets):  # in the worker: an abandoned send still logs masked
                return list(sender.notify(body=notice.text, title=notice.subject,
                                          body_format=apprise.NotifyFormat.TEXT))

        seconds = self.config.send_deadline
        results = notify() if seconds is None else _within(seconds, notify)
        if results is None:
            return DeliveryResult.possibly_delivered(
                Reason.TIMEOUT, f"the send deadline ({seconds:g} s) passed waiting for apprise's {_scheme(url)}:// "
                                "send: it may have been delivered; not retried, so nobody gets it twice")
        return self._result(results, secrets)

    def close(self) -> None:
        """Nothing pooled: apprise opens a session per request."""

    def _url_for(self, address: Address) -> str | None:
        target = address.target.strip()
        if "://" in target:
            return target
        return self.config.routes.get(target) or self.config.url

    def _result(self, results: list[apprise.NotifyResult], secrets: tuple[str, ...]) -> DeliveryResult:
        """Map apprise's one NotifyResult; apprise reports no status code, so failure is UNKNOWN."""
        if len(results) != 1:
            return DeliveryResult.transient(Reason.UNKNOWN, f"apprise made {len(results)} attempts, expected 1")
        [result] = results
        where = mask_secrets(f"{result.name} ({result.url})", secrets)
        if result:
            return DeliveryResult.delivered(detail=where)
        why = _last_complaint(result)
        detail = mask_secrets(f"{where}: {why}" if why else where, secrets)
        if result.status == apprise.AppriseResultStatus.TIMEOUT:
            return DeliveryResult.transient(Reason.TIMEOUT, detail)
        return DeliveryResult.transient(Reason.UNKNOWN, detail)


def _within(seconds: float, send: Callable[[], list]) -> list | None:
    """Run `send` in a worker thread; its results, or None when the deadline passed first (the thread is left)."""
    done = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["results"] = send()
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="notify-apprise-send", daemon=True).start()
    if not done.wait(seconds):
        return None
    if "error" in box:
        raise box["error"]
    return box["results"]


def _last_complaint(result: apprise.NotifyResult) -> str:
    """The last WARNING/ERROR apprise logged for this result (already masked by the filter)."""
    complaints = [e.message for e in result.logs() if e.level in ("WARNING", "ERROR", "CRITICAL")]
    return complaints[-1][:300] if complaints else ""


def _scheme(url: str) -> str:
    """Only the scheme of a URL: the rest may be a token."""
    return url.split("://", 1)[0][:20] if "://" in url else "?"
