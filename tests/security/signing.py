"""Signatures as senders compute them, written out here (not imported from notify) so the tests check
the wire format itself: notify's v1 scheme and Grafana's."""

from __future__ import annotations

import hashlib
import hmac


def v1(secret: str, method: str, path: str, timestamp: int, body: bytes) -> dict[str, str]:
    """X-Notify-Timestamp and X-Notify-Signature: v1=<hex HMAC-SHA256 of "METHOD\\nPATH\\nTIMESTAMP\\nBODY">."""
    signed = f"{method}\n{path}\n{timestamp}\n".encode() + body
    return {"X-Notify-Timestamp": str(timestamp),
            "X-Notify-Signature": "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}


def grafana(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Grafana's contact point headers: HMAC of "TIMESTAMP:BODY", or of the body alone without a timestamp header."""
    signed = (f"{timestamp}:".encode() if timestamp is not None else b"") + body
    headers = {"X-Grafana-Alerting-Signature": hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}
    if timestamp is not None:
        headers["X-Grafana-Alerting-Timestamp"] = str(timestamp)
    return headers


def body_only(secret: str, body: bytes) -> dict[str, str]:
    """The signature notify accepted before: X-Notify-Signature with the hex HMAC of the body alone."""
    return {"X-Notify-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}
