"""The provider callbacks (``POST /providers/...``): SMS replies, keypresses, Slack buttons, PagerDuty webhooks.

Each request is verified with its provider's own scheme before anything is read
from it, and a request that fails gets 403 and changes nothing. An endpoint is on
only when ``NOTIFY_PUBLIC_URL`` and its secret are set (config/callbacks.py);
otherwise it answers 404 saying which setting is missing. Bodies are never
logged: a form may quote a token.

Twilio signs ``X-Twilio-Signature``: base64 HMAC-SHA1, keyed by the account's Auth
Token, of the URL Twilio requested followed by each form field's name and value,
sorted by name. The URL is ``NOTIFY_PUBLIC_URL`` plus the path, never the Host
header a caller chooses. A replayed request (Twilio retries, or someone replays
one) is answered as the first was and changes nothing again, by its MessageSid or
CallSid. Slack's scheme is in :mod:`.slack_actions`.

PagerDuty signs v3 webhooks ``X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the body>``
(several, comma-separated, while a secret is rotated), keyed by the subscription's
secret (NOTIFY_PAGERDUTY_WEBHOOK_SECRET, which may hold two comma-separated values
too). A webhook delivered again (by its event id) changes nothing again.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from ..config.callbacks import Callback
from ..errors import AlreadyHandled
from .http_error import HTTPError
from .slack_actions import parse_press, reply_body, verify_slack

__all__ = ["TWIML", "ProviderCalls", "Providers", "twilio_signature"]

log = logging.getLogger("notify.server")
TWIML = "text/xml; charset=utf-8"
ROUTES = {"/providers/twilio/sms": "twilio-sms", "/providers/twilio/voice": "twilio-voice",
          "/providers/slack/actions": "slack", "/providers/pagerduty": "pagerduty"}
RESPOND_WAIT = 2.5  # seconds to update a Slack message before answering anyway (Slack waits 3 s for an answer)


@dataclass
class ProviderCalls:
    """The app's use cases the callbacks call, each blocking (run in the thread pool)."""

    sms: Callable[[str, str], Any]  # (from number, text) -> app.replies.Reply
    keypress: Callable[[str, str, str], Any]  # (called number, digits, the call's incident) -> app.replies.Reply
    button: Callable[[str, str, str], Any]  # (Slack member id, action, incident id) -> app.replies.Reply
    respond: Callable[[str, dict[str, Any]], None]  # POST JSON to a Slack response_url (slack_actions.post_response)
    pagerduty: Callable[[str, str, str | None], Any]  # (event type, incident_key, agent id) -> PagerDutyOutcome


def twilio_signature(token: str, url: str, form: dict[str, list[str]]) -> str:
    """Twilio's signature of a request: base64 HMAC-SHA1 of the URL, then each field's name and values, sorted."""
    data = url + "".join(name + value for name in sorted(form) for value in sorted(set(form[name])))
    return base64.b64encode(hmac.new(token.encode(), data.encode("utf-8"), hashlib.sha1).digest()).decode()


def pagerduty_verified(secrets: str, header: str, body: bytes) -> bool:
    """Whether one of the header's v1 signatures is the body's HMAC-SHA256 under one of the secrets."""
    given = [part.strip().encode() for part in header.split(",") if part.strip().startswith("v1=")]
    expected = ["v1=" + hmac.new(secret.strip().encode(), body, hashlib.sha256).hexdigest()
                for secret in secrets.split(",") if secret.strip()]
    return any(hmac.compare_digest(mine.encode(), theirs) for mine in expected for theirs in given)


def twiml_message(text: str) -> bytes:
    """The TwiML answer to an SMS: one message back, or none (``<Response/>``) when there is nothing to say."""
    inner = f"<Message>{escape(text)}</Message>" if text else ""
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'.encode()


def twiml_say(text: str) -> bytes:
    """The TwiML answer to a keypress: said, then the call ends."""
    return (f'<?xml version="1.0" encoding="UTF-8"?><Response><Say>{escape(text)}</Say><Hangup/></Response>'
            ).encode()


