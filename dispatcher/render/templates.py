"""Turn an incident context into a notice with jinja2 templates, safely and within budgets.

Templates live at ``<dir>/<class>/<template>.<part>.j2`` (parts: subject, text,
html) with shared macros under ``<dir>/_macros/``. Several dirs form a search
path, user dir first: a file missing there falls back to the shipped one,
file by file. A class file found in no dir falls back to
``_common/<template>.<part>.j2``, searched the same way, so the lifecycle
notices (``update-email``, ``escalation-sms``, ...) are written once and a
team can override one for a single class or for all. Rendering is strict
(an undefined variable is an error, never an empty string) and escapes every
interpolated value for its medium: HTML autoescape for ``.html.j2``, Slack
escaping for the slack family, one line for subjects, plain words for voice. Any failure surfaces as a
:class:`TemplateError` naming file, line and cause, so the core can send
:func:`fallback_notice` instead of dropping the page.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, Iterable, Mapping, Sequence

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from . import escaping, gsm7, spans
from ..api import Span
from .samples import NOTICE_KEYS, NOTICE_KINDS, sample_context, sparse_context

__all__ = [
    "COMMON_DIR",
    "FAMILIES",
    "LIFECYCLE_KINDS",
    "LIFECYCLE_TEMPLATES",
    "NOTICE_KEYS",
    "NOTICE_KINDS",
    "REQUIRED_PARTS",
    "TEMPLATE_FAMILY",
    "Rendered",
    "Renderer",
    "TemplateError",
    "TemplateProblem",
    "fallback_notice",
    "family_of",
    "sample_context",
    "shipped_template_dir",
]

FAMILIES = ("email", "slack", "sms", "voice")
COMMON_DIR = "_common"  # class-independent templates: the fallback for <class>/<name>.<part>.j2


def family_of(template: str) -> str:
    """The channel family a template is written for: "customer" -> "email", "update-sms" -> "sms"."""
    if template == "customer":
        return "email"
    return template.rpartition("-")[2]


_PARTS = {"email": ("subject", "text", "html"), "slack": ("text",), "sms": ("text",), "voice": ("text",)}
# The templates every class has (in its own dir or in _common), with the parts each needs.
REQUIRED_PARTS = {
    "email": _PARTS["email"],
    "customer": _PARTS["email"],
    "slack": _PARTS["slack"],
    "sms": _PARTS["sms"],
    "voice": _PARTS["voice"],
}
# The family of each class template (family_of answers for any name).
TEMPLATE_FAMILY = {template: family_of(template) for template in REQUIRED_PARTS}
# Notices after the first page: `<kind>-<family>`, shipped in _common, checked for every class.
LIFECYCLE_KINDS = tuple(kind for kind in NOTICE_KINDS if kind != "initial")
LIFECYCLE_TEMPLATES = {f"{kind}-{family}": _PARTS[family] for kind in LIFECYCLE_KINDS for family in FAMILIES}
SMS_BUDGET = 160  # one GSM-7 segment: concatenated SMS are split and reordered by some carriers
VOICE_BUDGET = 400  # about 30 seconds of speech; a longer call gets hung up on
DRILL = "[DRILL] "
PLACEHOLDER = "Not yet known"
_DRILL_BANNER = (
    '<p style="background:#fff3cd;border:1px solid #e0b400;padding:8px;font-weight:bold">'
    "[DRILL] This notice is part of an incident response drill.</p>"
)
_BODY_TAG = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_NONE_LEAK = re.compile(r"\bNone\b")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)


@dataclass(frozen=True)
class Rendered:
    """A rendered notice: one-line subject, text for the channel's family, optional HTML."""

    subject: str
    text: str
    html: str | None
    lines: tuple[tuple[Span, ...], ...] = ()  # slack: the text as spans, field values literal


