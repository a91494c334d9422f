"""A TLS-terminating HTTPS_PROXY that impersonates SaaS providers, so a channel's real HTTP and TLS stack is tested.

``ProviderProxy`` is what ``HTTPS_PROXY`` points at: it accepts CONNECT for the
provider hosts only, terminates TLS with a leaf certificate for that host issued
by a throwaway trustme CA, and records the decrypted request. So the channel's
real HTTP and TLS stack (httpx and ssl, or requests in the apprise
channel) talks to "api.twilio.com" and the test sees the
exact request Twilio would have received::

    with ProviderProxy() as proxy:
        proxy["api.twilio.com"].script(Reply(201, {"sid": "SM1"}))
        for name, value in proxy.env().items():
            monkeypatch.setenv(name, value)
        channel = SmsChannel(ChannelConfig(url="twilio://AC1:tok@+15550100000",
                                           ca_bundle=proxy.ca_bundle_path))
        channel.send(notice, address)
        (request,) = proxy["api.twilio.com"].requests
        assert request.path == "/2010-04-01/Accounts/AC1/Messages.json"
        assert request.form["To"] == address.target

Stdlib, ``trustme`` and ``cryptography`` only; nothing here ever connects to the internet.
"""

from __future__ import annotations

import shutil
import ssl
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Callable, Iterable

from .providers import (
    Recorded,
    Recorder,
    _QuietServer,
    _RecordingHandler,
    _Service,
    _Site,
)

__all__ = ["PROVIDER_HOSTS", "ProviderProxy"]

PROVIDER_HOSTS = ("api.twilio.com", "hooks.slack.com", "slack.com", "events.pagerduty.com", "api.statuspage.io")


class _ProxyHandler(BaseHTTPRequestHandler):
    """Accept CONNECT for known hosts, terminate TLS, and hand the tunnel to a recorder."""

    protocol_version = "HTTP/1.1"
    timeout = 10
    server: Any

    def do_CONNECT(self) -> None:
        proxy: ProviderProxy = self.server.proxy
        host = self.path.rpartition(":")[0]
        self.server.tunnels.append(host)
        if host not in proxy.hosts:
            self.send_error(403, f"{host} is not a provider this proxy impersonates")
            return
        self.send_response(200, "Connection Established")
        self.end_headers()
        self.close_connection = True  # the raw socket belongs to TLS from here on
        try:
            tls = proxy._tls_context(host).wrap_socket(self.connection, server_side=True)
        except OSError:
            return
        with tls:
            try:
                _RecordingHandler(tls, self.client_address, _Holder(proxy._site(host)))
            except OSError:  # the client gave up (read timeout) or reset the tunnel
                pass

    def _refuse(self) -> None:
        self.send_error(405, "this proxy only tunnels (CONNECT) to provider hosts")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _refuse

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Stay quiet: pytest output is for failures."""


@dataclass
class _Holder:
    """Stands in for the server object a BaseHTTPRequestHandler expects."""

    site: _Site


class ProviderProxy(_Service):
    """An HTTPS_PROXY on 127.0.0.1 that impersonates provider hosts with a trustme CA.

    ``proxy[host]`` is that host's :class:`Recorder` (script it, read its requests);
    ``proxy.ca_bundle_path`` is the CA to trust; ``proxy.env()`` the variables to set.
    """

    def __init__(self, hosts: Iterable[str] = PROVIDER_HOSTS,
                 recorder: Callable[[str], Recorder] = lambda host: Recorder()) -> None:
        """``recorder(host)`` builds each host's Recorder: a subclass may choose replies by path."""
        import trustme

        super().__init__()
        self.hosts = tuple(hosts)
        self._recorders = {host: recorder(host) for host in self.hosts}
        self._ca = trustme.CA()
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()
        self._dir = Path(tempfile.mkdtemp(prefix="notify-proxy-"))
        self.ca_bundle_path = str(self._dir / "ca.pem")
        self._ca.cert_pem.write_to_path(self.ca_bundle_path)
        self._httpd = _QuietServer(("127.0.0.1", 0), _ProxyHandler)
        self._httpd.proxy = self  # type: ignore[attr-defined]
        self._httpd.tunnels = []  # type: ignore[attr-defined]

    def __getitem__(self, host: str) -> Recorder:
        return self._recorders[host]

    @property
    def proxy_url(self) -> str:
        """The value for HTTPS_PROXY, e.g. http://127.0.0.1:40124."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[Recorded]:
        """Every request to every host, oldest first."""
        everything = [r for rec in self._recorders.values() for r in rec.requests]
        return sorted(everything, key=lambda r: r.received_at)

    @property
    def tunnels(self) -> list[str]:
        """Hosts named in CONNECT requests, including refused ones."""
        return list(self._httpd.tunnels)  # type: ignore[attr-defined]

    def env(self, ca_bundle: bool = False) -> dict[str, str]:
        """Environment for a client: HTTPS via this proxy, no other proxy, no NO_PROXY bypass.

        With ``ca_bundle=True`` also REQUESTS_CA_BUNDLE/SSL_CERT_FILE, for a subprocess (the CLI).
        """
        env = {name: "" for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy",
                                     "ALL_PROXY", "all_proxy")}
        env.update(HTTPS_PROXY=self.proxy_url, https_proxy=self.proxy_url)
        if ca_bundle:
            env.update(REQUESTS_CA_BUNDLE=self.ca_bundle_path, SSL_CERT_FILE=self.ca_bundle_path)
        return env

    def stop(self) -> None:
        """Stop serving and delete the CA file."""
        super().stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _site(self, host: str) -> _Site:
        return _Site(self._recorders[host], self._stopping, host)

    def _tls_context(self, host: str) -> ssl.SSLContext:
        """A server context presenting a leaf certificate for exactly this host."""
        with self._lock:
            if host not in self._contexts:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                self._ca.issue_cert(host).configure_cert(context)
                self._contexts[host] = context
            return self._contexts[host]
