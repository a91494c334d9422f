"""Twilio for the sms and phone channels: parse apprise's twilio:// URL and POST one form.

Accepted URL (apprise syntax; path targets are ignored, ``Address.target`` decides)::

    twilio://{AccountSID}:{AuthToken}@{FromPhone}[/targets][?method=sms|call]
    twilio://{FromPhone}?sid={AccountSID}&token={AuthToken}[&apikey={SK...}]

With ``apikey`` Twilio authenticates as ``SK...:AuthToken`` (an API key and its
secret), otherwise as ``AccountSID:AuthToken``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from channels._http import HttpClient
from channels._outcomes import failure, is_success, response_json, split_query
from dispatcher.api import DeliveryResult, Reason, mask_target

__all__ = ["TwilioAccount", "check_e164", "parse_twilio_url", "post_form"]

_API = "https://api.twilio.com/2010-04-01/Accounts/{sid}/{resource}.json"
_E164 = re.compile(r"\+[1-9]\d{6,14}")

# Twilio error codes (https://www.twilio.com/docs/api/errors) that name the recipient, not us.
_BAD_ADDRESS_CODES = frozenset({
    21211,  # invalid 'To' phone number
    21214,  # 'To' phone number cannot be reached
    21217,  # phone number does not appear to be valid
    21610,  # recipient replied STOP: Twilio refuses until they opt back in
    21612,  # 'To' is not reachable from this 'From'
    21614,  # 'To' is not a mobile number (SMS)
    13223,  # Calls: invalid phone number format
    13224,  # Calls: invalid phone number
})
# 20404 on Accounts/{sid}/... means the SID in our URL is wrong: a credential, not the recipient.
_AUTH_CODES = frozenset({20003, 20005, 20404})


@dataclass(frozen=True)
class TwilioAccount:
    """Credentials and sender parsed from a twilio:// URL; repr never shows the token."""

    sid: str
    token: str = field(repr=False)
    sender: str
    method: str = "sms"
    api_key: str | None = None

    @property
    def auth(self) -> tuple[str, str]:
        return (self.api_key or self.sid, self.token)

    def endpoint(self, resource: str) -> str:
        """The REST URL for 'Messages' or 'Calls' of this account."""
        return _API.format(sid=self.sid, resource=resource)


def parse_twilio_url(url: str, default_method: str = "sms") -> TwilioAccount:
    """Parse apprise's twilio:// syntax; ValueError messages never contain the token."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "twilio":
        raise ValueError("not a twilio:// url")
    query = {key.lower(): value for key, value in split_query(parts.query)}
    sid = query.get("sid") or unquote(parts.username or "")
    token = query.get("token") or unquote(parts.password or "")
    sender = query.get("from") or query.get("source") or unquote(parts.netloc.rpartition("@")[2])
    if not re.fullmatch(r"AC[0-9a-fA-F]+", sid or ""):
        raise ValueError("twilio url: Account SID missing or not AC followed by hex")
    if not token:
        raise ValueError("twilio url: auth token missing (twilio://SID:TOKEN@+FROM)")
    method = (query.get("method") or default_method).lower()
    if method not in ("sms", "call"):
        raise ValueError(f"twilio url: method must be sms or call, not {method!r}")
    return TwilioAccount(sid, token, _sender(sender), method, query.get("apikey") or None)


def _sender(raw: str) -> str:
    """Normalise the From number: +E.164, or a 5-6 digit short code."""
    if ":" in raw:
        raise ValueError("twilio url: whatsapp/mode prefixes on the From number are not supported")
    digits = re.sub(r"[\s().-]", "", raw).lstrip("+")
    if re.fullmatch(r"\d{5,6}", digits):
        return digits
    if not re.fullmatch(r"[1-9]\d{10,14}", digits):
        raise ValueError("twilio url: From must be an E.164 number like +15550100000 or a short code")
    return "+" + digits


def check_e164(target: str) -> DeliveryResult | None:
    """A permanent BAD_ADDRESS for a target Twilio would reject anyway, else None."""
    if _E164.fullmatch(target):
        return None
    return DeliveryResult.permanent(Reason.BAD_ADDRESS, f"not an E.164 number: {mask_target(target)}")


def post_form(client: HttpClient, account: TwilioAccount, resource: str,
              form: dict[str, str]) -> DeliveryResult:
    """POST one form to Messages/Calls and classify Twilio's answer; provider_id is the sid."""
    response = client.post(
        account.endpoint(resource), data=form, auth=account.auth,
        secrets=(account.token,), headers={"Accept": "application/json"},
    )
    if isinstance(response, DeliveryResult):
        return response
    body = response_json(response)
    body = body if isinstance(body, dict) else {}
    if is_success(response):
        return DeliveryResult.delivered(status=response.status_code, provider_id=body.get("sid"))
    return failure(response, (account.token,), auth=account.auth,
                   provider_reason=_code_reason(body.get("code")))


def _code_reason(code: object) -> Reason | None:
    """The reason a Twilio error code implies, when it says more than the HTTP status."""
    if code in _BAD_ADDRESS_CODES:
        return Reason.BAD_ADDRESS
    if code in _AUTH_CODES:
        return Reason.AUTH
    return None
