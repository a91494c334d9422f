"""Slack: an incoming webhook per channel, or chat.postMessage with a bot token.

Accepted URLs, in ``config.url`` (the default) or as values of ``config.routes``
(keyed by directory channel name, e.g. ``"#security-alerts"``)::

    https://hooks.slack.com/services/T.../B.../X...   incoming webhook (hooks.slack-gov.com too)
    slack://T.../B.../X...[/#ignored]                  apprise's webhook form -> the URL above
    slack://xoxb-...[/#default-channel]                apprise's bot form (xoxp-/xoxe. too,
    slack://?token=xoxb-...                            or ?token=) -> chat.postMessage

An incoming webhook is bound to one channel and ignores a ``channel`` field, so
``delivered_to`` says which webhook ("webhook for #security-alerts" or "webhook
for default"), not what was asked. With a bot token the message goes to
``Address.target`` and ``delivered_to`` is the channel id Slack answers with.

A person (a member id, ``U...``/``W...``) gets a direct message with a bot token:
chat.postMessage with the member id as ``channel`` posts to the app's DM with
them, and that is ``delivered``. An incoming webhook cannot reach a person: the
message goes to the webhook's channel, prefixed with a ``<@U...>`` mention (the
mention syntax of Slack's message formatting), and the outcome is ``posted``,
which never counts as the person reached.

Slack's answers: a webhook replies ``ok`` or a plain error string with a status
(400 invalid_payload, 403 action_prohibited/invalid_token, 404 no_service or
channel_not_found, 410 channel_is_archived, 429 + Retry-After); the Web API
replies 200 ``{"ok": false, "error": ...}``. A dead webhook URL (no_service,
invalid_token) is classified AUTH, not BAD_ADDRESS: the credential must be
replaced, the directory entry is fine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import unquote, urlsplit

from channels._http import HttpClient
from channels._outcomes import (
    failure,
    is_success,
    not_configured,
    response_json,
    split_query,
)
from channels._slack_blocks import action_buttons, blocks
from dispatcher.api import (
    Address,
    Capabilities,
    ChannelConfig,
    DeliveryResult,
    Notice,
    Outcome,
    Reason,
    TargetKind,
)

_POST_MESSAGE = "https://slack.com/api/chat.postMessage"
_MEMBER_ID = re.compile(r"^[UW][A-Z0-9]{6,}$")  # a person, not a channel
_CHANNEL_NAME = r"^#[a-z0-9][a-z0-9._-]*$"  # a #name as Slack shows it: lower case, no spaces
_WEBHOOK_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")

# Slack error strings (webhook bodies and Web API "error") -> reason; others follow the status.
_CODES: dict[str, Reason] = {
    **dict.fromkeys(("channel_not_found", "not_in_channel", "is_archived", "channel_is_archived",
                     "user_not_found"), Reason.BAD_ADDRESS),
    **dict.fromkeys(("invalid_auth", "not_authed", "token_revoked", "token_expired",
                     "account_inactive", "invalid_token", "no_service", "no_team",
                     "team_disabled", "no_active_hooks", "action_prohibited", "missing_scope",
                     "access_denied", "ekm_access_denied"), Reason.AUTH),
    **dict.fromkeys(("ratelimited", "rate_limited"), Reason.RATE_LIMITED),
    **dict.fromkeys(("internal_error", "fatal_error", "service_unavailable", "request_timeout",
                     "rollup_error"), Reason.SERVER_ERROR),
}


@dataclass(frozen=True)
class SlackDestination:
    """A parsed Slack URL: a webhook URL or a bot token; repr never shows either."""

    webhook: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    default_channel: str | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        if self.token:
            return (self.token,)
        path = urlsplit(self.webhook or "").path.removeprefix("/services/")
        return (path, path.rpartition("/")[2])


def parse_slack_url(url: str) -> SlackDestination:
    """Parse one of the accepted URL forms; ValueError messages never contain a token."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme in ("http", "https") and (parts.hostname or "") in _WEBHOOK_HOSTS:
        if not re.fullmatch(r"/services/\w+/\w+/\w+/?", parts.path):
            raise ValueError("slack webhook url must look like https://hooks.slack.com/services/T/B/X")
        return SlackDestination(webhook=f"https://{parts.hostname}{parts.path.rstrip('/')}")
    if scheme != "slack":
        raise ValueError("slack url must be https://hooks.slack.com/services/... or slack://...")
    query = {key.lower(): value for key, value in split_query(parts.query)}
    entries = [unquote(parts.netloc.rpartition("@")[2])]  # netloc keeps case; .hostname would not
    entries += [unquote(p) for p in parts.path.split("/") if p]
    if query.get("token"):
        entries = [t for t in re.split(r"[/\s,]+", query["token"]) if t] + entries[1:]
    entries = [e for e in entries if e]
    if entries and entries[0].startswith(("xox", "xoxe.")):
        default = entries[1] if len(entries) > 1 else None
        return SlackDestination(token=entries[0], default_channel=default)
    if len(entries) >= 3 and all(re.fullmatch(r"[A-Za-z0-9]+", t) for t in entries[:3]):
        return SlackDestination(webhook="https://hooks.slack.com/services/" + "/".join(entries[:3]))
    raise ValueError("slack:// url needs a bot token (slack://xoxb-...) or three webhook tokens")


