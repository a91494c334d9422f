"""A third-party channel plugin pages a person through the shipped policy, and a channel nobody installed
fails visibly and falls back.

The plugin is tests/plugins/notify_echo, a package of its own with its own pyproject.toml. It is
installed as pip leaves a package (the module on a path, a `.dist-info` with METADATA and the
`entry_points.txt` of its pyproject) in a directory only a subprocess `notify` sees on PYTHONPATH,
so the test run's own environment never has it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from dispatcher.delivery.registry import GROUP
from dispatcher.testing.providers import RecordingServer, Reply

from .helpers import replace_in
from .stage import make_stage

PLUGIN = Path(__file__).parent / "plugins" / "notify_echo"
TOKEN = "echo-token-0123456789"
COMMAND = ["financial", "--incident", "FIN-2026-001", "--customer", "Acme Corp", "--reported-by",
           "jane@acme.example", "--summary", "Double charge on the annual invoice"]


def install_echo(site: Path) -> Path:
    """What `pip install tests/plugins/notify_echo` leaves in site-packages, entry points read from its pyproject."""
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]
    info = site / f"notify_echo-{project['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    points = project["entry-points"][GROUP]
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n" + "".join(f"{k} = {v}\n" for k, v in points.items()))
    return site


def billing_manager_on(config_dir: Path, channel: str) -> None:
    """The shipped contacts, with the billing manager (step 0 of the financial class) preferring `channel`."""
    replace_in(config_dir / "contacts.toml", 'phone = "+14155550121"\nchannels = ["email", "sms"]',
               f'phone = "+14155550121"\nchannels = ["{channel}", "email"]\naddresses = {{ {channel} = "billing" }}')


def notify(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dispatcher", *args], env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def echo_env(tmp_path: Path, config_dir: Path, providers) -> dict[str, str]:
    """A `notify` environment with the echo plugin installed and every built-in channel at a local stand-in."""
    site = install_echo(tmp_path / "site")
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(PLUGIN)]), NOTIFY_CONFIG_DIR=str(config_dir),
                NOTIFY_ECHO_TOKEN=TOKEN)


def test_the_echo_plugin_pages_a_person_through_the_shipped_policy(echo_env, config_dir: Path, providers) -> None:
    smtp, _, _ = providers
    billing_manager_on(config_dir, "echo")
    with RecordingServer(Reply(200, "ok")) as receiver:
        env = dict(echo_env, NOTIFY_ECHO_URL=f"{receiver.url}/pages")
        check = notify(env, "check")
        result = notify(env, *COMMAND, "--json")
    assert "'echo'" not in check.stdout + check.stderr  # installed, configured, used: nothing to say about it
    assert result.returncode == 0, result.stdout + result.stderr
    echo = next(d for d in json.loads(result.stdout)["deliveries"] if d["channel"] == "echo")
    assert (echo["recipient"], echo["outcome"]) == ("billing-manager", "delivered")
    (request,) = receiver.requests
    assert request.path == "/pages" and request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.json["to"] == "billing" and request.json["incident"] == "FIN-2026-001"
    # the sms family it declares: one short line, not the email template's lines
    assert request.json["text"].startswith("FIN-2026-001 HIGH financial impact (Acme Corp). Respond within 1 hour.")
    assert "\n" not in request.json["text"]
    assert "billing-manager@teamflow.example" not in [m["To"] for m in smtp.messages]  # reached: no fallback
    assert TOKEN not in result.stdout + result.stderr + check.stdout


def test_check_accepts_a_policy_naming_the_plugin_and_refuses_one_naming_no_installed_channel(
        echo_env, config_dir: Path) -> None:
    replace_in(config_dir / "policy.toml", '{ to = "role:billing-manager" }',
               '{ to = "role:billing-manager", channel = "echo" }')
    billing_manager_on(config_dir, "echo")
    accepted = notify(dict(echo_env, NOTIFY_ECHO_URL="http://127.0.0.1:9/pages"), "check")
    assert "not installed" not in accepted.stdout + accepted.stderr
    refused = notify(dict(echo_env, PYTHONPATH=""), "check")
    assert refused.returncode == 2
    output = refused.stdout + refused.stderr
    assert str(config_dir / "policy.toml") in output and "classes.financial.steps[0].notify[0].channel" in output
    assert "channel 'echo' is not installed (installed: apprise, email, pagerduty, phone, slack, sms, statushook, statuspage, voice, webhook)" in output


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    yield from make_stage(config_dir, tmp_path, monkeypatch)


def test_a_channel_nobody_installed_fails_permanently_and_the_fallback_reaches_the_person(stage, config_dir) -> None:
    billing_manager_on(config_dir, "pigeon")
    report = stage.trigger("FIN-2026-001", "financial")
    by_channel = {d.channel: d for d in report.deliveries if d.recipient == "billing-manager"}
    assert by_channel["pigeon"].outcome == "failed-permanent" and by_channel["pigeon"].attempts == 1
    assert by_channel["email"].outcome == "delivered" and by_channel["email"].fallback_of == "billing-manager/pigeon"
    assert [m["To"] for m in stage.smtp.messages].count("billing-manager@teamflow.example") == 1
    (attempt,) = [a for a in stage.store().attempts(incident_id="FIN-2026-001") if a.channel == "pigeon"]
    assert attempt.reason == "not-configured" and "no channel 'pigeon' is installed" in attempt.detail
    assert report.exit_status() == 0


def test_the_plugin_passes_the_channel_contract_suite_a_third_party_runs(echo_env) -> None:
    """The plugin's own tests, run as its author would: `pytest -p dispatcher.testing.contract` in its package."""
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                             "dispatcher.testing.contract"], cwd=PLUGIN, env=echo_env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "11 passed" in result.stdout
    without = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=PLUGIN,
                             env=echo_env, capture_output=True, text=True, timeout=120)
    assert without.returncode != 0 and "fixture 'provider' not found" in without.stdout  # opt-in, never auto-loaded


