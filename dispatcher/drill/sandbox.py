"""Local stand-ins for every channel, so a drill delivers over real sockets with no credentials.

An in-process SMTP server takes the email; a TLS-terminating proxy stands in
for Slack (incoming webhook), Twilio (SMS and voice calls) and Statuspage (the
status page's incidents, created and PATCHed) with a throwaway
CA, so the real channels run unchanged. Each stand-in records what it
received, and a drill event can make one channel fail for a while.

The settings include a public URL and the callbacks' secrets (the stand-ins'
Twilio Auth Token, a Slack signing secret, a link secret), so pages carry
action links, keypress prompts and buttons as they would in production, and a
drill's person can answer one through serve's own app (:mod:`dispatcher.app.drill_acts`).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Any

from ..testing.providers import Recorded, Recorder, Reply
from ..testing.proxy import ProviderProxy
from ..testing.smtp import SmtpServer

__all__ = ["Received", "Sandbox"]

SID = "AC" + "d" * 32
PUBLIC_URL = "https://notify.drill.invalid"  # never resolved: the drill calls serve's app in-process
_TWILIO_OK = {"Messages.json": Reply(201, {"sid": "SMdrill", "status": "queued"}),
              "Calls.json": Reply(201, {"sid": "CAdrill", "status": "queued"})}
STATUSPAGE_HOST = "api.statuspage.io"
# The sandbox's Statuspage: its API key, and the components of the services the shipped drills name.
STATUSPAGE_KEY = "drill-statuspage-key"
STATUSPAGE_COMPONENTS = "API=drillapi0001,Webhooks=drillhook0001,web=drillweb0001"
_HOSTS = {"slack": "hooks.slack.com", "statuspage": STATUSPAGE_HOST}  # others: Twilio's


@dataclass(frozen=True)
class Received:
    channel: str
    to: str
    text: str


class _ChannelRecorder(Recorder):
    """Answers per channel (SMS and calls share a host), with injectable failures."""

    def __init__(self, host: str) -> None:
        super().__init__(Reply(200, "ok"))
        self.host = host
        # channel -> (replies to give, in order; whether the last one stays until `recover`)
        self.failures: dict[str, tuple[list[Reply], bool]] = {}
        self._fail_lock = threading.Lock()
        self._ids = itertools.count(1)  # the incident ids the Statuspage stand-in answers with

    def take(self, request: Recorded) -> Reply:
        super().take(request)
        channel = _channel_of(self.host, request.path)
        with self._fail_lock:
            replies, sticky = self.failures.get(channel, ([], False))
            if replies:
                return replies[0] if sticky and len(replies) == 1 else replies.pop(0)
        if channel == "statuspage":
            return _statuspage_answer(request, self._ids)
        return next((r for suffix, r in _TWILIO_OK.items() if request.path.endswith(suffix)), Reply(200, "ok"))


def _statuspage_answer(request: Recorded, ids: itertools.count) -> Reply:
    """As Statuspage answers: a created incident with a new id (201), a PATCHed one with its own (200)."""
    if request.method == "POST":
        return Reply(201, {"id": f"drillinc{next(ids):04d}", "status": (request.json or {}).get("incident", {})
                           .get("status")})
    return Reply(200, {"id": request.path.rstrip("/").rpartition("/")[2],
                       "status": (request.json or {}).get("incident", {}).get("status")})


def _channel_of(host: str, path: str) -> str:
    if host == "hooks.slack.com":
        return "slack"
    if host == STATUSPAGE_HOST:
        return "statuspage"
    return "phone" if path.endswith("/Calls.json") else "sms"


class Sandbox:
    """Start with `with Sandbox() as sandbox:`; `settings` are the channel settings pointing at it."""

    def __init__(self) -> None:
        self.smtp = SmtpServer()
        self.proxy = ProviderProxy(("hooks.slack.com", "api.twilio.com", STATUSPAGE_HOST), recorder=_ChannelRecorder)

    def __enter__(self) -> "Sandbox":
        self.smtp.start()
        self.proxy.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.proxy.stop()
        self.smtp.stop()

    @property
    def settings(self) -> dict[str, Any]:
        return {"email_url": self.smtp.url(**{"from": "drill@notify.invalid"}),
                "slack_url": "https://hooks.slack.com/services/TDRILL/BDRILL/sandbox",
                "sms_url": f"twilio://{SID}:sandbox@+15550100000",
                "phone_url": f"twilio://{SID}:sandbox@+15550100000?method=call",
                "statuspage_url": f"statuspage://{STATUSPAGE_KEY}", "statuspage_components": STATUSPAGE_COMPONENTS,
                "sandbox_proxy": self.proxy.proxy_url, "ca_bundle": self.proxy.ca_bundle_path,
                "connect_timeout": 2.0, "read_timeout": 5.0,
                "public_url": PUBLIC_URL, "link_secret": "drill-link-secret",
                "slack_signing_secret": "drill-slack-signing-secret"}

    def fail(self, channel: str, status: int, times: int | None) -> None:
        """Make one channel's stand-in answer `status` (the next `times` requests, or until recovered)."""
        if channel == "email":
            self.smtp.answer("DATA", 451 if status < 500 else 554, times=times)
            return
        recorder: _ChannelRecorder = self.proxy[_HOSTS.get(channel, "api.twilio.com")]  # type: ignore[assignment]
        headers = {"Retry-After": "30"} if status == 429 else {}
        reply = Reply(status, {"message": f"drill: injected {status}"}, headers)
        with recorder._fail_lock:
            recorder.failures[channel] = ([reply] * times, False) if times else ([reply], True)

    def recover(self, channel: str) -> None:
        if channel == "email":
            self.smtp.clear_answers()
            return
        recorder: _ChannelRecorder = self.proxy[_HOSTS.get(channel, "api.twilio.com")]  # type: ignore[assignment]
        with recorder._fail_lock:
            recorder.failures.pop(channel, None)

    def texts_to(self, channel: str, target: str) -> list[str]:
        """Every message the stand-in of `channel` (email, sms, phone) took for `target`, whole, oldest first:
        an email's text, an SMS's Body, a call's TwiML."""
        if channel == "email":
            return [m.get_body(("plain", "html")).get_content() for m in self.smtp.messages
                    if target in str(m["To"])]
        return [r.form.get("Body") or r.form.get("Twiml", "") for r in self.proxy.requests
                if r.host == "api.twilio.com" and _channel_of(r.host, r.path) == channel and r.form.get("To") == target]

    def received(self) -> list[Received]:
        """What each recipient actually received, in arrival order."""
        got = [Received("email", str(m["To"]), str(m["Subject"])) for m in self.smtp.messages]
        for request in self.proxy.requests:
            channel = _channel_of(request.host, request.path)
            if channel == "slack":
                got.append(Received("slack", "incoming webhook", (request.json or {}).get("text", "")[:200]))
            elif channel == "statuspage":
                incident = (request.json or {}).get("incident") or {}
                got.append(Received("statuspage", request.path, f"{request.method} {incident.get('status')}: "
                                                                 f"{incident.get('body', '')[:160]}"))
            else:
                form = request.form
                text = form.get("Body") or form.get("Twiml", "")
                got.append(Received(channel, form.get("To", ""), text[:200]))
        return got

