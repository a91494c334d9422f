"""Where a setting comes from, as a user sets it: keyword, environment, `.env`, secret files, aliases."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatcher.config.settings import load_settings

from .helpers import run

CANARY = "twilio://AC1:CANARY-settings-secret@+15550100000"


@pytest.fixture
def secrets_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "secrets"
    directory.mkdir()
    monkeypatch.setenv("NOTIFY_SECRETS_DIR", str(directory))
    return directory


def test_keyword_beats_environment_beats_env_file_beats_secret_file(
        clean_env: Path, secrets_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (secrets_dir / "NOTIFY_CONCURRENCY").write_text("5\n")
    assert load_settings().concurrency == 5
    (clean_env / ".env").write_text("NOTIFY_CONCURRENCY=6\n")
    assert load_settings().concurrency == 6
    monkeypatch.setenv("NOTIFY_CONCURRENCY", "7")
    assert load_settings().concurrency == 7
    assert load_settings(concurrency=8).concurrency == 8


def test_names_are_matched_whatever_their_case(clean_env: Path, secrets_dir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("notify_read_timeout", "2.5")
    (clean_env / ".env").write_text("Notify_Sms_Url=twilio://AC1:tok@+15550100000\n")
    (secrets_dir / "notify_email_url").write_text("mailto://u:p@example.com")
    settings = load_settings()
    assert settings.read_timeout == 2.5
    assert settings.channel_url("sms") == "twilio://AC1:tok@+15550100000"
    assert settings.channel_url("email") == "mailto://u:p@example.com"


def test_the_ca_bundle_is_read_under_its_aliases_notify_s_own_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl.pem")
    assert load_settings().ca_bundle == Path("/etc/ssl.pem")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/requests.pem")
    assert load_settings().ca_bundle == Path("/etc/requests.pem")
    monkeypatch.setenv("NOTIFY_CA_BUNDLE", "/etc/notify.pem")
    assert load_settings().ca_bundle == Path("/etc/notify.pem")


def test_xdg_state_home_and_no_color_are_read_without_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", "/var/xdg")
    monkeypatch.setenv("NO_COLOR", "1")
    settings = load_settings()
    assert settings.resolved_state_dir() == Path("/var/xdg/notify") and settings.no_color == "1"


def test_every_credential_is_masked_when_the_settings_are_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SMS_URL", CANARY)
    monkeypatch.setenv("NOTIFY_API_TOKEN", "CANARY-api-token-value")
    monkeypatch.setenv("NOTIFY_STORE_URL", "postgresql://notify:CANARY-db-password@db/notify")
    settings = load_settings()
    assert "CANARY" not in repr(settings) + str(settings) + str(settings.model_dump())
    assert settings.channel_url("sms") == CANARY
    assert settings.resolved_store_url() == "postgresql://notify:CANARY-db-password@db/notify"
    assert "CANARY-db-password" in settings.secrets() and "CANARY-api-token-value" in settings.secrets()


def test_the_sandbox_proxy_is_set_by_code_only(clean_env: Path, secrets_dir: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SANDBOX_PROXY", "http://127.0.0.1:1")
    (clean_env / ".env").write_text("NOTIFY_SANDBOX_PROXY=http://127.0.0.1:2\n")
    (secrets_dir / "NOTIFY_SANDBOX_PROXY").write_text("http://127.0.0.1:3")
    assert load_settings().sandbox_proxy is None
    assert load_settings(sandbox_proxy="http://127.0.0.1:4").sandbox_proxy == "http://127.0.0.1:4"


def test_an_invalid_setting_is_named_and_a_credential_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SMS_URL", CANARY)
    monkeypatch.setenv("NOTIFY_RETRY_ATTEMPTS", "many")
    monkeypatch.setenv("NOTIFY_CONCURRENCY", "0")
    result = run("channels")
    assert result.exit_code == 2
    assert "error: NOTIFY_RETRY_ATTEMPTS: Input should be a valid integer" in result.stderr
    assert "(got 'many')" in result.stderr
    assert "error: NOTIFY_CONCURRENCY: Input should be greater than or equal to 1 (got '0')" in result.stderr
    assert "CANARY" not in result.stdout + result.stderr
