"""Settings from the environment, `.env` and secret files: the only reader of either.

Every ``NOTIFY_*`` variable is a field of :class:`Settings`; channel URLs are
``SecretStr`` so that printing the settings never shows a token. Secret files
(one file per variable, Docker/Kubernetes style) are read from
``NOTIFY_SECRETS_DIR`` (default ``/run/secrets/notify`` when it exists).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["CHANNEL_URL_FIELDS", "Settings", "load_settings"]

# Which setting configures which built-in channel.
CHANNEL_URL_FIELDS = {
    "email": "email_url",
    "slack": "slack_url",
    "sms": "sms_url",
    "phone": "phone_url",
    "webhook": "webhook_url",
    "apprise": "apprise_url",
}


def _secrets_dir() -> str | None:
    path = os.environ.get("NOTIFY_SECRETS_DIR") or "/run/secrets/notify"
    return path if os.path.isdir(path) else None


class Settings(BaseSettings):
    """Every setting notify reads; see the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="NOTIFY_", env_file=".env", extra="ignore", populate_by_name=True
    )

    config_dir: Path | None = None
    state_dir: Path | None = None
    store_url: str | None = None

    email_url: SecretStr | None = None
    slack_url: SecretStr | None = None
    sms_url: SecretStr | None = None
    phone_url: SecretStr | None = None
    webhook_url: SecretStr | None = None
    apprise_url: SecretStr | None = None

    # Inbound only, for `notify serve`: what callers must present (unlike the outbound NOTIFY_WEBHOOK_URL).
    webhook_token: SecretStr | None = None
    webhook_hmac_secret: SecretStr | None = None

    concurrency: int = Field(default=32, ge=1, le=1024)
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=10.0, gt=0)
    retry_attempts: int = Field(default=4, ge=1, le=20)
    retry_max_wait: float = Field(default=60.0, gt=0)

    ca_bundle: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("NOTIFY_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"),
    )
    xdg_state_home: Path | None = Field(default=None, validation_alias="XDG_STATE_HOME")

    def channel_url(self, channel: str) -> str | None:
        """The secret URL configuring a built-in channel, or None."""
        field = CHANNEL_URL_FIELDS.get(channel)
        value = getattr(self, field) if field else None
        return value.get_secret_value() if value else None

    def secrets(self) -> tuple[str, ...]:
        """Every secret value, so output can be scrubbed of them as a last line of defence."""
        values = [self.channel_url(name) for name in CHANNEL_URL_FIELDS]
        values += [s.get_secret_value() if s else None for s in (self.webhook_token, self.webhook_hmac_secret)]
        return tuple(v for v in values if v)

    def named_env(self, name: str) -> str | None:
        """A variable a config file names (e.g. a Slack channel's own webhook)."""
        if name in os.environ:
            return os.environ[name]
        return _dotenv().get(name)

    def resolved_state_dir(self) -> Path:
        if self.state_dir:
            return self.state_dir
        base = self.xdg_state_home or Path.home() / ".local" / "state"
        return base / "notify"

    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{self.resolved_state_dir() / 'notify.db'}"


def _dotenv() -> dict[str, str]:
    if not os.path.isfile(".env"):
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(".env").items() if v is not None}


def load_settings(**overrides: object) -> Settings:
    """Read settings now (environment wins over `.env`, which wins over secret files)."""
    return Settings(_secrets_dir=_secrets_dir(), **overrides)
