"""What of a notice depends on its recipient, so that one render serves every recipient of the same content.

Measured in the 1,000-alert burst: the 5 emails and the webhook of one incident were each rendered on their
own (a quarter of the senders' CPU), though they differed only in the closing "Sent to <recipient> ..." line.
A template file that never reads ``recipient`` (nor includes or extends one that may) renders the same for
everyone; a template that declares ``{% set personal_footer = true %}`` at its top level ends with the
``footer`` macro of ``_macros/text.j2`` (``_macros/html.j2`` for HTML), rendered for each recipient and
added here. The shipped email templates do so, so their recipients share one render of the rest; a team's
template that reads ``recipient`` itself is still rendered for each recipient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import jinja2
from jinja2 import meta, nodes

from .jinja_context import tagged

__all__ = ["FOOTER_MACROS", "PERSONAL_FOOTER", "Answers", "Personal", "analyse", "before_body_end", "closed", "content_key",
           "personal_footer"]

PERSONAL_FOOTER = "personal_footer"
FOOTER_MACROS = {  # where the personal footer macro is, by escaping mode
    "plain": "_macros/text.j2", "html": "_macros/html.j2"}


@dataclass(frozen=True)
class Personal:
    """Of one template file: does it read `recipient` (or may it: an include we cannot follow), and does it ask
    for the personal footer."""

    reads_recipient: bool
    footer: bool


def analyse(env: jinja2.Environment, name: str, _seen: frozenset[str] = frozenset(),
            read: set[str] | None = None) -> Personal:
    """Parse `name` (and what it includes, extends or imports with context) for its use of `recipient`;
    `read` collects the names of the files parsed."""
    if read is not None:
        read.add(name)
    source = env.loader.get_source(env, name)[0] if env.loader else ""
    tree = env.parse(source)
    reads = "recipient" in meta.find_undeclared_variables(tree)
    for node in tree.find_all((nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)):
        if reads:
            break
        if isinstance(node, (nodes.Import, nodes.FromImport)) and not node.with_context:
            continue  # macros imported without context see only their arguments
        target = node.template
        if not isinstance(target, nodes.Const) or not isinstance(target.value, str):
            reads = True  # a computed name: it may read anything
        elif target.value not in _seen:
            reads = analyse(env, target.value, _seen | {name}, read).reads_recipient
    return Personal(reads, _declares_footer(tree))


class Answers:
    """Each file's answer, worked out again only when jinja reloads it or a file it reads (auto_reload: changed)."""

    def __init__(self) -> None:
        # (name, env) -> (the template objects of every file the answer read, the answer)
        self._known: dict[tuple[str, int], tuple[tuple[Any, ...], Personal]] = {}

    def of(self, env: jinja2.Environment, name: str) -> Personal:
        try:
            known = self._known.get((name, id(env)))
            if known is None or any(env.get_template(t.name) is not t for t in known[0]):
                read: set[str] = set()
                answer = analyse(env, name, read=read)
                known = self._known[(name, id(env))] = (tuple(env.get_template(n) for n in sorted(read)), answer)
            return known[1]
        except Exception:  # noqa: BLE001 - a broken file: rendering it raises the TemplateError that says why
            return Personal(True, False)


def _declares_footer(tree: nodes.Template) -> bool:
    """True for a top-level ``{% set personal_footer = true %}`` (not one under a condition: unknowable here)."""
    return any(isinstance(node, nodes.Assign) and isinstance(node.target, nodes.Name)
               and node.target.name == PERSONAL_FOOTER and isinstance(node.node, nodes.Const)
               and node.node.value is True for node in tree.body)


def content_key(context: Mapping[str, Any], memo: dict[Any, Any] | None = None) -> str:
    """Everything a template that does not read the recipient can read of `context`, as one string.

    A fact worked out lazily (domain.incident.Lazy) is keyed by its identity: rows share one only within
    the sender's short-lived memo (app/facts.py FactsMemo), which also bounds this key's life. `memo`
    keeps the string for the same objects (the engine shares them between the rows of an incident).
    """
    values = tuple(value for key, value in context.items() if key != "recipient")
    ids = ("content", *map(id, values))
    known = memo.get(ids) if memo is not None else None
    if known is not None and all(a is b for a, b in zip(known[0], values)):
        return known[1]
    key = repr({key: value for key, value in context.items() if key != "recipient"})
    if memo is not None:
        memo[ids] = (values, key)
    return key


def closed(text: str, footer: str) -> str:
    """A tidied text closing with a tidied footer after a blank line: what tidying both together gives."""
    return f"{text}\n\n{footer}" if text and footer else text or footer


def before_body_end(html: str, footer: str) -> str:
    """`html` with `footer` on its own line where the template's last line would have been: after the body's
    content and its first line break, before the blank lines that close the body."""
    at = html.lower().rfind("</body>")
    if at < 0:
        return f"{html}\n{footer}"
    head = html[:at].rstrip()
    space = html[len(head):at]
    return f"{head}{space[:1]}{footer}\n{space[1:]}{html[at:]}"


def personal_footer(env: jinja2.Environment, mode: str, scoped: Mapping[str, Any], recipient: Mapping[str, Any],
                    memo: dict[Any, Any] | None = None) -> str:
    """The footer macro of the search path's _macros file for `mode`, for this recipient: a macro sees only its
    arguments, so it is called with them, not through a template of its own. `memo` keeps the macro file while
    it lives (looking it up, with jinja's check for a changed file, was a third of the footer's cost)."""
    macros = memo.get(("macros", id(env))) if memo is not None else None
    if macros is None:
        macros = env.get_template(FOOTER_MACROS[mode]).module
        if memo is not None:
            memo[("macros", id(env))] = macros
    return str(macros.footer(scoped["incident"], scoped["step"], tagged(recipient, "recipient")))
