"""Settings from the environment, `.env` and secret files: the only reader of either.

A `.env` in the working directory is read only when it and the directory are the
user's own and nobody else can write them (:func:`env_file_refusal` says why not).

Every ``NOTIFY_*`` variable is a field of :class:`Settings`; channel URLs are
``SecretStr`` so that printing the settings never shows a token. Secret files
(one file per variable, Docker/Kubernetes style) are read from
``NOTIFY_SECRETS_DIR`` (default ``/run/secrets/notify`` when it exists).

The sources follow pydantic-settings' rules exactly (``tests/test_settings_sources.py``
compares the two on every case): keyword overrides win over the environment,
which wins over ``.env``, which wins over secret files; names are matched
case-insensitively; a field with a validation alias (``REQUESTS_CA_BUNDLE``,
``XDG_STATE_HOME``) is read under its aliases first, without the prefix. Values
are then validated by the same rules as before. Only the import of
pydantic-settings (asyncio, its many sources: about 0.1 s on a small machine)
is left out of every command's start-up, and pydantic too whenever every value
is plainly valid (a URL, a path, a number in range): the common case is read
by :func:`_plainly_valid`, and anything it is not sure of goes to pydantic,
whose result and error messages are the reference.
"""

from __future__ import annotations

import os
import re
import types
import warnings
import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, get_args, get_origin, get_type_hints

from .validation import Rules, validate

__all__ = ["ALIASES", "CHANNEL_URL_FIELDS", "ENV_FILE", "ENV_PREFIX", "INTERNAL", "Secret", "Settings",
           "channel_variable", "env_file_refusal", "load_settings"]

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


def channel_variable(channel: str) -> str | None:
    """The variable that configures a built-in channel (NOTIFY_EMAIL_URL); None for a plugin's channel."""
    field = CHANNEL_URL_FIELDS.get(channel)
    return f"{ENV_PREFIX}{field.upper()}" if field else None


def _secrets_dir() -> str | None:
    path = os.environ.get("NOTIFY_SECRETS_DIR") or "/run/secrets/notify"
    return path if os.path.isdir(path) else None


