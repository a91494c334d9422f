"""Terminal tables: a header row, columns aligned whatever the names, fitted to the terminal.

Every table notify prints (a report, the log, incidents, channels, status, a drill's
results) is drawn here, so they all behave alike. On a terminal a table fits its
width (a cut cell ends with "…") and may be coloured; into a pipe or a file it is
printed at full width without colour, so `grep` and `cut` see every character.

Where the table goes is a set of facts handed in (:class:`Output`): whether it is a
terminal, how wide, whether NO_COLOR is set. The CLI finds them; tests state them.
Stdlib only, so printing a table costs nothing at start-up.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from ..api import mask_secrets
from .escaping import terminal

__all__ = ["Column", "Output", "PLAIN", "cell_width", "render"]

GAP = "  "
ELLIPSIS = "…"
MIN_CUT = 6  # a cut column keeps at least this many cells ("Senio…"): enough to tell rows apart
_ANSI = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "blue": "34", "cyan": "36"}
_RESET = "\x1b[0m"


@dataclass(frozen=True)
class Column:
    """One column: its header, alignment, whether it may be cut, and colours by cell value."""

    header: str
    align: str = "left"  # "left" or "right" (numbers)
    fixed: bool = False  # never cut: short codes whose every character counts (times, ids, outcomes)
    colours: Mapping[str, str] = field(default_factory=dict)  # cell value -> a colour name of _ANSI


@dataclass(frozen=True)
class Output:
    """Where a table goes: the terminal's width (None: not a terminal, never cut), colour, secrets to mask.

    Secrets are masked in every cell before any cell is cut, so a cut can never leave
    half a secret that the final scrub of the whole output would no longer recognise.
    """

    width: int | None = None
    colour: bool = False
    secrets: tuple[str, ...] = ()

    @classmethod
    def detect(cls, *, terminal: bool, columns: int, no_color: str | None,
               secrets: tuple[str, ...] = ()) -> "Output":
        """The output for these facts: fitted and coloured on a terminal, unless NO_COLOR is set (non-empty)."""
        if not terminal:
            return cls(None, False, secrets)
        return cls(max(columns, 20), not no_color, secrets)


PLAIN = Output()


def render(columns: Sequence[Column], rows: Iterable[Sequence[object]], out: Output = PLAIN, *,
           indent: str = "") -> str:
    """The table as lines of text: header first, each column as wide as its widest cell or cut to fit."""
    cells = [[_clean(c.header) for c in columns]]
    cells += [[_clean(mask_secrets(str(value), out.secrets)) for value in row] for row in rows]
    natural = [max(cell_width(row[i]) for row in cells) for i in range(len(columns))]
    widths = _fit(natural, columns, out.width - len(indent) - len(GAP) * (len(columns) - 1)) \
        if out.width is not None else natural
    lines = [_line(cells[0], columns, widths, "bold" if out.colour else None, out.colour)]
    lines += [_line(row, columns, widths, None, out.colour) for row in cells[1:]]
    return "\n".join(indent + line for line in lines)


def cell_width(text: str) -> int:
    """How many terminal cells `text` takes: wide (CJK) characters take two, combining marks none."""
    return sum(_char_width(ch) for ch in text)


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _clean(text: str) -> str:
    """One line per cell: a newline or tab inside a value (a provider's error body) would break the columns,
    and a CR, an escape sequence or a bidi override (a reporter's text) would rewrite what the operator sees."""
    return terminal(text)


def _fit(natural: list[int], columns: Sequence[Column], available: int) -> list[int]:
    """Cut the widest cuttable column one cell at a time until the row fits (or none can give more)."""
    widths = list(natural)
    floors = [n if col.fixed else min(n, MIN_CUT) for n, col in zip(natural, columns)]
    excess = sum(widths) - available
    while excess > 0:
        cuttable = [i for i, w in enumerate(widths) if w > floors[i]]
        if not cuttable:
            break  # the terminal is narrower than the table's fixed columns: let it wrap
        widest = max(cuttable, key=lambda i: (widths[i], i))  # on a tie, the later (less important) column
        widths[widest] -= 1
        excess -= 1
    return widths


def _line(row: Sequence[str], columns: Sequence[Column], widths: list[int], style: str | None,
          colour: bool) -> str:
    parts = []
    last = len(columns) - 1
    for i, (text, column, width) in enumerate(zip(row, columns, widths)):
        text = _cut(text, width)
        pad = " " * (width - cell_width(text))
        tint = style or (column.colours.get(text) if colour else None)
        shown = f"\x1b[{_ANSI[tint]}m{text}{_RESET}" if tint and colour else text
        if column.align == "right":
            parts.append(pad + shown)
        else:
            parts.append(shown if i == last else shown + pad)  # no trailing blanks after the last column
    return GAP.join(parts).rstrip(" ")


def _cut(text: str, width: int) -> str:
    """`text` in at most `width` cells; a cut one ends with "…"."""
    if cell_width(text) <= width:
        return text
    kept, used = [], 0
    for ch in text:
        if used + _char_width(ch) > width - 1:
            break
        kept.append(ch)
        used += _char_width(ch)
    return "".join(kept) + ELLIPSIS
