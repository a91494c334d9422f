"""Inbound authentication for `notify serve`: a bearer token, or an HMAC-SHA256 body signature.

- ``Authorization: Bearer <NOTIFY_WEBHOOK_TOKEN>`` (what Alertmanager's
  ``http_config.authorization`` sends);
- or a hex HMAC-SHA256 of the body with ``NOTIFY_WEBHOOK_HMAC_SECRET`` in
  ``X-Grafana-Alerting-Signature`` (Grafana's contact point) or
  ``X-Notify-Signature`` (``sha256=`` prefix allowed). When Grafana is set to
  send a timestamp header (``X-Grafana-Alerting-Timestamp``), the signed bytes
  are ``timestamp:body`` and the timestamp must be within five minutes.

Either one configured and valid lets a request in; comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Callable, Mapping

__all__ = ["Authenticator", "sign"]

SIGNATURE_HEADERS = ("x-grafana-alerting-signature", "x-notify-signature")
TIMESTAMP_HEADER = "x-grafana-alerting-timestamp"
MAX_SKEW = 300


def sign(secret: str, body: bytes, timestamp: str | None = None) -> str:
    """The hex signature a sender computes; tests and scripts use it too."""
    signed = f"{timestamp}:".encode() + body if timestamp else body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


class Authenticator:
    def __init__(self, token: str | None, hmac_secret: str | None, now: Callable[[], float] = time.time) -> None:
        self.token, self.hmac_secret, self.now = token, hmac_secret, now

    @property
    def enabled(self) -> bool:
        return bool(self.token or self.hmac_secret)

    def check(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise a 401 HTTPError unless the request carries a valid token or signature."""
        from .app import HTTPError

        if not self.enabled:
            return
        if self.token and self._bearer_ok(headers.get("authorization", "")):
            return
        if self.hmac_secret and self._signature_ok(headers, body):
            return
        raise HTTPError(401, "missing or invalid credentials (Authorization: Bearer, or an HMAC signature header)")

    def _bearer_ok(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self.token.encode())

    def _signature_ok(self, headers: Mapping[str, str], body: bytes) -> bool:
        given = next((headers[h] for h in SIGNATURE_HEADERS if h in headers), "").strip().removeprefix("sha256=")
        if not given:
            return False
        timestamp = headers.get(TIMESTAMP_HEADER)
        if timestamp is not None:
            if not timestamp.isdigit() or abs(self.now() - int(timestamp)) > MAX_SKEW:
                return False
        return hmac.compare_digest(given.lower(), sign(self.hmac_secret, body, timestamp))