class Secret:
    """A secret setting: shown as '**********' everywhere, read only with :meth:`get_secret_value`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __len__(self) -> int:  # an empty value is unset, as with pydantic's SecretStr
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(cls, core_schema.str_schema())


# Metadata of a field that no source sets: only code does, through load_settings(name=...).
INTERNAL = {"internal": True}

# Fields read under other names first, without the prefix (as pydantic-settings' validation_alias).
ALIASES = {
    "ca_bundle": ("NOTIFY_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"),
    "xdg_state_home": ("XDG_STATE_HOME",),
    "no_color": ("NO_COLOR",),
}


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every setting notify reads; see the README's configuration table. Build it with :func:`load_settings`."""

    __pydantic_config__ = {"extra": "ignore"}

    config_dir: Path | None = None
    state_dir: Path | None = None
    store_url: str | None = None

    email_url: Secret | None = None
    slack_url: Secret | None = None
    sms_url: Secret | None = None
    phone_url: Secret | None = None
    webhook_url: Secret | None = None
    apprise_url: Secret | None = None

    # Inbound only, for `notify serve`: what callers must present (unlike the outbound NOTIFY_WEBHOOK_URL).
    # Monitoring posts hooks with the webhook token or HMAC secret; operators ack, resolve and read with
    # the API token; Prometheus scrapes /metrics with the metrics token (when set). Each may hold two
    # comma-separated values, so a credential can be rotated without downtime (server/auth.py).
    webhook_token: Secret | None = None
    webhook_hmac_secret: Secret | None = None
    api_token: Secret | None = None
    metrics_token: Secret | None = None

    concurrency: Annotated[int, Rules(ge=1, le=1024)] = 100  # 200 pages at 200 ms each: 0.4 s, not 1.4 s
    connect_timeout: Annotated[float, Rules(gt=0)] = 5.0
    read_timeout: Annotated[float, Rules(gt=0)] = 10.0
    # NOTIFY_SEND_DEADLINE: one attempt's total seconds (connect, send and read), however slowly a provider
    # drips its answer; past it the connection is closed (channels/_deadline.py).
    send_deadline: Annotated[float, Rules(gt=0)] = 20.0
    retry_attempts: Annotated[int, Rules(ge=1, le=20)] = 4
    retry_max_wait: Annotated[float, Rules(gt=0)] = 60.0
    # NOTIFY_STORE_TIMEOUT: seconds `notify serve` waits on the store for a request before answering 503
    # (a hung database must not hold every webhook for the driver's 10 s connect timeout, 8 at a time).
    store_timeout: Annotated[float, Rules(gt=0, le=60)] = 2.0

    # NOTIFY_LOG_FORMAT: the lines `notify serve` and `notify worker` log per event (dispatcher.eventlog).
    log_format: Literal["text", "json"] = "text"

    # NOTIFY_USER: who runs `notify ack/update/resolve` without --by (a person id, login or email of
    # contacts.toml); else the login name.
    user: str | None = None

    # NOTIFY_NOW: where this command's clock starts (tests, rehearsals); parsed and announced by the CLI.
    now: str | None = None

    proxy: str | None = None  # NOTIFY_PROXY: the proxy for https URLs, over HTTPS_PROXY; NO_PROXY still applies
    # A sandbox drill's stand-in for every provider: every URL goes through it, whatever NO_PROXY says. Internal
    # (never read from the environment), so only a sandbox drill sets it, and a drill never reaches a real provider.
    sandbox_proxy: str | None = field(default=None, metadata=INTERNAL)

    ca_bundle: Path | None = None  # also REQUESTS_CA_BUNDLE, SSL_CERT_FILE (ALIASES)
    xdg_state_home: Path | None = None  # XDG_STATE_HOME
    no_color: str | None = None  # NO_COLOR (no-color.org): any non-empty value keeps tables uncoloured

    def channel_url(self, channel: str) -> str | None:
        """The secret URL configuring a built-in channel, or None."""
        field = CHANNEL_URL_FIELDS.get(channel)
        value = getattr(self, field) if field else None
        return value.get_secret_value() if value else None

    def secrets(self) -> tuple[str, ...]:
        """Every secret value, so output can be scrubbed of them as a last line of defence."""
        values = [self.channel_url(name) for name in CHANNEL_URL_FIELDS]
        for secret in (self.webhook_token, self.webhook_hmac_secret, self.api_token, self.metrics_token):
            if secret:  # each value of a rotation pair is scrubbed on its own, as is the pair
                values += [secret.get_secret_value(), *secret.get_secret_value().split(",")]
        if self.store_url:  # a driver's message may quote the store URL whole
            from .store.urls import store_passwords

            values += store_passwords(self.store_url)
        return tuple(v for v in values if v and v.strip())

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
        return _dotenv().get(name)

    def resolved_state_dir(self) -> Path:
        if self.state_dir:
            return self.state_dir
        base = self.xdg_state_home or Path.home() / ".local" / "state"
        return base / "notify"

    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{self.resolved_state_dir() / 'notify.db'}"


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


def _dotenv() -> dict[str, str]:
    if not os.path.isfile(ENV_FILE) or env_file_refusal():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(ENV_FILE).items() if v is not None}


def load_settings(**overrides: object) -> Settings:
    """Read settings now (environment wins over `.env`, which wins over secret files); internal fields
    are taken from the overrides only."""
    internal = {name: overrides.pop(name) for name in _internal_names() if name in overrides}
    given = by_field(gather(overrides, os.environ, _secrets_dir()))
    plain = _plainly_valid(given)
    settings = Settings(**plain) if plain is not None else validate(Settings, given)
    return dataclasses.replace(settings, **internal) if internal else settings


def by_field(state: Mapping[str, Any]) -> dict[str, Any]:
    """Gathered input keyed by field name: an alias first, in order, then the name (pydantic's lookup)."""
    found = {}
    for name in _field_names():
        key = next((k for k in (*ALIASES.get(name, ()), name) if k in state), None)
        if key is not None:
            found[name] = state[key]
    return found


def _internal_names() -> list[str]:
    return [item.name for item in fields(Settings) if item.metadata.get("internal")]


