"""Phone paging: a Twilio voice call (the `voice` channel), or a PagerDuty Events API v2 trigger (`pagerduty`).

`phone` is the alias kept for configurations written before the split: it is the one or
the other by its URL's scheme, and `notify check` notes that it is deprecated.

Accepted URLs (apprise syntax)::

    twilio://{AccountSID}:{AuthToken}@{FromPhone}?method=call
        POST https://api.twilio.com/2010-04-01/Accounts/{SID}/Calls.json
        form To, From, Twiml (the text said twice, XML-escaped; with Notice.reply_url inside a Gather of
        one key: "press 1 to acknowledge, 9 to escalate"); provider_id = call sid.
    pagerduty://{integrationkey}@{apikey}[/{source}[/{component}]][?region=us|eu]
        POST https://events.pagerduty.com/v2/enqueue (events.eu... for region=eu)
        JSON {routing_key, event_action: "trigger", dedup_key, payload{...}};
        202 is delivered, provider_id = the dedup_key PagerDuty echoes.
        An ack or resolution in notify sends {routing_key, event_action: "acknowledge" | "resolve",
        dedup_key} for each page triggered (Notice.page_event; the dedup key is the page's).

The integration key is the Events v2 routing key; apprise's {apikey} (a REST key)
is accepted for compatibility and never used. For PagerDuty ``Address.target``
names an escalation service (or is the person's number); the routing key decides
where the event lands, so the target is only recorded, masked, in ``delivered_to``.

``config.routes`` maps an audience to its own routing key (a bare key, or a
pagerduty:// URL): ``"rotation:SLOT"`` for pages through that rotation slot, then
``"person:ID"`` for that person's pages. A routed page goes to PagerDuty even when
the default URL is Twilio; a bare key keeps the default URL's region, source and
component. Each page has its own dedup key (``ID/step/person``, from the notice),
so PagerDuty never merges two people's pages into one incident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
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
from channels._twilio import TwilioAccount, check_e164, parse_twilio_url, post_form
from dispatcher.api import (
    Address,
    Capabilities,
    ChannelConfig,
    DeliveryResult,
    Notice,
    Reason,
    TargetKind,
    target_dedup_key,
)

_PD_URL = {"us": "https://events.pagerduty.com/v2/enqueue", "eu": "https://events.eu.pagerduty.com/v2/enqueue"}
_PD_SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info",
                "error": "error", "warning": "warning", "info": "info"}
_PD_SUMMARY_MAX = 1024  # Events v2 rejects longer summaries
_PRESS = "Press 1 to acknowledge, 9 to escalate."
_XML_INVALID = re.compile(r"[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class PagerDutyKey:
    """Where a PagerDuty event goes; repr never shows the routing key."""

    routing_key: str = field(repr=False)
    region: str = "us"
    source: str = "notify"
    component: str | None = None


class PhoneChannel:
    """Voice pages through Twilio calls or PagerDuty, by the URL's scheme (the deprecated `phone` alias)."""

    name: ClassVar[str] = "phone"
    schemes: ClassVar[tuple[str, ...]] = ("twilio", "pagerduty")  # the URL schemes this channel takes
    capabilities: ClassVar[Capabilities] = Capabilities(
        target=TargetKind.PHONE, voice=True, dedup_key=True, template="voice", quietness=60
    )

    def __init__(self, config: ChannelConfig) -> None:
        self._dest: TwilioAccount | PagerDutyKey | None = None
        self._problem = ""
        if config.url:
            try:
                self._dest = _parse(config.url, self.schemes)
            except ValueError as exc:
                self._problem = f"phone: {exc}"
        self._routes: dict[str, PagerDutyKey] = {}
        self._route_problems: list[str] = []
        for name, value in config.routes.items():
            self._add_route(name, value)
        self._client = HttpClient(config)

    def _add_route(self, name: str, value: str) -> None:
        base = self._dest if isinstance(self._dest, PagerDutyKey) else PagerDutyKey("")
        try:
            self._routes[name] = parse_pagerduty_url(value) if "://" in value else replace(base, routing_key=value)
        except ValueError as exc:
            self._route_problems.append(f"phone route {name!r}: {exc}")

    def configured(self) -> bool:
        """True when a Twilio or PagerDuty URL, or a per-audience routing key, is set."""
        return self._dest is not None or bool(self._problem) or bool(self._routes or self._route_problems)

    def problems(self) -> list[str]:
        """Missing or malformed settings, without secrets."""
        if self._problem or self._route_problems:
            return [p for p in (self._problem, *self._route_problems) if p]
        if self._dest is None and not self._routes:
            return ["phone: no url configured (twilio://...?method=call or pagerduty://...)"]
        return []

    def send(self, notice: Notice, address: Address) -> DeliveryResult:
        """Place one call or trigger one PagerDuty event; classify the answer."""
        routed = self._routes.get(address.role) or self._routes.get(f"person:{address.person}")
        if routed is not None:
            return self._page(routed, notice, address)
        if isinstance(self._dest, TwilioAccount):
            return self._call(self._dest, notice, address)
        if isinstance(self._dest, PagerDutyKey):
            return self._page(self._dest, notice, address)
        return not_configured(self.name, self._problem)

    def close(self) -> None:
        """Release pooled connections."""
        self._client.close()

    def _call(self, account: TwilioAccount, notice: Notice, address: Address) -> DeliveryResult:
        if notice.page_event != "trigger":  # a call cannot be acknowledged afterwards: calling would page again
            return DeliveryResult.permanent(Reason.BAD_REQUEST, f"a voice call cannot {notice.page_event} a page")
        bad = check_e164(address.target)
        if bad is not None:
            return bad
        form = {"To": address.target, "From": account.sender, "Twiml": twiml(notice.text, notice.reply_url)}
        return post_form(self._client, account, "Calls", form)

    def _page(self, key: PagerDutyKey, notice: Notice, address: Address) -> DeliveryResult:
        event = pagerduty_event(key, notice, address)
        secrets = (key.routing_key,)
        # The dedup key makes a repeat harmless: a send deadline after sending is retried (deduplicated).
        response = self._client.post(_PD_URL[key.region], json=event, secrets=secrets, deduplicated=True)
        if isinstance(response, DeliveryResult):
            return response
        body = response_json(response)
        body = body if isinstance(body, dict) else {}
        if is_success(response):
            return DeliveryResult.delivered(
                status=response.status_code,
                provider_id=body.get("dedup_key") or event["dedup_key"],
                # The routing key picks the PagerDuty service; the address is only what was asked.
                delivered_to=f"pagerduty routing key (requested {address.masked})",
            )
        # PagerDuty answers a bad routing key with 400 'invalid event' naming routing_key.
        says_key = response.status_code == 400 and "routing_key" in str(body.get("errors", ""))
        return failure(response, secrets, provider_reason=Reason.AUTH if says_key else None)


