"""Serve's app for a sandbox drill: its people's answers, signed as each provider signs them, called in-process.

`notify drill --sandbox` hands :class:`DrillCallbacks` to the runner (app/drill.py), which
builds it on the drill's own store and clock: the same app `notify serve` runs
(:func:`.run.build`), its routing, signature checks, replay records and use cases. Each
answer is an HTTP request through ``httpx.ASGITransport``, signed with the functions the
server verifies with (:func:`.providers.twilio_signature`, :func:`.slack_actions.slack_signature`),
keyed by the sandbox's own stand-in secrets; the Slack timestamp is the drill's clock,
which the app checks against. No socket is opened: the public URL is only signed over.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

from ..app.drill import Answered
from ..clock import Clock
from ..config.callbacks import callbacks
from .providers import twilio_signature
from .run import build
from .slack_actions import ACTION_PREFIX, slack_signature

__all__ = ["DrillCallbacks"]

NONCE = re.compile(r'name="nonce" value="([^"]*)"')
CALLER = "+15550100000"  # the sandbox's Twilio number (sandbox.py), which pages come from and replies go to


class DrillCallbacks:
    """`DrillCallbacks(rt, store, clock)`: serve's app on the drill's store and clock; `close()` when done."""

    def __init__(self, rt: Any, store: Any, clock: Clock) -> None:
        self.app, worker, _ = build(rt, store, clock)
        worker.close()  # the drill's own worker sends, on the drill's ticks: serve's would only compete
        self.public_url = rt.settings.public_url or ""
        self.secrets = {name: c.secret or "" for name, c in callbacks(rt.settings).items()}
        self.clock = clock
        self.sent = 0  # numbers the provider ids (MessageSid, CallSid) so no answer reads as a replay

    def sms(self, number: str, text: str) -> Answered:
        """An SMS reply `text` from `number`, as Twilio posts it."""
        form = {"MessageSid": self._sid("SM"), "AccountSid": "AC" + "d" * 32, "From": number, "To": CALLER,
                "Body": text}
        return self._twilio("/providers/twilio/sms", "", form)

    def keypress(self, url: str, number: str, digits: str) -> Answered:
        """A key pressed in the call to `number`, posted to the call's Gather action `url`, as Twilio posts it."""
        parts = urlsplit(url)
        form = {"CallSid": self._sid("CA"), "AccountSid": "AC" + "d" * 32, "From": CALLER, "To": number,
                "Digits": digits}
        return self._twilio(parts.path, parts.query, form)

    def press(self, slack_user: str, action: str, incident_id: str) -> Answered:
        """A button pressed by Slack member `slack_user`, as Slack posts a block_actions payload."""
        payload = {"type": "block_actions", "user": {"id": slack_user},
                   "actions": [{"action_id": ACTION_PREFIX + action, "value": incident_id}]}
        body = urlencode({"payload": json.dumps(payload)}).encode()
        stamp = str(int(self.clock.now().timestamp()))
        headers = {"x-slack-request-timestamp": stamp, "x-slack-signature": slack_signature(
            self.secrets["slack"], stamp, body), "content-type": "application/x-www-form-urlencoded"}
        return self._call("POST", "/providers/slack/actions", "", body, headers)

    def link(self, url: str, action: str) -> Answered:
        """An action link opened in a browser (GET), then its page's button pressed (the form's POST)."""
        path = urlsplit(url).path
        shown = self._call("GET", path, "", b"", {})
        nonce = NONCE.search(shown.text)
        if shown.status != 200 or nonce is None:
            return shown
        body = urlencode({"nonce": nonce.group(1), "action": action}).encode()
        return self._call("POST", path, "", body, {"content-type": "application/x-www-form-urlencoded"})

    def close(self) -> None:
        self.app.pool.shutdown(wait=True)
        self.app.probes.shutdown(wait=True)

    def _sid(self, prefix: str) -> str:
        self.sent += 1
        return prefix + hashlib.sha256(f"drill-{self.sent}".encode()).hexdigest()[:32]

    def _twilio(self, path: str, query: str, form: dict[str, str]) -> Answered:
        name = "twilio-sms" if path.endswith("/sms") else "twilio-voice"
        url = self.public_url + path + (f"?{query}" if query else "")
        signature = twilio_signature(self.secrets[name], url, {key: [value] for key, value in form.items()})
        headers = {"x-twilio-signature": signature, "content-type": "application/x-www-form-urlencoded"}
        return self._call("POST", path, query, urlencode(form).encode(), headers)

    def _call(self, method: str, path: str, query: str, body: bytes, headers: dict[str, str]) -> Answered:
        return asyncio.run(self._request(method, path, query, body, headers))

    async def _request(self, method: str, path: str, query: str, body: bytes, headers: dict[str, str]) -> Answered:
        import httpx  # only a drill that answers pages needs it here

        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url=self.public_url) as client:
            response = await client.request(method, path + (f"?{query}" if query else ""), content=body,
                                            headers=headers)
        return Answered(response.status_code, response.text)
