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


POCKET = '''
import re
from dispatcher.api import Capabilities, DeliveryResult, TargetKind

class Pocket:
    capabilities = Capabilities(target=TargetKind.URL, template="sms", destinations="rooms", person_field="pocket",
                                quietness=5)

    @staticmethod
    def target_problem(target, group=False):
        if group:
            return None if re.fullmatch(r"room-[a-z]+", target) else f"{target!r} is not a room-NAME"
        return None if re.fullmatch(r"[a-z]+", target) else f"{target!r} is not a pocket handle"

    def __init__(self, config):
        self.config = config

    def configured(self):
        return True

    def send(self, notice, address):
        return DeliveryResult.delivered()

    def close(self):
        pass
'''

POCKET_CONTACTS = """
[people.ann]
name = "Ann"
email = "ann@acme.example"
pocket = "{handle}"
channels = ["pocket", "email"]

[rooms.ops]
channel = "{room}"
"""


def pocket_directory(tmp_path: Path, handle: str = "ann", room: str = "room-ops"):
    from dispatcher.config.directory import check_directory

    path = tmp_path / "contacts.toml"
    path.write_text(POCKET_CONTACTS.format(handle=handle, room=room))
    directory, problems = check_directory(path)
    return directory, [f"{p.key}: {p.message}" for p in problems if p.severity.value == "error"]


def test_a_plugin_owns_its_table_its_person_key_and_its_address_rules(site: Path, tmp_path: Path) -> None:
    from dispatcher.config.policy import audience_problems, is_audience
    from dispatcher.domain.entries import Entry
    from dispatcher.domain.incident import Incident
    from dispatcher.domain.plan import plan_audience

    install(site, "acme_pocket", "pocket = acme_pocket:Pocket", POCKET)
    directory, errors = pocket_directory(tmp_path)
    assert errors == []
    assert directory.people["ann"].target("pocket") == "ann"  # its person key, read as addresses.pocket
    assert directory.table_owners() == {"rooms": "pocket"} and directory.destinations("pocket") == [("room-ops", None)]
    assert is_audience("rooms:ops") and audience_problems("rooms:ops", directory) == []
    assert audience_problems("rooms:nope", directory) == ["unknown rooms 'nope' (not in contacts.toml [rooms])"]
    (planned,) = plan_audience(Entry("rooms:ops"), Incident("X-1", "ops", None, {}), None, 0, directory)
    assert (planned.address.channel, planned.address.target, planned.template) == ("pocket", "room-ops", "sms")


def test_a_plugin_address_its_hook_refuses_is_an_error_naming_the_key(site: Path, tmp_path: Path) -> None:
    install(site, "acme_pocket", "pocket = acme_pocket:Pocket", POCKET)
    _, errors = pocket_directory(tmp_path, handle="Ann!", room="ops")
    assert errors == ["people.ann.pocket: 'Ann!' is not a pocket handle", "rooms.ops.channel: 'ops' is not a room-NAME"]


def test_without_the_plugin_its_table_and_person_key_are_unknown_keys(site: Path, tmp_path: Path) -> None:
    from dispatcher.config.policy import is_audience

    directory, errors = pocket_directory(tmp_path)
    assert directory is None and "rooms: unknown key (typo?)" in errors and "people.ann.pocket: unknown key (typo?)" in errors
    assert not is_audience("rooms:ops")


def test_the_sender_refuses_an_address_the_channel_hook_takes_neither_as_a_person_nor_a_room(site: Path) -> None:
    from dispatcher.api import Address, Notice, Reason
    from dispatcher.delivery.registry import refuse

    install(site, "acme_pocket", "pocket = acme_pocket:Pocket", POCKET)
    pocket = Registry(load_settings(), None).get("pocket")
    notice = Notice("X-1", "ops", 0, "subject", "text")
    def to(target: str) -> Address:
        return Address("ann", "Ann", "person:ann", "pocket", target)

    assert refuse(pocket.capabilities, notice, to("ann"), pocket) is None
    assert refuse(pocket.capabilities, notice, to("room-ops"), pocket) is None
    refused = refuse(pocket.capabilities, notice, to("Room Ops"), pocket)
    assert refused is not None and refused.reason is Reason.UNSUPPORTED
