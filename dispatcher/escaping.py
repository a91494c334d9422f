"""Make untrusted field values safe for one medium: Slack mrkdwn, a mail header, speech.

Every function here is total (never raises on a str) and idempotent, so a
value escaped twice (a macro's output passing through ``finalize`` again)
reads the same as a value escaped once. Stdlib only.
"""

from __future__ import annotations

import re

__all__ = ["header", "slack", "speech", "spell_id"]

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
