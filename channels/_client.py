"""The httpx client of one HTTP channel: TLS from the system store, proxies per URL, sockets a deadline can close.

- TLS is always verified, against ``config.ca_bundle`` when set, else the system
  store (``ssl.create_default_context()``: OpenSSL's default paths, which honour
  SSL_CERT_FILE and SSL_CERT_DIR), never certifi's bundle: corporate CAs
  installed in the OS keep working. One context per CA bundle in the process:
  loading a store costs 25-30 ms and Slack, SMS and phone would each load it.
- Proxies: ``config.sandbox_proxy`` (a drill's stand-in) takes every URL,
  NO_PROXY or not. Otherwise https_proxy / http_proxy / all_proxy and no_proxy
  from the environment (lower case first, read when the client is built), with
  ``config.proxy`` (NOTIFY_PROXY) in place of https_proxy. httpx's own reading of
  the environment turns NO_PROXY entries into URL patterns, which cannot say
  ``127.0.0.0/8``, so the route is chosen here, per request, by :func:`bypass`.
- Pooled keep-alive connections with bounded limits (MAX_CONNECTIONS, MAX_IDLE).
- Every socket is opened through :class:`_WatchedBackend`, which hands it to the
  send deadline of the thread using it (:mod:`channels._deadline`): a new
  connection as soon as TCP is up (so a CONNECT or TLS handshake that drips is
  covered), a pooled one on its first read or write of the attempt.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple

from dispatcher.api import ChannelConfig, mask_url

if TYPE_CHECKING:  # httpx and httpcore cost ~80 ms to import: channel modules import this one, so only when sending
    import ssl

    import httpx

    from ._deadline import Deadline

__all__ = ["MAX_CONNECTIONS", "USER_AGENT", "CaBundleError", "Client", "build_client", "bypass", "current",
           "redact_urls", "tls_context"]

USER_AGENT = "teamflow-notify/0.1"
# Per pool (a channel has _http.SHARDS of them). A sending thread holds one connection at a time, so
# NOTIFY_CONCURRENCY (at most 1024) bounds what is open; a send never queues behind the limit.
MAX_CONNECTIONS = 1024
MAX_IDLE = 64  # keep-alive connections kept per pool: 16 x 64 = 1024 for a channel
current = threading.local()  # .deadline: the Deadline of the attempt this thread is making (None: none)


class CaBundleError(Exception):
    """The configured CA bundle cannot be loaded; the message names the file, never a URL."""


def build_client(config: ChannelConfig, environ: Mapping[str, str] = os.environ) -> "Client":
    """A pooled client for a channel, and which proxy it takes for a URL; CaBundleError for an unreadable bundle."""
    import httpx

    _redact_logs()
    context = tls_context(config.ca_bundle)
    limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_IDLE)
    timeout = httpx.Timeout(connect=config.connect_timeout, read=config.read_timeout,
                            write=config.read_timeout, pool=config.connect_timeout)
    proxies = _proxy_urls(config, environ)
    no_proxy = () if config.sandbox_proxy else _no_proxy(environ)

    def transport(proxy: str | None) -> httpx.HTTPTransport:
        made = httpx.HTTPTransport(verify=context, limits=limits, proxy=proxy, trust_env=False)
        # httpx takes no network backend, httpcore's pool does: set it on the pool httpx made (pinned
        # versions; tests/test_http_client.py fails if the deadline stops reaching pooled sockets).
        pool = made._pool
        if not hasattr(pool, "_network_backend"):
            raise RuntimeError("this httpcore has no _network_backend: the send deadline cannot watch sockets")
        pool._network_backend = _WatchedBackend(pool._network_backend)
        return made

    routes = _Routes(proxies, no_proxy, transport)
    http = httpx.Client(transport=routes, timeout=timeout, trust_env=False, follow_redirects=False,
                        headers={"User-Agent": USER_AGENT})
    return Client(http, routes.proxy_for)


class Client(NamedTuple):
    http: "httpx.Client"
    proxy_for: Callable[["httpx.URL"], str | None]  # the proxy a URL goes through, None: direct


_contexts: dict[str | None, "ssl.SSLContext"] = {}
_contexts_lock = threading.Lock()


def tls_context(ca_bundle: str | None) -> "ssl.SSLContext":
    """The process's verifying SSLContext for a CA bundle (a file or a directory; None: the system store)."""
    import ssl

    with _contexts_lock:
        context = _contexts.get(ca_bundle)
        if context is None:
            try:
                if ca_bundle and os.path.isdir(ca_bundle):
                    context = ssl.create_default_context(capath=ca_bundle)
                else:
                    context = ssl.create_default_context(cafile=ca_bundle or None)
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
                raise CaBundleError(f"cannot load the CA bundle {ca_bundle} ({why})") from exc
            _contexts[ca_bundle] = context
        return context


# --- logs -------------------------------------------------------------------------------

_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.proxy")  # the records' own loggers
_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"]+", re.I)


