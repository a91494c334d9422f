"""Inbound authentication for `notify serve`: who may do what, decided per request.

Three credentials, for three kinds of caller, each never good for another's routes:

- monitoring posts ``/hooks/*`` and ``/heartbeat/*`` with ``Authorization: Bearer <NOTIFY_WEBHOOK_TOKEN>``, or signs
  with ``NOTIFY_WEBHOOK_HMAC_SECRET``: notify's own scheme, ``X-Notify-Timestamp: <unix seconds>``
  and ``X-Notify-Signature: v1=<hex HMAC-SHA256 of "METHOD\\nPATH\\nTIMESTAMP\\nBODY">`` (PATH without
  the query string), on any hook; or Grafana's, ``X-Grafana-Alerting-Signature: <hex HMAC-SHA256 of
  "TIMESTAMP:BODY">`` with ``X-Grafana-Alerting-Timestamp``, on ``/hooks/grafana`` only. A signature
  binds the request: a timestamp more than 5 minutes off is refused, and a request handled once is
  answered as before and changes nothing again (see :mod:`dispatcher.store.requests_sql`);
- operators ack, resolve and read ``/incidents`` with ``Bearer <NOTIFY_API_TOKEN>`` (and see the
  details of ``/healthz``); a person acts on ``/incidents`` with their own ``Bearer notify_...`` token
  (`notify token create`), looked up by its hash in the store, and is recorded as themselves
  (:mod:`dispatcher.app.tokens`): a personal token is good for nothing else;
- Prometheus scrapes ``/metrics`` with ``Bearer <NOTIFY_METRICS_TOKEN>`` when that is set;
- a person opens an action link, ``/a/<token>``: the token, sent to them in a page, is the credential
  (checked by the app against the store, see :mod:`.link_pages`), so no header is needed;
- Twilio, Slack and PagerDuty call ``/providers/*`` signed with their own schemes, each verified by
  :mod:`.providers` with the provider's secret.

Each setting may hold two comma-separated values, both accepted, to rotate without downtime.
Comparisons are constant-time. An address that fails too often is refused for a while (429).

The decision is :meth:`Authenticator.before_body` (everything a bearer token or no credential
decides, before the body is read: the front end may call it early) and, when the request is
signed, :meth:`Authenticator.after_body`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..app.tokens import digest, looks_personal
from .throttle import FailureThrottle

__all__ = ["Admission", "Authenticator", "Credentials", "Refusal", "RequestHead", "access_of", "credential_problems",
           "sign_grafana", "sign_request"]

MAX_SKEW = 300  # seconds a signature's timestamp may be off, either way
MIN_TOKEN = 16  # characters: a shorter token can be guessed
NOTIFY_SIGNATURE, NOTIFY_TIMESTAMP = "x-notify-signature", "x-notify-timestamp"
GRAFANA_SIGNATURE, GRAFANA_TIMESTAMP = "x-grafana-alerting-signature", "x-grafana-alerting-timestamp"
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only: '²' or 5,000 digits are refused, not parsed
_HEX = re.compile(r"[0-9a-fA-F]{64}")
V1_SCHEME = ('X-Notify-Timestamp: <unix seconds> and X-Notify-Signature: v1=<hex HMAC-SHA256 of '
             '"METHOD\\nPATH\\nTIMESTAMP\\nBODY">')
SETTINGS = {"webhook_tokens": "NOTIFY_WEBHOOK_TOKEN", "hmac_secrets": "NOTIFY_WEBHOOK_HMAC_SECRET",
            "api_tokens": "NOTIFY_API_TOKEN", "metrics_tokens": "NOTIFY_METRICS_TOKEN"}


def sign_request(secret: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    """The X-Notify-Signature value a sender computes (scripts and tests use it)."""
    signed = f"{method.upper()}\n{path}\n{timestamp}\n".encode() + body
    return "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign_grafana(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Grafana-Alerting-Signature Grafana sends when its contact point has a timestamp header."""
    return hmac.new(secret.encode(), f"{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


class Refusal(Exception):
    """The request is refused: `status` (401, 403 or 429) and a message saying what to send instead."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


@dataclass(frozen=True)
class RequestHead:
    """What authentication reads of a request before its body: method, path, lower-cased headers, client."""

    method: str
    path: str
    headers: Mapping[str, str]
    client: str = "unknown"


@dataclass(frozen=True)
class Admission:
    """A request let in (so far): `needs_body` when a signature is still to be checked; `seal`, the key
    recording a signed request against replays; `details`, whether it may read /healthz's details."""

    needs_body: bool = False
    seal: str | None = None
    details: bool = False
    personal: str | None = None  # the SHA-256 of a personal token, for the app to look up in the store


@dataclass(frozen=True)
class Credentials:
    webhook_tokens: tuple[str, ...] = ()
    hmac_secrets: tuple[str, ...] = ()
    api_tokens: tuple[str, ...] = ()
    metrics_tokens: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Any) -> "Credentials":
        return cls(**{name: _values(getattr(settings, variable.removeprefix("NOTIFY_").lower()))
                      for name, variable in SETTINGS.items()})


