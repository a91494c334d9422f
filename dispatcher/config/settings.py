"""Settings from the environment, `.env` and secret files: pydantic-settings reads them, nothing else does.

Every ``NOTIFY_*`` variable is a field of :class:`Settings`; credentials are
``SecretStr``, so printing the settings never shows a token. pydantic-settings'
rules apply: keyword overrides win over the environment, which wins over `.env`,
which wins over secret files (one file per variable, Docker/Kubernetes style, in
``NOTIFY_SECRETS_DIR``, default ``/run/secrets/notify`` when it exists); names are
matched case-insensitively; a field with aliases (``REQUESTS_CA_BUNDLE``,
``XDG_STATE_HOME``) is read under them, without the prefix.

A `.env` in the working directory is read only when it and the directory are the
user's own and nobody else can write them (:func:`env_file_refusal` says why not).
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping
from urllib.parse import urlsplit

from pydantic import AfterValidator, AliasChoices, Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["CHANNEL_URL_FIELDS", "ENV_FILE", "ENV_PREFIX", "Settings", "channel_prefix", "channel_variable", "env_file_refusal",
           "load_settings", "setting_errors"]

ENV_PREFIX = "NOTIFY_"
ENV_FILE = ".env"

# Which setting configures which built-in channel.
CHANNEL_URL_FIELDS = {
    "email": "email_url",
    "slack": "slack_url",
    "sms": "sms_url",
    "phone": "phone_url",
    "voice": "voice_url",
    "pagerduty": "pagerduty_url",
    "webhook": "webhook_url",
    "apprise": "apprise_url",
    "statuspage": "statuspage_url",
    "statushook": "statushook_url",
}


def channel_prefix(channel: str) -> str:
    """The namespace of a channel's settings: NOTIFY_<NAME>_ (a dash in the name becomes an underscore)."""
    return f"{ENV_PREFIX}{channel.upper().replace('-', '_')}_"


def channel_variable(channel: str) -> str:
    """The variable that configures a channel, built-in or plugin: NOTIFY_<NAME>_URL (NOTIFY_EMAIL_URL)."""
    return f"{channel_prefix(channel)}URL"


