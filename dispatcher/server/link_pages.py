"""The pages behind action links (``/a/<token>``): a confirmation page on GET, the action on its form's POST.

The token in the path is the credential, so no header is needed (a phone's browser
has none to send). A GET only shows the incident and the buttons: mail scanners and
chat unfurlers fetch every link, and must change nothing. The form's POST acts; it
must carry the nonce of a page shown for the same token within the last hour (an
HMAC keyed by ``NOTIFY_LINK_SECRET``), so a bare POST to a link, which no person
makes, changes nothing either. No cookie is set or read.

Pages are HTML rendered by jinja2 with autoescape on; they are never cached, never
framed, and send no referrer (the token is in the URL).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from .http_error import HTTPError

__all__ = ["HTML", "HTML_HEADERS", "NONCE_LIFETIME", "LinkPages", "link_answer"]

NONCE_LIFETIME = 3600  # seconds a page's form may be sent after it was shown
HTML_HEADERS = [(b"cache-control", b"no-store"), (b"referrer-policy", b"no-referrer"),
                (b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
                (b"content-security-policy", (b"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                              b"frame-ancestors 'none'"))]
HTML = "text/html; charset=utf-8"


class LinkPages:
    """Renders the pages; `view(token)` and `act(token, action)` are the app's use cases, run by the caller."""

    def __init__(self, secret: str | None, now: Callable[[], float] = time.time) -> None:
        # Without NOTIFY_LINK_SECRET, a key of this process's own: a page shown by another server (or before
        # a restart) must then be opened again before its buttons work.
        self.key = (secret or secrets.token_hex(32)).encode()
        self.now = now

    @cached_property
    def _template(self) -> Any:
        import jinja2  # only a server showing a link page needs it

        env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "pages"), autoescape=True)
        return env.get_template("link.html.j2")

    def nonce(self, token: str) -> str:
        issued = str(int(self.now()))
        return f"{issued}.{self._mac(token, issued)}"

    def nonce_ok(self, token: str, nonce: str) -> bool:
        issued, _, mac = nonce.partition(".")
        if not re.fullmatch(r"[0-9]{1,12}", issued) or not 0 <= self.now() - int(issued) <= NONCE_LIFETIME:
            return False
        return hmac.compare_digest(mac.encode(), self._mac(token, issued).encode())

    def _mac(self, token: str, issued: str) -> str:
        data = f"{token}\n{issued}".encode("utf-8", "surrogateescape")
        return hmac.new(self.key, data, hashlib.sha256).hexdigest()

    def page(self, heading: str, *, view: Any = None, message: str | None = None, token: str = "") -> bytes:
        nonce = self.nonce(token) if view is not None else ""
        web = f"/ui/from-link/{token}" if view is not None else ""  # the web view, signed in as the link's person
        return self._template.render(heading=heading, view=view, message=message, nonce=nonce, web=web).encode()

    def shown(self, token: str, view: Any) -> tuple[int, bytes, str]:
        """The confirmation page: the incident and its buttons."""
        return 200, self.page(f"{view.incident_id}: what do you want to do?", view=view, token=token), HTML

    def done(self, outcome: Any) -> tuple[int, bytes, str]:
        """What the form's action did (or why it changed nothing)."""
        heading = f"{outcome.incident_id}: done" if outcome.done else f"{outcome.incident_id}: nothing changed"
        return 200, self.page(heading, message=outcome.message), HTML

    def refused(self, status: int, message: str) -> tuple[int, bytes, str]:
        """An unknown or expired link, or a form that is not this link's page's: a page saying so, and why."""
        heading = {404: "This link does not work", 410: "This link has expired"}.get(status, "Nothing was done")
        return status, self.page(heading, message=message), HTML

    @staticmethod
    def form(body: bytes) -> dict[str, str]:
        """A form body's fields (the last value of each); an unreadable body reads as no field."""
        try:
            fields = parse_qs(body.decode("utf-8"), max_num_fields=8)
        except (UnicodeDecodeError, ValueError):
            return {}
        return {name: values[-1] for name, values in fields.items()}


async def link_answer(pages: LinkPages, token: str, method: str, body: bytes, *, run: Callable[..., Any],
                      services: Any) -> tuple[int, bytes, str]:
    """An action link's answer: GET shows its page and changes nothing; only the page's POST acts.

    `run` calls a service off the event loop (App._run); its refusals are shown as pages, with their status.
    """
    try:
        if method == "GET":
            return pages.shown(token, await run(services.link_view, token))
        form = pages.form(body)
        if not pages.nonce_ok(token, form.get("nonce", "")):
            return pages.refused(403, "this form is not from this link's page, or the page is over an hour old: "
                                      "open the link again; nothing was done")
        outcome = await run(services.link_act, token, form.get("action", ""))
    except HTTPError as exc:
        return pages.refused(exc.status, exc.message)
    if outcome.deliveries:
        services.wake()  # its notices (the Slack channel's, an escalation's pages) go out now
    return pages.done(outcome)
