"""The provider callbacks (``POST /providers/...``): Twilio SMS replies and keypresses, verified, then acted on.

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
CallSid.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from ..config.callbacks import Callback
from ..errors import AlreadyHandled
from .http_error import HTTPError

__all__ = ["TWIML", "ProviderCalls", "Providers", "twilio_signature"]

log = logging.getLogger("notify.server")
TWIML = "text/xml; charset=utf-8"
ROUTES = {"/providers/twilio/sms": "twilio-sms", "/providers/twilio/voice": "twilio-voice"}


@dataclass
class ProviderCalls:
    """The app's use cases the callbacks call, each blocking (run in the thread pool)."""

    sms: Callable[[str, str], Any]  # (from number, text) -> app.replies.Reply
    keypress: Callable[[str, str], Any]  # (called number, digits) -> app.replies.Reply


def twilio_signature(token: str, url: str, form: dict[str, list[str]]) -> str:
    """Twilio's signature of a request: base64 HMAC-SHA1 of the URL, then each field's name and values, sorted."""
    data = url + "".join(name + value for name in sorted(form) for value in sorted(set(form[name])))
    return base64.b64encode(hmac.new(token.encode(), data.encode("utf-8"), hashlib.sha1).digest()).decode()


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

    def __init__(self, public_url: str | None, callbacks: dict[str, Callback]) -> None:
        self.public_url = public_url or ""
        self.callbacks = callbacks

    def endpoint(self, path: str) -> Callback:
        """The endpoint at `path`, when it is on; else 404 saying why."""
        name = ROUTES.get(path)
        if name is None:
            raise HTTPError(404, f"no provider callback at {path}")
        callback = self.callbacks[name]
        if not callback.on:
            raise HTTPError(404, f"{path} is off: {callback.off_because} (see `notify check`)")
        return callback

    async def answer(self, path: str, headers: dict[str, str], query: str, body: bytes, *, run: Callable[..., Any],
                     services: Any) -> tuple[int, bytes, str]:
        """A callback's answer (TwiML), once its request is verified; 403 and no change when it is not."""
        callback = self.endpoint(path)
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
            sid, args, call, render = _one(form, "CallSid") + ":" + _one(form, "Digits"), \
                (_one(form, "To"), _one(form, "Digits")), calls.keypress, twiml_say
        message = await _once(f"twilio:{path}:{sid}" if sid.strip(":") else None, run, services, call, *args)
        return 200, render(message), TWIML


async def _once(key: str | None, run: Callable[..., Any], services: Any, call: Callable[..., Any],
                *args: Any) -> str:
    """`call(*args)`'s answer; a request seen before (by `key`) gets its first answer and changes nothing."""
    if key is None:
        return _acted(await run(call, *args), services)
    seal = hashlib.sha256(key.encode()).hexdigest()
    earlier = await run(services.replayed, seal)
    if earlier is None:
        try:
            message = _acted(await run(_sealed, services, seal, call, *args), services)
        except AlreadyHandled:  # the same request, handled by another thread or process meanwhile
            earlier = await run(services.replayed, seal)
        else:
            try:
                await run(services.remember, seal, 200, {"message": message})
            except HTTPError:
                log.warning("could not keep the answer to a provider callback for its replays")
            return message
    answer = (earlier or (None, None))[1]
    return answer["message"] if answer else "This request was handled before: nothing changed this time"


def _sealed(services: Any, seal: str, call: Callable[..., Any], *args: Any) -> Any:
    with services.sealed(seal):
        return call(*args)


def _acted(reply: Any, services: Any) -> str:
    if reply.deliveries:
        services.wake()  # the notices it planned (the Slack channel's, an escalation's pages) go out now
    return reply.message


def _form(body: bytes) -> dict[str, list[str]]:
    """A form body's fields, every value kept (the signature covers them all); unreadable: no field."""
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        return {}


def _one(form: dict[str, list[str]], name: str) -> str:
    return form.get(name, [""])[-1]