@dataclass(frozen=True)
class TemplateProblem:
    """One broken template: which file, which line (when known), what is wrong."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class TemplateError(Exception):
    """A template could not be rendered; ``problem`` says where and why."""

    def __init__(self, problem: TemplateProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def shipped_template_dir() -> Path:
    """The templates shipped with the package (wheel) or the checkout (source)."""
    here = Path(__file__).resolve().parents[1]  # the dispatcher package: this module is in dispatcher/render/
    installed = here / "defaults" / "templates"
    return installed if installed.is_dir() else here.parent / "templates"


# --- context wrapping: lets an undefined-variable error say "incident.foo" ---


class _Scope(dict):
    """A context mapping that remembers its dotted path for error messages."""

    __slots__ = ("_scope_path",)


class _ScopeList(list):
    """A context list that remembers its dotted path for error messages."""

    __slots__ = ("_scope_path",)


def _scoped(value: Any, path: str = "") -> Any:
    """Copy ``value`` with every mapping and list tagged by its path."""
    if isinstance(value, Mapping):
        out: Any = _Scope({k: _scoped(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()})
    elif isinstance(value, (list, tuple)):
        out = _ScopeList(_scoped(v, f"{path}[{i}]") for i, v in enumerate(value))
    else:
        return value
    out._scope_path = path
    return out


class _NamedUndefined(jinja2.StrictUndefined):
    """StrictUndefined whose message names the full variable, e.g. 'incident.foo'."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        name = self._undefined_name
        parent = getattr(self._undefined_obj, "_scope_path", None)
        if self._undefined_obj is jinja2.runtime.missing or parent == "":
            return f"undefined variable {name!r}"
        if parent is not None:
            sub = f"[{name!r}]" if not isinstance(name, str) else f".{name}"
            return f"undefined variable '{parent}{sub}'"
        if isinstance(self._undefined_obj, jinja2.environment.TemplateModule):
            return f"undefined macro {name!r} in {self._undefined_obj.__name__}"
        return super()._undefined_message


# --- per-medium escaping of every {{ expression }} ---


def _finalizer(escape: Callable[[str], str] | None) -> Callable[[Any], Any]:
    """A jinja ``finalize``: None becomes a placeholder, then the medium's escaping applies."""

    def finalize(value: Any) -> Any:
        if value is None:
            value = PLACEHOLDER  # a forgotten `or "TBD"` must never print "None"
        return escape(str(value)) if escape else value

    return finalize


_MODES: dict[str, Callable[[str], str] | None] = {
    "plain": None,
    "html": None,  # autoescape does the work
    "subject": escaping.header,
    "slack": spans.mark,  # values kept apart from the template's mrkdwn (dispatcher.render.spans)
    "voice": escaping.speech,
}


