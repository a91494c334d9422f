"""What jinja2 sees of a notice: a context that names the full path of an undefined variable, and escaped values.

Split from :mod:`.templates` (the loader and the renderer): the context is
copied with every mapping and list tagged by its dotted path, so a strict
undefined error says ``incident.foo``, not ``foo``; every ``{{ expression }}``
passes a finalizer that prints a placeholder for None and escapes for the medium.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import jinja2

from . import escaping, spans

__all__ = ["MODES", "PLACEHOLDER", "NamedUndefined", "Scope", "finalizer", "tagged", "text_mode"]

PLACEHOLDER = "Not yet known"


# --- context wrapping: lets an undefined-variable error say "incident.foo" ---


class Scope(dict):
    """A context mapping that remembers its dotted path for error messages."""

    __slots__ = ("_scope_path",)


class _ScopeList(list):
    """A context list that remembers its dotted path for error messages."""

    __slots__ = ("_scope_path",)


def tagged(value: Any, path: str = "") -> Any:
    """Copy ``value`` with every mapping and list tagged by its path."""
    if isinstance(value, Mapping):
        out: Any = Scope({k: tagged(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()})
    elif isinstance(value, (list, tuple)):
        out = _ScopeList(tagged(v, f"{path}[{i}]") for i, v in enumerate(value))
    else:
        return value
    out._scope_path = path
    return out


class NamedUndefined(jinja2.StrictUndefined):
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


def finalizer(escape: Callable[[str], str] | None) -> Callable[[Any], Any]:
    """A jinja ``finalize``: None becomes a placeholder, then the medium's escaping applies."""

    def finalize(value: Any) -> Any:
        if value is None:
            value = PLACEHOLDER  # a forgotten `or "TBD"` must never print "None"
        return escape(str(value)) if escape else value

    return finalize


MODES: dict[str, Callable[[str], str] | None] = {
    "plain": None,
    "html": None,  # autoescape does the work
    "subject": escaping.header,
    "slack": spans.mark,  # values kept apart from the template's mrkdwn (dispatcher.render.spans)
    "voice": escaping.speech,
}


def text_mode(family: str) -> str:
    """The escaping mode of a family's text part: its own for Slack and voice, plain for email and SMS."""
    return family if family in ("slack", "voice") else "plain"
