"""The web view for the person on call, under ``/ui/``: server-rendered pages, usable without JavaScript.

Pages (templates in ``ui_templates/``, package data of this package) and what opens them:

    GET  /                               303 to /ui/
    GET  /ui/login                       the sign-in page: a personal token, or "send me a link"
    POST /ui/login                       sign in with a personal token
    POST /ui/login/send                  a one-time login link to the person's email or Slack (rate-limited)
    GET|POST /ui/login/{token}           a login link's page (changes nothing) and its button (signs in, once)
    GET|POST /ui/from-link/{token}       an action link's person signed in, on its incident
    GET  /ui/incidents[?class&tier&status&period]      the list          (session)
    GET  /ui/incidents/{id}              one incident: fields, timeline, buttons  (session)
    GET  /ui/incidents/{id}/live         the timeline's HTML and version, for the page's polling  (session)
    POST /ui/incidents/{id}/{action}     ack, escalate, update, reclassify, resolve, note  (session + CSRF)
    GET  /ui/oncall[?tz=Zone]            who is on call now and next; calendar feeds  (session)
    GET  /ui/quiet                       silences, maintenance windows and heartbeats  (session)
    POST /ui/oncall/feeds[/revoke]       make or revoke a calendar feed  (session + CSRF)
    GET  /ui/ical/{token}.ics            a calendar feed (the secret URL is the credential)
    POST /ui/logout                      end the session  (session + CSRF)

The session cookie is HttpOnly, SameSite=Strict, scoped to /ui, and Secure when
NOTIFY_PUBLIC_URL is https (never from a proxy's X-Forwarded-Proto, which a client can
send). Every form carries a CSRF token, an HMAC of the session; a POST without it
changes nothing. The sign-in forms, shown before there is a session, carry one too: an
HMAC of a random pre-session cookie (HttpOnly, SameSite=Strict) that the page sets. So
another site cannot sign a visitor in as someone else (its form posting its own
personal token or login link: a login CSRF), nor mail sign-in links in a visitor's name.
No other credential (a hook's, the operator's) opens a page.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .http_error import HTTPError
from .throttle import FailureThrottle

__all__ = ["UI", "UIServices"]

COOKIE = "notify_session"
PRE_COOKIE = "notify_presession"  # signed-out pages: what their forms' CSRF token is an HMAC of
MAX_FORM = 64 * 1024
STATIC = Path(__file__).parent / "ui_static"
CSP = (b"default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; img-src 'self'; "
       b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = [(b"cache-control", b"no-store"), (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"),
           (b"x-content-type-options", b"nosniff"), (b"content-security-policy", CSP)]
INCIDENT = re.compile(r"^/ui/incidents/([A-Za-z0-9-]{1,64})(?:/(live|ack|escalate|update|reclassify|resolve|note))?$")
TOKEN_PAGE = re.compile(r"^/ui/(login|from-link)/([A-Za-z0-9_-]{8,64})$")
ICAL = re.compile(r"^/ui/ical/([A-Za-z0-9_-]{20,64})\.ics$")
ZONES = ("UTC", "America/Los_Angeles", "America/Denver", "America/Chicago", "America/New_York", "Europe/London",
         "Europe/Berlin", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney")


@dataclass
class UIServices:
    """What the pages call, each blocking (run off the event loop); built by run.py over app/."""

    access: Any  # app.web.WebAccess
    incident_list: Callable[[Any], dict[str, Any]]  # Filters -> the list's data
    filters: Callable[[dict[str, str]], Any]  # query -> Filters
    incident_page: Callable[[str], dict[str, Any]]
    act: Callable[[str, str, str, dict[str, str]], Any]  # (incident, action, by, form) -> web_actions.Done
    on_call: Callable[[], dict[str, Any]]
    quiet: Callable[[], dict[str, Any]]  # silences, maintenance windows, heartbeats (web_views.quiet_page)
    feeds: Callable[[str], list[Any]]  # person -> their live feeds
    new_feed: Callable[[str, str, str], str]  # (maker, kind, subject) -> token
    revoke_feed: Callable[[str, str], bool]  # (digest, person)
    calendar: Callable[[str], str | None]  # token -> iCalendar text
    send_login_link: Callable[[str], Any]  # person -> where it went; raises when unknown or rate-limited
    link_view: Callable[[str], Any]  # an action link's LinkView (whom it signs in)
    wake: Callable[[], None]


class UI:
    def __init__(self, services: UIServices, *, public_url: str | None, key: str | None,
                 throttle: FailureThrottle | None = None, session_hours: float = 12.0) -> None:
        self.services = services
        self.public_url = public_url  # where a calendar feed's URL points: the operator's word, never a header
        self.secure = bool(public_url and public_url.startswith("https://"))
        self.key = (key or secrets.token_hex(32)).encode()
        self.throttle = throttle or FailureThrottle()
        self.max_age = int(session_hours * 3600)

    @staticmethod
    def claims(path: str) -> bool:
        return path in ("/", "/ui") or path.startswith("/ui/")

    @cached_property
    def _env(self) -> Any:
        import jinja2  # only a server showing a page needs it

        env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "ui_templates"),
                                 autoescape=True, trim_blocks=True, lstrip_blocks=True)
        env.filters["local"] = lambda moment, zone: moment.astimezone(zone).strftime("%a %d %b %H:%M %Z")
        env.filters["hm"] = lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S UTC")
        return env

    def csrf(self, viewer: Any) -> str:
        return hmac.new(self.key, f"csrf\n{viewer.session}".encode(), hashlib.sha256).hexdigest()

    def pre_csrf(self, presession: str) -> str:
        """A signed-out form's token: another purpose string, so it is never a session's token."""
        return hmac.new(self.key, f"pre-session csrf\n{presession}".encode(), hashlib.sha256).hexdigest()

    # -- the ASGI side ---------------------------------------------------------------------------

    async def serve(self, scope: dict, receive: Callable[[], Awaitable[dict]], send: Callable,
                    run: Callable[..., Awaitable[Any]]) -> None:
        """Answer one request under /ui/ (or /); `run` calls a blocking service off the event loop (App._run)."""
        try:
            request = _Request(scope, await _read(scope, receive))
            status, body, content_type, extra = await self._route(request, run)
        except HTTPError as exc:
            status, body, content_type, extra = exc.status, self._page("message.html.j2", None, heading="Not done",
                                                                          message=exc.message), "text/html", []
        headers = [(b"content-type", f"{content_type}; charset=utf-8".encode()),
                   (b"content-length", str(len(body)).encode()), *HEADERS, *extra]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _route(self, req: _Request, run: Callable[..., Awaitable[Any]]) -> tuple[int, bytes, str, list]:
        path, method = req.path, req.method
        if path in ("/", "/ui", "/ui/"):
            return _redirect("/ui/incidents")
        if path == "/ui/static/live.js" and method == "GET":
            return 200, (STATIC / "live.js").read_bytes(), "text/javascript", []
        if (match := ICAL.match(path)) and method == "GET":
            calendar = await run(self.services.calendar, match.group(1))
            if calendar is None:
                raise HTTPError(404, "this calendar feed is unknown or was revoked")
            return 200, calendar.encode(), "text/calendar", []
        signing_in = path in ("/ui/login", "/ui/login/send") or TOKEN_PAGE.match(path)
        if signing_in and method == "POST" and not self._from_our_page(req):
            return self._signed_out(req, 403, "message.html.j2", heading="Not signed in", message=(
                "This form is not from a sign-in page of this server (its CSRF token is missing or wrong). "
                "Open the sign-in page or the link again and retry."))
        if path == "/ui/login":
            return await self._login(req, run)
        if path == "/ui/login/send" and method == "POST":
            return await self._send_link(req, run)
        if (match := TOKEN_PAGE.match(path)) and method in ("GET", "POST"):
            return await self._token_page(match.group(1), match.group(2), req, run)
        viewer = await run(self.services.access.viewer, req.cookie)
        if viewer is None:
            return self._signed_out(req, 401, "login.html.j2", message="Sign in to see this page.")
        if method == "POST" and not hmac.compare_digest(req.form.get("csrf", "").encode(),
                                                        self.csrf(viewer).encode()):
            return 403, self._page("message.html.j2", viewer, heading="Nothing was done", message=(
                "This form is not from a page of this session (its CSRF token is missing or wrong). "
                "Open the page again and retry.")), "text/html", []
        return await self._signed_in(req, viewer, run)

    async def _signed_in(self, req: _Request, viewer: Any, run: Callable[..., Awaitable[Any]]) -> tuple:
        path, method = req.path, req.method
        if path == "/ui/logout" and method == "POST":
            await run(self.services.access.sign_out, viewer)
            return 303, b"", "text/html", [(b"location", b"/ui/login"), self._cookie("", 0)]
        if path == "/ui/incidents" and method == "GET":
            data = await run(self.services.incident_list, self.services.filters(req.query))
            return self._ok("incidents.html.j2", viewer, **data)
        if (match := INCIDENT.match(path)):
            incident_id, action = match.group(1).upper(), match.group(2)
            if action is None and method == "GET":
                return self._ok("incident.html.j2", viewer, **await run(self.services.incident_page, incident_id))
            if action == "live" and method == "GET":
                data = await run(self.services.incident_page, incident_id)
                html = self._env.get_template("timeline.html.j2").render(**data)
                return 200, json.dumps({"version": data["version"], "html": html}).encode(), "application/json", []
            if action not in (None, "live") and method == "POST":
                return await self._act(incident_id, action, req, viewer, run)
        if path == "/ui/oncall" and method == "GET":
            return await self._on_call(req, viewer, run)
        if path == "/ui/quiet" and method == "GET":
            return self._ok("quiet.html.j2", viewer, **await run(self.services.quiet))
        if path in ("/ui/oncall/feeds", "/ui/oncall/feeds/revoke") and method == "POST":
            return await self._feed(req, viewer, run, revoke=path.endswith("/revoke"))
        raise HTTPError(404, f"no page at {path}")

    async def _act(self, incident_id: str, action: str, req: _Request, viewer: Any, run: Callable) -> tuple:
        try:
            done = await run(self.services.act, incident_id, action, viewer.name, req.form)
            said, ok = done.message, done.changed
            if done.sent:
                self.services.wake()  # its notices (an escalation's pages, the channel's ack notice) go out now
        except HTTPError as exc:  # a refusal of the use case (an empty message, a closed incident): said on the page
            said, ok = exc.message, False
        data = await run(self.services.incident_page, incident_id)
        return self._ok("incident.html.j2", viewer, said=said, said_ok=ok, **data)

    async def _on_call(self, req: _Request, viewer: Any, run: Callable, made: str | None = None) -> tuple:
        data = await run(self.services.on_call)
        wanted = req.query.get("tz") or req.form.get("tz") or ""
        zone = wanted if _known_zone(wanted) else data["rotation_zone"]
        feeds = await run(self.services.feeds, viewer.person)
        zones = sorted({*ZONES, data["rotation_zone"], zone})
        return self._ok("oncall.html.j2", viewer, zone=ZoneInfo(zone), zone_name=zone, zones=zones, feeds=feeds,
                        made=made, **data)

    async def _feed(self, req: _Request, viewer: Any, run: Callable, *, revoke: bool) -> tuple:
        if revoke:
            await run(self.services.revoke_feed, req.form.get("feed", ""), viewer.person)
            return await self._on_call(req, viewer, run)
        kind, subject = req.form.get("kind", ""), req.form.get("subject", "")
        token = await run(self.services.new_feed, viewer.person, kind, subject)
        return await self._on_call(req, viewer, run, made=f"{self.public_url or req.origin}/ui/ical/{token}.ics")

    # -- signing in ------------------------------------------------------------------------------

    async def _login(self, req: _Request, run: Callable) -> tuple:
        if req.method == "GET":
            return self._signed_out(req, 200, "login.html.j2")
        if req.method != "POST":
            raise HTTPError(405, "GET or POST")
        if (wait := self.throttle.blocked_for(req.client)) > 0:
            raise HTTPError(429, f"too many failed sign-ins from {req.client}; retry in {wait:.0f} s")
        started = await run(self.services.access.by_token, req.form.get("token", ""))
        if started is None:
            self.throttle.failed(req.client)
            return self._signed_out(req, 401, "login.html.j2", message="That is not a live personal token.")
        return self._signed_in_now(started, "/ui/incidents")

    async def _send_link(self, req: _Request, run: Callable) -> tuple:
        try:
            await run(self.services.send_login_link, req.form.get("person", ""))
        except HTTPError as exc:
            if exc.status == 429:
                return self._signed_out(req, 429, "login.html.j2", message=exc.message)
            # Unknown or unreachable: the same answer as success, so the form tells nobody who exists.
        return self._signed_out(req, 200, "message.html.j2", heading="Check your email or Slack", message=(
            "If that is someone in contacts.toml, a sign-in link is on its way. It works once, for 15 minutes."))

    async def _token_page(self, kind: str, token: str, req: _Request, run: Callable) -> tuple:
        """A login or action link: GET shows a button and changes nothing (scanners fetch links); POST signs in."""
        try:
            if req.method == "GET":
                name = await run(self.services.access.login_link_person, token) if kind == "login" else \
                    (await run(self.services.link_view, token)).person
                if name is None:
                    raise HTTPError(410, "this sign-in link is unknown, used or expired: ask for another")
                return self._signed_out(req, 200, "signin.html.j2", name=name)
            if kind == "login":
                started = await run(self.services.access.by_login_link, token)
                if started is None:
                    raise HTTPError(410, "this sign-in link is unknown, used or expired: ask for another")
                return self._signed_in_now(started, "/ui/incidents")
            started, incident_id = await run(self.services.access.by_action_link, token)
            return self._signed_in_now(started, f"/ui/incidents/{quote(incident_id)}")
        except HTTPError as exc:
            return self._signed_out(req, exc.status, "message.html.j2", heading="Not signed in", message=exc.message)

    def _signed_in_now(self, started: Any, where: str) -> tuple:
        return 303, b"", "text/html", [(b"location", where.encode()), self._cookie(started.cookie, self.max_age)]

    def _from_our_page(self, req: "_Request") -> bool:
        """A signed-out POST came from a form of ours: it carries the HMAC of this browser's pre-session cookie, and
        the browser does not say it came from elsewhere. The cookie alone is not enough: a page of the same site
        (another port or subdomain) can set a cookie whose token it fetched itself; a browser names such a page in
        Sec-Fetch-Site ("same-site"), and in Origin where it names one. Clients that send neither are not browsers."""
        if req.fetch_site not in (None, "same-origin", "none"):
            return False
        # "null" is what our own pages send: under Referrer-Policy: no-referrer a browser does not name the origin.
        if req.sent_origin not in (None, "null", req.origin, _origin_of(self.public_url)):
            return False
        return bool(req.presession) and hmac.compare_digest(req.form.get("csrf", "").encode(),
                                                            self.pre_csrf(req.presession).encode())

    def _signed_out(self, req: "_Request", status: int, template: str, **context: Any) -> tuple:
        """A page shown without a session; its forms' token binds them to a pre-session cookie, set here when the
        browser sent none (a cross-site link's first visit sends none: the cookie is SameSite=Strict)."""
        presession = req.presession or secrets.token_urlsafe(24)
        body = self._env.get_template(template).render(viewer=None, csrf=self.pre_csrf(presession), **context)
        # Sent again with each page: an hour from the page the form is on, not from the first visit.
        return status, body.encode(), "text/html", [self._cookie(presession, 3600, PRE_COOKIE)]

    def _cookie(self, value: str, max_age: int, name: str = COOKIE) -> tuple[bytes, bytes]:
        secure = "; Secure" if self.secure else ""
        return b"set-cookie", f"{name}={value}; Path=/ui; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}" \
            .encode()

    # -- rendering -------------------------------------------------------------------------------

    def _page(self, template: str, viewer: Any, **context: Any) -> bytes:
        csrf = self.csrf(viewer) if viewer is not None else ""
        return self._env.get_template(template).render(viewer=viewer, csrf=csrf, **context).encode()

    def _ok(self, template: str, viewer: Any, **context: Any) -> tuple[int, bytes, str, list]:
        return 200, self._page(template, viewer, **context), "text/html", []


class _Request:
    def __init__(self, scope: dict, body: bytes) -> None:
        self.method, self.path = scope["method"], scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        self.query = _fields(scope.get("query_string", b""))
        self.form = _fields(body) if "form" in headers.get("content-type", "") else {}
        self.cookie = _cookie_value(headers.get("cookie", ""))
        self.presession = _cookie_value(headers.get("cookie", ""), PRE_COOKIE)
        self.fetch_site, self.sent_origin = headers.get("sec-fetch-site"), headers.get("origin")
        client = scope.get("client")
        self.client = str(client[0]) if client else "unknown"
        scheme = "https" if scope.get("scheme") == "https" else "http"
        self.origin = f"{scheme}://{headers.get('host', 'localhost')}"


def _origin_of(url: str | None) -> str | None:
    """scheme://host[:port] of a URL (NOTIFY_PUBLIC_URL), as a browser's Origin header writes it."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _fields(data: bytes) -> dict[str, str]:
    """A query string's or form body's fields, the last value of each; an unreadable one reads as none."""
    try:
        return {k: v[-1] for k, v in parse_qs(data.decode("utf-8"), max_num_fields=32).items()}
    except (UnicodeDecodeError, ValueError):
        return {}


def _cookie_value(header: str, cookie: str = COOKIE) -> str:
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == cookie:
            return value
    return ""


async def _read(scope: dict, receive: Callable[[], Awaitable[dict]]) -> bytes:
    """The body, at most MAX_FORM bytes (a form, never an upload)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM:
            raise HTTPError(413, f"a form of over {MAX_FORM} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _known_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone (a path or anything else is not; checked without listing them all)."""
    if not name or len(name) > 64 or not re.fullmatch(r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*", name):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _redirect(where: str) -> tuple[int, bytes, str, list]:
    return 303, b"", "text/html", [(b"location", where.encode())]
