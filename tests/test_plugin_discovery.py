"""Channel plugins are found through entry points, and a package installed later is found at once.

Discovery is cached (reading every package's metadata costs each command
10-20 ms), keyed by the directories on sys.path; these tests install plugins
as pip would, as a `*.dist-info` directory with `entry_points.txt`, and expect
each change to be seen by the next command.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatcher.registry import GROUP, Registry, discover, load_entry_point
from dispatcher.settings import load_settings


def install(site: Path, package: str, entry_points: str, module: str | None = None) -> None:
    """What pip leaves behind: the module and a dist-info with METADATA and entry_points.txt."""
    info = site / f"{package}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{entry_points}\n")
    if module is not None:
        (site / f"{package}.py").write_text(module)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return site


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
    assert found["email"].startswith("channels.email:")


def test_a_plugin_installed_after_a_first_discovery_is_found(site: Path) -> None:
    assert "pager" not in discover()
    install(site, "acme_pager", "pager = acme_pager:Pager", PAGER)
    assert discover()["pager"] == "acme_pager:Pager"
    channel = Registry(load_settings(), None).get("pager")
    assert type(channel).__name__ == "Pager" and channel.configured()


def test_a_broken_plugin_is_reported_and_the_others_still_load(site: Path) -> None:
    install(site, "broken_pager", "pager = broken_pager:NoSuchClass", PAGER)
    registry = Registry(load_settings(), None)
    assert registry.get("pager") is None
    assert registry.load_errors["pager"].startswith("broken_pager:NoSuchClass: ")
    assert registry.get("email") is not None


@pytest.mark.parametrize(("value", "expected"), [
    ("os.path:join", "join"),
    ("os.path : join", "join"),
    ("os:path.join", "join"),
    ("os.path", "posixpath"),
    ("os.path:join [extra]", "join"),
])
def test_entry_point_values_load_as_importlib_loads_them(value: str, expected: str) -> None:
    assert load_entry_point(value).__name__ == expected


def test_a_malformed_entry_point_is_an_import_error() -> None:
    with pytest.raises(ImportError, match="not an entry point"):
        load_entry_point("not valid:at all")
