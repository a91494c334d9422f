"""One typo in contacts.toml must not silence paging: a trigger falls back to the last copy that validated.

The copy is kept by the commands that write state anyway (a trigger that sends,
ingest, serve, the worker and lifecycle commands), never by a dry run.

Every test edits a writable copy of the shipped configuration between commands,
as an operator would, and checks who was actually paged (the SMTP stand-in's
recipients), what the trigger said, and that everything else still refuses the
broken files.
"""

from __future__ import annotations

import json
from pathlib import Path

from .helpers import run

SECURITY = ["security", "--summary", "Unusual admin logins", "--customer", "Acme Corp", "--wait", "0"]
LIST_ADDRESS = 'email = "security-incident@teamflow.com"'


def run_in(config_dir: Path, *args: str):
    """`notify ARGS --config-dir CONFIG_DIR`."""
    return run(*args, "--config-dir", str(config_dir))


def break_a_phone(config_dir: Path) -> None:
    """The kind of slip made at 3 a.m.: a phone number loses its +."""
    contacts = config_dir / "contacts.toml"
    contacts.write_text(contacts.read_text().replace('phone = "+', 'phone = "', 1))


def emailed(smtp, since: int = 0) -> set[str]:
    """Recipients of the messages that arrived after the first `since`."""
    return {message["To"] for message in smtp.messages[since:]}


def test_a_trigger_after_a_bad_edit_pages_with_the_last_valid_copy_and_says_so(config_dir: Path, providers) -> None:
    smtp, _, _ = providers
    assert run_in(config_dir, *SECURITY).exit_code == 0  # validated: its copy is kept
    before = len(smtp.messages)
    break_a_phone(config_dir)
    result = run_in(config_dir, *SECURITY, "--json")
    doc = json.loads(result.stdout)
    assert result.exit_code == 0, result.stderr
    assert doc["summary"]["reached_all"] and "security-incident@teamflow.com" in emailed(smtp, before)
    assert "is not E.164" in result.stderr and "WARNING" in result.stderr
    assert any("paging with the last copy that validated" in note for note in doc["notes"])
    assert f"notify check --config-dir {config_dir}" in result.stderr


def test_the_copy_follows_every_edit_that_validates(config_dir: Path, providers) -> None:
    smtp, _, _ = providers
    contacts = config_dir / "contacts.toml"
    contacts.write_text(contacts.read_text().replace(LIST_ADDRESS, 'email = "sec-team@teamflow.com"'))
    assert run_in(config_dir, *SECURITY).exit_code == 0
    before = len(smtp.messages)
    break_a_phone(config_dir)
    assert run_in(config_dir, *SECURITY).exit_code == 0
    assert "sec-team@teamflow.com" in emailed(smtp, before)
    assert "security-incident@teamflow.com" not in emailed(smtp)


def test_without_a_valid_copy_the_trigger_still_refuses(config_dir: Path) -> None:
    assert run_in(config_dir, *SECURITY, "--dry-run").exit_code == 1  # nothing configured; a dry run keeps nothing
    break_a_phone(config_dir)
    result = run_in(config_dir, *SECURITY, "--dry-run")
    assert result.exit_code == 2 and "is not E.164" in result.stderr and "nothing was sent" in result.stderr


def test_check_and_the_other_commands_still_refuse_the_broken_files(config_dir: Path, providers) -> None:
    assert run_in(config_dir, *SECURITY).exit_code == 0
    break_a_phone(config_dir)
    checked = run_in(config_dir, "check")
    assert checked.exit_code == 2 and "is not E.164" in checked.stdout and "\n1 error, " in checked.stdout
    who = run_in(config_dir, "who", "security")
    assert who.exit_code == 2 and "is not E.164" in who.stderr


def test_notify_ingest_also_pages_with_the_last_valid_copy(config_dir: Path, providers) -> None:
    smtp, _, _ = providers
    assert run_in(config_dir, *SECURITY).exit_code == 0
    before = len(smtp.messages)
    break_a_phone(config_dir)
    body = json.dumps({"class": "security", "summary": "Credential stuffing on the login API"})
    result = run("ingest", "--format", "generic", "-", "--json", "--config-dir", str(config_dir), "--wait", "0",
                 input=body)
    doc = json.loads(result.stdout)
    assert doc["ingest"]["outcome"] == "opened" and "security-incident@teamflow.com" in emailed(smtp, before)
    assert any("paging with the last copy that validated" in note for note in doc["notes"])


def test_a_dry_run_on_broken_files_says_what_a_real_send_would_do_and_where_to_check(config_dir: Path,
                                                                                    providers) -> None:
    assert run_in(config_dir, *SECURITY).exit_code == 0
    break_a_phone(config_dir)
    result = run_in(config_dir, *SECURITY, "--dry-run", "--json")
    notes = json.loads(result.stdout)["notes"]
    assert any("1 error (above" in n and "a real send would page with the last copy" in n for n in notes)
    assert f"notify check --config-dir {config_dir}" in result.stderr


def test_the_dry_run_hint_about_unusable_channels_names_the_config_dir(config_dir: Path) -> None:
    notes = json.loads(run_in(config_dir, *SECURITY, "--dry-run", "--json").stdout)["notes"]
    assert any(f"run `notify check --config-dir {config_dir}`)" in n for n in notes)
