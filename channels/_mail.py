"""The email channel's settings, parsed from apprise's mailto URL, and the message it sends.

See :mod:`channels.email` for the URL syntax and what is ignored; this module
turns the URL into :class:`SmtpSettings` (every problem listed, never raised)
and a notice into the RFC 5322 bytes given to DATA (:func:`build_message`).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.headerregistry import Address as MailAddress
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid, parseaddr
from functools import lru_cache
from urllib.parse import parse_qsl, unquote, urlsplit

from dispatcher.api import Notice

__all__ = ["ADDR_SPEC", "DEFAULT_PORTS", "Message", "SmtpSettings", "build_message", "one_line", "parse_mailto"]

# Default port per mode, as apprise's SMTP_DEFAULT_PORTS.
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "insecure": 25}
# CRLF line ends, and bodies in 7bit-safe transfer encodings: we never negotiate 8BITMIME.


class _FoldedOnce(BaseHeader):
    """A header that keeps its folded form: headers are immutable, so folding one twice under the same
    line settings gives the same lines. Keyed by what the stdlib's folding reads of a policy (linesep,
    max_line_length, utf8): the generator hands each part a fresh clone of the policy."""

    def fold(self, *, policy) -> str:  # noqa: ANN001 - the stdlib's signature
        key = (policy.linesep, policy.max_line_length, policy.utf8)
        folded = self.__dict__.get("_folded")
        if folded is None or folded[0] != key:
            folded = self._folded = (key, super().fold(policy=policy))
        return folded[1]


class _HeaderClasses(HeaderRegistry):
    """The stdlib's header registry, with each header's class made once and each header value parsed once.

    ``HeaderRegistry[name]`` builds a new class with ``type()`` on every call, 18 times
    per message: a tenth of what building an email costs. The classes depend only on
    the name, so one per name is the same registry, cheaper.

    Most headers of a burst's messages repeat: every part's Content-Type and
    Content-Transfer-Encoding, MIME-Version, From, the subject and incident of five
    recipients, the Date within a second. Header objects are immutable and the policy
    stores them as they are, so a value's header is made (parsed and, see _FoldedOnce,
    folded) once: header parsing and folding were two thirds of building a message.
    The policy refuses a string value with CR or LF before it reaches the factory.
    """

    def __init__(self) -> None:
        super().__init__(base_class=_FoldedOnce)
        self._made: dict[str, type] = {}
        self._parsed = lru_cache(maxsize=1024)(super().__call__)  # unique values (Message-ID) pass through

    def __getitem__(self, name: str) -> type:
        made = self._made.get(name.lower())
        if made is None:
            made = self._made[name.lower()] = super().__getitem__(name)
        return made

    def __call__(self, name: str, value: object) -> BaseHeader:
        return self._parsed(name, value) if isinstance(value, str) else super().__call__(name, value)


MAIL_POLICY = SMTP_POLICY.clone(cte_type="7bit", header_factory=_HeaderClasses())
DEFAULT_FROM_NAME = "notify"

# A plain ASCII addr-spec: no display name, no list, nothing a header could smuggle.
ADDR_SPEC = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\Z")  # \Z: no final newline
_IGNORED_PARAMS = ("to", "cc", "bcc", "reply")



@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to submit mail, parsed from a mailto URL."""

    server: str
    port: int
    mode: str  # starttls | ssl | insecure
    from_addr: str
    from_name: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_mailto(url: str) -> tuple[SmtpSettings | None, list[str]]:
    """Parse a mailto/mailtos URL into settings plus problems; settings is None when unusable."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("mailto", "mailtos"):
        return None, [f"email URL must start with mailto:// or mailtos://, not {scheme or '?'}://"]
    query = {k.lower(): v for k, v in parse_qsl(parts.query, keep_blank_values=True)}
    problems = _ignored_recipients(parts.path, query)
    domain = parts.hostname or ""
    if not domain:
        return None, problems + ["email URL has no domain/host"]
    mode = (query.get("mode") or ("starttls" if scheme == "mailtos" else "insecure")).lower()
    if mode not in DEFAULT_PORTS:
        return None, problems + [f"email URL mode={mode} is not one of starttls, ssl, insecure"]
    try:
        port = parts.port or DEFAULT_PORTS[mode]
    except ValueError:
        return None, problems + ["email URL has an invalid port"]
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    from_name, from_addr = _sender(query, user, domain)
    if not from_addr:
        return None, problems + ["email URL has no usable from address: add ?from=addr or a user"]
    settings = SmtpSettings(
        server=query.get("smtp") or domain,
        port=port,
        mode=mode,
        from_addr=from_addr,
        from_name=from_name,
        user=user,
        password=password,
    )
    return settings, problems


def _ignored_recipients(path: str, query: dict[str, str]) -> list[str]:
    """Name the URL recipients this channel ignores, because the directory owns recipients."""
    found = [f"{key}=" for key in _IGNORED_PARAMS if query.get(key)]
    if path.strip("/"):
        found.append("recipients in the URL path")
    if not found:
        return []
    return [f"email URL {', '.join(found)} ignored: recipients come from the directory"]


def _sender(query: dict[str, str], user: str | None, domain: str) -> tuple[str, str]:
    """Work out (display name, from address) the way apprise does; address '' if none."""
    name, addr = "", ""
    raw_from = query.get("from", "")
    if raw_from:
        parsed_name, parsed_addr = parseaddr(raw_from)
        if ADDR_SPEC.match(parsed_addr):
            name, addr = parsed_name, parsed_addr
        else:
            name = raw_from  # apprise treats a from= without an address as the display name
    if not addr and user:
        local_part = re.split(r"[\s@]+", user)[0]
        addr = f"{local_part}@{domain}"
    name = query.get("name") or name or DEFAULT_FROM_NAME
    return one_line(name), addr if ADDR_SPEC.match(addr) else ""


def one_line(value: str) -> str:
    """Collapse CR/LF (and other control characters) so a value cannot start a new header."""
    return re.sub(r"[\x00-\x1f\x7f\x85\u2028\u2029]+", " ", value).strip()  # the email package breaks lines at these too


@dataclass(frozen=True)
class Message:
    """A message ready for DATA: CRLF-terminated bytes, and its Message-ID."""

    data: bytes
    message_id: str


def build_message(notice: Notice, recipient: str, settings: SmtpSettings, drill: bool = False) -> Message:
    """Render the notice as text (plus html when given) with our tracing headers, through EmailMessage.

    Header values from a template or the directory are made one line first: a CR or LF cannot
    start a header of its own (the policy would refuse the value; one line, it stays text).
    """
    message_id = make_msgid(domain=settings.from_addr.rpartition("@")[2])
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["From"] = _address_header("From", one_line(settings.from_name), settings.from_addr)
    msg["To"] = _address_header("To", "", recipient)
    msg["Subject"] = one_line(notice.subject)
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = message_id
    msg["X-Notify-Incident"] = one_line(notice.incident_id)
    msg["X-Notify-Step"] = str(notice.step)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: stops auto-replies and vacation loops
    if drill or notice.drill:
        msg["X-Notify-Drill"] = "yes"
    msg.set_content(notice.text)
    if notice.html:
        msg.add_alternative(notice.html, subtype="html")
        msg.set_boundary(_boundary_for(notice.text, notice.html))
    return Message(msg.as_bytes(), message_id)


# One boundary for this process's messages, so their Content-Type header is parsed once (the factory's cache),
# not per message: parsing a new one was a sixth of building a message. What makes a boundary safe is that
# it is not in the parts, and that is checked for each message, so it need not be secret. Parts are encoded
# in 7bit, quoted-printable or base64: "=_" can occur in neither encoding's output, so only text the
# templates wrote could contain it, and that is what is searched. (Without a boundary of ours, the
# generator would compile a regular expression per message to pick its own.)
_BOUNDARY = f"=_notify_{secrets.token_hex(16)}"


def _boundary_for(*parts: str) -> str:
    """The process's boundary, or a fresh random one for the rare message whose parts contain it in any case
    (a lenient reader may compare boundaries without regard to case)."""
    if any(_BOUNDARY in part.lower() for part in parts):
        return f"=_notify_{secrets.token_hex(16)}"
    return _BOUNDARY


# From and To are given as address objects (never parsed from a string we formatted): each pair's
# header is made once too (the factory's own cache takes strings only).
@lru_cache(maxsize=1024)
def _address_header(name: str, display_name: str, addr_spec: str) -> BaseHeader:
    return MAIL_POLICY.header_factory(name, MailAddress(display_name=display_name, addr_spec=addr_spec))
