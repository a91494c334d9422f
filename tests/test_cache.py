"""The start-up cache: validated configuration and compiled templates kept between runs, never stale.

Every entry is keyed by the bytes it derives from, so these tests edit files
between runs and expect the edit to be seen at once; and a cache that cannot be
used (corrupt, foreign, switched off) must only cost time, never a page.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dispatcher import cache
from dispatcher.directory import check_directory
from dispatcher.policy import check_policy
from dispatcher.rendering import Renderer, shipped_template_dir


REPO = Path(__file__).resolve().parent.parent


def entries(kind: str) -> list[Path]:
    directory = cache.cache_dir(kind)
    return sorted(p for p in directory.iterdir() if not p.name.startswith(".")) if directory else []


def test_a_validated_directory_is_kept_and_an_edit_is_seen_at_once(tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.toml"
    shutil.copy(REPO / "contacts.toml", contacts)
    first, problems = check_directory(contacts)
    assert first is not None and len(entries("config")) == 1
    again, problems_again = check_directory(contacts)
    assert again == first and problems_again == problems

    contacts.write_text(contacts.read_text().replace('phone = "+', 'phone = "', 1))
    broken, problems = check_directory(contacts)
    assert broken is None
    assert any("is not E.164" in p.message for p in problems)
    assert len(entries("config")) == 2


def test_the_policy_entry_depends_on_the_directory_it_was_checked_against(tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.toml"
    shutil.copy(REPO / "contacts.toml", contacts)
    directory, _ = check_directory(contacts)
    policy, problems = check_policy(REPO / "policy.toml", directory)
    assert policy is not None and not [p for p in problems if p.severity.value == "error"]

    # The same policy against a directory without outside counsel: the cached "no problems" must not be reused.
    text = contacts.read_text()
    start = text.index("[external.legal-counsel]")
    end = text.index("\n[", start + 1)
    contacts.write_text(text[:start] + text[end + 1:])
    smaller, _ = check_directory(contacts)
    assert smaller is not None and "legal-counsel" not in smaller.external
    _, problems = check_policy(REPO / "policy.toml", smaller)
    assert any("unknown external 'legal-counsel'" in p.message for p in problems)


def test_a_corrupt_entry_is_a_miss_and_is_rewritten(tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.toml"
    shutil.copy(REPO / "contacts.toml", contacts)
    first, _ = check_directory(contacts)
    [entry] = entries("config")
    entry.write_bytes(b"\x80\x05not a pickle")
    again, _ = check_directory(contacts)
    assert again == first
    assert entry.read_bytes() != b"\x80\x05not a pickle"


@pytest.mark.parametrize("setting", ["off", "OFF", "0"])
def test_the_cache_can_be_switched_off(setting: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_CACHE_DIR", setting)
    assert cache.cache_dir("config") is None
    directory, _ = check_directory(REPO / "contacts.toml")
    assert directory is not None


def test_a_directory_others_can_write_to_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("NOTIFY_CACHE_DIR", str(shared))
    assert cache.cache_dir("config") is None
    directory, _ = check_directory(REPO / "contacts.toml")
    assert directory is not None
    assert list(shared.iterdir()) == []  # nothing was read from or written to it


def test_a_new_cache_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_CACHE_DIR", str(tmp_path / "fresh"))
    path = cache.cache_dir("config")
    assert path is not None
    for directory in (tmp_path / "fresh", path.parent, path):
        assert directory.stat().st_mode & 0o777 == 0o700


def test_entries_of_old_code_versions_are_removed_but_a_few_are_kept(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "root"
    root.mkdir(mode=0o700)
    monkeypatch.setenv("NOTIFY_CACHE_DIR", str(root))
    versions = [root / f"{n:016x}" for n in range(5)]
    for age, version in enumerate(versions):
        (version / "config").mkdir(parents=True, mode=0o700)
        os.utime(version, ns=(0, (10 - age) * 10**9))  # versions[0] written last
    assert cache.cache_dir("config") == root / cache.code_stamp() / "config"
    assert [v.exists() for v in versions] == [True, True, True, False, False]


def test_an_edited_template_is_rendered_as_edited(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    (templates / "security").mkdir(parents=True)
    text = templates / "security" / "sms.text.j2"
    text.write_text("{{ incident.id }} first version")
    context = {"incident": {"id": "SEC-2026-001"}}
    first = Renderer([templates, shipped_template_dir()]).render("security", "sms", context, family="sms", drill=False)
    assert first.text == "SEC-2026-001 first version"
    assert entries("jinja-" + __import__("jinja2").__version__ + "-sandbox-plain")  # compiled and kept

    text.write_text("{{ incident.id }} second version")
    second = Renderer([templates, shipped_template_dir()]).render("security", "sms", context, family="sms", drill=False)
    assert second.text == "SEC-2026-001 second version"


def test_notify_check_sees_a_template_broken_after_a_clean_check(config_dir: Path, clean_env: Path) -> None:
    from click.testing import CliRunner

    from dispatcher.cli import main

    runner = CliRunner()
    settings = {"NOTIFY_CONFIG_DIR": str(config_dir)}
    clean = runner.invoke(main, ["check"], env=settings)
    again = runner.invoke(main, ["check"], env=settings)
    assert again.output == clean.output and ".j2" not in clean.output  # no template problem, cached or not
    assert entries("template-check")

    sms = config_dir / "templates" / "security" / "sms.text.j2"
    sms.write_text(sms.read_text() + "{{ incident.no_such_field }}")
    broken = runner.invoke(main, ["check"], env=settings)
    assert broken.exit_code == 2
    assert "security/sms.text.j2" in broken.output and "incident.no_such_field" in broken.output


def test_a_library_upgrade_changes_its_stamp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation results depend on pydantic, compiled templates on jinja2: an upgrade must miss."""
    package = tmp_path / "fakelib"
    package.mkdir()
    (package / "__init__.py").write_text("VERSION = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = cache.package_stamp("fakelib")
    (package / "__init__.py").write_text("VERSION = 2  # upgraded\n")
    assert cache.package_stamp("fakelib") != before
    assert cache.package_stamp("no_such_library_here") == "no_such_library_here: not found"