class _RedactUrls(logging.Filter):
    """httpx logs every request's full URL at INFO, and a Slack webhook's path is its credential."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact_urls(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def redact_urls(text: str) -> str:
    """Every URL in a message cut to its scheme and host (``mask_url``): paths and queries may be credentials."""
    return _URL.sub(lambda m: mask_url(m.group()), text)


def _redact_logs() -> None:
    """Put the filter on the loggers that make the records (a parent's filters do not see a child's)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactUrls) for f in logger.filters):
            logger.addFilter(_RedactUrls())


# --- proxies ------------------------------------------------------------------------------

def _proxy_urls(config: ChannelConfig, environ: Mapping[str, str]) -> dict[str, str | None]:
    """The proxy per scheme: the sandbox's for both; else NOTIFY_PROXY for https, the environment's otherwise."""
    if config.sandbox_proxy:  # a drill reaches the stand-in or nothing, whatever NO_PROXY says
        return {"http": config.sandbox_proxy, "https": config.sandbox_proxy}
    fallback = _env(environ, "all_proxy")
    urls = {scheme: _env(environ, f"{scheme}_proxy") or fallback for scheme in ("http", "https")}
    if config.proxy:  # NOTIFY_PROXY carries https URLs only: a plain-HTTP webhook on the LAN goes direct
        urls["https"] = config.proxy
    return {scheme: (url if not url or "://" in url else f"http://{url}") for scheme, url in urls.items()}


def _env(environ: Mapping[str, str], name: str) -> str | None:
    """A proxy variable, lower case first (an empty one means none), as curl and requests read them."""
    value = environ.get(name)
    return (environ.get(name.upper()) if value is None else value) or None


def _no_proxy(environ: Mapping[str, str]) -> tuple[str, ...]:
    raw = _env(environ, "no_proxy") or ""
    return tuple(e.strip().lower() for e in raw.replace(" ", ",").split(",") if e.strip())


def bypass(host: str, port: int, no_proxy: tuple[str, ...]) -> bool:
    """True when NO_PROXY names the host: '*', an exact or parent domain, host:port, an IP or a CIDR."""
    with_port = f"{host}:{port}"
    for entry in no_proxy:
        if entry == "*":
            return True
        if "/" in entry:
            if _in_network(host, entry):
                return True
            continue
        entry = entry.lstrip(".")
        if entry in (host, with_port) or host.endswith(f".{entry}") or with_port.endswith(f".{entry}"):
            return True
    return False


def _in_network(host: str, cidr: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


class _Routes:
    """An httpx transport that hands each request to the direct pool or its proxy's pool (made on first use)."""

    def __init__(self, proxies: dict[str, str | None], no_proxy: tuple[str, ...], make: Any) -> None:
        self._proxies, self._no_proxy, self._make = proxies, no_proxy, make
        self._pools: dict[str | None, httpx.HTTPTransport] = {}
        self._lock = threading.Lock()

    def proxy_for(self, url: "httpx.URL") -> str | None:
        proxy = self._proxies.get(url.scheme)
        return None if not proxy or bypass(url.host, url.port or 0, self._no_proxy) else proxy

    def handle_request(self, request: "httpx.Request") -> "httpx.Response":
        proxy = self.proxy_for(request.url)
        with self._lock:
            pool = self._pools.get(proxy)
            if pool is None:
                pool = self._pools[proxy] = self._make(proxy)
        return pool.handle_request(request)

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()


# --- sockets a deadline can close ---------------------------------------------------------

class _WatchedBackend:
    """httpcore's network backend, handing each socket to the deadline of the thread that uses it."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, **kw: Any) -> "_WatchedStream":
        deadline: Deadline | None = getattr(current, "deadline", None)
        if deadline is not None and timeout is not None:
            timeout = deadline.remaining(timeout)  # TCP's connect itself cannot be watched: bound it
        stream = _WatchedStream(self._inner.connect_tcp(host, port, timeout=timeout, **kw))
        stream.watched()
        return stream

    def connect_unix_socket(self, *args: Any, **kw: Any) -> Any:
        return self._inner.connect_unix_socket(*args, **kw)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _WatchedStream:
    """A network stream that reports its socket once to each deadline that sees it used."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._by: Deadline | None = None

    def watched(self) -> None:
        deadline = getattr(current, "deadline", None)
        if deadline is not None and deadline is not self._by:
            self._by = deadline
            deadline.watch(self._inner.get_extra_info("socket"))

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.watched()
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.watched()
        self._inner.write(buffer, timeout)

    def start_tls(self, *args: Any, **kw: Any) -> "_WatchedStream":
        self.watched()  # the handshake reads and writes inside: watched before it starts
        secured = _WatchedStream(self._inner.start_tls(*args, **kw))
        secured._by = self._by  # the same descriptor: already watched by this attempt
        return secured

    def close(self) -> None:
        self._inner.close()

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)
