"""Turn an incident context into a notice with jinja2 templates, safely and within budgets.

Templates live at ``<dir>/<class>/<template>.<part>.j2`` (parts: subject, text,
html) with shared macros under ``<dir>/_macros/``. Several dirs form a search
path, user dir first: a file missing there falls back to the shipped one,
file by file. A class file found in no dir falls back to
``_common/<template>.<part>.j2``, searched the same way, so the lifecycle
notices (``update-email``, ``escalation-sms``, ...) are written once and a
team can override one for a single class or for all. Rendering is strict (an undefined variable is an
error, never an empty string) and escapes every interpolated value for its medium: HTML autoescape for
``.html.j2``, Slack escaping for the slack family, one line for subjects, plain words for voice. Any failure
surfaces as a :class:`TemplateError` naming file, line and cause, so the core can send
:func:`fallback_notice` instead of dropping the page.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Iterable, Mapping, MutableMapping, Sequence

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from ..errors import TemplateError  # re-exported: raised with a TemplateProblem below
from . import escaping
from .jinja_context import MODES, NamedUndefined, Scope, finalizer, tagged, text_mode
from .notice import FAMILIES, Rendered, assemble, id_tokens
from .personal import FOOTER_MACROS, Answers, Personal, before_body_end, closed, content_key, personal_footer
from .samples import NOTICE_KEYS, NOTICE_KINDS, sample_context, sparse_context

__all__ = [
    "COMMON_DIR",
    "LIFECYCLE_KINDS",
    "LIFECYCLE_TEMPLATES",
    "NOTICE_KEYS",
    "NOTICE_KINDS",
    "REQUIRED_PARTS",
    "TEMPLATE_FAMILY",
    "Renderer",
    "TemplateError",
    "TemplateProblem",
    "family_of",
    "sample_context",
    "shipped_template_dir",
]

COMMON_DIR = "_common"  # class-independent templates: the fallback for <class>/<name>.<part>.j2


def family_of(template: str) -> str:
    """The channel family a template is written for: "customer" -> "email", "update-sms" -> "sms"; "status" (the
    public status page's first post, plain text and a title) -> "email"."""
    if template in ("customer", "status"):
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
_NONE_LEAK = re.compile(r"\bNone\b")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)


