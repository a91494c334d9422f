"""Label matchers in Alertmanager's grammar: name="value", name!="value", name=~"re", name!~"re".

As in Alertmanager, regular expressions are fully anchored and a missing
label matches as the empty string. Pure functions; stdlib only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

__all__ = ["LabelMatcher", "parse_matcher"]

_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(\S*))\s*$')


@dataclass(frozen=True)
class LabelMatcher:
    name: str
    op: str  # = != =~ !~
    value: str

    def __post_init__(self) -> None:
        if self.op in ("=~", "!~"):
            object.__setattr__(self, "_regex", re.compile(f"^(?:{self.value})$"))

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = self._regex.match(actual) is not None  # type: ignore[attr-defined]
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


@lru_cache(maxsize=1024)
def parse_matcher(text: str) -> LabelMatcher:
    """Parse one matcher (once: triage asks again for every alert; matchers are frozen); ValueError names what is wrong."""
    match = _MATCHER.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a matcher like severity=\"critical\" or team=~\"sec.*\"")
    name, op, quoted, bare = match.groups()
    value = bytes(quoted, "utf-8").decode("unicode_escape") if quoted is not None else bare
    try:
        return LabelMatcher(name, op, value)
    except re.error as exc:
        raise ValueError(f"{text!r}: bad regular expression: {exc}") from None