class Renderer:
    """Renders (class, template) pairs from a search path of template dirs."""

    def __init__(self, search_path: Sequence[Path]) -> None:
        self._dirs = [Path(p) for p in search_path]
        self._loader = jinja2.FileSystemLoader([str(d) for d in self._dirs])
        self._envs: dict[str, jinja2.Environment] = {}
        # During check(): every .j2 name on the search path, listed once instead of ~4,000 stat calls.
        self._listed: frozenset[str] | None = None

    def _env(self, mode: str) -> jinja2.Environment:
        """One environment per escaping mode; finalize is environment-wide.

        Templates are configuration anyone with write access to a config dir can change, so
        they run sandboxed: no underscore attributes (``cycler.__init__.__globals__``), no
        unsafe callables, no mutating the context.
        """
        if mode not in self._envs:
            env = ImmutableSandboxedEnvironment(
                loader=self._loader,
                undefined=_NamedUndefined,
                autoescape=mode == "html",
                finalize=_finalizer(_MODES[mode]),
                trim_blocks=True,
                lstrip_blocks=True,
                keep_trailing_newline=False,
            )
            env.filters["spell"] = escaping.spell_id
            self._envs[mode] = env
        return self._envs[mode]

    def _exists(self, name: str) -> bool:
        """True when some dir on the search path has the file ``name``."""
        if self._listed is not None:
            return name in self._listed
        return any((d / name).is_file() for d in self._dirs)

    def _resolve(self, incident_class: str, template: str, part: str) -> str | None:
        """The file that renders ``part`` of (class, template): the class's own, else _common's, else None."""
        for name in (f"{incident_class}/{template}.{part}.j2", f"{COMMON_DIR}/{template}.{part}.j2"):
            if self._exists(name):
                return name
        return None

    def _render_file(self, name: str, mode: str, context: Mapping[str, Any]) -> str:
        """Render one template file, turning every failure into a TemplateError."""
        try:
            return self._env(mode).get_template(name).render(context)
        except Exception as exc:  # template code is user code: any error it raises is a template problem
            raise TemplateError(self._problem(name, exc)) from exc

    def _problem(self, name: str, exc: Exception) -> TemplateProblem:
        """Describe ``exc`` raised while rendering ``name`` as file, line and message."""
        if isinstance(exc, jinja2.TemplateSyntaxError):
            return TemplateProblem(_display(exc.filename or name), exc.lineno, f"syntax error: {exc.message}")
        file, line = _template_frame(exc.__traceback__)
        if isinstance(exc, jinja2.TemplateNotFound):
            if file is None:
                searched = ", ".join(str(d) for d in self._dirs)
                return TemplateProblem(name, None, f"template file not found (searched: {searched})")
            return TemplateProblem(file, line, f"included template not found: {exc.name}")
        if isinstance(exc, SecurityError):  # before UndefinedError: a blocked attribute is an undefined's hint
            message = f"blocked by the template sandbox: {exc}"
        elif isinstance(exc, jinja2.UndefinedError):
            message = str(exc)
        else:
            message = f"{type(exc).__name__}: {exc}"
        return TemplateProblem(file or name, line, message)

    def render(
        self,
        incident_class: str,
        template: str,
        context: Mapping[str, Any],
        *,
        family: str,
        drill: bool,
        max_length: int | None = None,
    ) -> Rendered:
        """Render one notice for ``family``; raise TemplateError on any template failure."""
        subject, text, html = self._render_parts(incident_class, template, context, family)
        incident_id = str(context.get("incident", {}).get("id") or "")
        return _assemble(subject, text, html, incident_id=incident_id, family=family, drill=drill, max_length=max_length)

    def _render_parts(
        self, incident_class: str, template: str, context: Mapping[str, Any], family: str
    ) -> tuple[str, str, str | None]:
        """Subject, tidied text and HTML exactly as the templates wrote them: no drill mark, no budget."""
        if family not in FAMILIES:
            raise ValueError(f"unknown template family {family!r}; expected one of {FAMILIES}")
        scoped = context if isinstance(context, _Scope) else _scoped(_complete_notice(context))
        text_file = self._resolve(incident_class, template, "text")
        if text_file is None:
            searched = ", ".join(str(d) for d in self._dirs)
            raise TemplateError(TemplateProblem(
                f"{incident_class}/{template}.text.j2", None,
                f"template file not found, nor {COMMON_DIR}/{template}.text.j2 (searched: {searched})",
            ))
        text = self._render_file(text_file, {"slack": "slack", "voice": "voice"}.get(family, "plain"), scoped)
        subject_file = self._resolve(incident_class, template, "subject")
        subject = self._render_file(subject_file, "subject", scoped) if subject_file else _default_subject(context)
        html_file = self._resolve(incident_class, template, "html") if family == "email" else None
        html = self._render_file(html_file, "html", scoped).strip() if html_file else None
        return subject, _tidy(text), html

    def templates(self) -> list[tuple[str, str]]:
        """(class, template) pairs that have at least one part anywhere on the search path."""
        pairs = set()
        for directory in self._dirs:
            for path in directory.glob("*/*.j2"):
                template, _, part = path.name[: -len(".j2")].rpartition(".")
                if template and part and not path.parent.name.startswith("_"):
                    pairs.add((path.parent.name, template))
        return sorted(pairs)

    def check(self, classes: Iterable[str]) -> list[TemplateProblem]:
        """Find every missing, unparsable or failing template for ``classes``, using sample contexts."""
        self._listed = frozenset(
            p.relative_to(d).as_posix() for d in self._dirs if d.is_dir() for p in d.rglob("*.j2")
        )
        try:
            problems = self._parse_all(sorted(self._listed))
            for incident_class in classes:
                for template, parts in REQUIRED_PARTS.items():
                    problems += self._check_one(incident_class, template, parts)
                for template, parts in LIFECYCLE_TEMPLATES.items():
                    problems += self._check_lifecycle(incident_class, template, parts)
        finally:
            self._listed = None
        return list(dict.fromkeys(problems))  # one report per (file, line, message), in order

    def _parse_all(self, names: list[str]) -> list[TemplateProblem]:
        """Compile every effective .j2 file, so a broken macro or unused part is found too."""
        problems = []
        for name in names:
            try:
                self._env("plain").get_template(name)
            except jinja2.TemplateSyntaxError as exc:
                problems.append(self._problem(name, exc))
        return problems

    def _check_one(self, incident_class: str, template: str, parts: Sequence[str]) -> list[TemplateProblem]:
        """Problems of one class template: missing parts, then render errors and leaks."""
        base = f"{incident_class}/{template}"
        problems = [
            TemplateProblem(f"{base}.{part}.j2", None, "missing required template file")
            for part in parts
            if not self._resolve(incident_class, template, part)
        ]
        if self._resolve(incident_class, template, "text"):
            problems += self._check_renders(incident_class, template, "initial", carries_id=False)
        return problems

    def _check_lifecycle(self, incident_class: str, template: str, parts: Sequence[str]) -> list[TemplateProblem]:
        """Problems of one lifecycle template for a class: it must resolve, render and carry the id."""
        problems = [
            TemplateProblem(
                f"{COMMON_DIR}/{template}.{part}.j2", None,
                f"missing required template file (a class may override it as <class>/{template}.{part}.j2)",
            )
            for part in parts
            if not self._resolve(incident_class, template, part)
        ]
        if self._resolve(incident_class, template, "text"):
            kind = template.rpartition("-")[0]
            problems += self._check_renders(incident_class, template, kind, carries_id=True)
        return problems

    def _check_renders(self, incident_class: str, template: str, kind: str, *, carries_id: bool) -> list[TemplateProblem]:
        """Render with the sample context of ``kind`` and its sparse twin; report errors and lint findings."""
        family = family_of(template)
        files = {part: self._resolve(incident_class, template, part) or f"{incident_class}/{template}.{part}.j2"
                 for part in ("subject", "text", "html")}
        problems: list[TemplateProblem] = []
        for context in _scoped_samples(incident_class, kind):
            try:
                subject, text, html = self._render_parts(incident_class, template, context, family)
            except TemplateError as exc:
                problems.append(exc.problem)
                break
            incident_id = str(context["incident"]["id"])
            problems += _lint(files, subject, text, html, family, incident_id if carries_id else None)
        return problems