@dataclass(frozen=True)
class TemplateProblem:
    """One broken template: which file, which line (when known), what is wrong."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


def shipped_template_dir() -> Path:
    """The templates shipped with the package (wheel) or the checkout (source)."""
    here = Path(__file__).resolve().parents[1]  # the dispatcher package: this module is in dispatcher/render/
    installed = here / "defaults" / "templates"
    return installed if installed.is_dir() else here.parent / "templates"


class Renderer:
    """Renders (class, template) pairs from a search path of template dirs."""

    def __init__(self, search_path: Sequence[Path]) -> None:
        self._dirs = [Path(p) for p in search_path]
        self._loader = jinja2.FileSystemLoader([str(d) for d in self._dirs])
        self._envs: dict[str, jinja2.Environment] = {}
        # During check(): every .j2 name on the search path, listed once instead of ~4,000 stat calls.
        self._listed: frozenset[str] | None = None
        self._personal = Answers()

    def _env(self, mode: str) -> jinja2.Environment:
        """One environment per escaping mode; finalize is environment-wide.

        Templates are configuration anyone with write access to a config dir can change, so
        they run sandboxed: no underscore attributes (``cycler.__init__.__globals__``), no
        unsafe callables, no mutating the context.
        """
        if mode not in self._envs:
            env = ImmutableSandboxedEnvironment(
                loader=self._loader,
                undefined=NamedUndefined,
                autoescape=mode == "html",
                finalize=finalizer(MODES[mode]),
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
        cache: MutableMapping[Any, Any] | None = None,
    ) -> Rendered:
        """Render one notice for ``family`` (TemplateError on any template failure). `cache` (app/facts.py FactsMemo):
        parts rendered for the same content, shared by recipients when no file reads `recipient` (.personal): a file
        that does is rendered for each row, uncached (a key naming the recipient would never be met again)."""
        text_p, html_p, _ = parts = self._personal_parts(incident_class, template, family, cache)
        shared = None if any(p.reads_recipient for p in parts) else cache
        key = (incident_class, template, family, content_key(context, shared)) if shared is not None else None
        entry = shared.get(key) if shared is not None else None
        if entry is None:
            scoped = context if isinstance(context, Scope) else tagged(_complete_notice(context))
            entry = (self._render_parts(incident_class, template, scoped, family), scoped)
            if shared is not None:
                shared[key] = entry
        (subject, text, html), scoped = entry
        text = closed(text, _tidy(self._footer("plain", scoped, context, cache))) if text_p.footer else text
        html = before_body_end(html, self._footer("html", scoped, context, cache).strip()) if html_p.footer and html else html
        incident_id = str(context.get("incident", {}).get("id") or "")
        return assemble(subject, text, html, incident_id=incident_id, family=family, drill=drill, max_length=max_length)

    def _personal_parts(self, incident_class: str, template: str, family: str,
                        cache: MutableMapping[Any, Any] | None) -> tuple[Personal, Personal, Personal]:
        """What the text, HTML and subject files of (class, template) read of the recipient; kept in `cache` too."""
        found = cache.get(("personal", incident_class, template, family)) if cache is not None else None
        if found is None:
            modes = {"text": text_mode(family), "html": "html", "subject": "subject"}
            names = {part: self._resolve(incident_class, template, part) for part in modes if family == "email" or part != "html"}
            found = tuple(self._personal.of(self._env(modes[p]), names[p]) if names.get(p) else Personal(False, False)
                          for p in modes)
            if cache is not None:
                cache[("personal", incident_class, template, family)] = found
        return found

    def _footer(self, mode: str, scoped: Mapping[str, Any], context: Mapping[str, Any], cache: Any) -> str:
        try:
            return personal_footer(self._env(mode), mode, scoped, context["recipient"], cache)
        except Exception as exc:  # noqa: BLE001 - a team's footer macro is template code too
            raise TemplateError(self._problem(FOOTER_MACROS[mode], exc)) from exc

    def _render_parts(
        self, incident_class: str, template: str, context: Mapping[str, Any], family: str
    ) -> tuple[str, str, str | None]:
        """Subject, tidied text and HTML exactly as the templates wrote them: no drill mark, no budget."""
        if family not in FAMILIES:
            raise ValueError(f"unknown template family {family!r}; expected one of {FAMILIES}")
        scoped = context if isinstance(context, Scope) else tagged(_complete_notice(context))
        text_file = self._resolve(incident_class, template, "text")
        if text_file is None:
            searched = ", ".join(str(d) for d in self._dirs)
            raise TemplateError(TemplateProblem(
                f"{incident_class}/{template}.text.j2", None,
                f"template file not found, nor {COMMON_DIR}/{template}.text.j2 (searched: {searched})",
            ))
        text = self._render_file(text_file, text_mode(family), scoped)
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

    def check(self, classes: Iterable[str], internal: Iterable[str] = ()) -> list[TemplateProblem]:
        """Find every missing, unparsable or failing template for ``classes``, using sample contexts; an
        `internal` class (policy `internal = true`) tells no customer, so it needs no customer template."""
        inside = frozenset(internal)
        self._listed = frozenset(
            p.relative_to(d).as_posix() for d in self._dirs if d.is_dir() for p in d.rglob("*.j2")
        )
        try:
            problems = self._parse_all(sorted(self._listed))
            for incident_class in classes:
                for template, parts in REQUIRED_PARTS.items():
                    if not (template == "customer" and incident_class in inside):
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
            if template == "customer":
                problems += _account_leaks(files, context, (subject, text, html or ""))
        return problems


@functools.lru_cache(maxsize=256)
def _scoped_samples(incident_class: str, kind: str) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The sample context of (class, kind) and its sparse twin, ready to render (read-only: shared)."""
    sample = sample_context(incident_class, kind)
    return tagged(_complete_notice(sample)), tagged(_complete_notice(sparse_context(sample)))


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
        tokens = id_tokens(incident_id, family)
        for part, out in (("text", text), ("html", html)):
            if out is not None and not any(token in out for token in tokens):
                problems.append(TemplateProblem(files[part], None, f"does not carry the incident id ({tokens[0]})"))
    return problems


def _account_leaks(files: Mapping[str, str], context: Mapping[str, Any], parts: Sequence[str]) -> list[TemplateProblem]:
    """A customer notice that shows the account's contract value or success manager: those are the team's."""
    account = context["incident"].get("account") or {}
    shown = [fact for fact in ("contract_value", "success_manager") if account.get(fact)
             and any(str(account[fact]) in part for part in parts)]
    return [TemplateProblem(files["text"], None, f"shows the account's {fact.replace('_', ' ')} to the customer; "
                            "incident.account is for the team's notices only") for fact in shown]


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
