"""Local stand-ins for SaaS providers: a recording HTTP server, and what the provider proxy builds on.

Every stand-in records each request and answers from a script of :class:`Reply`
objects, consumed in order with the last one repeating. Stdlib only; nothing
here ever connects to the internet. Request bodies are read by Content-Length
(notify's transport and requests always send one).

``RecordingServer`` is an HTTP server on 127.0.0.1 (for webhook receivers); with
``tls=True`` it speaks HTTPS with a certificate for 127.0.0.1 and localhost from
its own throwaway CA (``ca_bundle_path``), as a receiver on the local network would.
The TLS-terminating ``ProviderProxy`` for api.twilio.com and the like is in
:mod:`dispatcher.testing.proxy`.
"""

from __future__ import annotations

import json
import shutil
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Mapping, Union
from urllib.parse import parse_qsl, urlsplit

__all__ = ["HANG", "Recorded", "Recorder", "RecordingServer", "Reply"]

MAX_HANG = 5.0  # a hanging reply never holds a thread longer than this, even if stop() is forgotten


@dataclass(frozen=True)
class Recorded:
    """One request as the provider saw it."""

    method: str
    path: str  # path and query, as sent on the request line
    headers: Message  # case-insensitive: request.headers["authorization"]
    body: bytes
    host: str  # the Host header (or CONNECT host) the client asked for
    received_at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> Any:
        """The body decoded as JSON, or None."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def form(self) -> dict[str, str]:
        """The body decoded as an HTML form (first value per field)."""
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    @property
    def query(self) -> dict[str, str]:
        """The query string of the path (first value per field)."""
        return dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))


Body = Union[bytes, str, Mapping[str, Any], list, Callable[[Recorded], Any]]


@dataclass(frozen=True)
class Reply:
    """One scripted answer; ``body`` may be bytes, str, a JSON-able dict/list, or f(request)."""

    status: int = 200
    body: Body = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    hang: bool = False  # send nothing until the server stops (at most MAX_HANG): a read timeout
    # Seconds between the bytes of the answer (status line, headers and body): every read gets a byte
    # well within any read timeout, yet the whole answer takes len(answer) * drip. A slow provider.
    drip: float = 0.0
    # Answer only once this event is set (at most MAX_HANG): a test decides when the provider replies.
    hold: threading.Event | None = field(default=None, compare=False)

    def render(self, request: Recorded) -> tuple[bytes, dict[str, str]]:
        """The bytes and headers to send for this request."""
        body = self.body(request) if callable(self.body) else self.body
        headers = {"Content-Type": "application/octet-stream"}
        if isinstance(body, (dict, list)):
            body, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        elif isinstance(body, str):
            body, headers["Content-Type"] = body.encode(), "text/plain; charset=utf-8"
        return body, {**headers, **self.headers}


HANG = Reply(hang=True)


class Recorder:
    """A thread-safe request log plus a reply script; the last reply repeats."""

    def __init__(self, *replies: Reply) -> None:
        self._lock = threading.Lock()
        self._requests: list[Recorded] = []
        self._replies: list[Reply] = list(replies) or [Reply(200, "ok")]

    def script(self, *replies: Reply) -> None:
        """Replace the script; the last reply answers every request after it."""
        with self._lock:
            self._replies = list(replies) or [Reply(200, "ok")]

    @property
    def requests(self) -> list[Recorded]:
        """A copy of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def take(self, request: Recorded) -> Reply:
        """Record a request and pop the reply for it."""
        with self._lock:
            self._requests.append(request)
            return self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]


@dataclass
class _Site:
    """What the request handler needs: where to record, and when to stop hanging."""

    recorder: Recorder
    stopping: threading.Event
    host: str | None = None  # set for the proxy, whose clients name the host in CONNECT


class _RecordingHandler(BaseHTTPRequestHandler):
    """Record each request on a connection and answer it from the site's script."""

    protocol_version = "HTTP/1.1"  # keep-alive, as real providers do
    timeout = 10  # an idle client never pins a thread for long
    server: Any  # a _Site (proxy tunnel) or a RecordingServer

    def _answer(self) -> None:
        site: _Site = self.server.site
        length = int(self.headers.get("Content-Length") or 0)
        request = Recorded(self.command, self.path, self.headers, self.rfile.read(length),
                           site.host or self.headers.get("Host", ""))
        reply = site.recorder.take(request)
        if reply.hang:
            site.stopping.wait(MAX_HANG)
            self.close_connection = True
            return
        if reply.hold is not None:
            reply.hold.wait(MAX_HANG)
        body, headers = reply.render(request)
        if reply.drip:
            self._drip(reply, body, headers, site.stopping)
            return
        self.send_response(reply.status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drip(self, reply: Reply, body: bytes, headers: Mapping[str, str], stopping: threading.Event) -> None:
        """Write the whole answer one byte at a time; stop when the client hangs up or the server stops."""
        lines = [f"HTTP/1.1 {reply.status} {_phrase(reply.status)}"]
        lines += [f"{name}: {value}" for name, value in {**headers, "Content-Length": str(len(body))}.items()]
        answer = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        self.close_connection = True
        for i in range(len(answer)):
            if stopping.wait(reply.drip):
                return
            try:
                self.wfile.write(answer[i:i + 1])
            except OSError:  # the client gave up (its deadline closed the connection)
                return

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Stay quiet: pytest output is for failures."""


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class _QuietServer(ThreadingHTTPServer):
    """A threaded server that does not print a traceback when a client hangs up."""

    daemon_threads = True
    block_on_close = False
    # socketserver's listen backlog is 5: a sender's burst of connections overflowed it, and the kernel reset
    # the ones it dropped (a real provider's backlog is in the hundreds or more)
    request_queue_size = 128
    tls: ssl.SSLContext | None = None  # set: every accepted connection speaks TLS

    def get_request(self) -> tuple[Any, Any]:
        sock, address = super().get_request()
        if self.tls is not None:  # the handshake happens on first read, in the handler's thread
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], OSError):  # ssl.SSLError and resets are OSErrors
            super().handle_error(request, client_address)


class _Service:
    """Start/stop plumbing shared by the server and the proxy."""

    _httpd: _QuietServer

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "_Service":
        """Serve in a background thread; returns self."""
        # A short poll keeps stop() fast: shutdown() waits for the loop to notice.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hanging replies, stop serving and close the socket."""
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]


class RecordingServer(Recorder, _Service):
    """A local HTTP(S) server on 127.0.0.1:<free port> that records requests and answers from a script."""

    def __init__(self, *replies: Reply, tls: bool = False) -> None:
        Recorder.__init__(self, *replies)
        _Service.__init__(self)
        self._httpd = _QuietServer(("127.0.0.1", 0), _RecordingHandler)
        self._httpd.site = _Site(self, self._stopping)  # type: ignore[attr-defined]
        self.ca_bundle_path: str | None = None  # with tls: the CA a client must trust
        self._dir: Path | None = None
        if tls:
            import trustme

            ca = trustme.CA()
            self._dir = Path(tempfile.mkdtemp(prefix="notify-receiver-"))
            self.ca_bundle_path = str(self._dir / "ca.pem")
            ca.cert_pem.write_to_path(self.ca_bundle_path)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
            self._httpd.tls = context

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:40123 (https:// with tls; no trailing slash)."""
        return f"{'https' if self._dir else 'http'}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop serving and delete the CA file, if any."""
        super().stop()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