def _xml_escape(text: str) -> str:
    """&, < and > as entities (what xml.sax.saxutils.escape does; importing it costs 20 ms)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def twiml(text: str, reply_url: str | None = None) -> str:
    """The TwiML that says the text, pauses, and says it again; text is XML-escaped.

    With `reply_url` (Notice.reply_url), both are said inside a ``Gather`` of one key, with "press 1 to
    acknowledge, 9 to escalate": Twilio posts the key pressed there (signed), and says what notify answers.
    """
    said = _xml_escape(_XML_INVALID.sub("", text))
    spoken = f'<Say voice="alice">{said}</Say><Pause length="1"/><Say>{said}</Say>'
    if not reply_url:
        return f"<Response>{spoken}</Response>"
    action = _xml_escape(reply_url).replace('"', "&quot;")
    return (f'<Response><Gather numDigits="1" action="{action}" method="POST" timeout="10">{spoken}'
            f"<Say>{_PRESS}</Say></Gather><Say>No key was pressed. Goodbye.</Say></Response>")


def pagerduty_event(key: PagerDutyKey, notice: Notice, address: Address) -> dict:
    """The Events v2 event for one page: its trigger (its dedup key collapses repeats of this page only), or
    the acknowledge or resolve event for the page sent before under that key."""
    if notice.page_event in ("acknowledge", "resolve"):  # Events v2: only the key; PagerDuty ignores a payload
        return {"routing_key": key.routing_key, "event_action": notice.page_event, "dedup_key": notice.dedup_key}
    summary = notice.subject or notice.text
    if len(summary) > _PD_SUMMARY_MAX:
        summary = summary[: _PD_SUMMARY_MAX - 1] + "…"
    payload = {
        "summary": summary,
        "source": key.source,
        "severity": _PD_SEVERITY.get(notice.severity.lower(), "critical"),
        "custom_details": dict(notice.fields),
    }
    if key.component:
        payload["component"] = key.component
    return {
        "routing_key": key.routing_key,
        "event_action": "trigger",
        "dedup_key": notice.dedup_key or target_dedup_key(notice.incident_id, notice.step, address.person),
        "payload": payload,
    }


class TwilioVoiceChannel(PhoneChannel):
    """Voice calls through Twilio: NOTIFY_VOICE_URL=twilio://{AccountSID}:{AuthToken}@{FromPhone}."""

    name: ClassVar[str] = "voice"
    schemes: ClassVar[tuple[str, ...]] = ("twilio",)
    capabilities: ClassVar[Capabilities] = replace(PhoneChannel.capabilities, quietness=70)


