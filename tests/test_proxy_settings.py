"""Which URL goes through which proxy, from the settings a user sets to the request a server receives.

Observed only at the edges (real local proxies and receivers, settings read from
the environment), never in the HTTP client's internals: these tests hold for any
client the channels use.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from dispatcher.api import Outcome
from dispatcher.drill.sandbox import Sandbox
from dispatcher.delivery.registry import Registry
from dispatcher.config.settings import load_settings
from dispatcher.testing import ProviderProxy, RecordingServer, Reply
from tests.providers_fixtures import make_address, make_notice

VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE",
             "CURL_CA_BUNDLE")


@pytest.fixture(autouse=True)
def bare(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy or CA variable from the developer's shell."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def proxy() -> Iterator[ProviderProxy]:
    """A real proxy that tunnels to (and impersonates) these hosts only, and records who asked."""
    with ProviderProxy(hosts=("hooks.example.com", "127.0.0.1")) as running:
        running["hooks.example.com"].script(Reply(200, "ok"))
        yield running


def send_webhook(monkeypatch: pytest.MonkeyPatch, **env: str):
    """Set the environment, read the settings as every command does, and send one generic webhook."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    registry = Registry(load_settings(), None)
    try:
        return registry.get("webhook").send(make_notice(), make_address("webhook", "ops"))
    finally:
        registry.close()


def test_notify_proxy_carries_https_urls(monkeypatch, proxy):
    result = send_webhook(monkeypatch, NOTIFY_PROXY=proxy.proxy_url, NOTIFY_CA_BUNDLE=proxy.ca_bundle_path,
                          NOTIFY_WEBHOOK_URL="https://hooks.example.com/notify")
    assert result.outcome is Outcome.DELIVERED
    assert proxy.tunnels == ["hooks.example.com"] and proxy["hooks.example.com"].requests[0].path == "/notify"


def test_a_plain_http_webhook_on_the_local_network_does_not_go_through_notify_proxy(monkeypatch, proxy):
    with RecordingServer(Reply(200, "ok")) as receiver:
        result = send_webhook(monkeypatch, NOTIFY_PROXY=proxy.proxy_url, NOTIFY_WEBHOOK_URL=f"{receiver.url}/hook")
    assert result.outcome is Outcome.DELIVERED
    assert [r.path for r in receiver.requests] == ["/hook"] and proxy.tunnels == [] and proxy.requests == []


def test_http_proxy_from_the_environment_still_carries_plain_http_beside_notify_proxy(monkeypatch, proxy):
    with RecordingServer(Reply(200, "ok")) as http_proxy:
        result = send_webhook(monkeypatch, NOTIFY_PROXY=proxy.proxy_url, HTTP_PROXY=http_proxy.url,
                              NOTIFY_WEBHOOK_URL="http://receiver.internal:8080/hook")
    assert result.outcome is Outcome.DELIVERED
    assert [r.path for r in http_proxy.requests] == ["http://receiver.internal:8080/hook"] and proxy.tunnels == []


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "127.0.0.0/8", "*"])
def test_notify_proxy_honours_no_proxy_for_https(monkeypatch, proxy, no_proxy):
    with RecordingServer(Reply(200, "ok"), tls=True) as receiver:
        result = send_webhook(monkeypatch, NOTIFY_PROXY=proxy.proxy_url, NO_PROXY=no_proxy,
                              NOTIFY_CA_BUNDLE=receiver.ca_bundle_path, NOTIFY_WEBHOOK_URL=f"{receiver.url}/hook")
    assert result.outcome is Outcome.DELIVERED, result.detail
    assert [r.path for r in receiver.requests] == ["/hook"] and proxy.tunnels == []


def test_notify_proxy_wins_over_https_proxy(monkeypatch, proxy):
    with RecordingServer() as other:
        result = send_webhook(monkeypatch, NOTIFY_PROXY=proxy.proxy_url, HTTPS_PROXY=other.url,
                              NOTIFY_CA_BUNDLE=proxy.ca_bundle_path,
                              NOTIFY_WEBHOOK_URL="https://hooks.example.com/notify")
    assert result.outcome is Outcome.DELIVERED
    assert proxy.tunnels == ["hooks.example.com"] and other.requests == []


# -- the drill sandbox's own proxy: internal, and nothing bypasses it ---------------------------------------


def test_the_sandbox_proxy_cannot_be_set_from_the_environment(monkeypatch, proxy):
    monkeypatch.setenv("NOTIFY_SANDBOX_PROXY", proxy.proxy_url)
    assert load_settings().sandbox_proxy is None


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/hook", "https://127.0.0.1:{port}/hook"])
def test_the_sandbox_proxy_takes_every_url_whatever_no_proxy_says(monkeypatch, url):
    """A drill reaches the sandbox or nothing: a receiver NO_PROXY names, plain HTTP or not, is never reached."""
    monkeypatch.setenv("NO_PROXY", "*")
    with RecordingServer(Reply(200, "ok")) as receiver, Sandbox() as sandbox:
        settings = {**sandbox.settings, "webhook_url": url.format(port=receiver.port)}
        registry = Registry(load_settings(**settings), None, drill=True)
        try:
            result = registry.get("webhook").send(make_notice(drill=True), make_address("webhook", "ops"))
            slack = registry.get("slack").send(make_notice(drill=True), make_address("slack", "#ops"))
        finally:
            registry.close()
        tunnels = sandbox.proxy.tunnels
    assert receiver.requests == [] and result.outcome is not Outcome.DELIVERED
    assert slack.outcome is Outcome.DELIVERED and "hooks.slack.com" in tunnels
