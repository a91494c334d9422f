"""Channel plugins are found through the `dispatcher.channels` entry points, as importlib.metadata reads them.

These tests install plugins as pip would, as a `*.dist-info` directory with
`entry_points.txt`. Discovery is read once per process (a command's life), so
each test starts from a fresh read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from dispatcher.delivery.registry import GROUP, Registry, discover
from dispatcher.config.settings import load_settings


def install(site: Path, package: str, entry_points: str, module: str | None = None) -> None:
    """What pip leaves behind: the module and a dist-info with METADATA and entry_points.txt."""
    info = site / f"{package}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{entry_points}\n")
    if module is not None:
        (site / f"{package}.py").write_text(module)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path to install into; discovery is read afresh after each test's installs."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    discover.cache_clear()
    yield site
    discover.cache_clear()


PAGER = '''
from dispatcher.api import Capabilities, DeliveryResult, TargetKind

class Pager:
    capabilities = Capabilities(target=TargetKind.PHONE)

    def __init__(self, config):
        self.config = config

    def configured(self):
        return True

    def send(self, notice, address):
        return DeliveryResult.delivered()

    def close(self):
        pass
'''


def test_the_built_in_channels_are_found() -> None:
    found = discover()
    assert {"email", "slack", "sms", "phone", "webhook", "apprise"} <= set(found)
    assert found["email"].value.startswith("channels.email:")


def test_an_installed_plugin_is_found_and_loaded(site: Path) -> None:
    install(site, "acme_pager", "pager = acme_pager:Pager", PAGER)
    assert discover()["pager"].value == "acme_pager:Pager"
    channel = Registry(load_settings(), None).get("pager")
    assert type(channel).__name__ == "Pager" and channel.configured()


def test_a_broken_plugin_is_reported_and_the_others_still_load(site: Path) -> None:
    install(site, "broken_pager", "pager = broken_pager:NoSuchClass", PAGER)
    registry = Registry(load_settings(), None)
    assert registry.get("pager") is None
    assert registry.load_errors["pager"].startswith("broken_pager:NoSuchClass: ")
    assert registry.get("email") is not None
