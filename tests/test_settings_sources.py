"""Settings read without pydantic-settings give exactly what pydantic-settings gives.

`dispatcher.settings` gathers the environment, `.env` and secret files itself
(importing pydantic-settings costs every command about 0.1 s), then reads
plainly valid values itself and leaves the rest to pydantic. Each case here
builds the same settings both ways, through a BaseSettings class with the same
fields, aliases and config, and compares the values, the validation errors and
the warnings.
"""

from __future__ import annotations

import dataclasses
import os
import typing
import warnings
from pathlib import Path
from typing import Any, Callable

import pytest
from pydantic import AliasChoices, Field, ValidationError, create_model
from pydantic_settings import BaseSettings, SettingsConfigDict

from dispatcher.settings import ALIASES, Secret, Settings, load_settings

SOURCED = [item for item in dataclasses.fields(Settings) if not item.metadata.get("internal")]


class _Base(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", env_file=".env", extra="ignore", populate_by_name=True)


def _reference_field(item: dataclasses.Field) -> tuple[Any, Any]:
    hint = typing.get_type_hints(Settings, include_extras=True)[item.name]
    alias = AliasChoices(*ALIASES[item.name]) if item.name in ALIASES else None
    return hint, Field(default=item.default, validation_alias=alias)


Reference = create_model("Reference", __base__=_Base,
                         **{item.name: _reference_field(item) for item in SOURCED})

VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "XDG_STATE_HOME")


