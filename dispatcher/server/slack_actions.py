"""Slack button presses (``POST /providers/slack/actions``): Slack's request signature, the press, the reply.

Slack signs every request to an app's interactivity Request URL: ``X-Slack-Signature:
v0=<hex HMAC-SHA256 of "v0:{X-Slack-Request-Timestamp}:{raw body}">``, keyed by the
app's signing secret (NOTIFY_SLACK_SIGNING_SECRET). A timestamp more than 5 minutes
from now is refused, so a captured request cannot be replayed later; within those
minutes a replay is answered from the replay record and changes nothing
(providers.py).

The body is a form with one field, ``payload``: the ``block_actions`` JSON, with the
presser's ``user.id``, the button pressed (``actions[0]``: our ``action_id``
``notify.<action>`` and the incident id as ``value``), the original ``message`` and
a ``response_url``, where the app posts what happened: the message replaced
("Acknowledged by Jane at 14:07 UTC" instead of its buttons), or a note only the
presser sees (``response_type: ephemeral``) when nothing changed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .http_error import HTTPError

__all__ = ["MAX_AGE", "Press", "parse_press", "reply_body", "slack_signature", "verify_slack"]

log = logging.getLogger("notify.server")
MAX_AGE = 300  # seconds: Slack's own advice, and what notify's hook signatures allow
ACTION_PREFIX = "notify."  # as channels/_slack_blocks.py names the buttons
RESPONSE_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")  # where a response_url may point


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 signature of a request."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify_slack(secret: str, headers: dict[str, str], body: bytes, now: float) -> str:
    """The request's signature once it is Slack's and fresh; else HTTPError 403 (nothing is done)."""
    timestamp, given = headers.get("x-slack-request-timestamp", ""), headers.get("x-slack-signature", "")
    if not re.fullmatch(r"[0-9]{1,12}", timestamp):  # str.isdigit() takes '²', which int() refuses
        raise HTTPError(403, "X-Slack-Request-Timestamp is missing or not a number; nothing was done")
    if abs(now - int(timestamp)) > MAX_AGE:
        raise HTTPError(403, f"X-Slack-Request-Timestamp is more than {MAX_AGE // 60} minutes from now (a replay, "
                             "or a wrong clock); nothing was done")
    if not hmac.compare_digest(slack_signature(secret, timestamp, body).encode(), given.encode()):
        log.warning("refused a Slack callback: its X-Slack-Signature does not match")
        raise HTTPError(403, "X-Slack-Signature does not match this request (v0, keyed by "
                             "NOTIFY_SLACK_SIGNING_SECRET); nothing was done")
    return given


@dataclass(frozen=True)
class Press:
    """A button press: who (Slack member id), what, on which incident, and where to answer."""

    user: str
    action: str
    incident_id: str
    response_url: str | None
    message: dict[str, Any]


def parse_press(body: bytes) -> Press:
    """The press in a block_actions payload; 400 naming what is missing when it is not one of our buttons."""
    try:
        [raw] = parse_qs(body.decode("utf-8"), max_num_fields=8)["payload"]
        payload = json.loads(raw)
    except (UnicodeDecodeError, ValueError, KeyError):
        raise HTTPError(400, "expected a form with one `payload` field holding Slack's JSON", "payload") from None
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        raise HTTPError(400, "payload: only block_actions (a button press) is handled", "payload.type")
    actions, user = payload.get("actions"), payload.get("user")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    action_id, value = str(action.get("action_id", "")), action.get("value")
    if not action_id.startswith(ACTION_PREFIX) or not isinstance(value, str):
        raise HTTPError(400, "payload.actions[0]: not a notify button (action_id notify.*, the incident as value)",
                        "payload.actions")
    user_id = user.get("id") if isinstance(user, dict) else None
    if not isinstance(user_id, str):
        raise HTTPError(400, "payload.user.id is missing", "payload.user.id")
    url = payload.get("response_url")
    message = payload.get("message")
    return Press(user_id, action_id[len(ACTION_PREFIX):], value, _response_url(url),
                 message if isinstance(message, dict) else {})


def _response_url(url: object) -> str | None:
    """Slack's response_url, if it is one (https, on Slack's hooks host): notify posts nowhere else."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    return url if parts.scheme == "https" and parts.hostname in RESPONSE_HOSTS else None


def reply_body(press: Press, message: str, done: bool, action: str) -> dict[str, Any]:
    """What to post to the response_url: an ack or resolve replaces the message's buttons with who did it;
    an escalation, or a press that changed nothing, is told to the presser alone."""
    if not done or action == "escalate":
        return {"response_type": "ephemeral", "replace_original": False, "text": message}
    original = press.message
    blocks = [b for b in original.get("blocks", []) if isinstance(b, dict)
              and not str(b.get("block_id", "")).startswith(ACTION_PREFIX)]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"*{message}*"}]})
    return {"replace_original": True, "text": f"{original.get('text') or press.incident_id}\n{message}",
            "blocks": blocks}


def post_response(url: str, body: dict[str, Any], *, ca_bundle: str | None, proxy: str | None,
                  timeout: float) -> None:
    """POST `body` to a response_url; a failure is logged (the action is stored already), never raised.

    Through NOTIFY_PROXY (a drill's stand-in first) when set, else the environment's https_proxy; verified
    against NOTIFY_CA_BUNDLE when set, else the system's store.
    """
    import ssl

    import httpx  # only a server answering a Slack button needs it

    try:
        context = ssl.create_default_context(cafile=ca_bundle or None)
        with httpx.Client(verify=context, proxy=proxy, timeout=timeout, follow_redirects=False) as client:
            answer = client.post(url, json=body)
        if answer.status_code >= 300:
            log.warning("Slack refused the update of a message through its response_url: HTTP %d",
                        answer.status_code)
    except (httpx.HTTPError, OSError) as exc:
        log.warning("could not update a Slack message through its response_url: %s", type(exc).__name__)
