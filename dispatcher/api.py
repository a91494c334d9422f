"""The channel plugin contract: the only core module a channel may import.

A channel is a class registered under the entry-point group
``dispatcher.channels``. The registry builds it with a :class:`ChannelConfig`
and calls :meth:`Channel.send` once per (notice, address). A channel declares
what it can do as data (:class:`Capabilities`) so the core can refuse an
unsupported send before any plugin code runs, and it answers every send with a
:class:`DeliveryResult` that says *how* it failed, never a bare bool.

This module is stdlib only: importing it must stay cheap.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Protocol, runtime_checkable

__all__ = [
    "Address",
    "Addressing",
    "Capabilities",
    "Channel",
    "ChannelConfig",
    "DeliveryResult",
    "Notice",
    "Outcome",
    "Reason",
    "Routing",
    "Span",
    "TargetKind",
    "mask_secrets",
    "mask_target",
    "mask_url",
    "target_dedup_key",
]


class Outcome(str, enum.Enum):
    """What happened to one attempt; the core decides what to do next."""

    DELIVERED = "delivered"
    # Accepted, but only where others see it (a Slack channel post mentioning the person): not a
    # person reached, so it never counts toward the exit status or reached_all, and the fallback runs.
    POSTED = "posted"
    # The request reached the provider but no answer came in time (the send deadline): it may have been
    # delivered. Never retried, as a retry could page twice; not a person reached, so the fallback runs.
    POSSIBLY_DELIVERED = "possibly-delivered"
    FAILED_TRANSIENT = "failed-transient"  # worth retrying: 5xx, 429, timeout, connection
    FAILED_PERMANENT = "failed-permanent"  # retrying cannot help: 4xx, auth, bad address


class Reason(str, enum.Enum):
    """Why an attempt ended as it did, one category per cause."""

    OK = "ok"
    AUTH = "auth"
    RATE_LIMITED = "rate-limited"
    SERVER_ERROR = "server-error"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    BAD_ADDRESS = "bad-address"
    BAD_REQUEST = "bad-request"
    NOT_CONFIGURED = "not-configured"
    UNSUPPORTED = "unsupported"
    UNKNOWN = "unknown"


class TargetKind(str, enum.Enum):
    """The kind of address a channel sends to; the directory resolves one of these."""

    EMAIL = "email"
    PHONE = "phone"
    SLACK = "slack"
    URL = "url"


@dataclass(frozen=True)
class Capabilities:
    """What a channel supports, declared as data and checked before sending."""

    target: TargetKind
    html: bool = False
    max_length: int | None = None  # characters of text the provider accepts
    voice: bool = False  # speaks the notice (the "voice" template)
    dedup_key: bool = False  # the provider collapses repeats by Notice.dedup_key
    # The template family it renders (email|slack|sms|voice): a plugin's step pages use `sms`, `resolved-sms`...
    template: str = "email"
    # The contacts.toml table of named destinations it owns, or None. Slack declares "slack": each
    # `[slack.ID]` table (`channel = "#name"`, optional `purpose`, `webhook_env`) is a destination, and a
    # policy audience `slack:ID` reaches it on this channel alone.
    destinations: str | None = None
    # The key of a contacts.toml person holding their address on it (Slack: `slack = "U012AB3CD"`), besides
    # `addresses = { <name> = ... }`, which every channel reads. None: only `addresses`.
    person_field: str | None = None
    # How loud it is, for the resolution notice, sent on the quietest channel a person was reached on
    # (nobody is called to hear "resolved"): email 10, slack 20, webhook 30, apprise 40, sms 50, phone 60,
    # voice 70, pagerduty 80. Undeclared: 100, louder than them all.
    quietness: int = 100
    # It updates what it created earlier for the same incident (a Statuspage incident PATCHed with each update
    # and resolved at the end; a Slack message edited with chat.update): the core then hands each notice the id
    # the provider answered its first accepted delivery of the incident with, on this channel to this target
    # (Notice.earlier_id, from DeliveryResult.provider_id). Undeclared: never looked up.
    follows_up: bool = False
    # It publishes to a status page (Statuspage, a status-page webhook): notices say whether the page's update
    # was requested, accepted or failed (`incident.status_page` in templates, the status timeline).
    status_page: bool = False


@dataclass(frozen=True)
class ChannelConfig:
    """Settings handed to a channel; built by the core from pydantic-settings.

    ``url`` is the channel's apprise-syntax URL (may hold secrets: never print it).
    ``routes`` maps a directory name (e.g. a Slack channel) to its own URL; a destination without one
    uses ``url``.
    ``settings`` holds a plugin channel's other ``NOTIFY_<NAME>_*`` variables, keyed by the rest of the
    name in lower case (``NOTIFY_ECHO_TOKEN`` -> ``"token"``); values may be secrets.
    """

    url: str | None = field(default=None, repr=False)  # secret: kept out of reprs and tracebacks
    routes: Mapping[str, str] = field(default_factory=dict, repr=False)
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    # One attempt's total time (connect, send and read), however slowly the provider answers; None: none.
    send_deadline: float | None = 20.0
    ca_bundle: str | None = None  # REQUESTS_CA_BUNDLE / SSL_CERT_FILE, resolved by settings
    drill: bool = False
    proxy: str | None = None  # NOTIFY_PROXY: for https URLs in place of HTTPS_PROXY; NO_PROXY still applies
    sandbox_proxy: str | None = None  # a sandbox drill's stand-in: every URL goes through it, NO_PROXY or not
    settings: Mapping[str, str] = field(default_factory=dict, repr=False)  # NOTIFY_<NAME>_*, secret


@dataclass(frozen=True)
class Address:
    """One recipient on one channel: who, in which role, and where."""

    person: str  # directory id, or a list/channel/external id
    display: str  # human name for reports
    role: str  # the audience that selected it, e.g. "rotation:primary"
    channel: str  # channel name, e.g. "email"
    target: str  # email address, E.164 phone, Slack channel name or id, URL

    @property
    def masked(self) -> str:
        return mask_target(self.target)


@dataclass(frozen=True)
class Span:
    """A run of one line of a notice: the template's own markup, or a field value (``literal``) that
    came from outside (a reporter, a webhook) and must be shown as typed, never formatted."""

    text: str
    literal: bool = False


@dataclass(frozen=True)
class Notice:
    """A rendered message for one channel of one step of one incident."""

    incident_id: str
    incident_class: str
    step: int
    subject: str
    text: str
    html: str | None = None
    drill: bool = False
    severity: str = "critical"  # critical|high|medium|low, for pagers
    # One key per page (incident/step/recipient, see target_dedup_key): a pager collapses repeats of
    # this page, never two people's pages into one provider incident.
    dedup_key: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)  # plain incident fields, for JSON
    fallback: bool = False  # rendered by the plain fallback after a template error
    # Chat notices (the slack family): ``text`` line by line as spans, so a channel with structured
    # messages can put field values where no markup applies (Slack Block Kit plain_text). Empty: use text.
    lines: tuple[tuple[Span, ...], ...] = ()
    # What the recipient may do from the message itself (of "ack", "escalate", "resolve"), on the incident
    # `incident_id`: a channel with interactive messages (Slack with a bot token) offers them as buttons,
    # and the provider's callback acts as whoever pressed one. Empty: the message offers none.
    actions: tuple[str, ...] = ()
    # For pagers: "trigger" a page, or "acknowledge" / "resolve" the page sent before under `dedup_key`
    # (PagerDuty's Events API v2 event_action). A channel that cannot do the latter fails it permanently.
    page_event: str = "trigger"
    # Where a reply to this message is posted (a Twilio call's keypress: its Gather action), for `actions`.
    reply_url: str | None = None
    # The kind of notice (initial, update, resolved, ack, reminder...: the lifecycle event it tells of).
    kind: str = "initial"
    # For a channel that declares Capabilities.follows_up: the provider_id of the incident's first accepted
    # delivery on this channel to this address (a Statuspage incident id, a Slack message ts); None when nothing
    # was accepted there yet, so the channel creates instead of updating.
    earlier_id: str | None = None


@dataclass(frozen=True)
class DeliveryResult:
    """The answer to one attempt. ``detail`` must already be free of secrets."""

    outcome: Outcome
    reason: Reason = Reason.OK
    detail: str = ""
    retry_after: float | None = None  # seconds, from a provider's Retry-After
    status: int | None = None  # HTTP status or SMTP reply code, when there was one
    provider_id: str | None = None  # message id / call sid / dedup key the provider echoed
    delivered_to: str | None = None  # where it really went (an incoming webhook's own channel)

    @classmethod
    def delivered(cls, **kw: Any) -> "DeliveryResult":
        return cls(Outcome.DELIVERED, Reason.OK, **kw)

    @classmethod
    def posted(cls, **kw: Any) -> "DeliveryResult":
        """Accepted where the person may see it, yet not sent to them (see Outcome.POSTED)."""
        return cls(Outcome.POSTED, Reason.OK, **kw)

    @classmethod
    def possibly_delivered(cls, reason: Reason, detail: str = "", **kw: Any) -> "DeliveryResult":
        """Sent, but no answer came in time: it may have arrived (see Outcome.POSSIBLY_DELIVERED)."""
        return cls(Outcome.POSSIBLY_DELIVERED, reason, detail, **kw)

    @classmethod
    def transient(cls, reason: Reason, detail: str = "", **kw: Any) -> "DeliveryResult":
        return cls(Outcome.FAILED_TRANSIENT, reason, detail, **kw)

    @classmethod
    def permanent(cls, reason: Reason, detail: str = "", **kw: Any) -> "DeliveryResult":
        return cls(Outcome.FAILED_PERMANENT, reason, detail, **kw)


@runtime_checkable
class Channel(Protocol):
    """A channel plugin. Built once per process with its config; thread-safe send."""

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def __init__(self, config: ChannelConfig) -> None: ...

    def configured(self) -> bool:
        """True when the settings needed to send are present.

        A URL channel (``TargetKind.URL``) is also used without them for an address that
        carries its own URL, such as a person's apprise URL.
        """

    def problems(self) -> list[str]:
        """Configuration problems found without sending, for `notify check`."""

    def send(self, notice: Notice, address: Address) -> DeliveryResult:
        """Make one attempt; never raise for a provider failure, classify it."""

    def close(self) -> None:
        """Release pooled connections at the end of a fan-out."""


@runtime_checkable
class Routing(Protocol):
    """Optional hooks of a channel that routes by itself (Slack: a webhook per channel, a bot token for
    direct messages). `notify check` calls them on a channel that defines both, so that the core never
    knows a provider's routing; a channel without them is never asked.
    """

    def posted_only(self, target: str) -> str | None:
        """Why a send to a person's `target` can at best be posted where they may see it (Outcome.POSTED),
        never delivered to them, naming the setting to change; None when it can be delivered."""

    def route_warnings(self, destinations: list[str]) -> list[str]:
        """What is wrong with how these destinations of contacts.toml on the channel (its group targets,
        such as Slack channel names, in the file's order) would be routed; found without sending."""


@runtime_checkable
class Addressing(Protocol):
    """An optional hook of a channel whose addresses have a form of their own (Slack: member ids, #names).

    The core calls it on the channel's class, before any instance exists (define it as a staticmethod), for
    every address contacts.toml gives the channel, so a malformed one is an error of `notify check` and of
    every command that loads contacts.toml, before anything is sent.
    """

    def target_problem(self, target: str, group: bool = False) -> str | None:
        """What is wrong with `target` as an address on this channel, for a message naming the key; None when
        it is well formed. `group`: a destination of the channel's table (`[slack.ID] channel`), not a person."""


_SECRET_IN_URL = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<cred>[^@/\s]+)@", re.I)
_SECRET_QUERY = re.compile(
    r"(?P<key>(?:token|key|secret|password|pass|pwd|auth|sig|signature|apikey|api_key|routing_key)=)[^&\s]+",
    re.I,
)
# What _SECRET_QUERY needs literally (its keys end in these; it is not anchored at a word's start).
_QUERY_KEYS = ("token=", "key=", "secret=", "pass=", "password=", "pwd=", "auth=", "sig=", "signature=")
_SLACK_HOOK = re.compile(r"(hooks\.slack\.com/services/)[A-Za-z0-9/_-]+")
# An action link (PUBLIC_URL/a/TOKEN) acts as its person: a provider that echoes the page back in an error
# must not put a working token into the delivery log or a log line.
_ACTION_LINK = re.compile(r"(/a/)[A-Za-z0-9_-]{12,}")


