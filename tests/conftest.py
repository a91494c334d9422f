"""Shared fixtures: every test runs in a clean environment with its own state dir."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from .helpers import channel_env, make_private, provider_stand_ins

REPO = Path(__file__).resolve().parent.parent


UNPACED = '{"slack": "off", "twilio": "off", "pagerduty": "off", "smtp": "off", "apprise": "off"}'


@pytest.fixture(autouse=True)
def clean_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No NOTIFY_* leaks in from the developer's shell; state and cwd are private to the test."""
    for name in list(os.environ):
        if name.startswith("NOTIFY_") or name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
            monkeypatch.delenv(name)
    work = tmp_path_factory.mktemp("cwd")
    monkeypatch.setenv("XDG_STATE_HOME", str(work / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(work / "cache"))
    # Unpaced unless a test asks (tests/test_paced_sending.py sets the defaults again): most tests
    # stand their clock still, where a paced route's second send would never get its turn.
    monkeypatch.setenv("NOTIFY_RATE_LIMITS", UNPACED)
    monkeypatch.chdir(work)
    # Files a test writes (.env, a config in the working directory) are the user's own and not writable by
    # others, as notify requires of them, whatever umask the run was started with (002 is common).
    umask = os.umask(0o022)
    yield work
    os.umask(umask)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped configuration (contacts, policy, templates)."""
    target = tmp_path / "config"
    target.mkdir()
    for name in ("contacts.toml", "policy.toml"):
        shutil.copy(REPO / name, target / name)
    shutil.copytree(REPO / "templates", target / "templates")
    make_private(target)  # a copy keeps the checkout's modes, which a umask of 002 leaves group-writable
    return target


@pytest.fixture
def providers(monkeypatch: pytest.MonkeyPatch):
    """Every channel configured against local stand-ins: (smtp server, provider proxy, the env set)."""
    with provider_stand_ins() as (smtp, proxy):
        env = dict(proxy.env(ca_bundle=True), **channel_env(smtp.url(**{"from": "notify@teamflow.example"})))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield smtp, proxy, env


@dataclass(frozen=True)
class RotationWeek:
    """One week of the shipped weekly rotation (contacts.toml), and who is on duty in it."""

    now: str  # for NOTIFY_NOW: a minute after Monday's 09:00 hand-off in Los Angeles
    primary: str
    secondary: str


ROTATION_WEEKS = (RotationWeek("2026-12-07T17:01:00Z", "support-manager-a", "engineering-manager-a"),
                  RotationWeek("2026-12-14T17:01:00Z", "support-manager-b", "engineering-manager-b"))


@pytest.fixture(params=ROTATION_WEEKS, ids=["week-a", "week-b"])
def rotation_week(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> RotationWeek:
    """Run a test that depends on who is on call once in each rotation week, with NOTIFY_NOW set to it.

    The rotation hands over weekly, so a test that assumed one week's primary passed every
    other week; run in both, such a test cannot pass by the calendar's chance.
    """
    monkeypatch.setenv("NOTIFY_NOW", request.param.now)
    return request.param