# -- the common case without pydantic -------------------------------------------------------------

_INTEGER = re.compile(r"0|[1-9][0-9]{0,8}")
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]{0,8})(?:\.[0-9]{1,9})?")
_NOT_SURE = object()
_hints: dict[str, Any] = {}


def _plainly_valid(given: Mapping[str, Any]) -> dict[str, Any] | None:
    """The field values when every one is unmistakably valid, else None (pydantic decides, and explains)."""
    if not _hints:
        _hints.update(get_type_hints(Settings, include_extras=True))
    values = {}
    for name, raw in given.items():
        value = _plain_value(_hints[name], raw)
        if value is _NOT_SURE:
            return None
        values[name] = value
    return values


def _plain_value(hint: Any, raw: Any) -> Any:
    """``raw`` as ``hint`` when that is certain: a string where a string goes, a number in range..."""
    constraints: dict[str, Any] = {}
    if get_origin(hint) is Annotated:
        hint, *metadata = get_args(hint)
        for item in metadata:
            constraints.update(item.constraints)
    if isinstance(hint, types.UnionType):  # `X | None`
        if raw is None:
            return None
        hint = next(arg for arg in get_args(hint) if arg is not type(None))
    if get_origin(hint) is Literal:
        return raw if raw in get_args(hint) else _NOT_SURE
    if hint in (str, Secret, Path):
        if not isinstance(raw, str) or (hint is Path and not raw):
            return raw if hint is Path and isinstance(raw, Path) else _NOT_SURE
        return hint(raw) if hint is not str else raw
    number = _plain_number(hint, raw)
    if number is _NOT_SURE or not _within(number, constraints):
        return _NOT_SURE
    return number


def _plain_number(hint: type, raw: Any) -> Any:
    if isinstance(raw, str):
        return hint(raw) if (_INTEGER if hint is int else _DECIMAL).fullmatch(raw) else _NOT_SURE
    if type(raw) is int or (hint is float and type(raw) is float):
        return hint(raw)
    return _NOT_SURE


def _within(number: float, constraints: Mapping[str, Any]) -> bool:
    checks = {"ge": number.__ge__, "gt": number.__gt__, "le": number.__le__, "lt": number.__lt__}
    return all(checks[name](bound) for name, bound in constraints.items())


# -- the sources, as pydantic-settings reads them ---------------------------------------------


def _names(name: str) -> tuple[list[str], list[tuple[str, str]]]:
    """A field's aliases, and its (input key, variable name) pairs in lookup order: aliases, then the name."""
    aliases = list(ALIASES.get(name, ()))
    return aliases, [(a, a.lower()) for a in aliases] + [(name, (ENV_PREFIX + name).lower())]


def _field_names() -> list[str]:
    """The fields the sources set (every one but the internal ones)."""
    return [item.name for item in fields(Settings) if not item.metadata.get("internal")]


def _from_variables(variables: Mapping[str, str | None]) -> dict[str, str]:
    """Input for the model from variables (names already lower-cased): the first name found, per field."""
    found = {}
    for name in _field_names():
        for key, variable in _names(name)[1]:
            if variables.get(variable) is not None:
                found[_preferred(name, key)] = variables[variable]
                break
    return found


def _preferred(name: str, key: str) -> str:
    """pydantic-settings keys a value found under any alias as the first alias; under the name, as the name."""
    aliases = _names(name)[0]
    return aliases[0] if aliases and key != name else key


def _env_file_variables() -> dict[str, str | None]:
    path = Path(ENV_FILE)
    if not (path.is_file() or path.is_fifo()) or env_file_refusal():
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
    for name in _field_names():
        for key, variable in _names(name)[1]:
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
                found[_preferred(name, key)] = path.read_text(encoding="utf-8").strip()
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
    for name in _field_names():
        aliases, _ = _names(name)
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
        aliases, _ = _names(name)
        present = [key for key in [*aliases, name] if key in state]
        if present:
            source = next((a for a in aliases if a in state), name)
            value = state.pop(source)
            for key in present:
                state.pop(key, None)
            state[keyword] = value
    return state
