"""Shared fixtures: every test runs in a clean environment with its own state dir."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clean_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No NOTIFY_* leaks in from the developer's shell; state and cwd are private to the test."""
    for name in list(os.environ):
        if name.startswith("NOTIFY_") or name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
            monkeypatch.delenv(name)
    work = tmp_path_factory.mktemp("cwd")
    monkeypatch.setenv("XDG_STATE_HOME", str(work / "state"))
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped configuration (contacts, policy, templates)."""
    target = tmp_path / "config"
    target.mkdir()
    for name in ("contacts.toml", "policy.toml"):
        shutil.copy(REPO / name, target / name)
    shutil.copytree(REPO / "templates", target / "templates")
    return target
