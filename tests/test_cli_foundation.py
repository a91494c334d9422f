"""The CLI as a user meets it: fast help, dry runs that touch nothing, and notify check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import CONFIGURED as CHANNEL_SETTINGS
from .helpers import SID, replace_in, run

EVIDENCE = ["security", "--incident", "SEC-2024-001", "--customer", "Acme Corp", "--reported-by",
            "jane@acme.example", "--summary", "Unusual admin logins", "--dry-run", "--json"]


def test_help_imports_none_of_the_heavy_libraries() -> None:
    probe = ("import sys\nfrom dispatcher.cli import main\n"
             "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             "heavy = ('apprise', 'pydantic', 'pydantic_settings', 'jinja2', 'requests', 'httpx')\n"
             "print('LOADED:' + ','.join(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "Usage: " in out
    assert out.strip().splitlines()[-1] == "LOADED:"


def test_python_dash_m_dispatcher_is_the_cli() -> None:
    result = subprocess.run([sys.executable, "-m", "dispatcher", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "security" in result.stdout and "check" in result.stdout


def test_dry_run_lists_every_step_zero_message_with_the_seed_subject(clean_env: Path) -> None:
    result = run(*EVIDENCE, env=CHANNEL_SETTINGS)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == 1 and doc["mode"] == "dry-run" and doc["incident"]["id"] == "SEC-2024-001"
    by_channel = {d["channel"]: d for d in doc["deliveries"]}
    assert set(by_channel) == {"email", "slack", "phone", "sms"}
    internal = next(d for d in doc["deliveries"] if d["recipient"] == "list:security-incident")
    assert internal["message"]["subject"] == "[URGENT] Security Incident - TeamFlow Customer Data"
    assert all(d["outcome"] == "dry-run" for d in doc["deliveries"])
    assert by_channel["phone"]["target"] == "+14******99"  # the on-call number, masked
    customer = next(d for d in doc["deliveries"] if d["recipient"] == "customer")
    assert customer["target"] == "j***@acme.example" and "jane@acme.example" not in customer["target"]


def test_dry_run_writes_nothing(clean_env: Path) -> None:
    assert run(*EVIDENCE, env=CHANNEL_SETTINGS).exit_code == 0
    assert not (clean_env / "state").exists()


def test_dry_run_without_id_shows_the_next_id_unallocated(clean_env: Path) -> None:
    doc = json.loads(run("outage", "--summary", "API 503s", "--dry-run", "--json").stdout)
    assert doc["incident"]["id"].startswith("OUT-") and doc["incident"]["id"].endswith("-001")
    assert any("nothing was allocated" in n for n in doc["notes"])
    assert not (clean_env / "state").exists()


def test_drill_dry_run_marks_messages_and_skips_the_customer() -> None:
    doc = json.loads(run(*EVIDENCE, "--drill").stdout)
    customer = next(d for d in doc["deliveries"] if d["recipient"] == "customer")
    assert customer["outcome"] == "skipped" and "drills never contact" in customer["reason"]
    sent = [d for d in doc["deliveries"] if d["outcome"] == "dry-run"]
    assert sent and all(d["message"]["text"].startswith("[DRILL]") for d in sent)


def test_json_goes_to_stdout_only_diagnostics_to_stderr() -> None:
    result = run(*EVIDENCE)
    json.loads(result.stdout)  # nothing but the document
    assert result.stderr == ""


@pytest.mark.parametrize(("args", "message"), [
    (["security", "--dry-run"], "missing required option(s): --summary"),
    (["security", "--summary", "x", "--incident", "OUT-2024-001", "--dry-run"], "prefix SEC-"),
    (["security", "--summary", "x", "--incident", "sec 1", "--dry-run"], "is not an incident id"),
    (["security", "--summary", "x", "--started", "yesterday", "--dry-run"], "--started"),
])
def test_bad_input_exits_2_and_says_what_is_wrong(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2 and message in result.stderr and "nothing was sent" in result.stderr


def test_check_names_broken_template_and_malformed_phone(config_dir: Path) -> None:
    (config_dir / "templates" / "security" / "email.text.j2").write_text(
        "Incident {{ incident.id }}\nCommander: {{ incident.comander }}\n")
    replace_in(config_dir / "contacts.toml", 'phone = "+14155550116"', 'phone = "555-0116"')
    result = run("check", "--config-dir", str(config_dir), env=CHANNEL_SETTINGS)
    assert result.exit_code == 2
    out = result.stdout
    assert "security/email.text.j2" in out and "comander" in out
    assert "contacts.toml: people.cto.phone: phone '555-0116' is not E.164" in out


def test_check_passes_on_shipped_config_with_channel_settings(config_dir: Path) -> None:
    result = run("check", "--config-dir", str(config_dir), env=CHANNEL_SETTINGS)
    assert result.exit_code == 0, result.stdout
    assert f"config dir: {config_dir.resolve()} (--config-dir)" in result.stdout
    assert "0 errors" in result.stdout


def test_check_reports_a_channel_the_policy_uses_without_settings(config_dir: Path) -> None:
    settings = {k: v for k, v in CHANNEL_SETTINGS.items() if k != "NOTIFY_SMS_URL"}
    result = run("check", "--config-dir", str(config_dir), env=settings)
    assert result.exit_code == 2
    assert "error: settings: NOTIFY_SMS_URL: channel 'sms' is used by classes.security.steps[0].notify[3]" in result.stdout


def test_check_never_prints_a_secret(config_dir: Path) -> None:
    settings = dict(CHANNEL_SETTINGS, NOTIFY_SMS_URL=f"twilio://{SID}:CANARYSECRET9@+15550100000")
    result = run("check", "--json", "--config-dir", str(config_dir), env=settings)
    assert "CANARYSECRET9" not in result.stdout + result.stderr
    assert json.loads(result.stdout)["schema"] == 1


@pytest.mark.parametrize(("args", "env", "error", "problem_key"), [
    (["security", "--dry-run", "--json"], {}, "missing required option(s): --summary", None),
    (["security", "--summary", "x", "--dry-run", "--json"], {"NOTIFY_CONCURRENCY": "0"}, "settings rejected",
     "NOTIFY_CONCURRENCY"),
    (["log", "--json"], {"NOTIFY_SLACK_URL": "https://hooks.slack.com/services/T/B/canary-secret-value",
                         "NOTIFY_READ_TIMEOUT": "soon"}, "settings rejected", "NOTIFY_READ_TIMEOUT"),
])
def test_a_rejected_json_command_still_prints_a_document(args: list[str], env: dict[str, str], error: str,
                                                         problem_key: str | None) -> None:
    """A script parsing stdout gets a document saying what was wrong, not an empty string."""
    result = run(*args, env=env)
    doc = json.loads(result.stdout)
    assert result.exit_code == 2
    assert doc["schema"] == 1 and doc["command"] == args[0] and doc["status"] == "rejected" and doc["exit"] == 2
    assert error in doc["error"] and error in result.stderr
    assert [p["key"] for p in doc["problems"]] == ([problem_key] if problem_key else [])
    assert "canary-secret-value" not in result.stdout + result.stderr


def test_a_rejected_configuration_is_listed_in_the_json_document(config_dir: Path) -> None:
    contacts = config_dir / "contacts.toml"
    contacts.write_text(contacts.read_text().replace('phone = "+', 'phone = "', 1))
    result = run("security", "--summary", "x", "--dry-run", "--json", "--config-dir", str(config_dir))
    doc = json.loads(result.stdout)
    assert result.exit_code == 2 and "nothing was sent" in doc["error"]
    assert any(p["file"].endswith("contacts.toml") and "is not E.164" in p["message"] for p in doc["problems"])


@pytest.mark.parametrize(("args", "command", "error"), [
    (["security", "--summary", "x", "--dry-run", "--json", "--bogus"], "security", "No such option '--bogus'"),
    (["update", "OUT-2026-001", "--json"], "update", "give --message (the update), --complex, or both"),
    (["log", "--limit", "abc", "--json"], "log", "'abc' is not a valid integer"),
    (["outage", "--summary", "x", "--json", "--wait", "abc"], "outage", "'abc' is not a valid float"),
    (["--bogus", "log", "--json"], "log", "No such option '--bogus'"),  # an option of `notify` itself
])
def test_a_usage_error_under_json_still_prints_a_document(args: list[str], command: str, error: str) -> None:
    result = run(*args)
    doc = json.loads(result.stdout)
    assert result.exit_code == 2 and doc["status"] == "rejected" and doc["command"] == command
    assert error in doc["error"] and error in result.stderr and "Usage:" in result.stderr


def test_a_usage_error_without_json_prints_no_document() -> None:
    result = run("security", "--bogus")
    assert result.exit_code == 2 and result.stdout == "" and "No such option '--bogus'" in result.stderr


@pytest.mark.slow
def test_check_reports_a_wrong_setting_beside_everything_else(config_dir: Path) -> None:
    """A bad NOTIFY_* value must not hide a bad phone number: check lists both, then exits 2."""
    contacts = config_dir / "contacts.toml"
    contacts.write_text(contacts.read_text().replace('phone = "+', 'phone = "', 1))
    env = {"NOTIFY_READ_TIMEOUT": "soon", "NOTIFY_SLACK_URL": "https://hooks.slack.com/services/T/B/canary-secret"}
    result = run("check", "--json", "--config-dir", str(config_dir), env=env)
    doc = json.loads(result.stdout)
    assert result.exit_code == 2 and doc["ok"] is False and doc["paths"]
    keys = {(p["file"].rsplit("/", 1)[-1], p["key"]) for p in doc["problems"] if p["severity"] == "error"}
    assert ("settings", "NOTIFY_READ_TIMEOUT") in keys
    assert any(file == "contacts.toml" and key.endswith(".phone") for file, key in keys)
    assert "canary-secret" not in result.stdout + result.stderr
    text = run("check", "--config-dir", str(config_dir), env=env).stdout
    assert "NOTIFY_READ_TIMEOUT" in text and "is not E.164" in text and "config dir:" in text
    assert f"templates: {config_dir / 'templates'}" in text and "templates (fallback): " in text


def test_the_hint_to_run_check_names_the_config_dir_that_was_used(config_dir: Path) -> None:
    contacts = config_dir / "contacts.toml"
    contacts.write_text(contacts.read_text().replace('phone = "+', 'phone = "', 1))
    result = run("security", "--summary", "x", "--dry-run", "--config-dir", str(config_dir))
    assert result.exit_code == 2 and f"run `notify check --config-dir {config_dir}`" in result.stderr
    result = run("--config-dir", str(config_dir), "security", "--summary", "x", "--dry-run")
    assert result.exit_code == 2 and f"run `notify check --config-dir {config_dir}`" in result.stderr