@functools.lru_cache(maxsize=256)
def _scoped_samples(incident_class: str, kind: str) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The sample context of (class, kind) and its sparse twin, ready to render (read-only: shared)."""
    sample = sample_context(incident_class, kind)
    return _scoped(_complete_notice(sample)), _scoped(_complete_notice(sparse_context(sample)))


def _complete_notice(context: Mapping[str, Any]) -> Mapping[str, Any]:
    """``context`` with a full ``notice``: a context without one is an initial page; a missing fact is None.

    The notice keys are a documented contract, so a template may test any of them
    without `is defined`; a misspelt key is still an undefined-variable error.
    """
    notice = context.get("notice")
    if isinstance(notice, Mapping) and all(key in notice for key in NOTICE_KEYS):
        return context
    full = dict.fromkeys(NOTICE_KEYS) | {"kind": "initial"} | dict(notice or {})
    return {**context, "notice": full}


def _lint(
    files: Mapping[str, str], subject: str, text: str, html: str | None, family: str, incident_id: str | None
) -> list[TemplateProblem]:
    """Output rules a template can break without raising; ``incident_id`` also requires the id in text and HTML."""
    problems = [
        TemplateProblem(files[part], None, "renders 'None' for an empty field; add a placeholder")
        for part, out in (("subject", subject), ("text", text), ("html", html or ""))
        if _NONE_LEAK.search(out)
    ]
    if family == "voice" and _URL.search(text):
        problems.append(TemplateProblem(files["text"], None, "voice script contains a URL; it cannot be spoken"))
    if incident_id:
        tokens = _id_tokens(incident_id, family)
        for part, out in (("text", text), ("html", html)):
            if out is not None and not any(token in out for token in tokens):
                problems.append(TemplateProblem(files[part], None, f"does not carry the incident id ({tokens[0]})"))
    return problems


def _template_frame(tb: TracebackType | None) -> tuple[str | None, int | None]:
    """The innermost template file and line in a traceback jinja has rewritten."""
    found: tuple[str | None, int | None] = (None, None)
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = (_display(filename), tb.tb_lineno)
        tb = tb.tb_next
    return found


def _display(filename: str) -> str:
    """A path relative to the working directory when it is below it."""
    try:
        return Path(filename).resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return filename


def _tidy(text: str) -> str:
    """Strip trailing whitespace per line, outer blank lines and runs of blank lines."""
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _default_subject(context: Mapping[str, Any]) -> str:
    """Subject for templates without a subject part (chat, SMS, voice): id, title, priority."""
    incident = context.get("incident") or {}
    return f"{incident.get('id', '')} {incident.get('title', '')} ({incident.get('priority', '')})".strip()


# --- drill marks and budgets, shared by templates and the fallback ---


def _assemble(
    subject: str, text: str, html: str | None, *, incident_id: str, family: str, drill: bool, max_length: int | None
) -> Rendered:
    """Apply the one-line subject rule, drill marks and the family's budget; no bidi control or CR survives."""
    subject, text = escaping.header(escaping.neutral(subject)), escaping.neutral(text)
    html = escaping.neutral(html) if html is not None else None
    if drill:
        subject = _mark(subject)
        text = _mark(text)
        html = _mark_html(html) if html is not None else None
    if family == "voice":
        text = " ".join(text.split())  # speech has no layout
    text = _budget(text, incident_id, family, drill, max_length)
    if family == "slack":
        text, lines = spans.split(text)
        return Rendered(subject, text, html, lines)
    return Rendered(subject, text, html)