class Providers:
    """Routes a provider callback: finds its endpoint, verifies it, and calls its use case."""

    def __init__(self, public_url: str | None, callbacks: dict[str, Callback],
                 now: Callable[[], float] = time.time) -> None:
        self.public_url = public_url or ""
        self.callbacks = callbacks
        self.now = now

    def endpoint(self, path: str) -> Callback:
        """The endpoint at `path`, when it is on; else 404 saying why."""
        name = ROUTES.get(path)
        if name is None:
            raise HTTPError(404, f"no provider callback at {path}")
        callback = self.callbacks.get(name) or Callback(path, None, "not wired into this server")
        if not callback.on:
            raise HTTPError(404, f"{path} is off: {callback.off_because} (see `notify check`)")
        return callback

    async def answer(self, path: str, headers: dict[str, str], query: str, body: bytes, *, run: Callable[..., Any],
                     services: Any) -> tuple[int, bytes, str]:
        """A callback's answer, once its request is verified; 403 and no change when it is not."""
        callback = self.endpoint(path)
        if path == "/providers/slack/actions":
            return await self._slack(callback.secret or "", headers, body, run=run, services=services)
        if path == "/providers/pagerduty":
            return await self._pagerduty(callback.secret or "", headers, body, run=run, services=services)
        form = _form(body)
        url = self.public_url + path + (f"?{query}" if query else "")
        expected = twilio_signature(callback.secret or "", url, form)
        if not hmac.compare_digest(expected.encode(), headers.get("x-twilio-signature", "").encode()):
            log.warning("refused a Twilio callback to %s: its X-Twilio-Signature does not match", path)
            raise HTTPError(403, "X-Twilio-Signature does not match this request (signed with the account's Auth "
                                 "Token over NOTIFY_PUBLIC_URL + path); nothing was done")
        calls: ProviderCalls = services.provider_calls
        if path.endswith("/sms"):
            sid, args, call, render = _one(form, "MessageSid"), (_one(form, "From"), _one(form, "Body")), calls.sms, \
                twiml_message
        else:
            incident_id = parse_qs(query).get("incident", [""])[-1].upper()  # in the URL Twilio signed
            sid, args, call, render = _one(form, "CallSid") + ":" + _one(form, "Digits"), \
                (_one(form, "To"), _one(form, "Digits"), incident_id), calls.keypress, twiml_say
        outcome, _ = await _once(f"twilio:{path}:{sid}" if sid.strip(":") else None, run, services, call, *args)
        return 200, render(outcome["message"]), TWIML

    async def _slack(self, secret: str, headers: dict[str, str], body: bytes, *, run: Callable[..., Any],
                     services: Any) -> tuple[int, bytes, str]:
        """A button press: acted on as its presser, the message updated through its response_url; Slack
        reads nothing of the answer but its status."""
        signature = verify_slack(secret, headers, body, self.now())
        press = parse_press(body)
        calls: ProviderCalls = services.provider_calls
        outcome, fresh = await _once(f"slack:{signature}", run, services, calls.button, press.user, press.action,
                                     press.incident_id)
        if fresh and press.response_url:
            update = reply_body(press, outcome["message"], outcome["done"], outcome["action"])
            try:
                await asyncio.wait_for(asyncio.to_thread(calls.respond, press.response_url, update), RESPOND_WAIT)
            except TimeoutError:
                log.warning("Slack's response_url did not answer within %g s", RESPOND_WAIT)
        return 200, b"", "text/plain; charset=utf-8"


    async def _pagerduty(self, secret: str, headers: dict[str, str], body: bytes, *, run: Callable[..., Any],
                         services: Any) -> tuple[int, dict[str, Any], str]:
        """A v3 webhook: an incident acknowledged or resolved in PagerDuty is so in notify; others are ignored."""
        if not pagerduty_verified(secret, headers.get("x-pagerduty-signature", ""), body):
            log.warning("refused a PagerDuty webhook: no X-PagerDuty-Signature matches")
            raise HTTPError(403, "X-PagerDuty-Signature does not match this body (v1, keyed by "
                                 "NOTIFY_PAGERDUTY_WEBHOOK_SECRET); nothing was done")
        event_id, event_type, incident_key, agent = _pagerduty_event(body)
        calls: ProviderCalls = services.provider_calls
        outcome, fresh = await _once(f"pagerduty:{event_id}" if event_id else None, run, services, calls.pagerduty,
                                     event_type, incident_key, agent)
        return 200, {"schema": 1, "message": outcome["message"], "duplicate": not fresh}, "application/json"


def _pagerduty_event(body: bytes) -> tuple[str, str, str, str | None]:
    """(event id, event type, the incident's incident_key, the acting user's id) of a v3 webhook; 400 naming
    the field when the body is not one."""
    try:
        event = json.loads(body)["event"]
        event_type = event["event_type"]
    except (ValueError, KeyError, TypeError):
        raise HTTPError(400, "expected a PagerDuty v3 webhook: {\"event\": {\"event_type\": ...}}", "event") from None
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    agent = event.get("agent") if isinstance(event.get("agent"), dict) else {}
    agent_id = agent.get("id") if agent.get("type") == "user_reference" and isinstance(agent.get("id"), str) else None
    return (str(event.get("id") or ""), str(event_type), str(data.get("incident_key") or ""), agent_id)


async def _once(key: str | None, run: Callable[..., Any], services: Any, call: Callable[..., Any],
                *args: Any) -> tuple[dict[str, Any], bool]:
    """`call(*args)`'s outcome (message, done, action) and True; a request seen before (by `key`) gets its first
    outcome and False, and changes nothing."""
    if key is None:
        return _acted(await run(call, *args), services), True
    seal = hashlib.sha256(key.encode()).hexdigest()
    earlier = await run(services.replayed, seal)
    if earlier is None:
        try:
            outcome = _acted(await run(_sealed, services, seal, call, *args), services)
        except AlreadyHandled:  # the same request, handled by another thread or process meanwhile
            earlier = await run(services.replayed, seal)
        else:
            try:
                await run(services.remember, seal, 200, outcome)
            except HTTPError:
                log.warning("could not keep the answer to a provider callback for its replays")
            return outcome, True
    answer = (earlier or (None, None))[1]
    return answer or {"message": "This request was handled before: nothing changed this time", "done": False,
                      "action": ""}, False


def _sealed(services: Any, seal: str, call: Callable[..., Any], *args: Any) -> Any:
    with services.sealed(seal):
        return call(*args)


def _acted(reply: Any, services: Any) -> dict[str, Any]:
    if reply.deliveries:
        services.wake()  # the notices it planned (the Slack channel's, an escalation's pages) go out now
    return {"message": reply.message, "done": reply.done, "action": reply.action}


def _form(body: bytes) -> dict[str, list[str]]:
    """A form body's fields, every value kept (the signature covers them all); unreadable: no field."""
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        return {}


def _one(form: dict[str, list[str]], name: str) -> str:
    return form.get(name, [""])[-1]
