"""Settings from the environment, `.env` and secret files: the only reader of either.

Every ``NOTIFY_*`` variable is a field of :class:`Settings`; channel URLs are
``SecretStr`` so that printing the settings never shows a token. Secret files
(one file per variable, Docker/Kubernetes style) are read from
``NOTIFY_SECRETS_DIR`` (default ``/run/secrets/notify`` when it exists).

The sources follow pydantic-settings' rules exactly (``tests/test_settings_sources.py``
compares the two on every case): keyword overrides win over the environment,
which wins over ``.env``, which wins over secret files; names are matched
case-insensitively; a field with a validation alias (``REQUESTS_CA_BUNDLE``,
``XDG_STATE_HOME``) is read under its aliases first, without the prefix. Values
are then validated by pydantic as before, so every rule and message is the
same. Only the import of pydantic-settings (asyncio, its many sources: about
0.1 s on a small machine) is left out of every command's start-up.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Mapping

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr

__all__ = ["CHANNEL_URL_FIELDS", "ENV_FILE", "ENV_PREFIX", "Settings", "load_settings"]

ENV_PREFIX = "NOTIFY_"
ENV_FILE = ".env"

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


class Settings(BaseModel):
    """Every setting notify reads; see the README's configuration table. Build it with :func:`load_settings`."""

    # As pydantic-settings' BaseSettings with env_prefix NOTIFY_, env_file .env: the same validation.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, validate_default=True,
                              arbitrary_types_allowed=True)

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

    concurrency: int = Field(default=100, ge=1, le=1024)  # 200 pages at 200 ms each: 0.4 s, not 1.4 s
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=10.0, gt=0)
    retry_attempts: int = Field(default=4, ge=1, le=20)
    retry_max_wait: float = Field(default=60.0, gt=0)

    proxy: str | None = None  # NOTIFY_PROXY: outbound HTTPS proxy for provider APIs, over HTTPS_PROXY

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
    if not os.path.isfile(ENV_FILE):
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(ENV_FILE).items() if v is not None}


def load_settings(**overrides: object) -> Settings:
    """Read settings now (environment wins over `.env`, which wins over secret files)."""
    return Settings.model_validate(gather(overrides, os.environ, _secrets_dir()))


# -- the sources, as pydantic-settings reads them ---------------------------------------------


def _names(name: str, field: Any) -> tuple[list[str], list[tuple[str, str]]]:
    """A field's aliases, and its (input key, variable name) pairs in lookup order: aliases, then the name."""
    alias = field.validation_alias
    aliases = [str(choice) for choice in alias.choices] if isinstance(alias, AliasChoices) else \
        [alias] if isinstance(alias, str) else []
    return aliases, [(a, a.lower()) for a in aliases] + [(name, (ENV_PREFIX + name).lower())]


def _from_variables(variables: Mapping[str, str | None]) -> dict[str, str]:
    """Input for the model from variables (names already lower-cased): the first name found, per field."""
    found = {}
    for name, field in Settings.model_fields.items():
        for key, variable in _names(name, field)[1]:
            if variables.get(variable) is not None:
                found[_preferred(name, field, key)] = variables[variable]
                break
    return found


def _preferred(name: str, field: Any, key: str) -> str:
    """pydantic-settings keys a value found under any alias as the first alias; under the name, as the name."""
    aliases = _names(name, field)[0]
    return aliases[0] if aliases and key != name else key


def _env_file_variables() -> dict[str, str | None]:
    path = Path(ENV_FILE)
    if not (path.is_file() or path.is_fifo()):
        return {}
    from dotenv import dotenv_values

    return {k.lower(): v for k, v in dotenv_values(path, encoding="utf-8").items()}


def _from_secret_files(directory: str | None) -> dict[str, str]:
    """Input from a secrets directory: a file named like the variable (any case) holds its value."""
    if directory is None:
        return {}
    root = Path(directory).expanduser()
    if not root.exists():
        warnings.warn(f'directory "{root}" does not exist')  # noqa: B028
        return {}
    if not root.is_dir():
        raise ValueError(f"secrets_dir must reference a directory: {root}")
    resolved_root = root.resolve()
    entries = list(root.iterdir())
    found = {}
    for name, field in Settings.model_fields.items():
        for key, variable in _names(name, field)[1]:
            path = next((f for f in entries if f.name == variable or f.name.lower() == variable), None)
            if path is None:
                continue
            try:
                resolved = path.resolve()
            except (OSError, RuntimeError) as exc:
                warnings.warn(f'attempted to load secret file "{path}" but it could not be resolved: {exc}',
                              stacklevel=2)
                continue
            if path.is_file():
                if resolved_root not in resolved.parents:
                    warnings.warn(f'attempted to load secret file "{path}" but it resolves outside of "{root}".',
                                  stacklevel=2)
                    continue
                found[_preferred(name, field, key)] = path.read_text(encoding="utf-8").strip()
                break
            warnings.warn(f'attempted to load secret file "{path}" but found a {_kind(path)} instead.',
                          stacklevel=2)
    return found


def _kind(path: Path) -> str:
    for method, label in (("is_dir", "directory"), ("is_file", "file"), ("is_mount", "mount point"),
                          ("is_symlink", "symlink"), ("is_block_device", "block device"),
                          ("is_char_device", "char device"), ("is_fifo", "FIFO"), ("is_socket", "socket")):
        if getattr(path, method)():
            return label
    return "unknown"


def _from_overrides(overrides: Mapping[str, object]) -> tuple[dict[str, object], dict[str, str]]:
    """Keyword overrides by field name or alias (any case), keyed as the field's first alias; and
    field name -> the keyword it was given as."""
    given: dict[str, list[str]] = {}
    for key in overrides:
        given.setdefault(key.lower(), []).append(key)
    found: dict[str, object] = {}
    named: dict[str, str] = {}
    left = set(overrides)
    for name, field in Settings.model_fields.items():
        aliases, _ = _names(name, field)
        candidates = list(dict.fromkeys([a.lower() for a in aliases] + [name.lower()]))
        matched = [key for candidate in candidates for key in given.get(candidate, []) if key in left]
        if matched:
            left.difference_update(matched)
            found[aliases[0] if aliases else name] = overrides[matched[0]]
            exact = [key for key in overrides if key in aliases or key == name]
            if exact:
                named[name] = exact[0]
    return found, named


def gather(overrides: Mapping[str, object], environ: Mapping[str, str], secrets_dir: str | None) -> dict[str, Any]:
    """The model's input: overrides, then the environment, then `.env`, then secret files (first wins)."""
    given, named = _from_overrides(overrides)
    state: dict[str, Any] = {**_from_secret_files(secrets_dir), **_from_variables(_env_file_variables()),
                             **_from_variables({k.lower(): v for k, v in environ.items()}), **given}
    for name, keyword in named.items():  # as pydantic-settings: an override keeps the keyword's own name
        aliases, _ = _names(name, Settings.model_fields[name])
        present = [key for key in [*aliases, name] if key in state]
        if present:
            source = next((a for a in aliases if a in state), name)
            value = state.pop(source)
            for key in present:
                state.pop(key, None)
            state[keyword] = value
    return state
