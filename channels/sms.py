"""SMS through Twilio's Messages API: one POST per (notice, phone number).

URL (apprise syntax, see ``channels._twilio``)::

    twilio://{AccountSID}:{AuthToken}@{FromPhone}

Request: ``POST https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json``
with HTTP Basic ``SID:TOKEN`` and form fields ``To``, ``From``, ``Body``.
A 201 is delivered with the message ``sid`` as provider_id; Twilio's 21211/21614
(invalid or non-mobile 'To') are permanent bad-address failures.
"""

from __future__ import annotations

from typing import ClassVar

from channels._http import HttpClient
from channels._outcomes import not_configured
from channels._twilio import TwilioAccount, check_e164, parse_twilio_url, post_form
from dispatcher.api import (
    Address,
    Capabilities,
    ChannelConfig,
    DeliveryResult,
    Notice,
    TargetKind,
)


class SmsChannel:
    """Text messages via Twilio."""

    name: ClassVar[str] = "sms"
    # 1600 is Twilio's hard limit for one Body; the sms templates aim for 160 (one segment).
    capabilities: ClassVar[Capabilities] = Capabilities(
        target=TargetKind.PHONE, max_length=1600, template="sms", quietness=50
    )

    def __init__(self, config: ChannelConfig) -> None:
        self._account: TwilioAccount | None = None
        self._problem = ""
        if config.url:
            try:
                self._account = parse_twilio_url(config.url)
            except ValueError as exc:
                self._problem = f"sms: {exc}"
        self._client = HttpClient(config)

    def configured(self) -> bool:
        """True when a Twilio URL is set (it may still be malformed: see problems())."""
        return self._account is not None or bool(self._problem)

    def problems(self) -> list[str]:
        """Missing or malformed Twilio settings, without the token."""
        if self._problem:
            return [self._problem]
        if self._account is None:
            return ["sms: no url configured (twilio://SID:TOKEN@+FROM)"]
        if self._account.method != "sms":
            return ["sms: the twilio url says method=call; use it for the phone channel"]
        return []

    def send(self, notice: Notice, address: Address) -> DeliveryResult:
        """Send one SMS; classify Twilio's answer."""
        if self._account is None:
            return not_configured(self.name, self._problem)
        bad = check_e164(address.target)
        if bad is not None:
            return bad
        form = {"To": address.target, "From": self._account.sender, "Body": notice.text}
        return post_form(self._client, self._account, "Messages", form)

    def close(self) -> None:
        """Release pooled connections."""
        self._client.close()
