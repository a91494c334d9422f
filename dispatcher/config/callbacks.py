"""The provider callbacks `notify serve` answers, and the secret each verifies requests with.

Twilio, Slack and PagerDuty call ``NOTIFY_PUBLIC_URL/providers/...`` when someone
replies to an SMS, presses a key in a call, clicks a Slack button or acts in
PagerDuty. Each endpoint is on only when the public URL and its secret are set;
otherwise it answers 404 with the reason :func:`callbacks` gives (also shown by
`notify check`).

Twilio signs with the account's Auth Token, which is the token in the twilio://
URL of the channel (``NOTIFY_SMS_URL``, ``NOTIFY_VOICE_URL``). The URL is parsed
here, not by the channel plugin: the core never imports a channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from .problems import Problem, note
from .settings import Settings

__all__ = ["Callback", "callback_problems", "callbacks", "twilio_auth_token"]


@dataclass(frozen=True)
class Callback:
    """One provider endpoint: its path, its secret (None: off) and why it is off."""

    path: str
    secret: str | None
    off_because: str = ""

    @property
    def on(self) -> bool:
        return self.secret is not None


def twilio_auth_token(url: str | None) -> str | None:
    """The Auth Token of a twilio:// URL (``twilio://SID:TOKEN@FROM`` or ``?token=``), None for another scheme.

    With ``?apikey=SK...`` the token is the API key's secret, which Twilio does not sign callbacks with:
    None then, too (the callbacks need the account's Auth Token).
    """
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() != "twilio":
        return None
    query = {key.lower(): value for key, value in parse_qsl(parts.query)}
    if query.get("apikey"):
        return None
    return query.get("token") or unquote(parts.password or "") or None


def _secret(value: object) -> str | None:
    text = value.get_secret_value().strip() if value is not None else ""  # type: ignore[attr-defined]
    return text or None


def callbacks(settings: Settings) -> dict[str, Callback]:
    """Every provider endpoint by name (twilio-sms, twilio-voice, slack, pagerduty), on or off and why."""
    voice_url = settings.voice_url or settings.phone_url
    wanted = {
        "twilio-sms": ("/providers/twilio/sms", twilio_auth_token(settings.channel_url("sms")),
                       "NOTIFY_SMS_URL is not a twilio:// URL with the account's Auth Token"),
        "twilio-voice": ("/providers/twilio/voice",
                         twilio_auth_token(voice_url.get_secret_value() if voice_url else None),
                         "NOTIFY_VOICE_URL is not a twilio:// URL with the account's Auth Token"),
        "slack": ("/providers/slack/actions", _secret(settings.slack_signing_secret),
                  "NOTIFY_SLACK_SIGNING_SECRET is unset"),
        "pagerduty": ("/providers/pagerduty", _secret(settings.pagerduty_webhook_secret),
                      "NOTIFY_PAGERDUTY_WEBHOOK_SECRET is unset"),
    }
    found = {}
    for name, (path, secret, missing) in wanted.items():
        if not settings.public_url:
            found[name] = Callback(path, None, "NOTIFY_PUBLIC_URL is unset")
        else:
            found[name] = Callback(path, secret, "" if secret else missing)
    return found


def callback_problems(settings: Settings) -> list[Problem]:
    """What `notify check` says of the provider callbacks: which are on, and why each other one is off.

    Said only with a public URL (without one, the note on NOTIFY_PUBLIC_URL already says what it enables).
    """
    if not settings.public_url:
        return []
    found = callbacks(settings)
    on = [f"{name} ({settings.public_url}{c.path})" for name, c in found.items() if c.on]
    problems = [note("settings", "NOTIFY_PUBLIC_URL", "provider callbacks on: " + (", ".join(on) or "none"))]
    for callback in found.values():
        if not callback.on:
            problems.append(note("settings", callback.path, f"off (answers 404): {callback.off_because}"))
    return problems
