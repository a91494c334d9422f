"""The HTTP transport of the channels: one POST over ``http.client`` and ``ssl``, pooled and proxied.

It replaces requests (requests and its dependencies cost
40-60 ms of every command's start-up):

- TLS is always verified, against ``config.ca_bundle`` when set, else the system
  store (OpenSSL's default paths, which honour SSL_CERT_FILE and SSL_CERT_DIR).
  requests used certifi's bundle instead; the system store holds the public CAs
  Slack, Twilio and PagerDuty present. REQUESTS_CA_BUNDLE reaches us only through
  settings (it is an alias of ``ca_bundle``), not from the environment here.
- Proxies: ``config.sandbox_proxy`` (the drill sandbox's stand-in) for every URL,
  NO_PROXY or not. Otherwise https_proxy / http_proxy / all_proxy and no_proxy
  from the environment, lower case before upper case, read once when the client
  is built; ``config.proxy`` (NOTIFY_PROXY) takes the place of https_proxy: it
  carries https URLs only (a plain-HTTP webhook on the local network goes
  direct, or by http_proxy) and hosts that no_proxy names are reached directly.
  HTTPS goes through a proxy by CONNECT, with Proxy-Authorization when the proxy
  URL has user:password.
- Keep-alive connections are pooled per (scheme, host, port, proxy), at most
  MAX_CONNECTIONS_PER_HOST idle per route; a send never waits for a connection
  (how many run at once is NOTIFY_CONCURRENCY's business).
- A pooled connection the server has closed is noticed before reuse (its socket is
  readable) and replaced, as urllib3 did. A request that then fails on a reused
  connection is never sent again here, not even when writing it failed: that
  window is microseconds wide, cannot be exercised deterministically, and the
  core retries a transient CONNECTION with the attempt on record, while a hidden
  resend is how a person gets paged twice.
- One SSLContext per CA bundle in the process, shared by every channel: loading
  the system store costs 25-30 ms, and Slack, SMS and phone would each build one.
"""

from __future__ import annotations

import base64
import json as jsonlib
import os
import re
import select
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Protocol
from urllib.parse import quote, unquote, urlencode, urlsplit

if TYPE_CHECKING:  # http.client and ssl are imported on first use: channel modules must stay cheap to import
    import http.client
    import socket
    import ssl
    from email.message import Message

__all__ = [
    "BrokenAnswer", "CannotConnect", "ConnectTimeout", "ConnectionLost", "InvalidRequest", "MAX_CONNECTIONS_PER_HOST",
    "NO_JSON", "ProxyError", "ReadTimeout", "Response", "TLSError", "Transport", "TransportError", "USER_AGENT",
    "Watch",
    "build_request", "host_of",
]

USER_AGENT = "teamflow-notify/0.1"
MAX_CONNECTIONS_PER_HOST = 1024  # NOTIFY_CONCURRENCY's upper bound
_MAX_BODY = 1 << 20  # provider answers are a few hundred bytes; a larger one is cut and its connection dropped
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"  # what requests left unquoted in a path: existing %XX escapes stay
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
NO_JSON = object()  # post(json=...) not given (None is a JSON value)


# --- what can go wrong before an answer arrives -------------------------------------------

class TransportError(Exception):
    """No answer came back; the subclass says why, ``cause`` is a short URL-free reason.

    TransportError
     ├── ConnectTimeout    no connection within connect_timeout (server, proxy or TLS handshake)
     ├── ReadTimeout       connected and sent, no answer within read_timeout
     ├── ProxyError        the proxy refused us, or the tunnel through it failed
     ├── TLSError          certificate not trusted, wrong host, handshake failed, CA bundle unreadable
     ├── CannotConnect     refused, unreachable, unknown host
     ├── ConnectionLost    the connection broke after the request went out, before the answer
     ├── BrokenAnswer      an answer came but was garbled or cut short
     └── InvalidRequest    the URL or a header cannot be sent at all (permanent)
    """

    def __init__(self, cause: str = "") -> None:
        super().__init__(cause)
        self.cause = cause


