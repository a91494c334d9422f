"""Item 8 of issue 16: templates and working-directory configuration cannot run code as the operator.

Every template renders in jinja2's ImmutableSandboxedEnvironment, so the classic escape
through ``cycler.__init__.__globals__`` raises a SecurityError, which is reported and the
page still goes out as the plain fallback notice. Configuration and `.env` are read from
the working directory only when they are the user's own and nobody else can write them.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from jinja2.sandbox import SecurityError

from dispatcher.render.templates import Renderer, TemplateError, sample_context
from dispatcher.config.settings import load_settings
from tests.helpers import make_private, run
from tests.stage import Stage

REPO = Path(__file__).resolve().parents[2]


def attack(marker: Path) -> str:
    return "{{ cycler.__init__.__globals__.os.system('touch " + str(marker) + "') }}\n"


def test_the_cycler_globals_escape_raises_a_sandbox_security_error(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (tmp_path / "security").mkdir()
    (tmp_path / "security" / "slack.text.j2").write_text(attack(marker))
    renderer = Renderer([tmp_path, REPO / "templates"])
    with pytest.raises(TemplateError) as caught:
        renderer.render("security", "slack", sample_context("security", "initial"), family="slack", drill=False)
    assert isinstance(caught.value.__cause__, SecurityError)
    assert "blocked by the template sandbox" in caught.value.problem.message
    assert "__init__" in caught.value.problem.message
    assert not marker.exists()


def test_a_template_escaping_the_sandbox_still_pages_with_the_plain_fallback(stage: Stage, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (stage.config_dir / "templates" / "security" / "slack.text.j2").write_text(attack(marker))
    report = stage.trigger()
    assert not marker.exists()
    [slack] = [d for d in report.deliveries if d.channel == "slack"]
    assert slack.outcome == "delivered"
    assert "blocked by the template sandbox" in slack.warning and "slack.text.j2" in slack.warning
    [posted] = stage.proxy["hooks.slack.com"].requests
    assert "Plain notice: the notification template failed" in json.loads(posted.body)["text"]


def test_notify_check_reports_the_escape_by_file(config_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (config_dir / "templates" / "security" / "slack.text.j2").write_text(attack(marker))
    result = run("check", "--config-dir", str(config_dir))
    assert result.exit_code == 2, result.output
    assert "security/slack.text.j2" in result.output and "blocked by the template sandbox" in result.output
    assert not marker.exists()


def working_config(cwd: Path) -> None:
    shutil.copy(REPO / "contacts.toml", cwd / "contacts.toml")
    (cwd / "templates" / "security").mkdir(parents=True)
    (cwd / "templates" / "security" / "sms.text.j2").write_text("FROM THE WORKING DIRECTORY {{ incident.id }}\n")
    make_private(cwd)  # private whatever the checkout's modes and the umask; each test loosens what it tests


WHO = ["security", "--incident", "SEC-2026-001", "--summary", "x", "--dry-run", "--show"]


def test_the_working_directory_config_is_used_and_announced_when_it_is_private(clean_env: Path) -> None:
    working_config(clean_env)
    os.chmod(clean_env, 0o755)
    result = run(*WHO)
    assert "FROM THE WORKING DIRECTORY" in result.stdout
    assert f"config dir in use: {clean_env.resolve()} (current directory)" in result.stderr


@pytest.mark.parametrize("loose", [".", "contacts.toml", "templates"])
def test_a_working_directory_config_others_can_write_is_ignored_naming_it(clean_env: Path, loose: str) -> None:
    working_config(clean_env)
    os.chmod(clean_env, 0o755)
    os.chmod(clean_env / loose, 0o777 if loose != "contacts.toml" else 0o666)
    result = run(*WHO)
    assert "FROM THE WORKING DIRECTORY" not in result.stdout  # the shipped templates were used
    shown = clean_env.resolve() if loose == "." else clean_env.resolve() / loose
    assert f"ignoring the configuration in the current directory: {shown} is writable by other users" \
        in result.stderr
    assert "shipped defaults" in result.stderr


def test_an_env_file_others_can_write_is_ignored_naming_it(clean_env: Path) -> None:
    env_file = clean_env / ".env"
    env_file.write_text("NOTIFY_SMS_URL=twilio://AC1:tok@+15550100000\n")
    os.chmod(clean_env, 0o755)
    os.chmod(env_file, 0o666)
    assert load_settings().channel_url("sms") is None
    result = run("channels")
    assert f"ignoring {env_file.resolve()}: it is writable by other users" in result.stderr
    os.chmod(env_file, 0o600)
    assert load_settings().channel_url("sms") == "twilio://AC1:tok@+15550100000"


def test_an_env_file_in_a_directory_others_can_write_is_ignored(clean_env: Path) -> None:
    (clean_env / ".env").write_text("NOTIFY_SMS_URL=twilio://AC1:tok@+15550100000\n")
    os.chmod(clean_env / ".env", 0o600)
    os.chmod(clean_env, 0o777)
    assert load_settings().channel_url("sms") is None