def test_a_plugin_reads_its_namespace_from_the_environment_env_file_and_secret_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dispatcher.config.settings import channel_variable, load_settings
    from dispatcher.delivery.registry import channel_config

    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "NOTIFY_ECHO_TOKEN").write_text("from-a-secret-file\n")
    (secrets / "NOTIFY_ECHO_REGION").write_text("eu\n")
    Path(".env").write_text("NOTIFY_ECHO_REGION=us\n")
    monkeypatch.setenv("NOTIFY_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("notify_echo_url", "http://127.0.0.1:9/pages?token=t0ken-in-the-url")  # case-insensitive
    settings = load_settings()
    assert channel_variable("echo") == "NOTIFY_ECHO_URL" and channel_variable("my-pager") == "NOTIFY_MY_PAGER_URL"
    assert settings.channel_url("echo") == "http://127.0.0.1:9/pages?token=t0ken-in-the-url"
    config = channel_config(settings, "echo", None)
    assert config.url == settings.channel_url("echo")
    assert dict(config.settings) == {"token": "from-a-secret-file", "region": "us"}  # .env over secret files
    assert "t0ken-in-the-url" not in repr(config) + repr(settings.plugin_settings("echo"))
    assert "http://127.0.0.1:9/pages?token=t0ken-in-the-url" in settings.secrets()  # scrubbed from output
    assert channel_config(settings, "email", None).settings == {}  # built-ins keep their own fields


def test_a_plugin_s_secrets_from_env_file_and_secret_files_are_scrubbed_too(
        clean_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dispatcher.config.settings import load_settings

    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "NOTIFY_ECHO_TOKEN").write_text("CANARY-echo-token-from-a-file\n")
    (secrets / "NOTIFY_ECHO_REGION").write_text("eu\n")  # not a secret by its name: "eu" stays in output
    Path(".env").write_text("NOTIFY_PAGER2_URL=https://pager.example/CANARY-url-from-dotenv\n")
    monkeypatch.setenv("NOTIFY_SECRETS_DIR", str(secrets))
    scrubbed = load_settings().secrets()
    assert "CANARY-echo-token-from-a-file" in scrubbed
    assert "https://pager.example/CANARY-url-from-dotenv" in scrubbed
    assert "eu" not in scrubbed


def add_echo_room(config_dir: Path, room: str) -> None:
    """A room of the echo plugin's own contacts.toml table, and the financial class's step 0 posting there."""
    with (config_dir / "contacts.toml").open("a") as contacts:
        contacts.write(f'\n[echo.some-room]\nchannel = "{room}"\npurpose = "Billing war room"\n')
    replace_in(config_dir / "policy.toml", '{ to = "role:billing-manager" },',
               '{ to = "role:billing-manager" },\n  { to = "echo:some-room" },')


def test_a_plugin_owns_a_table_of_destinations_as_slack_does(echo_env, config_dir: Path, providers) -> None:
    add_echo_room(config_dir, "some-room")
    with RecordingServer(Reply(200, "ok")) as receiver:
        env = dict(echo_env, NOTIFY_ECHO_URL=f"{receiver.url}/pages")
        check = notify(env, "check")
        result = notify(env, *COMMAND, "--json")
    assert check.returncode == 0 and "echo" not in check.stdout + check.stderr, check.stdout + check.stderr
    assert result.returncode == 0, result.stdout + result.stderr
    room = next(d for d in json.loads(result.stdout)["deliveries"] if d["recipient"] == "echo:some-room")
    assert (room["channel"], room["outcome"]) == ("echo", "delivered")
    (request,) = receiver.requests
    assert request.json["to"] == "some-room" and request.json["incident"] == "FIN-2026-001"
    assert "\n" not in request.json["text"]  # on the sms family the plugin declares, as its people's pages


def test_the_plugin_checks_its_rooms_and_an_audience_of_a_table_nobody_owns_is_refused(
        echo_env, config_dir: Path) -> None:
    add_echo_room(config_dir, "Some Room")
    env = dict(echo_env, NOTIFY_ECHO_URL="http://127.0.0.1:9/pages")
    bad_room = notify(env, "check")
    assert bad_room.returncode == 2
    assert "echo.some-room.channel: 'Some Room' is not an echo room" in bad_room.stdout + bad_room.stderr
    uninstalled = notify(dict(env, PYTHONPATH=""), "check")  # nobody owns [echo.*] or echo:ID without the plugin
    assert uninstalled.returncode == 2
    output = uninstalled.stdout + uninstalled.stderr
    assert "echo: unknown key (typo?)" in output and "'echo:some-room' is not an audience" in output