def _mark(text: str) -> str:
    """Prefix the drill mark once, even if a template already wrote it."""
    return text if text.startswith(DRILL) else DRILL + text


def _mark_html(html: str) -> str:
    """Put a visible drill banner first in the body."""
    match = _BODY_TAG.search(html)
    at = match.end() if match else 0
    return html[:at] + _DRILL_BANNER + html[at:]


def _budget(text: str, incident_id: str, family: str, drill: bool, max_length: int | None) -> str:
    """Cut ``text`` to the family's budget; the drill mark and the incident id always survive."""
    if family == "sms":
        limit = min(SMS_BUDGET, max_length or SMS_BUDGET)
        fit: Callable[[str, str], str] = lambda t, head: gsm7.fit(t, limit, protected_head=head)
        tokens = (gsm7.transliterate(incident_id),)
    else:
        limit = max_length or (VOICE_BUDGET if family == "voice" else 0)
        if not limit:
            return text
        fit = lambda t, head: gsm7.cut(t, limit, protected_head=head)
        tokens = _id_tokens(incident_id, family)
    head = DRILL if drill else ""
    body = text[len(head):]
    out = fit(head + body, head)
    if incident_id and not any(token in out for token in tokens):
        # The template put the id late (or not at all): pin it to the front.
        id_head = f"{head}{tokens[0]} "
        out = fit(id_head + body, id_head)
    return out


def _id_tokens(incident_id: str, family: str) -> tuple[str, ...]:
    """How the id appears in text of ``family``, preferred form first."""
    if family == "voice":
        return (escaping.spell_id(incident_id), incident_id)
    if family == "slack":
        return (escaping.slack(incident_id),)
    return (incident_id,)


def fallback_notice(
    *, incident_id: str, incident_class: str, summary: str | None, family: str, drill: bool
) -> Rendered:
    """A plain notice, no templates involved, for when a template fails at run time."""
    ident = str(incident_id or "unknown incident")
    kind = str(incident_class or "unknown")
    about = " ".join(str(summary or "").split()) or "No summary given."
    if family == "voice":
        text = (
            f"Incident {escaping.spell_id(ident)}, a {escaping.speech(kind)} incident. "
            f"{escaping.speech(about)[:200]} Check your email or the incident log for details."
        )
    else:
        shown = (spans.mark(ident), spans.mark(kind), spans.mark(about)) if family == "slack" else (ident, kind, about)
        text = "{} ({} incident): {}\nPlain notice: the notification template failed; see the incident log.".format(
            *shown)
    subject = f"{ident}: {kind} incident (plain notice)"
    family = family if family in FAMILIES else "email"
    return _assemble(subject, text, None, incident_id=ident, family=family, drill=drill, max_length=None)
