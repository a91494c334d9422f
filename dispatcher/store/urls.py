"""Store URLs fit to print: the password masked in every form an operator may write, a malformed one included.

A store URL reaches messages when it is wrong, so masking must not depend on it
parsing: ``urlsplit`` raises on an unbalanced ``[``, and libpq's key=value form
(``host=db password=...``) is no URL at all. Both are masked here by pattern,
and the password is also extracted, so a driver's own message that quotes the
URL can be scrubbed of it.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["is_keyword_form", "mask_store_url", "store_passwords"]

# libpq's keyword form: password=value, password = 'quoted \' value' (an unclosed quote runs to the end).
_KEYWORD_PASSWORD = re.compile(r"(?i)\b(password\s*=\s*)('(?:[^'\\]|\\.)*(?:'|$)|\S*)")
# The URL form's query: ?password=value or &password=value.
_QUERY_PASSWORD = re.compile(r"(?i)((?:^|[?&])password=)([^&#]*)")


def is_keyword_form(url: str) -> bool:
    """True for libpq's key=value connection string (``host=... dbname=...``), which is no URL."""
    return "://" not in url and "=" in url


def mask_store_url(url: str) -> str:
    """The store URL with every password in it replaced by ***; never raises, whatever the text."""
    if is_keyword_form(url):
        return _KEYWORD_PASSWORD.sub(r"\1***", url)
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, query_sep, query = _split_query(rest)
    if "@" in authority:  # the last @ ends the user info: a password may hold a raw @ or /
        userinfo, hosts = authority.rsplit("@", 1)
        if ":" in userinfo:
            authority = f"{userinfo.split(':', 1)[0]}:***@{hosts}"
    return f"{scheme}://{authority}{query_sep}" + _QUERY_PASSWORD.sub(r"\1***", query)


def store_passwords(url: str) -> tuple[str, ...]:
    """Every password the URL may carry, as written and decoded: what a driver's message must not show."""
    if is_keyword_form(url):
        found = [_unquote_keyword(m.group(2)) for m in _KEYWORD_PASSWORD.finditer(url)]
    else:
        _, _, rest = url.partition("://")
        authority, _, query = _split_query(rest)
        found = [m.group(2) for m in _QUERY_PASSWORD.finditer(query)]
        if "@" in authority and ":" in authority.rsplit("@", 1)[0]:
            found.append(authority.rsplit("@", 1)[0].split(":", 1)[1])
    values = {v for p in found if p for v in (p, unquote(p))}
    return tuple(sorted(values, key=len, reverse=True))  # longest first, so no part of one is left behind


def _split_query(rest: str) -> tuple[str, str, str]:
    """(authority and path, "?" or "", query) of what follows the scheme."""
    authority, sep, query = rest.partition("?")
    return authority, sep, query


def _unquote_keyword(value: str) -> str:
    if value.startswith("'"):
        value = value[1:-1] if value.endswith("'") and len(value) > 1 else value[1:]
        return re.sub(r"\\(.)", r"\1", value)
    return value