def mask_secrets(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove credentials from a URL or an error message before it is shown or stored."""
    # Each pattern needs its literal: most texts (every field of every log line) skip the regular expressions.
    if "://" in text:
        text = _SECRET_IN_URL.sub(lambda m: m.group("scheme") + "***@", text)
    # The expression costs 25 us a log line; ASCII text (re.I folds a few other letters to ASCII ones) shows first
    # whether it can match at all.
    if "=" in text and (not text.isascii() or any(key in text.lower() for key in _QUERY_KEYS)):
        text = _SECRET_QUERY.sub(lambda m: m.group("key") + "***", text)
    if "hooks.slack.com/services/" in text:
        text = _SLACK_HOOK.sub(r"\1***", text)
    if "/a/" in text:
        text = _ACTION_LINK.sub(r"\1***", text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def target_dedup_key(incident_id: str, step: int | str, person: str) -> str:
    """The dedup key of one page: `ID/step/person`, so each target is its own provider incident."""
    return f"{incident_id}/{step}/{person}"


def mask_target(target: str) -> str:
    """Show enough of an address to recognise it, not enough to harvest it."""
    if "://" in target:
        return mask_url(target)
    if "@" in target:
        local, _, domain = target.partition("@")
        return f"{local[:1]}***@{domain}"
    if target.startswith("+") and len(target) > 6:
        return f"{target[:3]}******{target[-2:]}"
    return target


_URL_PART = re.compile(r"([/:@]+)")
_HOST = re.compile(r"^(?=.{1,253}$)(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$|^\d{1,3}(?:\.\d{1,3}){3}$")


def mask_url(url: str) -> str:
    """A URL that may carry credentials, cut as apprise's ``url(privacy=True)`` cuts tokens (``A...Z``).

    Stricter than apprise: every part but the scheme and a hostname is cut, whatever the
    service, and the query is dropped (apprise leaves header values such as
    ``+Authorization=`` in clear). Masking a masked URL changes nothing, so a stored
    target can be masked again safely.
    """
    scheme, _, rest = url.partition("://")
    rest = re.split(r"[?#]", rest, maxsplit=1)[0]
    parts = _URL_PART.split(rest)
    return f"{scheme}://" + "".join(p if i % 2 or _HOST.match(p) else _cut(p) for i, p in enumerate(parts))


def _cut(part: str) -> str:
    if not part or "..." in part or part == "***":  # empty, or masked already
        return part
    return f"{part[0]}...{part[-1]}" if len(part) >= 6 else "***"
