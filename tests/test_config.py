"""Where configuration and state are found."""

from __future__ import annotations

from pathlib import Path

from dispatcher.config.paths import resolve_config, shipped_dir
from dispatcher.config.settings import load_settings


def test_cli_option_wins(tmp_path: Path, config_dir: Path) -> None:
    paths = resolve_config(config_dir, tmp_path / "env", tmp_path)
    assert (paths.config_dir, paths.source) == (config_dir.resolve(), "--config-dir")


def test_environment_comes_second(tmp_path: Path, config_dir: Path) -> None:
    paths = resolve_config(None, config_dir, tmp_path)
    assert (paths.config_dir, paths.source) == (config_dir.resolve(), "NOTIFY_CONFIG_DIR")


def test_current_directory_only_when_it_holds_contacts(tmp_path: Path, config_dir: Path) -> None:
    assert resolve_config(None, None, config_dir).source == "current directory"
    assert resolve_config(None, None, tmp_path).source == "shipped defaults"


def test_shipped_defaults_hold_the_configuration() -> None:
    shipped = shipped_dir()
    assert (shipped / "contacts.toml").is_file() and (shipped / "policy.toml").is_file()
    assert (shipped / "templates" / "security").is_dir()


def test_missing_policy_and_templates_fall_back_to_shipped(tmp_path: Path, config_dir: Path) -> None:
    (config_dir / "policy.toml").unlink()
    paths = resolve_config(config_dir, None, tmp_path)
    assert paths.policy == shipped_dir().resolve() / "policy.toml"
    assert paths.template_dirs == (config_dir.resolve() / "templates", shipped_dir().resolve() / "templates")


def test_state_follows_xdg_and_notify_state_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert load_settings().resolved_store_url() == f"sqlite:///{tmp_path / 'xdg' / 'notify' / 'notify.db'}"
    monkeypatch.setenv("NOTIFY_STATE_DIR", str(tmp_path / "state"))
    assert load_settings().resolved_store_url() == f"sqlite:///{tmp_path / 'state' / 'notify.db'}"
    monkeypatch.setenv("NOTIFY_STORE_URL", "sqlite:////srv/notify.db")
    assert load_settings().resolved_store_url() == "sqlite:////srv/notify.db"


def test_env_file_in_working_directory_is_read(clean_env: Path) -> None:
    (clean_env / ".env").write_text("NOTIFY_SMS_URL=twilio://AC1:tok@+15550100000\n")
    assert load_settings().channel_url("sms") == "twilio://AC1:tok@+15550100000"
