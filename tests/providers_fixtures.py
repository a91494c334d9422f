"""Fixtures and builders for channel tests; import them explicitly (conftest.py belongs to the core).

    from tests.providers_fixtures import proxy, receiver, make_notice, make_address  # noqa: F401
"""

from __future__ import annotations

import socket
from typing import Any, Iterator

import pytest

from dispatcher.api import Address, Notice
from dispatcher.testing import ProviderProxy, RecordingServer

from .helpers import SID  # noqa: F401 - the suite's one Twilio account, re-exported for the channel tests

CANARY = "CANARYSECRET123"
FROM = "+15550100000"
TO = "+15550100001"


def isolate_env(monkeypatch: pytest.MonkeyPatch, proxy: ProviderProxy | None = None) -> None:
    """Clear proxy and CA variables from the developer's shell, then route HTTPS via `proxy`."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    env = proxy.env() if proxy else {n: "" for n in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY",
                                                    "http_proxy", "ALL_PROXY", "all_proxy")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ProviderProxy]:
    """A ProviderProxy for the four provider hosts, set as HTTPS_PROXY for this test."""
    with ProviderProxy() as running:
        isolate_env(monkeypatch, running)
        yield running


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingServer]:
    """A RecordingServer reachable without any proxy."""
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)  # HTTPS_PROXY (if `proxy` set it) may stay
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with RecordingServer() as running:
        yield running


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_notice(**overrides: Any) -> Notice:
    """A realistic notice; override any field."""
    values: dict[str, Any] = dict(
        incident_id="INC-20240607-0042", incident_class="security", step=1,
        subject="[SEV1] Credential leak on api-gateway",
        text="SEV1 security incident INC-20240607-0042: credential leak on api-gateway. Ack: notify ack INC-20240607-0042",
        severity="critical", fields={"service": "api-gateway", "region": "eu-west-1"},
    )
    values.update(overrides)
    return Notice(**values)


def make_address(channel: str, target: str = TO, **overrides: Any) -> Address:
    """An address for `channel`; override any field."""
    values = dict(person="alice", display="Alice Ng", role="rotation:primary", channel=channel, target=target)
    values.update(overrides)
    return Address(**values)
