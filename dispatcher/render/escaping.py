"""Make untrusted field values safe for one medium: Slack mrkdwn, a mail header, speech, a terminal.

Every function here is total (never raises on a str) and idempotent, so a
value escaped twice (a macro's output passing through ``finalize`` again)
reads the same as a value escaped once. Stdlib only.
"""

from __future__ import annotations

import re

__all__ = ["header", "neutral", "one_line_value", "slack", "speech", "spell_id", "terminal"]

WORD_JOINER = "\u2060"

# A bare '&' becomes &amp;, but an entity we produced ourselves is left alone:
# that is what makes escaping idempotent.
_BARE_AMP = re.compile(r"&(?!(?:amp|lt|gt);)")
# Slack turns these words into broadcast mentions even without <!...> syntax.
_BROADCAST = re.compile(r"@(?=(?:here|channel|everyone))", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_URL = re.compile(r"(?:https?://|ftp://|www\.)\S+", re.IGNORECASE)
_MARKUP = re.compile(r"[<>*_`#|~^{}\[\]\\]")
_ID_PART = re.compile(r"[A-Za-z]+|[0-9]+")
# Bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE and kin) make text read differently from what it
# is: "exe.txt" shown as "txt.exe", a line that seems to say the opposite. Nothing notify sends needs them.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINK = re.compile(r"(?<=[A-Za-z]):(?=//)|(?<=\bwww)\.", re.IGNORECASE)
_TERMINAL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def neutral(value: str) -> str:
    """``value`` without bidirectional controls, and with every carriage return made a plain newline.

    A lone CR returns a terminal's cursor to the start of the line, so what follows overwrites
    what came before ("failed\rdelivered"); in mail and chat it is at best a stray character.
    """
    return _BIDI.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


def one_line_value(value: str) -> str:
    """An untrusted value for a chat line: one line, no bidi controls, no @here/@channel, no bare link.

    Slack links a bare URL and mentions @here even in a reply's preview; a word joiner after
    the scheme's colon (and in "www.") keeps the text as it reads and stops both.
    """
    text = " ".join(neutral(value).split())
    text = _LINK.sub(lambda m: ":" + WORD_JOINER if m.group(0) == ":" else WORD_JOINER + ".", text)
    return _BROADCAST.sub("@" + WORD_JOINER, text)


def terminal(value: str) -> str:
    """``value`` safe to print as one table cell: no bidi controls, no line breaks, no escape sequences."""
    return _TERMINAL.sub("", neutral(value).replace("\n", " ").replace("\t", " "))


def slack(value: str) -> str:
    """Escape ``&``, ``<``, ``>`` as Slack documents and break @here/@channel/@everyone."""
    text = _BARE_AMP.sub("&amp;", value).replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@" + WORD_JOINER, text)


def header(value: str) -> str:
    """Return ``value`` as one header-safe line: any whitespace run (CR/LF included) becomes one space."""
    # str.split() splits on CR, LF, VT, FF, NEL, U+2028/2029 too, so no line
    # break survives to start a forged header such as "Bcc:".
    return _CONTROL.sub("", " ".join(value.split()))


def speech(value: str) -> str:
    """Return ``value`` as plain words for text-to-speech: no URLs, no markup characters, one line."""
    text = _URL.sub("(link omitted)", value)
    return " ".join(_MARKUP.sub(" ", text).split())


def spell_id(value: str) -> str:
    """Spell an incident id for text-to-speech: "SEC-2026-001" -> "S E C 2026 001"."""
    words = []
    for part in _ID_PART.findall(str(value)):
        words.append(" ".join(part.upper()) if part.isalpha() else part)
    return " ".join(words)