class PagerDutyChannel(PhoneChannel):
    """PagerDuty Events v2 triggers: NOTIFY_PAGERDUTY_URL=pagerduty://{integrationkey}@{apikey}, and the
    routing keys contacts.toml gives rotation slots and people."""

    name: ClassVar[str] = "pagerduty"
    schemes: ClassVar[tuple[str, ...]] = ("pagerduty",)
    capabilities: ClassVar[Capabilities] = replace(PhoneChannel.capabilities, quietness=80)


def _parse(url: str, schemes: tuple[str, ...] = ("twilio", "pagerduty")) -> TwilioAccount | PagerDutyKey:
    """Parse a twilio:// or pagerduty:// URL of one of `schemes`; errors never contain the key."""
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("twilio", "pagerduty") and scheme not in schemes:
        other = "voice" if scheme == "twilio" else "pagerduty"
        raise ValueError(f"a {scheme}:// url is for the {other} channel (NOTIFY_{other.upper()}_URL), "
                         f"this one takes {' or '.join(s + '://' for s in schemes)}")
    if scheme == "twilio":
        account = parse_twilio_url(url, default_method="call")
        if account.method != "call":
            raise ValueError("the twilio url says method=sms; the phone channel needs method=call")
        return account
    if scheme == "pagerduty":
        return parse_pagerduty_url(url)
    raise ValueError("url must be twilio://...?method=call or pagerduty://{integrationkey}@{apikey}")


def parse_pagerduty_url(url: str) -> PagerDutyKey:
    """Parse apprise's pagerduty://{integrationkey}@{apikey}/{source}/{component}?region=."""
    parts = urlsplit(url)
    query = {key.lower(): value for key, value in split_query(parts.query)}
    routing_key = query.get("integrationkey") or unquote(parts.username or "")
    if not routing_key:
        raise ValueError("pagerduty url has no integration (routing) key: "
                         "use pagerduty://{integrationkey}@{apikey}")
    region = (query.get("region") or "us").lower()
    if region not in _PD_URL:
        raise ValueError(f"pagerduty region must be us or eu, not {region!r}")
    path = [unquote(p) for p in parts.path.split("/") if p]
    source = query.get("source") or (path[0] if path else "notify")
    component = query.get("component") or (path[1] if len(path) > 1 else None)
    return PagerDutyKey(routing_key, region, source, component)