def credential_problems(settings: Any) -> list[str]:
    """What is wrong with the inbound credentials `serve` would use: too short, blank, more than two."""
    problems = []
    for variable in SETTINGS.values():
        secret = getattr(settings, variable.removeprefix("NOTIFY_").lower())
        if not secret:
            continue
        values = secret.get_secret_value().split(",")
        if len(values) > 2:
            problems.append(f"{variable}: {len(values)} comma-separated values; at most two (the new one and the "
                            "old one, while you rotate)")
        for place, value in enumerate(values, 1):
            which = f" (value {place})" if len(values) > 1 else ""
            if not value.strip():
                problems.append(f"{variable}{which} is empty or only whitespace")
            elif len(value.strip()) < MIN_TOKEN:
                problems.append(f"{variable}{which} is {len(value.strip())} characters; use at least {MIN_TOKEN} "
                                "(e.g. `openssl rand -hex 32`)")
    return problems


def access_of(method: str, path: str) -> str:
    """Which credential a route takes: hook, api, health, metrics, or link (the token in the path)."""
    if path.startswith(("/hooks/", "/heartbeat/")):  # a heartbeat is monitoring talking, as a hook is
        return "hook"
    if path.startswith("/a/"):
        return "link"
    if path.startswith("/providers/"):
        return "provider"
    if path in ("/healthz", "/metrics") and method == "GET":
        return path.lstrip("/").removesuffix("z")
    return "api"


