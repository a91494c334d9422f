"""Rate budgets per provider route: the defaults from the providers' published limits, and NOTIFY_RATE_LIMITS.

A route is one provider queue that limits on its own: a Slack incoming webhook
(or channel), a Twilio sender number, a PagerDuty routing key, an SMTP server,
one apprise service. Its budget is a token bucket (domain/pacing.py): `rate`
sends a second, at most `burst` at once. The defaults, by provider family:

==========  ==============  =========================================================
family      default         where the number comes from
==========  ==============  =========================================================
slack       1/s             Slack: incoming webhooks and chat.postMessage allow about
                            one message a second per channel ("short bursts" only)
twilio      1/s             Twilio: a US/CA long code sends one message segment a
                            second (`twilio:sender-N`); calls: one call a second per
                            account by default (`twilio:calls`)
pagerduty   2/s burst 2     PagerDuty Events API v2: 120 events a minute per routing key
smtp        10/s burst 10   no published number: a relay's connection limits differ,
                            this keeps a burst from opening a connection per page
apprise     1/s             apprise's services (Telegram, Discord, Teams...): each has its
                            own, most about one a second; apprise's own throttle is off
webhook     none            our own outbound webhook: the receiver's limit is not known
==========  ==============  =========================================================

A route on this machine (loopback: a local sink, a test stand-in) has no
default budget: where no provider limit applies, the engine itself is the
limit. NOTIFY_RATE_LIMITS overrides any of them, by family or by one route's
name (`{"slack": "0.5/s", "twilio:sender-1": "3/s burst 3", "webhook": "20/s"}`);
"off" turns a budget off.
"""

from __future__ import annotations

import re

from ..domain.pacing import Limit

__all__ = ["DEFAULT_LIMITS", "limit_for", "parse_limit"]

DEFAULT_LIMITS: dict[str, Limit | None] = {
    "slack": Limit(1.0, 1.0),
    "twilio": Limit(1.0, 1.0),
    "pagerduty": Limit(2.0, 2.0),
    "smtp": Limit(10.0, 10.0),
    "apprise": Limit(1.0, 1.0),
    "webhook": None,
}

_LIMIT = re.compile(r"^\s*(?P<count>[0-9]*\.?[0-9]+)\s*/\s*(?P<per>s|sec|second|m|min|minute)"
                    r"(?:\s+burst\s+(?P<burst>[0-9]*\.?[0-9]+))?\s*$", re.IGNORECASE)


def parse_limit(text: str) -> Limit | None:
    """A budget as written in NOTIFY_RATE_LIMITS: "1/s", "120/min", "3/s burst 5", or "off" (None).

    ValueError says what is wrong; the burst defaults to one second's worth (at least 1).
    """
    if text.strip().lower() == "off":
        return None
    found = _LIMIT.match(text)
    if not found:
        raise ValueError(f"{text!r} is not a rate budget: write e.g. '1/s', '120/min', '3/s burst 5' or 'off'")
    per_second = float(found["count"]) / (60.0 if found["per"].lower().startswith("m") else 1.0)
    burst = float(found["burst"]) if found["burst"] else max(1.0, per_second)
    return Limit(per_second, burst)


def limit_for(label: str, family: str, local: bool, configured: dict[str, Limit | None]) -> Limit | None:
    """The budget of the route named `label` (of provider `family`): its own setting, its family's, else the
    family's default unless the route is on this machine; None: not paced."""
    if label in configured:
        return configured[label]
    if family in configured:
        return configured[family]
    return None if local else DEFAULT_LIMITS.get(family, DEFAULT_LIMITS["apprise"])