class ConnectTimeout(TransportError):
    pass


class ReadTimeout(TransportError):
    pass


class ProxyError(TransportError):
    pass


class TLSError(TransportError):
    pass


class CannotConnect(TransportError):
    pass


class ConnectionLost(TransportError):
    pass


class BrokenAnswer(TransportError):
    pass


class InvalidRequest(TransportError):
    pass


# --- the answer ---------------------------------------------------------------------------

class Response:
    """A complete answer: ``status_code``, ``headers.get(name)`` (any case), ``text``, ``json()``, ``url``."""

    def __init__(self, url: str, status_code: int, headers: "Message", content: bytes) -> None:
        self.url = url
        self.status_code = status_code
        self.headers = headers
        self.content = content

    @property
    def text(self) -> str:
        """The body decoded with the charset the server named, else UTF-8; bad bytes replaced."""
        match = re.search(r"charset=[\"']?([\w.:-]+)", self.headers.get("Content-Type") or "", re.I)
        try:
            return self.content.decode(match.group(1) if match else "utf-8", errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body decoded as JSON; ValueError when it is not JSON."""
        return jsonlib.loads(self.content)

    def __repr__(self) -> str:  # never the URL: a Slack webhook path is its credential
        return f"<Response {self.status_code} from {host_of(self.url)}>"


# --- the client ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Request:
    """One POST, ready for the wire."""

    url: str = field(repr=False)
    scheme: str
    host: str  # ASCII (IDNA) name or IP literal
    port: int
    target: str = field(repr=False)  # path and query as sent on the request line
    headers: dict[str, str] = field(repr=False)
    body: bytes = field(repr=False)


class Watch(Protocol):
    """What a transport reports to a deadline (:class:`channels._deadline.Deadline` is one)."""

    def remaining(self, cap: float) -> float: ...
    def watch(self, sock: "socket.socket") -> None: ...
    def mark_sent(self) -> None: ...


class _Unwatched:
    """No deadline: connect within connect_timeout, nothing to report."""

    def remaining(self, cap: float) -> float:
        return cap

    def watch(self, sock: "socket.socket") -> None:
        pass

    def mark_sent(self) -> None:
        pass


_UNWATCHED = _Unwatched()


class Transport:
    """Keep-alive HTTP(S) connections with their timeouts, CA bundle and proxy: one exchange per call."""

    def __init__(self, *, connect_timeout: float, read_timeout: float, ca_bundle: str | None,
                 proxy: str | None, environ: Mapping[str, str], sandbox_proxy: str | None = None) -> None:
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._ca_bundle = ca_bundle
        self._proxies = _Proxies(proxy, environ, sandbox_proxy)
        self._pool = _Pool(MAX_CONNECTIONS_PER_HOST)

    def exchange(self, request: _Request, watch: Watch = _UNWATCHED) -> Response:
        """Send one request and read its whole answer; TransportError when no answer came.

        ``watch`` hears of every socket used and of the moment the request is sent, so a deadline
        can close the connection under a slow provider (see :mod:`channels._deadline`).
        """
        proxy = self._proxies.select(request.scheme, request.host, request.port)
        route = (request.scheme, request.host, request.port, proxy.url if proxy else None)
        conn = self._pool.take(route)
        if conn is not None and conn.sock is not None:
            watch.watch(conn.sock)
        conn = conn or self._connect(request, proxy, watch)
        try:
            response, reusable = _send(conn, request, proxy, watch)
        except BaseException:
            conn.close()
            raise
        if reusable:
            self._pool.put(route, conn)
        else:
            conn.close()
        return response

    def close(self) -> None:
        """Drop pooled connections; a later exchange opens new ones."""
        self._pool.clear()

    def _connect(self, request: _Request, proxy: _Proxy | None, watch: Watch) -> "http.client.HTTPConnection":
        """A new connection, through the proxy's tunnel and TLS when they apply, ready to send."""
        import http.client
        import socket

        where = (proxy.host, proxy.port) if proxy else (request.host, request.port)
        timeout = watch.remaining(self._connect_timeout)  # TCP's connect cannot be watched: bound it
        conn: http.client.HTTPConnection
        if request.scheme == "https":
            conn = http.client.HTTPSConnection(*where, timeout=timeout, context=tls_context(self._ca_bundle))
            if proxy:
                conn.set_tunnel(request.host, request.port, headers=proxy.headers)
        else:
            conn = http.client.HTTPConnection(*where, timeout=timeout)

        def connected(*args: Any, **kw: Any) -> socket.socket:  # watched before the CONNECT and TLS handshake
            sock = socket.create_connection(*args, **kw)
            watch.watch(sock)
            return sock

        conn._create_connection = connected  # type: ignore[attr-defined] - http.client's socket-opening seam
        try:
            conn.connect()  # TCP, CONNECT and TLS handshake: each read within connect_timeout, all within the deadline
        except BaseException as exc:
            conn.close()
            if isinstance(exc, (OSError, http.client.HTTPException)):
                raise _connect_error(exc, via_proxy=proxy is not None) from exc
            raise
        conn.sock.settimeout(self._read_timeout)
        return conn


_contexts: dict[str | None, "ssl.SSLContext"] = {}
_contexts_lock = threading.Lock()


def tls_context(ca_bundle: str | None) -> "ssl.SSLContext":
    """The process's SSLContext for a CA bundle (None: the system store): verification on, built once."""
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
                raise TLSError(f"cannot load the CA bundle ({_why(exc)})") from exc
            _contexts[ca_bundle] = context
        return context


def _connect_error(exc: BaseException, *, via_proxy: bool) -> TransportError:
    """Name a failure to open a connection (TCP, proxy tunnel, TLS handshake)."""
    import ssl

    if isinstance(exc, TimeoutError):
        return ConnectTimeout()
    if isinstance(exc, ssl.SSLError):  # also certificate and host name mismatches
        return TLSError(_why(exc))
    return (ProxyError if via_proxy else CannotConnect)(_why(exc))


def _send(conn: "http.client.HTTPConnection", request: _Request,
          proxy: _Proxy | None, watch: Watch) -> tuple[Response, bool]:
    """Send the request and read the whole answer; also say whether the connection can be reused."""
    import http.client
    import ssl

    target, headers = request.target, request.headers
    if proxy and request.scheme == "http":  # a plain-HTTP proxy takes the absolute URL, no tunnel
        target = f"http://{_netloc(request.host, request.port, 80)}{request.target}"
        headers = {**headers, **proxy.headers}
    try:
        conn.request("POST", target, body=request.body, headers=headers)
        watch.mark_sent()
        answer = conn.getresponse()
        try:
            content, complete = _read_body(answer)
        finally:
            answer.close()
    except TimeoutError as exc:
        raise ReadTimeout() from exc
    except ssl.SSLError as exc:
        raise TLSError(_why(exc)) from exc
    except OSError as exc:  # reset, broken pipe, closed without an answer (RemoteDisconnected)
        raise ConnectionLost(_why(exc)) from exc
    except http.client.HTTPException as exc:  # garbled status line or headers, body cut short
        raise BrokenAnswer(_why(exc)) from exc
    response = Response(request.url, answer.status, answer.headers, content)
    return response, complete and not answer.will_close and conn.sock is not None


def _read_body(answer: "http.client.HTTPResponse") -> tuple[bytes, bool]:
    """The body (Content-Length, chunked or until close), and False when more than _MAX_BODY was left unread."""
    import http.client

    chunks: list[bytes] = []
    size = 0
    while size <= _MAX_BODY:
        chunk = answer.read(65536)
        if not chunk:
            if answer.length:  # read(amt) returns short at EOF where read() would raise
                raise http.client.IncompleteRead(b"".join(chunks), answer.length)
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[:_MAX_BODY], False


def build_request(url: str, auth: tuple[str, str] | None, headers: Mapping[str, str] | None,
                   data: Any, json: Any) -> _Request:
    """Check and encode one POST; InvalidRequest names what is wrong, never the URL."""
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError as exc:  # a bad port or IPv6 literal
        raise InvalidRequest("InvalidURL") from exc
    if scheme not in ("http", "https"):
        raise InvalidRequest("InvalidSchema" if scheme else "MissingSchema")
    try:
        host = host.encode("idna").decode("ascii") if host and not host.isascii() else host
    except UnicodeError as exc:
        raise InvalidRequest("InvalidURL") from exc
    if not host:
        raise InvalidRequest("InvalidURL")
    if auth is None and parts.username:  # requests took Basic auth from user:password@ too
        auth = (unquote(parts.username), unquote(parts.password or ""))
    query = f"?{quote(parts.query, safe=_URL_SAFE)}" if parts.query else ""
    body, content_type = _body(data, json)
    fields = {"User-Agent": USER_AGENT, "Accept": "*/*", **({"Content-Type": content_type} if content_type else {})}
    if auth:
        fields["Authorization"] = _basic(*auth)
    for name, value in (headers or {}).items():  # the caller's headers win, whatever their case
        fields = {k: v for k, v in fields.items() if k.lower() != name.lower()}
        fields[name] = value
    _check_headers(fields)
    fields["Content-Length"] = str(len(body))
    return _Request(url, scheme, host, port or (443 if scheme == "https" else 80),
                    quote(parts.path or "/", safe=_URL_SAFE) + query, fields, body)


def _body(data: Any, json: Any) -> tuple[bytes, str | None]:
    """The encoded body and its Content-Type: JSON, a form from a dict (Twilio), or bytes as given."""
    if json is not NO_JSON:  # default=str keeps a stray datetime in fields from raising
        return jsonlib.dumps(json, default=str).encode(), "application/json"
    if isinstance(data, (str, bytes)):
        return (data.encode() if isinstance(data, str) else data), None
    if data:
        return urlencode(data, doseq=True).encode(), "application/x-www-form-urlencoded"
    return b"", None


def _check_headers(fields: Mapping[str, str]) -> None:
    """InvalidRequest for a header http.client would refuse (its message would quote the value)."""
    for name, value in fields.items():
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise InvalidRequest("InvalidHeader") from None
        if not _TOKEN.fullmatch(name) or re.search(r"[\r\n\0]", value):
            raise InvalidRequest("InvalidHeader")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _netloc(host: str, port: int, default: int) -> str:
    host = f"[{host}]" if ":" in host else host
    return host if port == default else f"{host}:{port}"


def _why(exc: BaseException) -> str:
    """A short reason from a stdlib exception that never carries a URL: '[Errno 111] Connection refused'."""
    verify = getattr(exc, "verify_message", None) or getattr(exc, "reason", None)
    if isinstance(verify, str) and verify:  # ssl: 'unable to get local issuer certificate'
        return verify
    if isinstance(exc, OSError) and exc.errno is not None and exc.strerror:
        return f"[Errno {exc.errno}] {exc.strerror}"
    tunnel = re.match(r"Tunnel connection failed: (\d{3})", str(exc))
    if tunnel:
        return f"CONNECT answered {tunnel.group(1)}"
    return type(exc).__name__


# --- proxies ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Proxy:
    """An HTTP proxy: where it listens and the Proxy-Authorization its URL implies."""

    url: str = field(repr=False)
    host: str
    port: int
    headers: dict[str, str] = field(repr=False)

    @classmethod
    def parse(cls, url: str) -> "_Proxy":
        """Parse http://[user:password@]host[:port]; ProxyError (naming no credential) otherwise."""
        parts = urlsplit(url if "://" in url else f"http://{url}")
        try:
            host, port = parts.hostname, parts.port or 80
        except ValueError as exc:
            raise ProxyError("proxy URL is malformed") from exc
        if parts.scheme.lower() != "http" or not host:
            raise ProxyError("only http:// proxies are supported")
        auth = {"Proxy-Authorization": _basic(unquote(parts.username), unquote(parts.password or ""))} \
            if parts.username else {}
        return cls(url, host, port, auth)


class _Proxies:
    """Which proxy a URL goes through: the sandbox's for all; else NOTIFY_PROXY or the environment's (read once)."""

    def __init__(self, explicit: str | None, environ: Mapping[str, str], sandbox: str | None = None) -> None:
        self._no_proxy: tuple[str, ...] = ()
        if sandbox:  # a drill's stand-in: nothing may bypass it, or a drill could reach a real provider
            self._urls = {"http": sandbox, "https": sandbox}
        else:
            fallback = _env(environ, "all_proxy")
            self._urls = {scheme: _env(environ, f"{scheme}_proxy") or fallback for scheme in ("http", "https")}
            if explicit:  # NOTIFY_PROXY is the HTTPS proxy: it replaces https_proxy, and NO_PROXY still applies
                self._urls["https"] = explicit
            no_proxy = _env(environ, "no_proxy") or ""
            self._no_proxy = tuple(e.strip().lower() for e in no_proxy.replace(" ", ",").split(",") if e.strip())
        self._parsed: dict[str, _Proxy] = {}

    def select(self, scheme: str, host: str, port: int) -> _Proxy | None:
        """The proxy for scheme://host:port, or None to connect directly."""
        url = self._urls.get(scheme)
        if not url or _bypass(host, port, self._no_proxy):
            return None
        if url not in self._parsed:
            self._parsed[url] = _Proxy.parse(url)  # a race here only parses twice
        return self._parsed[url]


def _env(environ: Mapping[str, str], name: str) -> str | None:
    """A proxy variable, lower case first (an empty one means none), as curl and requests read them."""
    value = environ.get(name)
    return (environ.get(name.upper()) if value is None else value) or None


def _bypass(host: str, port: int, no_proxy: tuple[str, ...]) -> bool:
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


# --- the pool -----------------------------------------------------------------------------

class _Pool:
    """Idle keep-alive connections per route, newest first; thread-safe and never blocking."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._idle: dict[tuple, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def take(self, route: tuple) -> "http.client.HTTPConnection | None":
        """An idle connection the server has not closed, or None."""
        while True:
            with self._lock:
                idle = self._idle.get(route)
                if not idle:
                    return None
                conn = idle.pop()
            if _still_open(conn):
                return conn
            conn.close()

    def put(self, route: tuple, conn: "http.client.HTTPConnection") -> None:
        """Keep a connection whose answer was read completely; close it when the route is full."""
        with self._lock:
            idle = self._idle.setdefault(route, [])
            if len(idle) < self._limit:
                idle.append(conn)
                return
        conn.close()

    def clear(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle = [conn for conns in self._idle.values() for conn in conns]
            self._idle.clear()
        for conn in idle:
            conn.close()


def _still_open(conn: "http.client.HTTPConnection") -> bool:
    """False when an idle connection has something to read: the server closed it (EOF, reset or TLS alert)."""
    sock = conn.sock
    if sock is None or (hasattr(sock, "pending") and sock.pending()):
        return False
    try:
        if hasattr(select, "poll"):  # select() cannot watch descriptors above FD_SETSIZE
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return not poller.poll(0)
        return not select.select([sock], [], [], 0)[0]
    except (OSError, ValueError):
        return False


def host_of(url: str) -> str:
    """The host (and non-default port) of a URL, safe to show: never userinfo or path."""
    try:
        parts = urlsplit(url)
    except ValueError:  # a broken IPv6 literal
        return "?"
    host = parts.hostname or "?"
    try:
        port = parts.port
    except ValueError:  # out of range or not a number
        port = None
    return f"{host}:{port}" if port else host