class Authenticator:
    def __init__(self, credentials: Credentials | None, *, now: Callable[[], float] = time.time,
                 throttle: FailureThrottle | None = None, on_failure: Callable[[str], None] | None = None) -> None:
        """`credentials` None: no authentication at all (`serve --no-auth`)."""
        self.credentials, self.now = credentials, now
        self.throttle = throttle or FailureThrottle()
        self.on_failure = on_failure or (lambda access: None)

    @property
    def enabled(self) -> bool:
        return self.credentials is not None

    def before_body(self, head: RequestHead) -> Admission:
        """Decide what the headers alone decide; raise Refusal, or admit (maybe pending a signature check)."""
        access = access_of(head.method, head.path)
        if access in ("link", "provider"):  # a link's token, a provider's signature: checked by the app
            return Admission()
        if self.credentials is None:
            return Admission(details=True)
        creds, bearer = self.credentials, _bearer(head.headers)
        if access == "health":
            if bearer is None or _matches(bearer, creds.webhook_tokens + creds.metrics_tokens) or \
                    looks_personal(bearer):  # a person's own token (a monitor's check run with it): no details
                return Admission()  # another caller's own credential: not a guess, but no details either
            return Admission(details=self._require(head, access, bearer, creds.api_tokens))
        if access == "metrics":
            if creds.metrics_tokens:
                self._require(head, access, bearer, creds.metrics_tokens + creds.api_tokens)
            return Admission()
        if access == "api":
            if bearer is not None and not _matches(bearer, creds.api_tokens) and looks_personal(bearer) \
                    and head.path.startswith("/incidents"):
                return Admission(personal=digest(bearer))  # who it is, the store says (see unknown_personal)
            if not creds.api_tokens:
                raise Refusal(403, "the API (ack, resolve, incidents) is off: set NOTIFY_API_TOKEN; the webhook "
                                   "credentials only post hooks")
            self._require(head, access, bearer, creds.api_tokens)
            return Admission()
        if not (creds.webhook_tokens or creds.hmac_secrets):
            raise Refusal(403, "hooks are off: set NOTIFY_WEBHOOK_TOKEN or NOTIFY_WEBHOOK_HMAC_SECRET")
        if creds.hmac_secrets and (NOTIFY_SIGNATURE in head.headers or GRAFANA_SIGNATURE in head.headers):
            return Admission(needs_body=True)
        self._require(head, access, bearer, creds.webhook_tokens)
        return Admission()

    def unknown_personal(self, head: RequestHead) -> Admission:
        """A personal token the store does not know (or that was revoked): a failed authentication, 401."""
        self._failed(head, "api")
        raise Refusal(401, "unknown or revoked personal token: ask an operator for one (`notify token create "
                           "PERSON`), or use Authorization: Bearer <NOTIFY_API_TOKEN>")

    def after_body(self, head: RequestHead, body: bytes) -> Admission:
        """Check a signed hook's signature against its body; its admission carries the replay key."""
        try:
            scheme, signature = self._verified_signature(head, body)
        except Refusal:
            self._failed(head, "hook")
            raise
        return Admission(seal=hashlib.sha256(f"{scheme}:{head.path}:{signature}".encode()).hexdigest())

    def check(self, head: RequestHead, body: bytes) -> Admission:
        """Both steps, for a caller that has the body already."""
        admission = self.before_body(head)
        return self.after_body(head, body) if admission.needs_body else admission

    # -- the parts -------------------------------------------------------------------------------

    def _require(self, head: RequestHead, access: str, bearer: str | None, tokens: tuple[str, ...]) -> bool:
        if bearer is not None and _matches(bearer, tokens):
            return True
        self._failed(head, access)
        needed = {"api": "NOTIFY_API_TOKEN", "health": "NOTIFY_API_TOKEN", "metrics": "NOTIFY_METRICS_TOKEN"}
        if access == "hook":
            raise Refusal(401, "missing or invalid credentials: hooks take Authorization: Bearer "
                               f"<NOTIFY_WEBHOOK_TOKEN>, or {V1_SCHEME} signed with NOTIFY_WEBHOOK_HMAC_SECRET")
        raise Refusal(401, f"missing or invalid credentials: {head.path} takes Authorization: Bearer "
                           f"<{needed[access]}>")

    def _failed(self, head: RequestHead, access: str) -> None:
        """Count a failed authentication; once its address has failed too often, answer 429, not 401.

        Only failures are slowed: a request with a valid credential from the same address (monitoring
        behind the same proxy as a guesser) is still let in, so nobody can hold up pages by failing
        on purpose. Guessing is made hopeless by the credentials' length (16 characters at least).
        """
        wait = self.throttle.blocked_for(head.client)
        self.throttle.failed(head.client)
        self.on_failure(access)
        if wait > 0:
            raise Refusal(429, f"too many failed authentications from {head.client}; retry in {wait:.0f} s",
                          retry_after=wait)

    def _verified_signature(self, head: RequestHead, body: bytes) -> tuple[str, str]:
        headers, secrets = head.headers, self.credentials.hmac_secrets  # type: ignore[union-attr]
        if NOTIFY_SIGNATURE in headers:
            given = headers[NOTIFY_SIGNATURE].strip()
            if not given.startswith("v1="):
                raise Refusal(401, f"body-only signatures are no longer accepted: send {V1_SCHEME} (see the "
                                   "upgrade notes, docs/operations/upgrade.md)")
            timestamp = self._fresh(headers.get(NOTIFY_TIMESTAMP), "X-Notify-Timestamp")
            expected = [sign_request(s, head.method, head.path, timestamp, body) for s in secrets]
            return "v1", _signature_among(given.removeprefix("v1="), [e.removeprefix("v1=") for e in expected])
        if head.path != "/hooks/grafana":
            raise Refusal(401, f"Grafana's signature is accepted on /hooks/grafana only; elsewhere send {V1_SCHEME}")
        if GRAFANA_TIMESTAMP not in headers:
            raise Refusal(401, "Grafana's signature needs its timestamp: set the contact point's HMAC Timestamp "
                               "Header to X-Grafana-Alerting-Timestamp")
        timestamp = self._fresh(headers[GRAFANA_TIMESTAMP], "X-Grafana-Alerting-Timestamp")
        expected = [sign_grafana(s, timestamp, body) for s in secrets]
        return "grafana", _signature_among(headers[GRAFANA_SIGNATURE].strip(), expected)

    def _fresh(self, value: str | None, header: str) -> str:
        """The timestamp header's value, if it is one and within MAX_SKEW of now."""
        if value is None:
            raise Refusal(401, f"{header} is required with the signature ({V1_SCHEME})")
        value = value.strip()
        if not _TIMESTAMP.fullmatch(value):
            raise Refusal(401, f"{header} must be unix seconds (1 to 12 ASCII digits)")
        if abs(self.now() - int(value)) > MAX_SKEW:
            raise Refusal(401, f"{header} is more than {MAX_SKEW // 60} minutes from this server's clock; "
                               "sign with the current time (and check both clocks)")
        return value


def _signature_among(given: str, expected: list[str]) -> str:
    """`given`, lower-cased, if it is a well-formed hex signature equal to one of `expected`."""
    if not _HEX.fullmatch(given):
        raise Refusal(401, "the signature must be 64 hex digits (HMAC-SHA256)")
    given = given.lower()
    if not _matches(given, tuple(expected)):
        raise Refusal(401, "invalid signature (wrong secret, or the method, path, timestamp or body differ)")
    return given


def _matches(given: str, accepted: tuple[str, ...]) -> bool:
    """Constant-time, against every accepted value (a rotation pair), on bytes: any header text compares."""
    data = given.encode("utf-8", "surrogateescape")
    found = False
    for value in accepted:
        found |= hmac.compare_digest(data, value.encode())
    return found


def _bearer(headers: Mapping[str, str]) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _values(secret: Any) -> tuple[str, ...]:
    """A setting's accepted values: one, or two while rotating (comma-separated)."""
    if not secret:
        return ()
    return tuple(v.strip() for v in secret.get_secret_value().split(",") if v.strip())
