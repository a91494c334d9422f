"""The channel contract as an opt-in pytest plugin, for a third-party channel's own tests.

Load it with ``pytest -p dispatcher.testing.contract`` (or ``addopts`` in the package's
pytest settings): it is no auto-loaded entry point, so installing notify changes nobody's
test run. Then subclass :class:`ChannelContract` in a test module::

    from dispatcher.testing.contract import ChannelContract

    class TestEchoContract(ChannelContract):
        channel = "echo"        # the `dispatcher.channels` entry point, loaded as notify loads it
        target = "billing"      # an address the channel accepts

Every test drives the channel, built from its entry point with a :class:`ChannelConfig` whose
URL points at the ``provider`` fixture (a local :class:`RecordingServer`), and checks what notify
relies on: the protocol's methods, capabilities as data, no settings meaning not configured,
one request per send, each provider answer classified (2xx delivered; 429 and 5xx transient;
other 4xx permanent; an unreachable provider transient), never an exception, a secret of
the settings never in a result, the :class:`~dispatcher.api.Routing` hooks, when the channel
has them, answered without sending, and its contacts.toml declarations (``destinations``,
``person_field``) usable as names, with the :class:`~dispatcher.api.Addressing` hook, when it has
one, answering on the class and accepting ``target``. Override :meth:`ChannelContract.config` when the channel needs
more than a URL (``settings=`` for its ``NOTIFY_<NAME>_*``).
"""

from __future__ import annotations

import re
import socket
from importlib.metadata import entry_points
from typing import Any, Iterator

import pytest

from ..api import (Address, Capabilities, Channel, ChannelConfig, DeliveryResult, Notice, Outcome, Routing,
                   TargetKind)
from .providers import RecordingServer, Reply

__all__ = ["ChannelContract", "provider"]

CANARY = "c4nary-s3cret-9f8e7d"  # in the channel's URL: it must never come back in a result
FAMILIES = ("email", "slack", "sms", "voice")


@pytest.fixture
def provider() -> Iterator[RecordingServer]:
    """The channel's provider: a local HTTP server that records each request and answers 200 unless scripted."""
    with RecordingServer(Reply(200, {"ok": True})) as server:
        yield server


class ChannelContract:
    """What every channel owes notify; subclass it with ``channel`` and ``target`` set."""

    channel: str = ""
    target: str = ""

    def config(self, url: str | None) -> ChannelConfig:
        """The channel's settings for a test: ``url`` points at the provider (None: no settings)."""
        return ChannelConfig(url=url, connect_timeout=2.0, read_timeout=2.0)

    def url(self, provider: RecordingServer) -> str:
        """The channel's URL at the provider, carrying a canary secret."""
        return f"{provider.url}/hook?token={CANARY}"

    def build(self, url: str | None) -> Channel:
        found = {ep.name: ep for ep in entry_points(group="dispatcher.channels")}
        assert self.channel in found, f"no channel {self.channel!r} installed (installed: {', '.join(sorted(found))})"
        return found[self.channel].load()(self.config(url))

    def send(self, channel: Channel, **notice: Any) -> DeliveryResult:
        values: dict[str, Any] = dict(incident_id="SEC-2026-001", incident_class="security", step=0,
                                      subject="Security incident", text="SEC-2026-001: unusual admin logins",
                                      dedup_key="SEC-2026-001/0/alice")
        values.update(notice)
        return channel.send(Notice(**values), Address("alice", "Alice", "rotation:primary", self.channel, self.target))

    def test_it_is_a_channel_with_capabilities_as_data(self) -> None:
        channel = self.build(None)
        assert isinstance(channel, Channel)
        capabilities = type(channel).capabilities
        assert isinstance(capabilities, Capabilities) and isinstance(capabilities.target, TargetKind)
        assert capabilities.template in FAMILIES, f"template family {capabilities.template!r} is not one of {FAMILIES}"
        channel.close()

    def test_no_settings_is_not_configured(self) -> None:
        channel = self.build(None)
        assert not channel.configured()
        channel.close()

    def test_a_good_answer_is_delivered_after_one_request(self, provider: RecordingServer) -> None:
        channel = self.build(self.url(provider))
        assert channel.configured() and channel.problems() == []
        assert self.send(channel).outcome is Outcome.DELIVERED
        assert len(provider.requests) == 1
        channel.close()

    @pytest.mark.parametrize(("status", "outcome"), [
        (500, Outcome.FAILED_TRANSIENT), (503, Outcome.FAILED_TRANSIENT), (429, Outcome.FAILED_TRANSIENT),
        (400, Outcome.FAILED_PERMANENT), (401, Outcome.FAILED_PERMANENT), (404, Outcome.FAILED_PERMANENT),
    ])
    def test_each_answer_is_classified(self, provider: RecordingServer, status: int, outcome: Outcome) -> None:
        provider.script(Reply(status, {"error": "scripted"}))
        channel = self.build(self.url(provider))
        result = self.send(channel)
        assert result.outcome is outcome, f"HTTP {status}: {result}"
        assert CANARY not in result.detail
        channel.close()

    def test_an_unreachable_provider_is_transient_not_an_exception(self) -> None:
        with socket.socket() as sock:  # a local port nothing listens on
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        channel = self.build(f"http://127.0.0.1:{port}/hook?token={CANARY}")
        result = self.send(channel)
        assert result.outcome is Outcome.FAILED_TRANSIENT and CANARY not in result.detail
        channel.close()

    def test_routing_hooks_answer_without_sending_or_showing_a_secret(self, provider: RecordingServer) -> None:
        channel = self.build(self.url(provider))
        if not isinstance(channel, Routing):
            channel.close()
            pytest.skip("the channel defines no Routing hooks (dispatcher.api.Routing): notify check asks nothing")
        said = [*channel.route_warnings([self.target]), channel.posted_only(self.target) or ""]
        channel.close()
        assert all(isinstance(text, str) and CANARY not in text for text in said)
        assert provider.requests == []

    def test_its_contacts_declarations_are_names_and_its_address_hook_answers_on_the_class(self) -> None:
        channel = self.build(None)
        cls, capabilities = type(channel), type(channel).capabilities
        channel.close()
        for declared in (capabilities.destinations, capabilities.person_field):
            assert declared is None or re.fullmatch(r"[a-z][a-z0-9_-]*", declared), \
                f"{declared!r} cannot be a contacts.toml table or key"
        assert isinstance(capabilities.quietness, int)
        check = getattr(cls, "target_problem", None)
        if check is not None:  # called on the class when contacts.toml loads, before any instance exists
            assert check(self.target) is None, f"the hook refuses {self.target!r}, the address the contract sends to"
            assert all(isinstance(check(odd, group), (str, type(None))) for odd in ("", " ", "#x", "U0")
                       for group in (False, True))