def _server_url(value: str) -> str:
    """An http(s) URL with a host and nothing after its path: the token must never ride in a URL."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected the URL of `notify serve`, e.g. https://notify.internal:8080")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("give only scheme, host, port and path: credentials go in NOTIFY_API_TOKEN")
    return value.strip().rstrip("/")


class Settings(BaseSettings):
    """Every setting notify reads; see the README's configuration table. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=ENV_FILE, env_file_encoding="utf-8",
                                      extra="ignore", populate_by_name=True, frozen=True)

    config_dir: Path | None = None
    state_dir: Path | None = None
    store_url: SecretStr | None = None  # a PostgreSQL URL may hold a password

    email_url: SecretStr | None = None
    slack_url: SecretStr | None = None
    sms_url: SecretStr | None = None
    phone_url: SecretStr | None = None  # deprecated: NOTIFY_VOICE_URL or NOTIFY_PAGERDUTY_URL by its scheme
    voice_url: SecretStr | None = None
    pagerduty_url: SecretStr | None = None
    webhook_url: SecretStr | None = None
    apprise_url: SecretStr | None = None
    # The status page (channels/statuspage.py): NOTIFY_STATUSPAGE_URL=statuspage://API_KEY (the page id is the
    # contacts.toml destination's `channel`); the affected services' Statuspage component ids
    # (NOTIFY_STATUSPAGE_COMPONENTS="api=8kbf7d35c070,web=vtnh60py4yd7"), the status those components take while
    # the incident is open, and the incident status an update posts. NOTIFY_STATUSHOOK_URL: the generic
    # status-page webhook (a receiver of your own, json:// or https://).
    statuspage_url: SecretStr | None = None
    statuspage_components: str | None = None
    statuspage_component_status: Literal["degraded_performance", "partial_outage", "major_outage",
                                         "under_maintenance"] = "major_outage"
    statuspage_update_status: Literal["investigating", "identified", "monitoring"] = "identified"
    statushook_url: SecretStr | None = None

    # Inbound only, for `notify serve`: what callers must present (unlike the outbound NOTIFY_WEBHOOK_URL).
    # Monitoring posts hooks with the webhook token or HMAC secret; operators ack, resolve and read with
    # the API token; Prometheus scrapes /metrics with the metrics token (when set). Each may hold two
    # comma-separated values, so a credential can be rotated without downtime (server/auth.py).
    webhook_token: SecretStr | None = None
    webhook_hmac_secret: SecretStr | None = None
    api_token: SecretStr | None = None
    metrics_token: SecretStr | None = None

    # NOTIFY_PUBLIC_URL: where `notify serve` is reachable from phones, Slack and Twilio (https://notify.example.com).
    # Without it nothing that needs a callback is on: personal deliveries say how to ack with the CLI instead of
    # carrying an action link (see docs/operations/actions.md).
    public_url: str | None = None
    # NOTIFY_SURVEY_URL: the customer satisfaction survey the follow-up notice links to after a resolved immediate-
    # or priority-tier incident; `{incident}` in it becomes the incident id. Unset: the notice asks for a reply.
    survey_url: str | None = None
    # NOTIFY_LINK_SECRET: keys the nonce of an action link's confirmation page, so only a page this server (or
    # another sharing the secret) showed can act; unset, each server process draws a key of its own at start.
    link_secret: SecretStr | None = None
    # NOTIFY_LINK_TTL: seconds an action link works at most; it stops anyway when its incident is resolved.
    link_ttl: int = Field(7 * 24 * 3600, ge=60, le=7 * 24 * 3600)
    session_hours: float = Field(12.0, gt=0, le=24 * 30)  # how long a web view sign-in lasts
    # Verified by the provider callbacks (config/callbacks.py): Slack's button presses, PagerDuty's webhooks.
    slack_signing_secret: SecretStr | None = None
    pagerduty_webhook_secret: SecretStr | None = None

    concurrency: int = Field(100, ge=1, le=1024)  # 200 pages at 200 ms each: 0.4 s, not 1.4 s
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(10.0, gt=0)
    # NOTIFY_SEND_DEADLINE: one attempt's total seconds (connect, send and read), however slowly a provider
    # drips its answer; past it the connection is closed (channels/_deadline.py).
    send_deadline: float = Field(20.0, gt=0)
    retry_attempts: int = Field(4, ge=1, le=20)
    retry_max_wait: float = Field(60.0, gt=0)
    # NOTIFY_STORE_TIMEOUT: seconds `notify serve` waits on the store for a request before answering 503
    # (a hung database must not hold every webhook for the driver's 10 s connect timeout, 8 at a time).
    store_timeout: float = Field(2.0, gt=0, le=60)

    # NOTIFY_RATE_LIMITS: rate budgets per provider route, over the defaults from the providers' published
    # limits (config/rates.py): JSON, by family or route name, e.g. {"slack": "0.5/s", "twilio:sender-1": "3/s"}.
    rate_limits: dict[str, str] = Field(default_factory=dict)

    # NOTIFY_LOG_FORMAT: the lines `notify serve` and `notify worker` log per event (dispatcher.eventlog).
    log_format: Literal["text", "json"] = "text"

    # NOTIFY_USER: who runs `notify ack/update/resolve` without --by (a person id, login or email of
    # contacts.toml); else the login name.
    user: str | None = None

    # NOTIFY_SERVER_URL: `notify serve` to run ack, escalate-now, update, resolve, reclassify, status and incidents through (its HTTP
    # API, with NOTIFY_API_TOKEN: your personal token from `notify token create`), instead of the local store.
    server_url: Annotated[str, AfterValidator(_server_url)] | None = None

    # NOTIFY_NOW: where this command's clock starts (tests, rehearsals); parsed and announced by the CLI.
    now: str | None = None

    proxy: str | None = None  # NOTIFY_PROXY: the proxy for https URLs, over HTTPS_PROXY; NO_PROXY still applies

    ca_bundle: Path | None = Field(None, validation_alias=AliasChoices("NOTIFY_CA_BUNDLE", "REQUESTS_CA_BUNDLE",
                                                                       "SSL_CERT_FILE"))
    xdg_state_home: Path | None = Field(None, validation_alias=AliasChoices("XDG_STATE_HOME"))
    # NO_COLOR (no-color.org): any non-empty value keeps tables uncoloured
    no_color: str | None = Field(None, validation_alias=AliasChoices("NO_COLOR"))

    # A sandbox drill's stand-in for every provider: every URL goes through it, whatever NO_PROXY says. A
    # private attribute, which no source reads: only load_settings(sandbox_proxy=...) sets it, so only a
    # sandbox drill does, and a drill never reaches a real provider.
    _sandbox_proxy: str | None = PrivateAttr(None)

    @field_validator("survey_url")
    @classmethod
    def _survey_url(cls, value: str | None) -> str | None:
        """An absolute http(s) URL: it goes to customers as a link."""
        if value is None or not value.strip():
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(value.strip())
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("expected the survey's absolute URL, e.g. https://survey.example.com/csat?incident="
                             "{incident} (http or https, with a host)")
        return value.strip()

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        """An absolute http(s) URL with a host and no query: links are built as PUBLIC_URL + "/a/" + token."""
        if value is None or not value.strip():
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(value.strip())
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("expected the absolute URL notify serve is reached at, e.g. https://notify.example.com "
                             "(http or https, a host, no query or fragment)")
        return value.strip().rstrip("/")

    @field_validator("rate_limits")
    @classmethod
    def _rate_limits(cls, value: dict[str, str]) -> dict[str, str]:
        """Each budget parses (config/rates.py), or the error names the route it is for."""
        from .rates import parse_limit

        for route, text in value.items():
            try:
                parse_limit(text)
            except ValueError as exc:
                raise ValueError(f"route {route!r}: {exc}") from None
        return value

    @cached_property
    def route_limits(self) -> dict[str, Any]:
        """NOTIFY_RATE_LIMITS parsed: a domain.pacing.Limit (or None: not paced) by family or route name."""
        from .rates import parse_limit

        return {route: parse_limit(text) for route, text in self.rate_limits.items()}

    @property
    def sandbox_proxy(self) -> str | None:
        return self._sandbox_proxy

    def channel_url(self, channel: str) -> str | None:
        """The secret URL configuring a channel, or None: a built-in's field, else a plugin's NOTIFY_<NAME>_URL."""
        field = CHANNEL_URL_FIELDS.get(channel)
        value = getattr(self, field) if field else self.plugin_settings(channel).get("url")
        return value.get_secret_value() if value else None

    def built_in_settings(self, channel: str) -> dict[str, str]:
        """A built-in channel's declared settings besides its URL (NOTIFY_STATUSPAGE_COMPONENTS ->
        "components"), as the channel reads them from ChannelConfig.settings."""
        prefix = channel_prefix(channel)[len(ENV_PREFIX):].lower()
        found = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name.startswith(prefix) and name != CHANNEL_URL_FIELDS.get(channel) and value is not None:
                found[name[len(prefix):]] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        return found

    def plugin_settings(self, channel: str) -> dict[str, SecretStr]:
        """A plugin channel's settings: every NOTIFY_<NAME>_* variable, keyed by the rest of its name in lower
        case (NOTIFY_ECHO_URL -> "url", NOTIFY_ECHO_TOKEN -> "token").

        Read from the same sources as the fields, in the same order (the environment over `.env` over
        secret files), names matched case-insensitively; every value is a SecretStr, as any may be a token.
        """
        prefix = channel_prefix(channel).lower()
        found: dict[str, SecretStr] = {}
        for source in self._undeclared_sources:  # later sources win
            for name, value in source.items():
                if name.lower().startswith(prefix) and len(name) > len(prefix) and value is not None:
                    found[name[len(prefix):].lower()] = SecretStr(value)
        return found

    @cached_property
    def _undeclared_sources(self) -> tuple[Mapping[str, str | None], ...]:
        """The secret files and `.env` as read once for these settings, then the environment: where the
        variables no field declares (a plugin's) are looked up, lowest precedence first. Read once: every
        line of output is scrubbed with :meth:`secrets`, which looks through them."""
        return _secret_files(), self._env_file_values(), os.environ

    def _env_file_values(self) -> dict[str, str | None]:
        if not os.path.isfile(ENV_FILE) or env_file_refusal():
            return {}
        from dotenv import dotenv_values

        return dict(dotenv_values(ENV_FILE))

    def secrets(self) -> tuple[str, ...]:
        """Every secret value, so output can be scrubbed of them as a last line of defence."""
        values = [self.channel_url(name) for name in CHANNEL_URL_FIELDS]
        values += self._plugin_secret_values()
        for secret in (self.webhook_token, self.webhook_hmac_secret, self.api_token, self.metrics_token,
                       self.link_secret, self.slack_signing_secret, self.pagerduty_webhook_secret):
            if secret:  # each value of a rotation pair is scrubbed on its own, as is the pair
                values += [secret.get_secret_value(), *secret.get_secret_value().split(",")]
        if self.store_url:  # a driver's message may quote the store URL whole
            from ..store.urls import store_passwords

            values += store_passwords(self.store_url.get_secret_value())
        return tuple(v for v in values if v and v.strip())

    def _plugin_secret_values(self) -> list[str]:
        """The values of NOTIFY_* variables no field declares (a plugin's) whose names say they hold a
        secret (..._URL, _TOKEN, _KEY, _SECRET, _PASSWORD), from every source a plugin reads them from."""
        declared = {f"{ENV_PREFIX}{name}".upper() for name in type(self).model_fields}
        found = []
        for source in self._undeclared_sources:
            for name, value in source.items():
                upper = name.upper()
                if value and upper.startswith(ENV_PREFIX) and upper not in declared and upper.endswith(_SECRET_NAMES):
                    found.append(value)
        return found

    def acting_user(self) -> tuple[str, str] | None:
        """Who runs this command, and where that came from: NOTIFY_USER, else the login name; None if neither."""
        if self.user and self.user.strip():
            return self.user.strip(), "NOTIFY_USER"
        import getpass

        try:
            return getpass.getuser(), "your login name"
        except (OSError, KeyError):  # no LOGNAME/USER and no passwd entry (a bare container)
            return None

    def named_env(self, name: str) -> str | None:
        """A variable a config file names (e.g. a Slack channel's own webhook)."""
        if name in os.environ:
            return os.environ[name]
        return self._undeclared_sources[1].get(name)  # .env, read once and only when it is the user's own

    def resolved_state_dir(self) -> Path:
        if self.state_dir:
            return self.state_dir
        base = self.xdg_state_home or Path.home() / ".local" / "state"
        return base / "notify"

    def resolved_store_url(self) -> str:
        if self.store_url:
            return self.store_url.get_secret_value()
        return f"sqlite:///{self.resolved_state_dir() / 'notify.db'}"


