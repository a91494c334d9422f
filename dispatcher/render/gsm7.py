"""SMS budget: transliterate to the GSM-7 alphabet, count septets, cut to fit.

One SMS segment holds 160 GSM-7 septets. A single character outside GSM-7
switches the whole message to UCS-2 (70 characters) or splits it into
segments that some carriers drop, so a page is transliterated first and then
measured. Stdlib only.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Callable

__all__ = ["BASIC", "EXTENSION", "cut", "fit", "septets", "transliterate"]

# GSM 03.38 default alphabet (ESC 0x1B left out: it only introduces the extension table).
BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Reached through ESC, so each costs two septets.
EXTENSION = frozenset("^{}\\[~]|€")

# Lookalikes NFKD leaves alone; mapped before decomposition.
_TABLE = {
    **dict.fromkeys("‘’‚‛′`´", "'"),
    **dict.fromkeys("“”„‟″«»", '"'),
    **dict.fromkeys("‐‑‒–—―−", "-"),
    **dict.fromkeys("•◦‣", "-"),
    "\t": " ",
    "×": "x",
    "÷": "/",
    "©": "(c)",
    "®": "(R)",
    "→": "->",
    "←": "<-",
    "ı": "i",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "œ": "oe",
    "Œ": "OE",
    "þ": "th",
    "Þ": "Th",
    "ð": "d",
}
_SPACES = re.compile(r" {2,}")
_SPACE_BEFORE_NEWLINE = re.compile(r" +\n")


def _char(ch: str) -> str:
    """Map one character to GSM-7 text: lookalike, accent-free base letter, '?' or nothing."""
    if ch in _TABLE:
        return _TABLE[ch]
    out = []
    # NFKD folds accents even where GSM-7 has the accented letter (é, ü): one
    # predictable rule, and carriers render plain letters everywhere.
    for part in unicodedata.normalize("NFKD", ch):
        if part in BASIC or part in EXTENSION:
            out.append(part)
        elif part.isspace():
            out.append(" ")
        elif unicodedata.category(part)[0] in "LN":
            out.append("?")  # a letter we cannot spell: keep its place visible
        # marks, symbols (emoji), controls and format characters are dropped
    return "".join(out)


def transliterate(text: str) -> str:
    """Return ``text`` in the GSM-7 alphabet: accents folded, quotes and dashes plain, emoji dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = "".join(_char(ch) for ch in text)
    out = _SPACE_BEFORE_NEWLINE.sub("\n", out)
    return _SPACES.sub(" ", out)  # drops leave double spaces; SMS has no room for layout


def _count(text: str) -> int:
    """Septets of text already in GSM-7."""
    return sum(2 if ch in EXTENSION else 1 for ch in text)


def septets(text: str) -> int:
    """Number of GSM-7 septets ``text`` takes once transliterated."""
    return _count(transliterate(text))


def cut(
    text: str,
    budget: int,
    *,
    measure: Callable[[str], int] = len,
    protected_head: str = "",
    marker: str = "...",
) -> str:
    """Return ``text`` starting with ``protected_head`` and measuring at most ``budget``, cutting the end."""
    if protected_head and not text.startswith(protected_head):
        text = protected_head + text
    if measure(text) <= budget:
        return text
    body = text[len(protected_head):]
    room = budget - measure(protected_head) - measure(marker)
    if room < 0:  # the head alone is over budget: keep as much of it as fits
        return _longest_prefix(protected_head, budget, measure)
    kept = _longest_prefix(body, room, measure)
    space = kept.rfind(" ")
    if space >= len(kept) - 15 and space > 0:  # end on a word when one is near
        kept = kept[:space]
    return protected_head + kept.rstrip() + marker


def _longest_prefix(text: str, budget: int, measure: Callable[[str], int]) -> str:
    """Longest prefix of ``text`` whose measure is within ``budget`` (binary search)."""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo]


def fit(text: str, budget: int = 160, protected_head: str = "") -> str:
    """Transliterate ``text`` and cut it to ``budget`` septets, never cutting ``protected_head``."""
    return cut(
        transliterate(text),
        budget,
        measure=_count,
        protected_head=transliterate(protected_head),
    )