def _route_key(name: str) -> str:
    return name.strip().lstrip("#").lower()


class SlackChannel:
    """Slack messages through incoming webhooks or a bot token."""

    name: ClassVar[str] = "slack"
    capabilities: ClassVar[Capabilities] = Capabilities(
        target=TargetKind.SLACK, max_length=3000, template="slack",
        destinations="slack", person_field="slack", quietness=20,
    )

    # Addressing (dispatcher.api.Addressing): contacts.toml's Slack addresses, checked when it loads.

    @staticmethod
    def target_problem(target: str, group: bool = False) -> str | None:
        """A person is a member id (U012AB3CD; W... on Enterprise Grid); a `[slack.ID]` destination a #name."""
        if group:
            return None if re.match(_CHANNEL_NAME, target) else (
                f"String should match pattern '{_CHANNEL_NAME}': {target!r} is not a Slack channel name "
                "(like #security-alerts)")
        return None if _MEMBER_ID.match(target) else f"{target!r} is not a Slack member id (like U012AB3CD)"

    def __init__(self, config: ChannelConfig) -> None:
        self._problems: list[str] = []
        self._default = self._parse("url", config.url) if config.url else None
        self._routes: dict[str, tuple[str, SlackDestination | None]] = {
            _route_key(name): (name, self._parse(f"route {name!r}", url))
            for name, url in config.routes.items()
        }
        self._client = HttpClient(config)

    def _parse(self, what: str, url: str) -> SlackDestination | None:
        try:
            return parse_slack_url(url)
        except ValueError as exc:
            self._problems.append(f"slack {what}: {exc}")
            return None

    def configured(self) -> bool:
        """True when a default URL or at least one route is set."""
        return self._default is not None or bool(self._routes) or bool(self._problems)

    def problems(self) -> list[str]:
        """Malformed URLs (default and routes), without their tokens."""
        if not self.configured():
            return ["slack: no url configured (https://hooks.slack.com/services/... or slack://xoxb-...)"]
        return list(self._problems)

    def send(self, notice: Notice, address: Address) -> DeliveryResult:
        """Post one message to the route for address.target, else to the default URL."""
        label, dest = self._routes.get(_route_key(address.target), ("default", self._default))
        if dest is None:
            return not_configured(self.name, f"slack: no usable url for {address.target} ({label})")
        if dest.token:
            return self._post_message(dest, notice, address.target or dest.default_channel or "")
        if _MEMBER_ID.match(address.target):
            return self._post_mention(dest, notice, address.target, label)
        return self._post_webhook(dest, notice, label)

    def close(self) -> None:
        """Release pooled connections."""
        self._client.close()

    # Routing (dispatcher.api.Routing): what `notify check` asks of a channel that routes by itself.

    def posted_only(self, target: str) -> str | None:
        """A person behind an incoming webhook is only mentioned in its channel (a bot token sends a direct message)."""
        _, dest = self._routes.get(_route_key(target), ("default", self._default))
        if dest is None or dest.token or not _MEMBER_ID.match(target):
            return None
        return ("NOTIFY_SLACK_URL is an incoming webhook: their pages are posted in its channel with a mention, "
                "which does not count as reaching them; add another channel or use a bot token (slack://xoxb-...) "
                "for direct messages")

    def route_warnings(self, destinations: list[str]) -> list[str]:
        """Directory channels behind one incoming webhook: it posts to a single channel, whatever was asked."""
        by_webhook: dict[str, list[str]] = {}
        for target in destinations:
            _, dest = self._routes.get(_route_key(target), ("default", self._default))
            if dest is not None and dest.webhook:
                by_webhook.setdefault(dest.webhook, []).append(target)
        return [f"{', '.join(names)} share one incoming webhook, which posts to a single channel: give each its "
                "own webhook_env or use a bot token" for names in by_webhook.values() if len(names) > 1]

    def _post_webhook(self, dest: SlackDestination, notice: Notice, label: str, mention: str = "") -> DeliveryResult:
        text = f"<@{mention}> {notice.text}" if mention else notice.text
        body = _payload(notice, text, mention)
        response = self._client.post(dest.webhook or "", json=body, secrets=dest.secrets)
        if isinstance(response, DeliveryResult):
            return response
        if is_success(response):
            return DeliveryResult.delivered(status=response.status_code, delivered_to=f"webhook for {label}")
        code = response.text.strip()
        return failure(response, dest.secrets, provider_reason=_CODES.get(code))

    def _post_mention(self, dest: SlackDestination, notice: Notice, member: str, label: str) -> DeliveryResult:
        """A webhook cannot send a direct message: post to its channel mentioning the person."""
        result = self._post_webhook(dest, notice, label, mention=member)
        if result.outcome is not Outcome.DELIVERED:
            return result
        return DeliveryResult.posted(status=result.status, delivered_to=f"webhook for {label}, mentioning {member}",
                                     detail="posted to the webhook's channel with a mention, not sent to the "
                                            "person (a bot token sends a direct message)")

    def _post_message(self, dest: SlackDestination, notice: Notice, channel: str) -> DeliveryResult:
        body = {"channel": channel, **_payload(notice, notice.text)}
        if notice.actions:  # only a bot's messages: the buttons' presses go to its app's interactivity URL
            shown = body.get("blocks") or [{"type": "section", "text": {"type": "mrkdwn", "text": notice.text}}]
            body["blocks"] = [*shown[:49], action_buttons(notice.incident_id, notice.actions)]
        headers = {"Authorization": f"Bearer {dest.token}",
                   "Content-Type": "application/json; charset=utf-8"}
        response = self._client.post(_POST_MESSAGE, json=body, headers=headers, secrets=dest.secrets)
        if isinstance(response, DeliveryResult):
            return response
        answer = response_json(response)
        answer = answer if isinstance(answer, dict) else {}
        if is_success(response) and answer.get("ok") is True:
            return DeliveryResult.delivered(status=response.status_code, provider_id=answer.get("ts"),
                                            delivered_to=answer.get("channel"))
        # ok:false inside a 200 is a failure even for an error string we do not know.
        unknown = Reason.BAD_REQUEST if is_success(response) and answer else None
        reason = _CODES.get(str(answer.get("error")), unknown)
        return failure(response, dest.secrets, provider_reason=reason)


def _payload(notice: Notice, text: str, mention: str = "") -> dict:
    """The message: ``text`` (escaped mrkdwn: the fallback for notifications), and Block Kit blocks that keep
    field values in plain_text when the notice has its lines; never an unfurled link preview."""
    body: dict = {"text": text}
    if notice.lines:
        body["blocks"] = blocks(notice.lines, mention or None)
    return {**body, "unfurl_links": False, "unfurl_media": False}