def env_file_refusal() -> str | None:
    """Why `.env` in the working directory is ignored (someone else could have written it); None when it is
    read or absent."""
    from .ownership import untrusted

    env = Path(ENV_FILE).absolute()
    if not (env.is_file() or env.is_fifo()):
        return None
    found = untrusted(env.parent, env)
    if found is None:
        return None
    path, why = found
    return f"ignoring {env}: {'it' if path == env else path} {why}; its settings are not read"


# The ends of a plugin setting's name that mark its value as a secret, scrubbed from all output.
_SECRET_NAMES = ("_URL", "_TOKEN", "_KEY", "_SECRET", "_PASSWORD")


def _secret_files() -> dict[str, str]:
    """The secret files' variables (one file per variable), for the plugin settings no field declares."""
    directory = _secrets_dir()
    if directory is None:
        return {}
    found = {}
    for path in Path(directory).iterdir():
        try:
            if path.is_file():
                found[path.name] = path.read_text(encoding="utf-8").strip()
        except OSError:  # unreadable: pydantic-settings skips it too
            continue
    return found


def _secrets_dir() -> str | None:
    path = os.environ.get("NOTIFY_SECRETS_DIR") or "/run/secrets/notify"
    return path if os.path.isdir(path) else None


def load_settings(*, sandbox_proxy: str | None = None, **overrides: Any) -> Settings:
    """Read settings now (keyword overrides win over the environment, which wins over `.env`, which wins over
    secret files). `sandbox_proxy` is no setting: only code sets it (a sandbox drill)."""
    env_file = None if env_file_refusal() else ENV_FILE
    settings = Settings(_env_file=env_file, _secrets_dir=_secrets_dir(), **overrides)
    settings._sandbox_proxy = sandbox_proxy
    return settings


def setting_errors(exc: ValidationError) -> list[tuple[str, str, str]]:
    """(field name, the variable to name, what is wrong with it) per error in the settings. A credential's
    value is never quoted back."""
    by_alias = {alias: name for name, info in Settings.model_fields.items() if info.validation_alias
                for alias in info.validation_alias.choices}  # type: ignore[union-attr]
    found = []
    for err in exc.errors():
        key = str(err["loc"][0]) if err["loc"] else "?"
        name = by_alias.get(key, key)
        variable = key if key in by_alias else f"{ENV_PREFIX}{name.upper()}"
        info = Settings.model_fields.get(name)
        secret = info is None or "Secret" in str(info.annotation) or "url" in name
        found.append((name, variable, err["msg"] if secret else f"{err['msg']} (got {err.get('input')!r})"))
    return found
