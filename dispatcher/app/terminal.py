"""What a command needs to print on a terminal: text made safe to show, and the facts a table is fitted to.

:class:`Output` (from :mod:`dispatcher.render.table`) is what cli/ hands every
table: whether stdout is a terminal, how wide, whether NO_COLOR is set. Stdlib
only, as the CLI's printing runs for every command.
"""

from __future__ import annotations

from ..api import mask_secrets
from ..render.escaping import neutral
from ..render.table import Output

__all__ = ["Output", "printable"]


def printable(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every configured secret scrubbed, and no bidi override or carriage return (a reporter's text
    must not rewrite the operator's screen), as a last line of defence."""
    return neutral(mask_secrets(text, secrets))