def _outcome(build: Callable[[], Any]) -> tuple[str, Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = build()
        except ValidationError as exc:
            errors = [(e["loc"], e["msg"], e["type"], e.get("input")) for e in exc.errors()]
            return "error", errors, sorted(str(w.message) for w in caught)
    pairs = dataclasses.asdict(model).items() if dataclasses.is_dataclass(model) else dict(model).items()
    sourced = {item.name for item in SOURCED}  # internal fields are set by code only, never from a source
    values = {k: v.get_secret_value() if isinstance(v, Secret) else v for k, v in pairs if k in sourced}
    return "ok", values, sorted(str(w.message) for w in caught)


def _both(secrets_dir: Path | None = None, **overrides: Any) -> None:
    if secrets_dir is not None:
        os.environ["NOTIFY_SECRETS_DIR"] = str(secrets_dir)
    ours = _outcome(lambda: load_settings(**overrides))
    theirs = _outcome(lambda: Reference(_secrets_dir=str(secrets_dir) if secrets_dir else None, **overrides))
    assert ours == theirs


@pytest.fixture(autouse=True)
def bare(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NOTIFY_SECRETS_DIR", "/nonexistent-notify-secrets")


ENVIRONMENTS = [
    {},
    {"NOTIFY_EMAIL_URL": "mailto://u:p@example.com", "NOTIFY_CONCURRENCY": "64", "NOTIFY_READ_TIMEOUT": "2.5"},
    {"notify_slack_url": "https://hooks.slack.com/services/T/B/x", "Notify_Sms_Url": "twilio://a:b@+1555"},
    {"NOTIFY_EMAIL_URL": ""},
    {"REQUESTS_CA_BUNDLE": "/etc/ca.pem"},
    {"SSL_CERT_FILE": "/etc/ssl.pem", "REQUESTS_CA_BUNDLE": "/etc/ca.pem"},
    {"SSL_CERT_FILE": "/etc/ssl.pem", "NOTIFY_CA_BUNDLE": "/etc/notify.pem"},
    {"XDG_STATE_HOME": "/var/xdg", "NOTIFY_XDG_STATE_HOME": "/var/other"},
    {"NOTIFY_XDG_STATE_HOME": "/var/other"},
    {"NOTIFY_STATE_DIR": "/var/lib/notify", "NOTIFY_STORE_URL": "sqlite:////srv/n.db", "NOTIFY_PROXY": "http://p:3128"},
    {"NOTIFY_WEBHOOK_TOKEN": "tok", "NOTIFY_WEBHOOK_HMAC_SECRET": "sec", "NOTIFY_UNKNOWN": "x"},
    {"NOTIFY_CONCURRENCY": "abc"},
    {"NOTIFY_CONCURRENCY": "0", "NOTIFY_RETRY_ATTEMPTS": "21", "NOTIFY_CONNECT_TIMEOUT": "-1"},
    {"NOTIFY_CONCURRENCY": "", "NOTIFY_RETRY_MAX_WAIT": "soon"},
    {"NOTIFY_CONCURRENCY": " 8 ", "NOTIFY_READ_TIMEOUT": "1e1"},
    # at the edge of what is read without pydantic: each must come out as pydantic says
    {"NOTIFY_CONCURRENCY": "0100", "NOTIFY_READ_TIMEOUT": "5."},
    {"NOTIFY_CONCURRENCY": "1_000", "NOTIFY_CONNECT_TIMEOUT": ".5"},
    {"NOTIFY_CONCURRENCY": "+5", "NOTIFY_RETRY_MAX_WAIT": "0"},
    {"NOTIFY_CONCURRENCY": "1024", "NOTIFY_RETRY_ATTEMPTS": "20", "NOTIFY_READ_TIMEOUT": "0.000000001"},
    {"NOTIFY_CONCURRENCY": "1025"},
    {"NOTIFY_CONCURRENCY": "00", "NOTIFY_READ_TIMEOUT": "-0"},
    {"NOTIFY_CONCURRENCY": "9999999999"},
    {"NOTIFY_STATE_DIR": "", "NOTIFY_STORE_URL": "", "NOTIFY_PROXY": ""},
    {"NOTIFY_CA_BUNDLE": "", "XDG_STATE_HOME": " "},
]


@pytest.mark.parametrize("variables", ENVIRONMENTS)
def test_environment(variables: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    _both()


@pytest.mark.parametrize("variables", ENVIRONMENTS)
def test_env_file(variables: dict[str, str], clean_env: Path) -> None:
    (clean_env / ".env").write_text("".join(f"{k}={v}\n" for k, v in variables.items()))
    _both()


@pytest.mark.parametrize("content", [
    "NOTIFY_SMS_URL=twilio://a:b@+1555\nNOTIFY_EMAIL_URL\n# comment\nexport NOTIFY_CONCURRENCY=12\n",
    "NOTIFY_SLACK_URL='quoted value'\nNOTIFY_READ_TIMEOUT=\"3\"\nOTHER=1\n",
    "NOTIFY_CA_BUNDLE=/from/dotenv.pem\n",
    "REQUESTS_CA_BUNDLE=/from/dotenv.pem\nnotify_concurrency=7\n",
])
def test_env_file_against_environment(content: str, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / ".env").write_text(content)
    monkeypatch.setenv("NOTIFY_CONCURRENCY", "9")
    monkeypatch.setenv("SSL_CERT_FILE", "/from/env.pem")
    _both()


def test_secret_files(tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "notify_email_url").write_text("mailto://u:p@example.com\n")
    (secrets / "NOTIFY_SLACK_URL").write_text("  https://hooks.slack.com/services/T/B/x  ")
    (secrets / "NOTIFY_CONCURRENCY").write_text("5")
    (secrets / "requests_ca_bundle").write_text("/secret/ca.pem")
    (secrets / "NOTIFY_SMS_URL").mkdir()  # a directory where a file should be: warned and skipped
    outside = tmp_path / "outside"
    outside.write_text("twilio://leak")
    (secrets / "NOTIFY_PHONE_URL").symlink_to(outside)  # resolves outside the directory: refused
    _both(secrets)
    (clean_env / ".env").write_text("NOTIFY_CONCURRENCY=6\nNOTIFY_SLACK_URL=https://dotenv\n")
    _both(secrets)
    monkeypatch.setenv("NOTIFY_CONCURRENCY", "7")
    _both(secrets)


def test_secret_file_with_invalid_value(tmp_path: Path) -> None:
    (tmp_path / "NOTIFY_RETRY_ATTEMPTS").write_text("many")
    _both(tmp_path)


@pytest.mark.parametrize("overrides", [
    {"ca_bundle": "/kw/ca.pem", "concurrency": 3},
    {"email_url": "mailto://kw@example.com", "state_dir": "/kw/state"},
    {"xdg_state_home": "/kw/xdg"},
    {"XDG_STATE_HOME": "/kw/xdg"},
    {"concurrency": "x"},
    {"not_a_setting": 1},
    {"read_timeout": 2, "retry_max_wait": 1.5, "config_dir": Path("/kw/config")},
    {"concurrency": True, "connect_timeout": 0.0},
    {"email_url": 5},
])
def test_keyword_overrides_win(overrides: dict[str, Any], monkeypatch: pytest.MonkeyPatch, clean_env: Path) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/env/ca.pem")
    monkeypatch.setenv("NOTIFY_CONCURRENCY", "11")
    monkeypatch.setenv("XDG_STATE_HOME", "/env/xdg")
    (clean_env / ".env").write_text("NOTIFY_EMAIL_URL=mailto://dotenv@example.com\n")
    _both(**overrides)


def test_pydantic_settings_is_not_imported_to_read_settings() -> None:
    import subprocess
    import sys

    code = "import sys; from dispatcher.settings import load_settings; load_settings(); " \
           "print('pydantic_settings' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


NAMES = ["NOTIFY_EMAIL_URL", "notify_email_url", "NOTIFY_CONCURRENCY", "Notify_Concurrency", "NOTIFY_CA_BUNDLE",
         "REQUESTS_CA_BUNDLE", "ssl_cert_file", "XDG_STATE_HOME", "NOTIFY_XDG_STATE_HOME", "NOTIFY_STATE_DIR",
         "NOTIFY_READ_TIMEOUT", "NOTIFY_WEBHOOK_TOKEN", "NOTIFY_OTHER"]
VALUES = ["1", "0", "x", "", "/a/b", "2.5", "mailto://u:p@h"]


def test_random_mixtures_of_environment_env_file_and_secret_files(tmp_path: Path) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    placed = st.dictionaries(st.sampled_from(NAMES), st.sampled_from(VALUES), max_size=5)
    kwargs = st.dictionaries(st.sampled_from(["concurrency", "ca_bundle", "xdg_state_home", "XDG_STATE_HOME",
                                              "email_url"]), st.sampled_from(VALUES), max_size=2)

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(placed, placed, placed, kwargs)
    def check(environment: dict, dotenv: dict, secrets: dict, overrides: dict) -> None:
        saved = dict(os.environ)
        case = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
        (case / "secrets").mkdir(parents=True)
        cwd = os.getcwd()
        try:
            os.chdir(case)
            for name in NAMES:
                os.environ.pop(name, None)
            os.environ.update(environment)
            (case / ".env").write_text("".join(f"{k}={v}\n" for k, v in dotenv.items()))
            for name, value in secrets.items():
                (case / "secrets" / name).write_text(value)
            _both(case / "secrets", **overrides)
        finally:
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(saved)

    check()
