"""A stage for sending tests: an in-process SMTP server, providers behind a TLS proxy, a fake clock."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from dispatcher.app import engine
from dispatcher.clock import FakeClock, parse_instant
from dispatcher.config.settings import load_settings
from dispatcher.store import open_store
from dispatcher.testing.proxy import ProviderProxy
from dispatcher.testing.smtp import SmtpServer

from .helpers import SLACK_HOOK, provider_stand_ins, twilio_url

FIELDS = {"customer": "Acme Corp", "reported_by": "jane@acme.example", "summary": "Unusual admin logins"}


@dataclass
class Stage:
    smtp: SmtpServer
    proxy: ProviderProxy
    config_dir: Path
    store_path: Path
    clock: FakeClock

    def settings(self, **overrides):
        values = dict(email_url=self.smtp.url(**{"from": "notify@teamflow.example"}),
                      slack_url=SLACK_HOOK, sms_url=twilio_url("authtoken"),
                      phone_url=twilio_url("authtoken", "call"), statuspage_url="statuspage://stage-statuspage-key",
                      ca_bundle=self.proxy.ca_bundle_path, connect_timeout=2.0, read_timeout=2.0,
                      retry_attempts=4)
        values.update(overrides)
        return load_settings(**{k: v for k, v in values.items() if v is not None})

    def trigger(self, incident_id: str = "SEC-2024-001", klass: str = "security", drill: bool = False,
                fields: dict | None = None, **settings):
        rt = engine.load_runtime(self.config_dir, self.settings(**settings))
        incident = engine.new_incident(rt, klass, fields or FIELDS, now=self.clock.now(), drill=drill,
                                       incident_id=incident_id)
        store = self.store()
        try:
            return engine.trigger(rt, klass, incident, store=store, clock=self.clock)
        finally:
            store.close()

    def start_in(self, week) -> None:
        """Start the clock in one week of the shipped rotation (a conftest RotationWeek)."""
        self.clock = FakeClock(parse_instant(week.now, "NOTIFY_NOW"))

    def runtime(self, **settings):
        return engine.load_runtime(self.config_dir, self.settings(**settings))

    def store(self):
        return open_store(f"sqlite:///{self.store_path}")

    def twilio(self, kind: str) -> list:
        return [r for r in self.proxy["api.twilio.com"].requests if r.path.endswith(f"/{kind}.json")]


def make_stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    with provider_stand_ins() as (smtp, proxy):
        for name, value in proxy.env().items():
            monkeypatch.setenv(name, value)
        yield Stage(smtp, proxy, config_dir, tmp_path / "notify.db", FakeClock())


